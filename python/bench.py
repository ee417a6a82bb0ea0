"""The Python package against the Python original's public API, in one
process, one run: median microseconds per operation, and the issue's three
targets (read >= 10x faster, marker no-op >= 20x faster, durable rewrite
<= 1.2x the native floor of $EXLAB_ANCHORS/floor/floor.c).

usage: python python/bench.py [N] [--markdown]
Set BENCH_DIR to measure on another disk. The original and the floor come
from EXLAB_ANCHORS (README "Outside material"); without them those rows
are skipped with the reason.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, Optional

# Run as a script, this folder is sys.path[0]: import the installed package,
# not the source folder beside this file (it has no native module).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
import exlab_cache  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# Outside material through one variable (README "Outside material").
ANCHORS = Path(os.environ.get("EXLAB_ANCHORS", REPO.parent / "shared" / "anchors"))
PY_ORIGINAL = ANCHORS / "py-original"
FLOOR_C = ANCHORS / "floor" / "floor.c"

args = [a for a in sys.argv[1:] if not a.startswith("--")]
N = int(args[0]) if args else 300
MARKDOWN = "--markdown" in sys.argv

EQ = "CONFOCAL_01/.exlab-wizard/equipment.json"
MK = "CONFOCAL_01/P/TestRuns/.exlab-wizard/test_runs.json"


def record(label: str) -> Dict[str, str]:
    return {
        "id": "CONFOCAL_01",
        "label": label,
        "configured_local_root": "/data/lab",
        "configured_nas_root": "//nas01/lab",
    }


MARKER = {"project": "P", "equipment": "CONFOCAL_01", "created_at": "2026-04-17T14:00:00Z"}


def timed(fn: Callable[[int], Any], n: int = N) -> float:
    samples = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1e6


async def atimed(fn: Callable[[int], Any], n: int = N) -> float:
    samples = []
    for i in range(n):
        t = time.perf_counter()
        await fn(i)
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1e6


def package(root: Path) -> Dict[str, float]:
    cache = exlab_cache.Cache(root)
    acache = exlab_cache.AsyncCache.from_cache(cache)
    cache.write_equipment(EQ, record("first"))
    cache.write_test_runs_marker(MK, MARKER)
    out = {
        "equipment.write_rewrite": timed(lambda i: cache.write_equipment(EQ, record(f"L{i}"))),
        "equipment.read": timed(lambda i: cache.read_equipment(EQ)),
        "test_runs.write_noop": timed(lambda i: cache.write_test_runs_marker(MK, MARKER)),
        "test_runs.write_first": timed(
            lambda i: cache.write_test_runs_marker(f"fresh/{i}/test_runs.json", MARKER)
        ),
    }

    async def via_async() -> None:
        out["async equipment.read"] = await atimed(lambda i: acache.read_equipment(EQ))
        out["async test_runs.write_noop"] = await atimed(
            lambda i: acache.write_test_runs_marker(MK, MARKER)
        )
        t = time.perf_counter()
        await asyncio.gather(*(acache.write_equipment(EQ, record(f"C{i}")) for i in range(400)))
        out["equipment.concurrent8_ops_per_s"] = 400 / (time.perf_counter() - t)

    asyncio.run(via_async())
    return out


def original(root: Path) -> Optional[Dict[str, float]]:
    if not (PY_ORIGINAL / "exlab_wizard").is_dir():
        return None
    sys.path.insert(0, str(PY_ORIGINAL))
    from exlab_wizard.api.schemas import EquipmentJson, TestRunsJson
    from exlab_wizard.cache.equipment import EquipmentCacheWriter

    w = EquipmentCacheWriter()
    p, m = root / EQ, root / MK

    def eq(label: str) -> Any:
        return EquipmentJson("1.0", "CONFOCAL_01", label, "/data/lab", "//nas01/lab", "", "")

    def mk() -> Any:
        return TestRunsJson("1.0", "2026-04-17T14:00:00Z", "P", "CONFOCAL_01")

    out: Dict[str, float] = {}

    async def main() -> None:
        await w.write_equipment(p, eq("first"))
        await w.write_test_runs_marker(m, mk())
        out["equipment.write_rewrite"] = await atimed(lambda i: w.write_equipment(p, eq(f"L{i}")))
        out["equipment.read"] = await atimed(lambda i: w.read_equipment(p))
        out["test_runs.write_noop"] = await atimed(lambda i: w.write_test_runs_marker(m, mk()))
        out["test_runs.write_first"] = await atimed(
            lambda i: w.write_test_runs_marker(root / "fresh" / str(i) / "test_runs.json", mk())
        )
        t = time.perf_counter()
        await asyncio.gather(*(w.write_equipment(p, eq(f"C{i}")) for i in range(400)))
        out["equipment.concurrent8_ops_per_s"] = 400 / (time.perf_counter() - t)

    asyncio.run(main())
    return out


def floor(work: Path) -> Optional[Dict[str, float]]:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None or not FLOOR_C.is_file():
        return None
    exe = work / "floor"
    subprocess.run([cc, "-O2", "-o", str(exe), str(FLOOR_C)], check=True)
    data = work / "floor-data"
    data.mkdir()
    text = subprocess.run([str(exe), str(data), str(N)], check=True, capture_output=True, text=True).stdout
    return {line.split()[0]: float(line.split()[1]) for line in text.splitlines() if line.strip()}


def main() -> None:
    base = Path(tempfile.mkdtemp(dir=os.environ.get("BENCH_DIR")))
    try:
        (base / "package").mkdir()
        (base / "original").mkdir()
        pkg = package(base / "package")
        orig = original(base / "original")
        flo = floor(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)

    info = exlab_cache.Cache(tempfile.gettempdir()).policy_info()
    print(f"# exlab_cache {info['name']} {info['version']}, N={N}, {os.cpu_count()} cores")
    for name, value in pkg.items():
        theirs = orig.get(name) if orig else None
        ratio = ""
        if theirs is not None:
            faster = theirs / value if "ops_per_s" not in name else value / theirs
            ratio = f"  original {theirs:.1f}  ({faster:.1f}x)"
        print(f"{name} {value:.1f}{ratio}")
    if flo:
        for name, value in flo.items():
            print(f"{name} {value:.1f}")

    rows = []
    if orig:
        r = orig["equipment.read"] / pkg["equipment.read"]
        rows.append(("read_equipment", ">= 10x faster", f"{pkg['equipment.read']:.0f} us vs {orig['equipment.read']:.0f} us", f"{r:.1f}x", r >= 10))
        r = orig["test_runs.write_noop"] / pkg["test_runs.write_noop"]
        rows.append(("marker no-op", ">= 20x faster", f"{pkg['test_runs.write_noop']:.0f} us vs {orig['test_runs.write_noop']:.0f} us", f"{r:.1f}x", r >= 20))
    if flo:
        f = flo["floor.durable_replace_with_dir_fsync"]
        r = pkg["equipment.write_rewrite"] / f
        rows.append(("durable rewrite", "<= 1.2x floor", f"{pkg['equipment.write_rewrite']:.0f} us vs floor {f:.0f} us", f"{r:.2f}x", r <= 1.2))
    print()
    if MARKDOWN:
        print("| operation | target | measured | ratio | met |")
        print("|---|---|---|---|---|")
        for op, target, measured, ratio, met in rows:
            print(f"| {op} | {target} | {measured} | {ratio} | {'met' if met else 'NOT met'} |")
    else:
        for op, target, measured, ratio, met in rows:
            print(f"target {op} {target}: {measured} = {ratio} -> {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
