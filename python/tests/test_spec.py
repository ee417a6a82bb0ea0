"""Every docs/spec.md behaviour through the package, as the app would call it.

Each test runs twice: through ``Cache`` and through ``AsyncCache`` (the
``cache``/``make_cache`` fixtures). The clock is the system clock: tests
assert relations between timestamps, never sleep for a new second.
"""
from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
import types
from pathlib import Path

import pytest

import exlab_cache
from exlab_cache import (
    AccessDeniedError,
    DecodeError,
    IoError,
    LockTimeoutError,
    NotFoundError,
    PolicyError,
    SchemaMajorMismatchError,
    ValidationError,
)

from conftest import (
    EQUIPMENT,
    EQUIPMENT_FIELDS,
    MARKER_FIELDS,
    RUNS,
    TEST_RUNS,
    TIMESTAMP,
    equipment,
    load,
    marker,
    put,
    temp_files,
)

OLD = "2020-01-01T00:00:00Z"


def stored_equipment(**over):
    record = {
        "schema_version": "1.0",
        "id": "CONFOCAL_01",
        "label": "Old",
        "configured_local_root": "/old",
        "configured_nas_root": "//old",
        "first_seen_at": OLD,
        "last_modified_at": OLD,
    }
    record.update(over)
    return record


# ---------------------------------------------------------------- equipment


def test_first_write_creates_folders_and_stamps_once(cache, root):
    written = cache.write_equipment(EQUIPMENT, equipment())
    assert list(written) == EQUIPMENT_FIELDS
    assert written["schema_version"] == "1.0"
    assert TIMESTAMP.match(written["first_seen_at"])
    assert written["first_seen_at"] == written["last_modified_at"]
    raw = (root / EQUIPMENT).read_bytes()
    # Compact JSON, fields in order, no trailing newline; the result is the file.
    assert raw == json.dumps(written, separators=(",", ":"), ensure_ascii=False).encode()
    assert cache.read_equipment(EQUIPMENT) == written
    assert list(cache.read_equipment(EQUIPMENT)) == EQUIPMENT_FIELDS


def test_rewrite_keeps_first_seen_and_takes_the_callers_fields(cache, root):
    put(root, EQUIPMENT, stored_equipment())
    written = cache.write_equipment(EQUIPMENT, equipment("New"))
    assert written["first_seen_at"] == OLD
    assert written["last_modified_at"] > OLD
    assert written["label"] == "New"
    assert written["configured_local_root"] == "/data/lab"


def test_callers_timestamps_and_schema_version_are_ignored(cache, root):
    before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    written = cache.write_equipment(
        EQUIPMENT,
        equipment(schema_version="9.9", first_seen_at=OLD, last_modified_at=OLD, extra="x"),
    )
    after = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    assert written["schema_version"] == "1.0"
    assert before <= written["first_seen_at"] <= after
    assert "extra" not in written  # unknown input keys are not stored


def test_unknown_fields_on_disk_are_kept_after_the_known_ones(cache, root):
    put(root, EQUIPMENT, stored_equipment(schema_version="1.5", added_in_1_5={"a": [1, 2.5]}))
    written = cache.write_equipment(EQUIPMENT, equipment())
    assert written["schema_version"] == "1.5"
    assert list(written) == EQUIPMENT_FIELDS + ["added_in_1_5"]
    assert written["added_in_1_5"] == {"a": [1, 2.5]}
    assert load(root, EQUIPMENT) == written


@pytest.mark.parametrize(
    "on_disk,kept",
    [("1.0", "1.0"), ("1.5", "1.5"), ("1.99", "1.99"), ("1", "1.0"), ("01.5", "1.0"), ("1.5.3", "1.0"), ("1.", "1.0"), ("1.05", "1.0")],
)
def test_rewrite_keeps_only_a_1_N_minor(cache, root, on_disk, kept):
    put(root, EQUIPMENT, stored_equipment(schema_version=on_disk))
    assert cache.write_equipment(EQUIPMENT, equipment())["schema_version"] == kept


@pytest.mark.parametrize("version", ['"2.0"', '"garbage"', "2", "2.5", "true"])
def test_other_major_on_disk_is_not_overwritten(cache, root, version):
    raw = put(root, EQUIPMENT, '{"schema_version":%s,"id":"CONFOCAL_01"}' % version)
    with pytest.raises(SchemaMajorMismatchError) as caught:
        cache.write_equipment(EQUIPMENT, equipment())
    assert caught.value.found == json.loads(version)
    assert caught.value.expected_major == 1
    assert caught.value.field == "schema_version"
    assert caught.value.code == "schema_major_mismatch"
    assert (root / EQUIPMENT).read_bytes() == raw
    assert temp_files(root) == []


