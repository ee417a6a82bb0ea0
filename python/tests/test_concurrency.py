"""Many callers at once: 32 threads rewriting one file, 50 coroutines
racing a first marker, and the event loop kept free while calls wait."""
from __future__ import annotations

import asyncio
import fcntl
import threading

import exlab_cache

from conftest import EQUIPMENT, RUNS, TEST_RUNS, equipment, load, marker, temp_files


def test_32_threads_rewrite_one_file(root):
    cache = exlab_cache.Cache(root)
    first = cache.write_equipment(EQUIPMENT, equipment())["first_seen_at"]
    barrier = threading.Barrier(32)
    results, errors = [], []

    def rewrite(n: int) -> None:
        barrier.wait()
        try:
            for i in range(5):
                results.append(cache.write_equipment(EQUIPMENT, equipment(f"T{n}.{i}")))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=rewrite, args=(n,)) for n in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert len(results) == 160
    assert {r["first_seen_at"] for r in results} == {first}
    final = load(root, EQUIPMENT)
    assert final in results  # the file is one whole write, the last one
    assert all(r["last_modified_at"] >= first for r in results)
    assert temp_files(root) == []


def test_50_coroutines_race_a_first_marker(root):
    acache = exlab_cache.AsyncCache(root)

    async def race(rel: str):
        return await asyncio.gather(
            *(
                acache.write_test_runs_marker(rel, marker(created_at="2026-04-17T14:%02d:00Z" % i))
                if rel == TEST_RUNS
                else acache.write_runs_marker(rel, marker(created_at="2026-04-17T14:%02d:00Z" % i))
                for i in range(50)
            )
        )

    for rel in (TEST_RUNS, RUNS):
        outcomes = asyncio.run(race(rel))
        assert [w for w, _ in outcomes].count(True) == 1
        on_disk = load(root, rel)
        assert all(m == on_disk for _, m in outcomes)
    assert temp_files(root) == []


def test_gather_of_mixed_calls_stays_correct(root):
    acache = exlab_cache.AsyncCache(root)

    async def main():
        first = (await acache.write_equipment(EQUIPMENT, equipment()))["first_seen_at"]
        calls = []
        for i in range(60):
            if i % 3 == 0:
                calls.append(acache.write_equipment(EQUIPMENT, equipment(f"L{i}")))
            elif i % 3 == 1:
                calls.append(acache.read_equipment(EQUIPMENT))
            else:
                calls.append(acache.write_test_runs_marker(TEST_RUNS.replace("P1", f"P{i}"), marker(f"P{i}")))
        out = await asyncio.gather(*calls)
        return first, out

    first, out = asyncio.run(main())
    records = [r for i, r in enumerate(out) if i % 3 != 2]
    assert {r["first_seen_at"] for r in records} == {first}
    assert all(out[i][0] is True for i in range(2, 60, 3))


def test_a_waiting_call_does_not_block_the_event_loop(root):
    acache = exlab_cache.AsyncCache(root, lock_timeout=10)
    asyncio.run(acache.write_equipment(EQUIPMENT, equipment()))

    async def main(held):
        task = asyncio.ensure_future(acache.write_equipment(EQUIPMENT, equipment("after")))
        ticks = 0
        for _ in range(20):
            await asyncio.sleep(0.005)
            ticks += 1
        assert not task.done() and ticks == 20
        fcntl.flock(held, fcntl.LOCK_UN)
        return await task

    with open(str(root / EQUIPMENT) + ".lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        record = asyncio.run(main(held))
    assert record["label"] == "after"
