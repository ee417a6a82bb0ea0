"""Process and thread bodies for the interop and concurrency tests: the
package and the Python original writing the same files at the same time.

Every writer stamps its own ``created_at`` (a marker) or ``label``
(equipment), so the file on disk tells which writer won.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, List


def tag(writer: int, round_: int) -> str:
    """A distinct, valid created_at per (writer, round)."""
    return "2026-04-17T%02d:%02d:00Z" % (writer % 24, round_ % 60)


def marker_rel(round_: int) -> str:
    return f"CONFOCAL_01/P{round_}/TestRuns/.exlab-wizard/test_runs.json"


def package_markers(root: str, writer: int, rounds: int, barrier: Any, out: Any) -> None:
    import exlab_cache

    cache = exlab_cache.Cache(root)
    barrier.wait()
    for r in range(rounds):
        barrier.wait()
        written, _ = cache.write_test_runs_marker(
            marker_rel(r),
            {"project": f"P{r}", "equipment": "CONFOCAL_01", "created_at": tag(writer, r)},
        )
        out.put(("package", writer, r, written))


def original_writer(py_original: str) -> Any:
    if py_original not in sys.path:
        sys.path.insert(0, py_original)
    from exlab_wizard.cache.equipment import EquipmentCacheWriter

    return EquipmentCacheWriter


def original_markers(
    root: str, py_original: str, writer: int, rounds: int, barrier: Any, out: Any
) -> None:
    writer_cls = original_writer(py_original)
    from exlab_wizard.api.schemas import TestRunsJson

    barrier.wait()
    for r in range(rounds):
        barrier.wait()
        writer_cls._write_test_runs_marker_sync(
            Path(root) / marker_rel(r),
            TestRunsJson("1.0", tag(writer, r), f"P{r}", "CONFOCAL_01"),
        )
        out.put(("original", writer, r, None))


EQUIPMENT_REL = "CONFOCAL_01/.exlab-wizard/equipment.json"


def package_rewrites(root: str, writer: int, count: int, barrier: Any, out: Any) -> None:
    import exlab_cache

    cache = exlab_cache.Cache(root)
    barrier.wait()
    firsts: List[str] = []
    for i in range(count):
        written = cache.write_equipment(
            EQUIPMENT_REL,
            {
                "id": "CONFOCAL_01",
                "label": f"package {writer} {i}",
                "configured_local_root": "/data/lab",
                "configured_nas_root": "//nas01/lab",
            },
        )
        firsts.append(written["first_seen_at"])
        # Each read sees a whole file: the old one or the new one.
        firsts.append(cache.read_equipment(EQUIPMENT_REL)["first_seen_at"])
    out.put(("package", writer, firsts))


def original_rewrites(
    root: str, py_original: str, writer: int, count: int, barrier: Any, out: Any
) -> None:
    writer_cls = original_writer(py_original)
    from exlab_wizard.api.schemas import EquipmentJson

    path = Path(root) / EQUIPMENT_REL
    barrier.wait()
    firsts: List[str] = []
    for i in range(count):
        writer_cls._write_equipment_sync(
            path,
            EquipmentJson("1.0", "CONFOCAL_01", f"original {writer} {i}", "/data/lab", "//nas01/lab", "", ""),
        )
        firsts.append(writer_cls._read_equipment_sync(path).first_seen_at)
    out.put(("original", writer, firsts))