@pytest.mark.parametrize(
    "corrupt",
    ["not json", "[1,2]", '{"schema_version":"1.0","id":"CONFOCAL_01"}', '{"schema_version":null}', ""],
)
def test_corrupt_file_is_recovered_with_a_warning(cache, root, caplog, corrupt):
    put(root, EQUIPMENT, corrupt)
    before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with caplog.at_level(logging.WARNING, logger="exlab_cache"):
        written = cache.write_equipment(EQUIPMENT, equipment())
    assert written["first_seen_at"] >= before
    assert written["schema_version"] == "1.0"
    assert list(written) == EQUIPMENT_FIELDS
    warnings = [r for r in caplog.records if r.name == "exlab_cache"]
    assert len(warnings) == 1 and "equipment.json" in warnings[0].getMessage()


def test_unreadable_file_is_io_error(cache, root):
    (root / EQUIPMENT).mkdir(parents=True)  # a folder in the file's place
    with pytest.raises(IoError) as caught:
        cache.write_equipment(EQUIPMENT, equipment())
    assert isinstance(caught.value, OSError) and caught.value.code == "io_error"


@pytest.mark.parametrize(
    "record,field",
    [
        (equipment(id="bad id"), "id"),
        (equipment(id="A" * 33), "id"),
        (equipment(id=""), "id"),
        ({k: v for k, v in equipment().items() if k != "label"}, "label"),
        (equipment(label=5), "label"),
        (equipment(configured_nas_root=None), "configured_nas_root"),
        (equipment(id="bad", label=None), "id"),  # the first in field order
        ([1, 2], None),
        ("not json", None),
        ("[]", None),
        ({"id": object()}, None),  # not JSON-serialisable
    ],
)
def test_invalid_input_is_refused_and_writes_nothing(cache, root, record, field):
    with pytest.raises(ValidationError) as caught:
        cache.write_equipment(EQUIPMENT, record)
    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)
    assert list(root.iterdir()) == []  # no folder, no lock file


# ------------------------------------------------------------------ markers


def test_marker_is_written_once(cache, root):
    written, first = cache.write_test_runs_marker(TEST_RUNS, marker())
    assert written is True
    assert list(first) == MARKER_FIELDS
    assert first["run_kind"] == "test" and TIMESTAMP.match(first["created_at"])
    raw = (root / TEST_RUNS).read_bytes()
    again, on_disk = cache.write_test_runs_marker(TEST_RUNS, marker(created_at=OLD))
    assert again is False
    assert on_disk == first
    assert (root / TEST_RUNS).read_bytes() == raw
    assert cache.read_test_runs_marker(TEST_RUNS) == first


def test_runs_marker_is_experimental(cache, root):
    written, m = cache.write_runs_marker(RUNS, marker(created_at=OLD))
    assert written and m["run_kind"] == "experimental" and m["created_at"] == OLD
    assert cache.read_runs_marker(RUNS) == m
    with pytest.raises(ValidationError) as caught:
        cache.write_runs_marker(RUNS, marker(run_kind="test"))
    assert caught.value.field == "run_kind"


def test_existing_marker_comes_back_as_on_disk_not_normalised(cache, root):
    raw = put(root, TEST_RUNS, '{"equipment":"X","project":"Q","schema_version":"1.3","created_at":"yesterday","z":1}')
    written, m = cache.write_test_runs_marker(TEST_RUNS, marker())
    assert written is False
    assert list(m) == ["equipment", "project", "schema_version", "created_at", "z"]
    assert (root / TEST_RUNS).read_bytes() == raw


