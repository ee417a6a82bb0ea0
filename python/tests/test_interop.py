"""Interop with the Python original ($EXLAB_ANCHORS/py-original): the same
files, the same ``<file>.lock`` flock, each reading the other's files, and
concurrent writers of both kinds (threads and processes) with one winner
per marker and ``first_seen_at`` never lost."""
from __future__ import annotations

import asyncio
import json
import multiprocessing
import queue
import threading
from pathlib import Path

import pytest

import exlab_cache

import workers
from conftest import EQUIPMENT, PY_ORIGINAL, TEST_RUNS, equipment, load, marker, temp_files


def test_package_reads_the_originals_files(original, root):
    from exlab_wizard.api.schemas import EquipmentJson, TestRunsJson

    w = original.EquipmentCacheWriter()
    asyncio.run(w.write_equipment(root / EQUIPMENT, EquipmentJson("1.0", "CONFOCAL_01", "L", "/l", "//n", "", "")))
    asyncio.run(w.write_test_runs_marker(root / TEST_RUNS, TestRunsJson("1.0", "2026-04-17T14:00:00Z", "P1", "CONFOCAL_01")))
    cache = exlab_cache.Cache(root)
    record = cache.read_equipment(EQUIPMENT)
    assert record == load(root, EQUIPMENT) and record["label"] == "L"
    m = cache.read_test_runs_marker(TEST_RUNS)
    # The original omits run_kind (its default): it reads as "test".
    assert m["run_kind"] == "test" and m["created_at"] == "2026-04-17T14:00:00Z"
    # ... and its marker counts as written.
    assert cache.write_test_runs_marker(TEST_RUNS, marker())[0] is False
    # A rewrite by the package keeps the original's first_seen_at.
    first = record["first_seen_at"]
    assert cache.write_equipment(EQUIPMENT, equipment())["first_seen_at"] == first


def test_original_reads_the_packages_files(original, root):
    cache = exlab_cache.Cache(root)
    written = cache.write_equipment(EQUIPMENT, equipment())
    _, m = cache.write_test_runs_marker(TEST_RUNS, marker())
    w = original.EquipmentCacheWriter()
    record = asyncio.run(w.read_equipment(root / EQUIPMENT))
    assert record.first_seen_at == written["first_seen_at"] and record.label == "Confocal 1"
    read_marker = asyncio.run(w.read_test_runs_marker(root / TEST_RUNS))
    assert (read_marker.created_at, read_marker.run_kind, read_marker.project) == (m["created_at"], "test", "P1")
    # The original's rewrite keeps the package's first_seen_at.
    from exlab_wizard.api.schemas import EquipmentJson

    asyncio.run(w.write_equipment(root / EQUIPMENT, EquipmentJson("1.0", "CONFOCAL_01", "L2", "/l", "//n", "", "")))
    assert exlab_cache.Cache(root).read_equipment(EQUIPMENT)["first_seen_at"] == written["first_seen_at"]


def test_original_holding_the_lock_blocks_the_package(original, root):
    from filelock import FileLock

    cache = exlab_cache.Cache(root, lock_timeout=0)
    cache.write_equipment(EQUIPMENT, equipment())
    with FileLock(str(root / EQUIPMENT) + ".lock"):
        with pytest.raises(exlab_cache.LockTimeoutError):
            cache.write_equipment(EQUIPMENT, equipment("x"))
    assert cache.write_equipment(EQUIPMENT, equipment("x"))["label"] == "x"


def check_marker_races(root: Path, results: list, rounds: int) -> None:
    """One winner per marker: the file's created_at names it, and a package
    writer reported written=True exactly when it was the one."""
    for r in range(rounds):
        on_disk = load(root, workers.marker_rel(r))
        package_wins = [(w, written) for kind, w, rr, written in results if kind == "package" and rr == r and written]
        tags = {workers.tag(w, r): (kind, w) for kind, w, rr, _ in results if rr == r}
        winner = tags[on_disk["created_at"]]
        if winner[0] == "package":
            assert [w for w, _ in package_wins] == [winner[1]]
        else:
            assert package_wins == []
    assert temp_files(root) == []


def check_rewrites(root: Path, results: list, first: str) -> None:
    for kind, writer, firsts in results:
        assert set(firsts) == {first}, (kind, writer)
    final = load(root, workers.EQUIPMENT_REL)
    assert final["first_seen_at"] == first
    assert temp_files(root) == []


def run_threads(targets: list) -> list:
    out: "queue.Queue" = queue.Queue()
    threads = [threading.Thread(target=fn, args=(*args, out)) for fn, args in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    items = []
    while not out.empty():
        items.append(out.get())
    return items


def test_marker_race_threads(original, root):
    rounds, n = 20, 8
    barrier = threading.Barrier(n)
    targets = []
    for w in range(n):
        if w % 2:
            targets.append((workers.original_markers, (str(root), str(PY_ORIGINAL), w, rounds, barrier)))
        else:
            targets.append((workers.package_markers, (str(root), w, rounds, barrier)))
    results = run_threads(targets)
    assert len(results) == n * rounds
    check_marker_races(root, results, rounds)


def test_equipment_rewrites_threads(original, root):
    first = exlab_cache.Cache(root).write_equipment(EQUIPMENT, equipment())["first_seen_at"]
    n = 8
    barrier = threading.Barrier(n)
    targets = []
    for w in range(n):
        if w % 2:
            targets.append((workers.original_rewrites, (str(root), str(PY_ORIGINAL), w, 10, barrier)))
        else:
            targets.append((workers.package_rewrites, (str(root), w, 10, barrier)))
    results = run_threads(targets)
    assert len(results) == n
    check_rewrites(root, results, first)


def run_processes(targets: list, expected: int) -> list:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    barrier = ctx.Barrier(len(targets))
    procs = [ctx.Process(target=fn, args=(*args, barrier, out)) for fn, args in targets]
    for p in procs:
        p.start()
    items = [out.get(timeout=120) for _ in range(expected)]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    return items


def test_marker_race_processes(original, root):
    rounds = 15
    targets = [
        (workers.package_markers, (str(root), 0, rounds)),
        (workers.original_markers, (str(root), str(PY_ORIGINAL), 1, rounds)),
        (workers.package_markers, (str(root), 2, rounds)),
        (workers.original_markers, (str(root), str(PY_ORIGINAL), 3, rounds)),
    ]
    results = run_processes(targets, 4 * rounds)
    check_marker_races(root, results, rounds)


def test_equipment_rewrites_processes(original, root):
    first = exlab_cache.Cache(root).write_equipment(EQUIPMENT, equipment())["first_seen_at"]
    targets = [
        (workers.package_rewrites, (str(root), 0, 15)),
        (workers.original_rewrites, (str(root), str(PY_ORIGINAL), 1, 15)),
        (workers.package_rewrites, (str(root), 2, 15)),
        (workers.original_rewrites, (str(root), str(PY_ORIGINAL), 3, 15)),
    ]
    results = run_processes(targets, 4)
    check_rewrites(root, results, first)
