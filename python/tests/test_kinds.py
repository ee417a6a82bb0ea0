"""The record kinds of interface 1.1 through the package: ``kinds``, ``run``,
``update`` and the typed conveniences, each through ``Cache`` and
``AsyncCache`` (the ``cache`` fixture). The rules are the policy's; these
tests show they reach Python intact, and what the step of an update may do.
"""
from __future__ import annotations

import asyncio
import dataclasses
import datetime
import enum
import fcntl
import logging
import os
import threading
from typing import Any, List, Optional

import pytest

import exlab_cache
from exlab_cache import NotFoundError, SchemaMajorMismatchError, ValidationError

from conftest import TIMESTAMP, load, put, temp_files

CREATION = "CONFOCAL_01/P1/Runs/R1/.exlab-wizard/creation.json"
INGEST = "CONFOCAL_01/P1/Runs/R1/.exlab-wizard/ingest.json"
README = "CONFOCAL_01/P1/Runs/R1/.exlab-wizard/readme_fields.json"
LOG_FOLDER = "CONFOCAL_01/.exlab-wizard"


def creation(**over: Any) -> dict:
    record = {
        "created_by": "asmith",
        "level": "run",
        "run_kind": "test",
        "lims_project": {"uid": "u-1", "short_id": "PROJ-1", "name_at_creation": "Pilot"},
        "template": {"name": "tpl", "version": "2", "source_path": "templates/tpl"},
        "variables": {"project_name": "Pilot"},
        "paths": {"local": "/data/lab/CONFOCAL_01/P1", "nas": "//nas/lab/CONFOCAL_01/P1"},
    }
    record.update(over)
    return record


def ingest(state: str = "staging", **over: Any) -> dict:
    record = {
        "project_name": "Pilot",
        "equipment_id": "CONFOCAL_01",
        "run_kind": "experimental",
        "run_path": "CONFOCAL_01/P1/R1",
        "transport": "smb_mount",
        "current_state": state,
        "history": [{"state": state, "at": "2026-04-17T14:35:00Z", "host": "lab-1"}],
    }
    record.update(over)
    return record


def override(id: str, **over: Any) -> dict:
    entry = {
        "id": id,
        "problem_class": "leftover_jinja_marker",
        "operator": "asmith",
        "recorded_at": "2026-04-18T09:00:00Z",
        "reason": "checked by hand",
        "revoked": False,
    }
    entry.update(over)
    return entry


def tombstone(id: str, revokes: str) -> dict:
    return {
        "id": id,
        "revokes": revokes,
        "operator": "asmith",
        "recorded_at": "2026-04-18T10:00:00Z",
        "reason": "undo",
        "revoked": True,
    }


# --- kinds and run ---------------------------------------------------------


def test_kinds_list_the_family_with_each_operations_access(cache):
    kinds = {k["name"]: k for k in cache.kinds()}
    assert set(kinds) >= {
        "equipment",
        "test-runs",
        "runs",
        "creation",
        "ingest",
        "readme-fields",
        "log",
    }
    access = {o["name"]: o["access"] for o in kinds["creation"]["operations"]}
    assert access == {
        "create": "write",
        "update": "update",
        "read": "read",
        "active-overrides": "none",
    }
    assert kinds["creation"]["file_name"] == "creation.json"
    assert kinds["creation"]["schema_version"] == "1.9"
    assert {o["name"]: o["access"] for o in kinds["log"]["operations"]} == {
        "format": "none",
        "append": "append",
    }
    log_file = kinds["log"]["file_name"]
    assert log_file.startswith("wizard.") and log_file.endswith(".log")


def test_run_reaches_the_1_0_kinds_by_name_with_the_cli_shapes(cache, root):
    record = cache.run(
        "equipment",
        "write",
        "E1/.exlab-wizard/equipment.json",
        {"id": "E1", "label": "L", "configured_local_root": "/l", "configured_nas_root": "/n"},
    )
    assert record == load(root, "E1/.exlab-wizard/equipment.json")
    outcome = cache.run(
        "runs", "write", "E1/P/Runs/.exlab-wizard/runs.json", {"project": "P", "equipment": "E1"}
    )
    assert outcome["written"] is True and outcome["marker"]["run_kind"] == "experimental"
    assert cache.run("runs", "read", "E1/P/Runs/.exlab-wizard/runs.json")["project"] == "P"