def test_existing_marker_that_does_not_parse_gives_none_and_a_warning(cache, root, caplog):
    raw = put(root, TEST_RUNS, "{broken")
    with caplog.at_level(logging.WARNING, logger="exlab_cache"):
        assert cache.write_test_runs_marker(TEST_RUNS, marker()) == (False, None)
    assert any("test_runs.json" in r.getMessage() for r in caplog.records if r.name == "exlab_cache")
    assert (root / TEST_RUNS).read_bytes() == raw


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"project": ""}, "project"),
        ({"project": "a/b"}, "project"),
        ({"project": "a\\b"}, "project"),
        ({"project": "."}, "project"),
        ({"project": ".."}, "project"),
        ({"project": " P"}, "project"),
        ({"project": "P\n"}, "project"),
        ({"project": "P\x01Q"}, "project"),
        ({"equipment": "lower"}, "equipment"),
        ({"created_at": "2026-02-30T00:00:00Z"}, "created_at"),
        ({"created_at": "2026-04-17T24:00:00Z"}, "created_at"),
        ({"created_at": "2026-04-17T23:59:60Z"}, "created_at"),
        ({"created_at": "2026-04-17 14:00:00"}, "created_at"),
        ({"run_kind": "experimental"}, "run_kind"),
        ({"project": "", "equipment": "lower"}, "project"),
    ],
)
def test_marker_input_is_validated_even_when_the_file_exists(cache, root, fields, field):
    for exists in (False, True):
        if exists:
            cache.write_test_runs_marker(TEST_RUNS, marker())
        with pytest.raises(ValidationError) as caught:
            cache.write_test_runs_marker(TEST_RUNS, marker(**fields))
        assert caught.value.field == field


def test_marker_optional_fields(cache, root):
    written, m = cache.write_test_runs_marker(
        TEST_RUNS, marker(created_at=None, run_kind=None, schema_version="7.0", other=1)
    )
    assert written and TIMESTAMP.match(m["created_at"])
    assert m["schema_version"] == "1.0" and list(m) == MARKER_FIELDS
    _, m2 = cache.write_test_runs_marker(TEST_RUNS.replace("P1", "P2"), marker("P2", created_at="2024-02-29T23:59:59Z", run_kind="test"))
    assert m2["created_at"] == "2024-02-29T23:59:59Z"


def test_marker_where_a_folder_stands_is_io_error(cache, root):
    (root / TEST_RUNS).mkdir(parents=True)
    with pytest.raises(IoError):
        cache.write_test_runs_marker(TEST_RUNS, marker())


# --------------------------------------------------------------------- read


def test_read_missing_is_not_found_and_creates_nothing(cache, root):
    for read in (cache.read_equipment, cache.read_test_runs_marker, cache.read_runs_marker):
        with pytest.raises(NotFoundError) as caught:
            read("X/.exlab-wizard/f.json")
        assert isinstance(caught.value, FileNotFoundError)
        assert caught.value.code == "not_found"
    assert list(root.iterdir()) == []


def test_read_not_json_is_decode_error(cache, root):
    put(root, EQUIPMENT, "{nope")
    with pytest.raises(DecodeError) as caught:
        cache.read_equipment(EQUIPMENT)
    assert isinstance(caught.value, ValueError) and caught.value.code == "decode_error"


@pytest.mark.parametrize("version", ['"2.0"', '"3.7"', '"garbage"', "2", "2.5", '" 1.0"', "[1]"])
def test_read_other_major_carries_found_verbatim(cache, root, version):
    # No other field: the major check runs before the shape check.
    put(root, EQUIPMENT, '{"schema_version":%s}' % version)
    with pytest.raises(SchemaMajorMismatchError) as caught:
        cache.read_equipment(EQUIPMENT)
    assert caught.value.expected_major == 1
    assert caught.value.found == json.loads(version)
    assert type(caught.value.found) is type(json.loads(version))


@pytest.mark.parametrize(
    "content,field",
    [
        ('{"id":"X"}', "schema_version"),
        ('{"schema_version":null}', "schema_version"),
        ('{"schema_version":""}', "schema_version"),
        ('{"schema_version":"1.0"}', None),
        ("[]", None),
    ],
)
def test_read_wrong_shape_is_validation_error(cache, root, content, field):
    put(root, EQUIPMENT, content)
    with pytest.raises(ValidationError) as caught:
        cache.read_equipment(EQUIPMENT)
    if field is not None:
        assert caught.value.field == field


def test_read_accepts_any_minor_and_returns_known_fields_in_order(cache, root):
    put(root, EQUIPMENT, '{"z":1,"last_modified_at":"yesterday","first_seen_at":"x","configured_nas_root":"n","configured_local_root":"l","label":"L","id":"lowercase ok","schema_version":"1.99"}')
    record = cache.read_equipment(EQUIPMENT)
    assert list(record) == EQUIPMENT_FIELDS
    assert record["schema_version"] == "1.99" and record["last_modified_at"] == "yesterday"


