"""Shared fixtures: a fresh root per test, the package's sync and async
caches behind one calling convention, the Python original's path, and
exlab_cache.compat with the app's package hidden or stood in for."""
from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import types
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


# --- the drop-ins of exlab_cache.compat ------------------------------------


class _HideTheApp:
    """A meta-path finder for which the app's package does not exist."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "exlab_wizard" or name.startswith("exlab_wizard."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def _forget_the_app(monkeypatch: Any) -> None:
    for name in list(sys.modules):
        if name == "exlab_wizard" or name.startswith("exlab_wizard."):
            monkeypatch.delitem(sys.modules, name)


@pytest.fixture
def compat(root: Path, monkeypatch: Any) -> Any:
    """exlab_cache.compat serving `root`, with the app's package out of
    reach (the mirror structs and our exceptions are used)."""
    pytest.importorskip("msgspec")
    import exlab_cache.compat

    _forget_the_app(monkeypatch)
    monkeypatch.setattr(sys, "meta_path", [_HideTheApp(), *sys.meta_path])
    exlab_cache.compat.configure(root)
    yield exlab_cache.compat
    exlab_cache.compat.configure()


FAKE_SCHEMAS = '''
"""Stand-ins for the app's structs: ours, under the app's module name."""
from exlab_cache.compat import schemas


class EquipmentJson(schemas.EquipmentJson):
    pass


class TestRunsJson(schemas.TestRunsJson):
    pass


class CreationJson(schemas.CreationJson):
    pass


class IngestJson(schemas.IngestJson):
    pass
'''

FAKE_ERRORS = '''
"""A stand-in for the app's exception of a schema mismatch."""


class SchemaMajorMismatchError(Exception):
    def __init__(self, expected_major, found):
        super().__init__(f"{expected_major} / {found}")
        self.expected_major = expected_major
        self.found = found
'''


@pytest.fixture
def fake_app(root: Path, tmp_path: Path, monkeypatch: Any) -> Any:
    """A minimal `exlab_wizard` package on sys.path (api.schemas, errors),
    and exlab_cache.compat serving `root`."""
    pytest.importorskip("msgspec")
    import exlab_cache.compat

    site = tmp_path / "fake-app"
    package = site / "exlab_wizard"
    (package / "api").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "api" / "__init__.py").write_text("")
    (package / "api" / "schemas.py").write_text(FAKE_SCHEMAS)
    (package / "errors.py").write_text(FAKE_ERRORS)
    _forget_the_app(monkeypatch)
    monkeypatch.syspath_prepend(str(site))
    exlab_cache.compat.configure(root)
    import exlab_wizard.api.schemas
    import exlab_wizard.errors

    yield types.SimpleNamespace(schemas=exlab_wizard.api.schemas, errors=exlab_wizard.errors)
    exlab_cache.compat.configure()
    # The stand-ins leave with the test (monkeypatch then puts back any
    # real app modules it took out).
    for name in list(sys.modules):
        if name == "exlab_wizard" or name.startswith("exlab_wizard."):
            del sys.modules[name]