@pytest.mark.parametrize(
    "kind,operation,field",
    [("nope", "read", "kind"), ("creation", "nope", "operation")],
)
def test_run_of_an_unknown_kind_or_operation_names_it(cache, root, kind, operation, field):
    with pytest.raises(ValidationError) as caught:
        cache.run(kind, operation, CREATION)
    assert caught.value.field == field
    assert list(root.iterdir()) == []


def test_run_takes_json_text_and_gives_data(cache):
    line = cache.run(
        "log", "format", None, '{"level":"INFO","message":"m","timestamp":"2026-04-17T14:31:55Z"}'
    )
    assert line == {"line": "2026-04-17T14:31:55Z [INFO ] m"}


# --- creation.json ---------------------------------------------------------


def test_create_creation_writes_once_and_never_overwrites(cache, root):
    written, record = cache.create_creation(CREATION, creation())
    assert written is True
    assert record == load(root, CREATION)
    assert record["schema_version"] == "1.9" and TIMESTAMP.match(record["created_at"])
    before = (root / CREATION).read_bytes()
    again, on_disk = cache.create_creation(CREATION, creation(created_by="someone else"))
    assert (again, on_disk) == (False, record)
    assert (root / CREATION).read_bytes() == before


class Scope(enum.Enum):
    BOTH = "both"


@dataclasses.dataclass
class Template:
    name: str
    version: str
    source_path: str
    run_scope: Scope


def test_nested_dataclasses_structs_and_enums_go_in_as_their_fields(cache, root):
    msgspec = pytest.importorskip("msgspec")

    class Isolation(msgspec.Struct):
        duration_ms: int
        exit_code: int
        peak_memory_mb: int

    class Plugin(msgspec.Struct):
        plugin: str
        version: str
        files_affected: List[str]
        status: str
        isolation: Optional[Isolation] = None

    record = creation(
        template=Template("tpl", "2", "templates/tpl", Scope.BOTH),
        plugins_applied=[Plugin("filler", "0.3", ["a.xlsx"], "success", Isolation(412, 0, 38))],
    )
    _, written = cache.create_creation(CREATION, record)
    assert written["template"]["run_scope"] == "both"
    assert written["plugins_applied"] == [
        {
            "plugin": "filler",
            "version": "0.3",
            "files_affected": ["a.xlsx"],
            "status": "success",
            "isolation": {"duration_ms": 412, "exit_code": 0, "peak_memory_mb": 38},
        }
    ]


def test_read_creation_fills_defaults_and_leaves_unknown_fields_out(cache, root):
    _, written = cache.create_creation(CREATION, creation())
    put(root, CREATION, {**written, "from_a_newer_minor": {"x": 1}})
    record = cache.read_creation(CREATION)
    assert "from_a_newer_minor" not in record
    assert record["sync_status"] == "pending"
    assert record["validation_overrides"] == [] and record["plugins_applied"] == []
    assert record["lims_project"]["source"] == "live"


def test_read_creation_of_another_major_is_a_mismatch(cache, root):
    put(root, CREATION, {**creation(), "schema_version": "2.0"})
    with pytest.raises(SchemaMajorMismatchError) as caught:
        cache.read_creation(CREATION)
    assert caught.value.found == "2.0"


# --- the update's step -------------------------------------------------------


def test_a_step_that_changes_the_dict_in_place_is_written(cache, root):
    cache.create_creation(CREATION, creation())

    def step(record: dict) -> None:
        record["sync_status"] = "synced"

    written = cache.update_creation(CREATION, step)
    assert written["sync_status"] == "synced"
    assert written == load(root, CREATION)