def test_marker_without_run_kind_reads_as_its_type(cache, root):
    body = '{"schema_version":"1.0","created_at":"2026-04-17T14:00:00Z","project":"P1","equipment":"CONFOCAL_01"}'
    put(root, TEST_RUNS, body)
    put(root, RUNS, body)
    assert cache.read_test_runs_marker(TEST_RUNS)["run_kind"] == "test"
    assert cache.read_runs_marker(RUNS)["run_kind"] == "experimental"
    assert list(cache.read_runs_marker(RUNS)) == MARKER_FIELDS
    put(root, RUNS, body[:-1] + ',"run_kind":"test"}')
    with pytest.raises(ValidationError):
        cache.read_runs_marker(RUNS)


# ---------------------------------------------------------------- the gate


@pytest.mark.parametrize("version", ["1.0", "1.99", "1"])
def test_gate_passes(cache, version):
    assert exlab_cache.require_schema_major(version, 1) is None
    assert cache.require_schema_major(version, 1) is None


@pytest.mark.parametrize("version", [None, "", "garbage", " 1.0", "2.0", "1a.0"])
def test_gate_fails(cache, version):
    for gate in (exlab_cache.require_schema_major, cache.require_schema_major):
        with pytest.raises(SchemaMajorMismatchError) as caught:
            gate(version, 1)
        assert caught.value.expected_major == 1
        assert caught.value.field == "schema_version"
    with pytest.raises(SchemaMajorMismatchError):
        exlab_cache.require_schema_major("1.0", 2)


# ---------------------------------------------------------------- mechanics


def test_paths_may_be_pathlike_or_absolute_inside_the_root(cache, root):
    cache.write_equipment(Path(EQUIPMENT), equipment())
    assert cache.read_equipment(root / EQUIPMENT)["id"] == "CONFOCAL_01"
    assert cache.read_equipment(str(root / EQUIPMENT))["id"] == "CONFOCAL_01"


@pytest.mark.parametrize("escape", ["../outside.json", "/tmp/exlab-outside/x.json", "a/../../outside.json", "link/x.json"])
def test_paths_out_of_the_root_are_access_denied_and_create_nothing(cache, root, tmp_path, escape):
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "link").symlink_to(outside)
    for call in (
        lambda: cache.write_equipment(escape, equipment()),
        lambda: cache.write_test_runs_marker(escape, marker()),
        lambda: cache.read_equipment(escape),
    ):
        with pytest.raises(AccessDeniedError) as caught:
            call()
        assert isinstance(caught.value, PermissionError)
    assert list(outside.iterdir()) == []
    assert not (tmp_path / "outside.json").exists()
    assert not Path("/tmp/exlab-outside").exists()
    assert sorted(p.name for p in root.iterdir()) == ["link"]


def test_lock_is_the_sidecar_flock_and_waits_are_bounded(make_cache, root):
    cache = make_cache(root, lock_timeout=0)
    cache.write_equipment(EQUIPMENT, equipment())
    raw = (root / EQUIPMENT).read_bytes()
    with open(str(root / EQUIPMENT) + ".lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        for call in (
            lambda: cache.write_equipment(EQUIPMENT, equipment("other")),
            lambda: cache.write_test_runs_marker(EQUIPMENT, marker()),
        ):
            with pytest.raises(LockTimeoutError) as caught:
                call()
            assert isinstance(caught.value, TimeoutError)
            assert caught.value.code == "lock_timeout"
        # Reads take no lock.
        assert cache.read_equipment(EQUIPMENT)["label"] == "Confocal 1"
    assert (root / EQUIPMENT).read_bytes() == raw
    assert temp_files(root) == []
    assert cache.write_equipment(EQUIPMENT, equipment("other"))["label"] == "other"


def test_lock_timeout_must_be_non_negative(root):
    with pytest.raises(ValueError):
        exlab_cache.Cache(root, lock_timeout=-1)
    assert exlab_cache.Cache(root, lock_timeout=0.25).lock_timeout == 0.25


def test_a_missing_root_fails_calls_with_io_error_and_creates_nothing(make_cache, tmp_path):
    cache = make_cache(tmp_path / "unmounted")
    with pytest.raises(IoError):
        cache.write_equipment(EQUIPMENT, equipment())
    with pytest.raises(ValidationError):  # input is checked first
        cache.write_equipment(EQUIPMENT, {"id": 1})
    assert not (tmp_path / "unmounted").exists()


