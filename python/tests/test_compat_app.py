"""The drop-ins with the app importable (a minimal stand-in `exlab_wizard`
on sys.path): its structs come back and its exceptions are raised. And the
root the drop-ins serve: `/` unless narrowed."""
from __future__ import annotations

import asyncio
import os

import pytest

pytest.importorskip("msgspec")

import exlab_cache  # noqa: E402

from conftest import EQUIPMENT, TEST_RUNS, put  # noqa: E402

INGEST = "CONFOCAL_01/P1/Runs/R1/.exlab-wizard/ingest.json"


def run(coro):
    return asyncio.run(coro)


def test_the_apps_structs_are_returned_when_it_imports(fake_app, root):
    from exlab_cache.compat import equipment, ingest_writer

    writer = equipment.EquipmentCacheWriter()
    app = fake_app.schemas
    run(
        writer.write_equipment(
            root / EQUIPMENT, app.EquipmentJson("1.0", "CONFOCAL_01", "L", "/l", "/n", "", "")
        )
    )
    run(
        writer.write_test_runs_marker(
            root / TEST_RUNS, app.TestRunsJson("1.0", "2026-04-17T14:00:00Z", "P1", "CONFOCAL_01")
        )
    )
    assert type(run(writer.read_equipment(root / EQUIPMENT))) is app.EquipmentJson
    assert type(run(writer.read_test_runs_marker(root / TEST_RUNS))) is app.TestRunsJson
    ingest = ingest_writer.IngestWriter()
    history = [{"state": "staging", "at": "t0", "host": "h"}]
    run(
        ingest.write_ingest(
            root / INGEST,
            app.IngestJson("1.1", "P", "E", "test", "r", "smb_mount", "staging", history),
        )
    )
    assert (
        type(run(ingest.append_state_transition(root / INGEST, "complete", host="h")))
        is app.IngestJson
    )


def test_the_apps_schema_mismatch_is_raised_when_it_imports(fake_app, root):
    from exlab_cache.compat import equipment

    put(root, EQUIPMENT, '{"schema_version":"2.0"}')
    with pytest.raises(fake_app.errors.SchemaMajorMismatchError) as caught:
        run(equipment.EquipmentCacheWriter().read_equipment(root / EQUIPMENT))
    assert (caught.value.expected_major, caught.value.found) == (1, "2.0")
    assert isinstance(caught.value.__cause__, exlab_cache.SchemaMajorMismatchError)
    with pytest.raises(fake_app.errors.SchemaMajorMismatchError):
        equipment.require_schema_major("3.0", expected_major=1)


def test_without_the_app_the_mirror_structs_are_returned(compat, root):
    from exlab_cache.compat import equipment, schemas

    writer = equipment.EquipmentCacheWriter()
    run(
        writer.write_equipment(
            root / EQUIPMENT,
            {
                "id": "CONFOCAL_01",
                "label": "L",
                "configured_local_root": "/l",
                "configured_nas_root": "/n",
            },
        )
    )
    assert type(run(writer.read_equipment(root / EQUIPMENT))) is schemas.EquipmentJson


def test_a_path_outside_a_narrowed_root_is_refused(compat, root, tmp_path):
    from exlab_cache.compat import equipment

    outside = tmp_path / "elsewhere" / "equipment.json"
    with pytest.raises(PermissionError):
        run(equipment.EquipmentCacheWriter().read_equipment(outside))
    assert not outside.parent.exists()


def test_the_root_is_slash_unless_set_by_configure_or_the_environment(root, monkeypatch):
    from exlab_cache import compat
    from exlab_cache.compat import _support

    monkeypatch.delenv(compat.ROOT_ENV, raising=False)
    compat.configure()
    assert _support.root() == "/" and str(_support.cache().root) == "/"
    monkeypatch.setenv(compat.ROOT_ENV, str(root))
    compat.configure()
    assert str(_support.cache().root) == str(root)
    compat.configure(root / "CONFOCAL_01")
    assert str(_support.cache().root) == str(root / "CONFOCAL_01")
    compat.configure()


def test_a_relative_path_is_taken_from_the_working_folder(compat, root, monkeypatch):
    from exlab_cache.compat import log_writer

    monkeypatch.chdir(root)
    log_writer.append_log_line("logs/wizard.lab-1.log", "here")
    assert (root / "logs" / "wizard.lab-1.log").read_text() == "here\n"
    assert os.getcwd() == str(root)


def test_one_shared_cache_per_lock_timeout(compat):
    from exlab_cache.compat import _support

    assert _support.cache(5.0) is _support.cache(5.0)
    assert _support.cache(5.0).cache.lock_timeout == 5.0
    assert _support.cache(1.0) is not _support.cache(5.0)