def test_a_step_that_returns_a_new_record_is_written(cache, root):
    cache.create_creation(CREATION, creation())
    written = cache.update("creation", CREATION, lambda r: {**r, "sync_status": "cleaned"})
    assert load(root, CREATION)["sync_status"] == "cleaned" == written["sync_status"]


def test_the_step_sees_every_known_field_and_the_unknown_ones(cache, root):
    _, written = cache.create_creation(CREATION, creation())
    put(root, CREATION, {**written, "from_a_newer_minor": [1, 2]})
    seen = []
    cache.update_creation(CREATION, lambda r: seen.append(dict(r)))
    assert seen[0]["sync_status"] == "pending" and seen[0]["orchestrator"] is None
    assert seen[0]["from_a_newer_minor"] == [1, 2]
    assert load(root, CREATION)["from_a_newer_minor"] == [1, 2]


class StepFailed(Exception):
    pass


def test_a_step_that_raises_writes_nothing_and_its_exception_comes_back(cache, root):
    cache.create_creation(CREATION, creation())
    before = (root / CREATION).read_bytes()
    failure = StepFailed("the operator cancelled")

    def step(record: dict) -> None:
        record["sync_status"] = "synced"
        raise failure

    with pytest.raises(StepFailed) as caught:
        cache.update_creation(CREATION, step)
    assert caught.value is failure
    assert (root / CREATION).read_bytes() == before
    assert temp_files(root) == []


