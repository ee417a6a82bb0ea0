"""The original ``EquipmentCacheWriter``'s behaviour as its app relies on
it, run against the original itself, the adapter over this package
(tests/adapter.py) and the package's drop-in (exlab_cache.compat.equipment). The one deliberate difference (the original
overwrites a file of another schema major; the policy refuses) is tested
in test_spec.py, not here."""
from __future__ import annotations

import asyncio
import json
import logging
import re
import sys

import pytest

from conftest import PY_ORIGINAL

TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
OLD = "2020-01-01T00:00:00Z"


@pytest.fixture(params=["original", "adapter", "compat"])
def writer(request, original):
    if request.param == "original":
        return original.EquipmentCacheWriter()
    if request.param == "compat":
        # The package's drop-in, the original's package importable: its
        # structs and exceptions come back (root "/": the paths are absolute).
        import exlab_cache.compat
        from exlab_cache.compat import equipment

        exlab_cache.compat.configure()
        return equipment.EquipmentCacheWriter()
    import adapter

    return adapter.EquipmentCacheWriter()


@pytest.fixture
def schemas(original):
    from exlab_wizard.api import schemas

    return schemas


@pytest.fixture
def paths(tmp_path):
    eq = tmp_path / "CONFOCAL_01" / ".exlab-wizard" / "equipment.json"
    marker = tmp_path / "CONFOCAL_01" / "P1" / "TestRuns" / ".exlab-wizard" / "test_runs.json"
    return eq, marker


def payload(schemas, label="Confocal 1", first="", last=""):
    return schemas.EquipmentJson("1.0", "CONFOCAL_01", label, "/data/lab", "//nas01/lab", first, last)


def run(coro):
    return asyncio.run(coro)


def test_first_write_stamps_and_reads_back(writer, schemas, paths):
    eq, _ = paths
    run(writer.write_equipment(eq, payload(schemas)))
    got = run(writer.read_equipment(eq))
    assert isinstance(got, schemas.EquipmentJson)
    assert got.label == "Confocal 1" and got.id == "CONFOCAL_01"
    assert TS.match(got.first_seen_at) and got.first_seen_at == got.last_modified_at
    assert (eq.parent / "equipment.json.lock").exists()


def test_rewrite_keeps_first_seen(writer, schemas, paths):
    eq, _ = paths
    eq.parent.mkdir(parents=True)
    eq.write_bytes(json.dumps(dict(zip(schemas.EquipmentJson.__struct_fields__, ["1.0", "CONFOCAL_01", "Old", "/o", "//o", OLD, OLD]))).encode())
    run(writer.write_equipment(eq, payload(schemas, "New", first="1999-01-01T00:00:00Z", last="1999-01-01T00:00:00Z")))
    got = run(writer.read_equipment(eq))
    assert got.first_seen_at == OLD and got.last_modified_at > OLD and got.label == "New"


def test_callers_timestamps_are_replaced(writer, schemas, paths):
    eq, _ = paths
    run(writer.write_equipment(eq, payload(schemas, first="1999-01-01T00:00:00Z", last="1999-01-01T00:00:00Z")))
    got = run(writer.read_equipment(eq))
    assert got.first_seen_at > "2025" and got.first_seen_at == got.last_modified_at


def test_concurrent_writes_keep_first_seen(writer, schemas, paths):
    eq, _ = paths
    run(writer.write_equipment(eq, payload(schemas)))
    first = run(writer.read_equipment(eq)).first_seen_at

    async def many():
        await asyncio.gather(*(writer.write_equipment(eq, payload(schemas, f"L{i}")) for i in range(20)))

    run(many())
    got = run(writer.read_equipment(eq))
    assert got.first_seen_at == first and got.label.startswith("L")


def test_corrupt_file_is_rewritten_with_a_warning(writer, schemas, paths, caplog):
    eq, _ = paths
    eq.parent.mkdir(parents=True)
    eq.write_text("{not json")
    with caplog.at_level(logging.WARNING):
        run(writer.write_equipment(eq, payload(schemas)))
    assert run(writer.read_equipment(eq)).label == "Confocal 1"
    assert any("equipment.json" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_marker_is_written_once(writer, schemas, paths):
    _, marker = paths
    run(writer.write_test_runs_marker(marker, schemas.TestRunsJson("1.0", "2026-04-17T14:00:00Z", "P1", "CONFOCAL_01")))
    raw = marker.read_bytes()
    run(writer.write_test_runs_marker(marker, schemas.TestRunsJson("1.0", "2026-04-18T09:30:00Z", "P1", "CONFOCAL_01")))
    assert marker.read_bytes() == raw
    got = run(writer.read_test_runs_marker(marker))
    assert isinstance(got, schemas.TestRunsJson)
    assert (got.created_at, got.project, got.equipment, got.run_kind) == ("2026-04-17T14:00:00Z", "P1", "CONFOCAL_01", "test")


def test_missing_file_is_file_not_found(writer, paths):
    eq, marker = paths
    with pytest.raises(FileNotFoundError):
        run(writer.read_equipment(eq))
    with pytest.raises(FileNotFoundError):
        run(writer.read_test_runs_marker(marker))


@pytest.mark.parametrize("version,found", [('"2.0"', "2.0"), ('"garbage"', "garbage")])
def test_other_major_is_schema_major_mismatch(writer, paths, version, found):
    from exlab_wizard.errors import SchemaMajorMismatchError

    eq, _ = paths
    eq.parent.mkdir(parents=True)
    eq.write_text('{"schema_version":%s,"id":"X"}' % version)
    with pytest.raises(SchemaMajorMismatchError) as caught:
        run(writer.read_equipment(eq))
    assert caught.value.expected_major == 1 and caught.value.found == found


def test_not_json_is_a_decode_error(writer, paths):
    import msgspec

    eq, _ = paths
    eq.parent.mkdir(parents=True)
    eq.write_text("{nope")
    with pytest.raises(msgspec.DecodeError):
        run(writer.read_equipment(eq))


def test_wrong_shape_is_a_validation_error(writer, paths):
    import msgspec

    eq, _ = paths
    eq.parent.mkdir(parents=True)
    eq.write_text('{"schema_version":"1.0","id":"X"}')
    with pytest.raises(msgspec.ValidationError):
        run(writer.read_equipment(eq))
