"""Shared fixtures: a fresh root per test, the package's sync and async
caches behind one calling convention, and the Python original's path."""
from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

import exlab_cache

REPO = Path(__file__).resolve().parents[2]
# Material from outside the repository (the Python original we replace) is
# found through one variable, EXLAB_ANCHORS (README "Outside material");
# the tests that need it skip with the reason when it is absent.
ANCHORS = Path(os.environ.get("EXLAB_ANCHORS", REPO.parent / "shared" / "anchors"))
PY_ORIGINAL = ANCHORS / "py-original"

EQUIPMENT = "CONFOCAL_01/.exlab-wizard/equipment.json"
TEST_RUNS = "CONFOCAL_01/P1/TestRuns/.exlab-wizard/test_runs.json"
RUNS = "CONFOCAL_01/P1/Runs/.exlab-wizard/runs.json"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
EQUIPMENT_FIELDS = [
    "schema_version",
    "id",
    "label",
    "configured_local_root",
    "configured_nas_root",
    "first_seen_at",
    "last_modified_at",
]
MARKER_FIELDS = ["schema_version", "run_kind", "created_at", "project", "equipment"]


def equipment(label: str = "Confocal 1", **extra: Any) -> dict:
    record = {
        "id": "CONFOCAL_01",
        "label": label,
        "configured_local_root": "/data/lab",
        "configured_nas_root": "//nas01/lab",
    }
    record.update(extra)
    return record


def marker(project: str = "P1", **extra: Any) -> dict:
    record = {"project": project, "equipment": "CONFOCAL_01"}
    record.update(extra)
    return record


def load(root: Path, rel: str) -> Any:
    return json.loads((root / rel).read_bytes())


def put(root: Path, rel: str, content: "str | bytes | dict") -> bytes:
    """Writes a file under the root (folders made); returns its bytes."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, dict):
        content = json.dumps(content, separators=(",", ":"))
    data = content.encode() if isinstance(content, str) else content
    path.write_bytes(data)
    return data


def temp_files(root: Path) -> list:
    return [p for p in root.rglob("*.tmp")]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    r.mkdir()
    return r


class AsyncAsSync:
    """An AsyncCache called like the sync one: each call is its own
    asyncio.run, so every spec test runs through the coroutines too."""

    def __init__(self, acache: exlab_cache.AsyncCache) -> None:
        self._acache = acache

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._acache, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return asyncio.run(method(*args, **kwargs))

        return call


@pytest.fixture(params=["sync", "async"])
def make_cache(request: Any):
    """A factory: make_cache(root, **kwargs) -> an object with the sync API,
    backed by Cache or by AsyncCache."""

    def make(root: Any, **kwargs: Any) -> Any:
        if request.param == "sync":
            return exlab_cache.Cache(root, **kwargs)
        return AsyncAsSync(exlab_cache.AsyncCache(root, **kwargs))

    return make


@pytest.fixture
def cache(make_cache: Any, root: Path) -> Any:
    return make_cache(root)


@pytest.fixture
def original() -> Any:
    """The Python original's package (skips when EXLAB_ANCHORS lacks it)."""
    if not (PY_ORIGINAL / "exlab_wizard").is_dir():
        pytest.skip(f"the Python original is not at {PY_ORIGINAL} (set EXLAB_ANCHORS)")
    pytest.importorskip("msgspec")
    pytest.importorskip("filelock")
    if str(PY_ORIGINAL) not in sys.path:
        sys.path.insert(0, str(PY_ORIGINAL))
    try:
        import exlab_wizard.cache.equipment as equipment_module
    except ImportError as e:  # it needs Python 3.11 (datetime.UTC)
        pytest.skip(f"the Python original does not import here: {e}")
    return equipment_module