def test_the_step_runs_while_the_files_lock_is_held(cache, root):
    cache.create_creation(CREATION, creation())
    tries = []

    def step(record: dict) -> None:
        fd = os.open(root / (CREATION + ".lock"), os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            tries.append("had the lock")
        except BlockingIOError:
            tries.append("locked")
        finally:
            os.close(fd)

    cache.update_creation(CREATION, step)
    assert tries == ["locked"]


def test_a_step_that_returns_an_invalid_record_names_the_field_and_writes_nothing(cache, root):
    cache.create_creation(CREATION, creation())
    before = (root / CREATION).read_bytes()
    with pytest.raises(ValidationError) as caught:
        cache.update_creation(CREATION, lambda r: {**r, "sync_status": "lost"})
    assert caught.value.field == "sync_status"
    assert (root / CREATION).read_bytes() == before


def test_a_step_that_returns_what_is_not_json_writes_nothing(cache, root):
    cache.create_creation(CREATION, creation())
    before = (root / CREATION).read_bytes()
    with pytest.raises(ValidationError) as caught:
        cache.update_creation(CREATION, lambda r: {**r, "variables": {"x": object()}})
    assert caught.value.field is None
    assert caught.value.message.startswith("the record the step returned is not JSON")
    assert (root / CREATION).read_bytes() == before


def test_overrides_are_append_only_through_an_update(cache, root):
    cache.create_creation(CREATION, creation(validation_overrides=[override("a")]))
    with pytest.raises(ValidationError) as caught:
        cache.update_creation(CREATION, lambda r: {**r, "validation_overrides": []})
    assert caught.value.field == "validation_overrides"
    written = cache.update_creation(
        CREATION, lambda r: r["validation_overrides"].append(tombstone("b", "a"))
    )
    assert [e["id"] for e in written["validation_overrides"]] == ["a", "b"]


def test_an_update_of_a_missing_file_creates_nothing_and_calls_no_step(cache, root):
    called = []
    with pytest.raises(NotFoundError):
        cache.update_creation(CREATION, called.append)
    assert called == [] and list(root.iterdir()) == []


def test_an_update_needs_a_callable_step(cache, root):
    cache.create_creation(CREATION, creation())
    with pytest.raises(TypeError, match="callable"):
        cache.update_creation(CREATION, {"sync_status": "synced"})


def test_concurrent_updates_each_land(root):
    cache = exlab_cache.Cache(root)
    cache.create_creation(CREATION, creation())
    barrier = threading.Barrier(8)
    errors = []

    def add(n: int) -> None:
        barrier.wait()
        try:
            for i in range(3):
                cache.update_creation(
                    CREATION,
                    lambda r: r["plugins_applied"].append(
                        {
                            "plugin": f"p{n}.{i}",
                            "version": "1",
                            "files_affected": [],
                            "status": "success",
                        }
                    ),
                )
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    names = {p["plugin"] for p in load(root, CREATION)["plugins_applied"]}
    assert names == {f"p{n}.{i}" for n in range(8) for i in range(3)}


def test_async_updates_run_the_step_in_a_worker_thread(root):
    acache = exlab_cache.AsyncCache(root, inline_reads=True)
    threads = []

    async def main() -> int:
        await acache.create_creation(CREATION, creation())
        await acache.update_creation(CREATION, lambda r: threads.append(threading.get_ident()))
        return threading.get_ident()

    loop_thread = asyncio.run(main())
    assert threads and threads[0] != loop_thread


# --- validation overrides -------------------------------------------------------


def test_active_overrides_drop_the_revoked_and_the_expired(cache):
    entries = [
        override("a"),
        override("b", expires_at="2026-04-18T12:00:00Z"),
        override("c"),
        tombstone("d", "c"),
    ]
    before = cache.active_overrides(entries, now="2026-04-18T11:00:00Z")
    after = cache.active_overrides(
        entries, now=datetime.datetime(2026, 4, 18, 13, tzinfo=datetime.timezone.utc)
    )
    assert [e["id"] for e in before] == ["a", "b"]
    assert after == [override("a")]


def test_orphan_tombstones_and_bad_expiries_are_logged(cache, caplog):
    entries = [tombstone("t", "nobody"), override("a", expires_at="not a time")]
    with caplog.at_level(logging.WARNING, logger="exlab_cache"):
        assert cache.active_overrides(entries, now="2026-04-18T11:00:00Z") == []
    messages = [r.getMessage() for r in caplog.records if r.name == "exlab_cache"]
    assert any("orphan" in m for m in messages)
    assert any("expires_at is malformed" in m for m in messages)


# --- ingest.json -------------------------------------------------------------


def test_ingest_moves_forward_one_state_at_a_time(cache, root):
    written, record = cache.create_ingest(INGEST, ingest())
    assert written and record == load(root, INGEST)
    moved = cache.transition_ingest(
        INGEST, "complete", host="lab-2", files_received=3, nas_path="//x"
    )
    last = moved["history"][-1]
    assert moved["current_state"] == "complete"
    assert (last["state"], last["host"], last["files_received"]) == ("complete", "lab-2", 3)
    assert "nas_path" not in last and TIMESTAMP.match(last["at"])
    assert cache.read_ingest(INGEST) == moved


def test_an_illegal_ingest_transition_names_the_state_and_writes_nothing(cache, root):
    cache.create_ingest(INGEST, ingest("cleared"))
    before = (root / INGEST).read_bytes()
    with pytest.raises(ValidationError) as caught:
        cache.transition_ingest(INGEST, "staging")
    assert caught.value.field == "state"
    assert (
        caught.value.message
        == "illegal state transition 'cleared' -> 'staging' (allowed: [terminal])"
    )
    assert isinstance(caught.value, ValueError)
    assert (root / INGEST).read_bytes() == before


def test_a_transition_without_a_host_is_this_machines(cache, root):
    cache.create_ingest(INGEST, ingest())
    host = cache.transition_ingest(INGEST, "complete")["history"][-1]["host"]
    log_file = {k["name"]: k for k in cache.kinds()}["log"]["file_name"]
    assert log_file == f"wizard.{host}.log"


def test_create_ingest_never_overwrites(cache, root):
    cache.create_ingest(INGEST, ingest())
    written, on_disk = cache.create_ingest(INGEST, ingest("complete"))
    assert written is False and on_disk["current_state"] == "staging"


# --- readme_fields.json ----------------------------------------------------------


def test_readme_fields_are_overwritten_and_stamped(cache, root):
    first = cache.write_readme_fields(README, {"core_fields": {"label": "L"}, "system_fields": {}})
    assert TIMESTAMP.match(first["generated_at"]) and first == load(root, README)
    given = "2026-04-17T14:32:05Z"
    second = cache.write_readme_fields(
        README, {"generated_at": given, "core_fields": {"label": "M"}, "system_fields": {"v": 1}}
    )
    assert second["generated_at"] == given
    assert cache.read_readme_fields(README)["core_fields"] == {"label": "M"}


def test_a_readme_label_past_its_limit_is_refused(cache, root):
    with pytest.raises(ValidationError) as caught:
        cache.write_readme_fields(
            README, {"core_fields": {"label": "x" * 101}, "system_fields": {}}
        )
    assert caught.value.field == "core_fields.label"
    assert list(root.iterdir()) == []


# --- the log ------------------------------------------------------------------


def test_a_log_line_carries_the_tags_given_in_order(cache):
    line = cache.format_log_line(
        level="WARN",
        message="disk full",
        timestamp="2026-04-17T14:31:55Z",
        run_id="R1",
        host="lab-1",
        equipment_id="CONFOCAL_01",
    )
    assert (
        line == "2026-04-17T14:31:55Z [WARN ] [host:lab-1] [equip:CONFOCAL_01] [run:R1] disk full"
    )


def test_max_bytes_counts_the_newline(cache):
    base = cache.format_log_line(level="INFO", message="", timestamp="2026-04-17T14:31:55Z")
    fits = cache.format_log_line(
        level="INFO", message="x" * 10, timestamp="2026-04-17T14:31:55Z", max_bytes=len(base) + 11
    )
    cut = cache.format_log_line(
        level="INFO", message="x" * 11, timestamp="2026-04-17T14:31:55Z", max_bytes=len(base) + 11
    )
    assert fits == base + "x" * 10
    assert cut.endswith("...[truncated]") and len(cut) == len(base) + 10


def test_appends_go_to_the_file_or_the_machines_log_in_a_folder(cache, root):
    named = cache.append_log_line(LOG_FOLDER + "/mine.log", "first\nsecond")
    assert named == {"path": LOG_FOLDER + "/mine.log", "line": "first\\nsecond"}
    assert (root / LOG_FOLDER / "mine.log").read_text() == "first\\nsecond\n"
    log_file = {k["name"]: k for k in cache.kinds()}["log"]["file_name"]
    formatted = cache.append_log_line(
        LOG_FOLDER, {"level": "INFO", "message": "m", "host": "lab-1"}
    )
    assert formatted["path"] == f"{LOG_FOLDER}/{log_file}"
    assert (root / LOG_FOLDER / log_file).read_text() == formatted["line"] + "\n"
    assert cache.append_log_line(LOG_FOLDER + "/mine.log", "y" * 50, max_bytes=20)["line"].endswith(
        "[truncated]"
    )


def test_a_missing_log_field_is_named(cache, root):
    with pytest.raises(ValidationError) as caught:
        cache.format_log_line(message="no level")
    assert caught.value.field == "level"


# --- numbers -------------------------------------------------------------------


def test_integers_beyond_64_bits_read_back_exactly(cache, root):
    _, written = cache.create_creation(
        CREATION, creation(variables={"big": 10**30, "neg": -(10**25)})
    )
    assert written["variables"] == {"big": 10**30, "neg": -(10**25)}
    assert cache.read_creation(CREATION)["variables"]["big"] == 10**30


def test_an_update_keeps_integers_beyond_64_bits(cache, root):
    cache.create_creation(CREATION, creation(variables={"big": 10**30}))
    cache.update_creation(CREATION, lambda r: None)
    assert load(root, CREATION)["variables"]["big"] == 10**30


def test_an_update_of_a_deeply_nested_record_goes_through(cache, root):
    # Free-form objects may nest as deep as the policy accepts them.
    deep: object = 1
    for _ in range(300):
        deep = {"d": deep}
    cache.create_creation(CREATION, creation(variables={"deep": deep}))
    cache.update_creation(CREATION, lambda r: r.update(sync_status="synced"))
    stored = load(root, CREATION)
    assert stored["sync_status"] == "synced"
    assert stored["variables"]["deep"] == deep
