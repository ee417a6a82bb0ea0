"""exlab_cache.compat.creation_writer: the app's CreationWriter over the
policy (mirror structs, our exceptions)."""
from __future__ import annotations

import asyncio
import datetime
import fcntl
import os

import pytest

msgspec = pytest.importorskip("msgspec")

import exlab_cache  # noqa: E402

from conftest import load, put  # noqa: E402

CREATION = "CONFOCAL_01/P1/Runs/R1/.exlab-wizard/creation.json"


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def creation_writer(compat):
    from exlab_cache.compat import creation_writer

    return creation_writer


def payload(**over):
    from exlab_cache.compat import schemas

    fields = dict(
        schema_version="1.9",
        created_at="2026-04-17T14:32:00Z",
        created_by="asmith",
        level="run",
        run_kind="experimental",
        lims_project=schemas.LimsProjectBlock("u-1", "PROJ-1", "Pilot"),
        template=schemas.TemplateBlock("tpl", "2", "templates/tpl", "both"),
        variables={"project_name": "Pilot"},
        paths=schemas.PathsBlock("/x", "//y"),
    )
    fields.update(over)
    return schemas.CreationJson(**fields)


def test_a_creation_is_written_once_and_a_second_create_is_file_exists(creation_writer, root):
    writer = creation_writer.CreationWriter()
    run(writer.write_creation(root / CREATION, payload()))
    before = (root / CREATION).read_bytes()
    with pytest.raises(FileExistsError) as caught:
        run(writer.write_creation(root / CREATION, payload(created_by="other")))
    assert caught.value.filename == str(root / CREATION)
    assert (root / CREATION).read_bytes() == before


def test_nested_structs_are_written_and_read_back_as_structs(creation_writer, root):
    from exlab_cache.compat import schemas

    plugin = schemas.PluginApplied(
        "filler", "0.3", ["a.xlsx"], "success", schemas.PluginIsolation(412, 0, 38)
    )
    writer = creation_writer.CreationWriter()
    run(writer.write_creation(root / CREATION, payload(plugins_applied=[plugin])))
    snapshot = run(writer.read_creation_snapshot(root / CREATION))
    assert isinstance(snapshot, schemas.CreationJson)
    assert snapshot.plugins_applied == [plugin]
    assert snapshot.lims_project.source == "live"


def test_the_mutator_gets_the_struct_and_its_changes_are_written(creation_writer, root):
    from exlab_cache.compat import schemas

    writer = creation_writer.CreationWriter()
    run(writer.write_creation(root / CREATION, payload()))

    def in_place(p):
        p.sync_status = "synced"
        p.plugins_applied.append(schemas.PluginApplied("x", "1", [], "skipped"))

    def fresh(p):
        return msgspec.structs.replace(p, sync_status="cleaned")

    first = run(writer.update_creation_atomic(root / CREATION, in_place))
    assert first.sync_status == "synced" and first.plugins_applied[0].plugin == "x"
    second = run(writer.update_creation_atomic(root / CREATION, fresh))
    assert second.sync_status == "cleaned" and load(root, CREATION)["sync_status"] == "cleaned"


def test_a_mutator_that_raises_writes_nothing_and_its_exception_comes_back(creation_writer, root):
    writer = creation_writer.CreationWriter()
    run(writer.write_creation(root / CREATION, payload()))
    before = (root / CREATION).read_bytes()
    failure = exlab_cache.ValidationError("the mutator's own", "sync_status")

    def mutator(p):
        raise failure

    with pytest.raises(exlab_cache.ValidationError) as caught:
        run(writer.update_creation_atomic(root / CREATION, mutator))
    assert caught.value is failure
    assert (root / CREATION).read_bytes() == before


def test_ten_concurrent_mutators_each_land(creation_writer, root):
    from exlab_cache.compat import schemas

    writer = creation_writer.CreationWriter()
    run(writer.write_creation(root / CREATION, payload()))

    def adding(n):
        return lambda p: p.plugins_applied.append(
            schemas.PluginApplied(f"p{n}", "1", [], "success")
        )

    async def all_at_once():
        await asyncio.gather(
            *(writer.update_creation_atomic(root / CREATION, adding(n)) for n in range(10))
        )

    run(all_at_once())
    assert {p["plugin"] for p in load(root, CREATION)["plugins_applied"]} == {
        f"p{n}" for n in range(10)
    }


def test_a_lock_not_had_in_time_is_a_timeout_error_and_filelocks(creation_writer, root):
    writer = creation_writer.CreationWriter(lock_timeout_seconds=0)
    run(writer.write_creation(root / CREATION, payload()))
    fd = os.open(root / (CREATION + ".lock"), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(TimeoutError) as caught:
            run(writer.update_creation_atomic(root / CREATION, lambda p: p))
    finally:
        os.close(fd)
    assert isinstance(caught.value, exlab_cache.LockTimeoutError)
    assert caught.value.lock_file == str(root / CREATION) + ".lock"
    filelock = pytest.importorskip("filelock")
    assert isinstance(caught.value, filelock.Timeout)


def test_reading_another_major_or_no_version_is_a_mismatch(creation_writer, root):
    from exlab_cache.compat.errors import SchemaMajorMismatchError

    writer = creation_writer.CreationWriter()
    for stored, found in (({"schema_version": "2.0"}, "2.0"), ({"created_by": "x"}, "")):
        put(root, CREATION, stored)
        with pytest.raises(SchemaMajorMismatchError) as caught:
            run(writer.read_creation_snapshot(root / CREATION))
        assert caught.value.found == found


def test_active_overrides_follow_now(creation_writer, compat):
    entry = {
        "id": "a",
        "problem_class": "p",
        "operator": "o",
        "recorded_at": "2026-04-18T09:00:00Z",
        "reason": "r",
        "revoked": False,
        "expires_at": "2026-04-18T12:00:00Z",
    }
    utc = datetime.timezone.utc
    select = creation_writer.select_active_overrides
    assert select([entry], now=datetime.datetime(2026, 4, 18, 10, tzinfo=utc)) == [entry]
    assert select([entry], now=datetime.datetime(2026, 4, 18, 14, tzinfo=utc)) == []
    assert select(iter([])) == []