def test_policy_info(cache):
    info = cache.policy_info()
    assert info["interface"] == exlab_cache.INTERFACE == "exlab:cache@1.1.0"
    assert list(info)[:4] == ["name", "version", "interface", "sha256"]
    assert len(info["sha256"]) == 64


def test_policy_from_a_file_or_bytes(make_cache, root, tmp_path):
    data = exlab_cache.BUILTIN_POLICY
    wasm = tmp_path / "policy.wasm"
    wasm.write_bytes(data)
    builtin = make_cache(root).policy_info()
    assert builtin["sha256"] == hashlib.sha256(data).hexdigest()
    for policy in (wasm, str(wasm), data, bytearray(data), memoryview(data)):
        loaded = make_cache(root, policy=policy)
        assert loaded.policy_info() == builtin
        assert loaded.write_equipment(EQUIPMENT, equipment())["id"] == "CONFOCAL_01"


@pytest.mark.parametrize("policy", [b"not wasm", b"\0asm\x01\0\0\0"])
def test_a_bad_policy_is_refused(root, policy, tmp_path):
    with pytest.raises(PolicyError) as caught:
        exlab_cache.Cache(root, policy=policy)
    assert caught.value.code == "policy_error"
    with pytest.raises(PolicyError):
        exlab_cache.AsyncCache(root, policy=tmp_path / "missing.wasm")
    with pytest.raises(TypeError):
        exlab_cache.Cache(root, policy=12)
    assert list(root.iterdir()) == []


# ------------------------------------------------------------------ records


def test_records_may_be_mappings_dataclasses_or_msgspec_structs(cache, root):
    @dataclasses.dataclass
    class Equipment:
        id: str
        label: str
        configured_local_root: str
        configured_nas_root: str
        first_seen_at: str = ""

    cache.write_equipment(EQUIPMENT, types.MappingProxyType(equipment("mapping")))
    assert cache.read_equipment(EQUIPMENT)["label"] == "mapping"
    cache.write_equipment(EQUIPMENT, Equipment("CONFOCAL_01", "dataclass", "/l", "/n"))
    assert cache.read_equipment(EQUIPMENT)["label"] == "dataclass"
    msgspec = pytest.importorskip("msgspec")

    class Marker(msgspec.Struct, omit_defaults=True):
        schema_version: str
        created_at: str
        project: str
        equipment: str
        run_kind: str = "test"

    written, m = cache.write_test_runs_marker(TEST_RUNS, Marker("1.0", OLD, "P1", "CONFOCAL_01"))
    assert written and m["created_at"] == OLD and m["run_kind"] == "test"
    with pytest.raises(ValidationError) as caught:
        cache.write_runs_marker(RUNS, Marker("1.0", OLD, "P1", "CONFOCAL_01"))
    assert caught.value.field == "run_kind"


def test_calls_release_the_gil(root):
    """While a write waits on a held lock, other Python threads run."""
    cache = exlab_cache.Cache(root, lock_timeout=5)
    cache.write_equipment(EQUIPMENT, equipment())
    done = threading.Event()
    result = {}

    def writer():
        result["record"] = cache.write_equipment(EQUIPMENT, equipment("after"))
        done.set()

    with open(str(root / EQUIPMENT) + ".lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        thread = threading.Thread(target=writer)
        thread.start()
        spins = 0
        deadline = time.perf_counter() + 0.3
        while time.perf_counter() < deadline:
            spins += 1
        assert not done.is_set()
    thread.join(10)
    assert result["record"]["label"] == "after"
    assert spins > 10_000  # the main thread was never starved of the GIL


def test_text_is_utf8_on_disk_and_round_trips(cache, root):
    label = "Mikroskop \u00c4 \u2013 \U0001f52c \"quoted\" \\ back"
    written = cache.write_equipment(EQUIPMENT, equipment(label))
    assert written["label"] == label
    raw = (root / EQUIPMENT).read_bytes()
    assert label.replace("\\", "\\\\").replace('"', '\\"').encode("utf-8") in raw
    assert cache.read_equipment(EQUIPMENT)["label"] == label


def test_a_number_out_of_double_range_on_disk_is_decode_error(cache, root):
    body = json.dumps(dict(stored_equipment(), big=0), separators=(",", ":")).replace('"big":0', '"big":1e999')
    put(root, EQUIPMENT, body)
    with pytest.raises(DecodeError):
        cache.read_equipment(EQUIPMENT)
