"""exlab_cache.compat.equipment: the app's EquipmentCacheWriter over the
policy, with the mirror structs and our exceptions (the app's package is
out of reach here; test_compat_app.py has it importable)."""
from __future__ import annotations

import asyncio
import json

import pytest

msgspec = pytest.importorskip("msgspec")

import exlab_cache  # noqa: E402

from conftest import EQUIPMENT, TEST_RUNS, TIMESTAMP, load, put  # noqa: E402


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def writer(compat):
    from exlab_cache.compat import equipment

    return equipment.EquipmentCacheWriter()


def payload(label="Confocal 1"):
    from exlab_cache.compat.schemas import EquipmentJson

    return EquipmentJson("1.0", "CONFOCAL_01", label, "/data/lab", "//nas01/lab", "", "")


def marker(project="P1", created_at="2026-04-17T14:00:00Z"):
    from exlab_cache.compat.schemas import TestRunsJson

    return TestRunsJson("1.0", created_at, project, "CONFOCAL_01")


def test_equipment_is_stamped_and_read_back_as_the_mirror_struct(writer, root):
    from exlab_cache.compat.schemas import EquipmentJson

    assert run(writer.write_equipment(root / EQUIPMENT, payload())) is None
    got = run(writer.read_equipment(root / EQUIPMENT))
    assert isinstance(got, EquipmentJson)
    assert got.label == "Confocal 1" and TIMESTAMP.match(got.first_seen_at)
    assert got.first_seen_at == got.last_modified_at


def test_the_marker_is_written_once_and_read_back(writer, root):
    run(writer.write_test_runs_marker(root / TEST_RUNS, marker()))
    before = (root / TEST_RUNS).read_bytes()
    run(writer.write_test_runs_marker(root / TEST_RUNS, marker("P2", "2026-05-01T00:00:00Z")))
    assert (root / TEST_RUNS).read_bytes() == before
    got = run(writer.read_test_runs_marker(root / TEST_RUNS))
    assert (got.project, got.run_kind, got.created_at) == ("P1", "test", "2026-04-17T14:00:00Z")


def test_a_missing_file_is_file_not_found(writer, root):
    with pytest.raises(FileNotFoundError):
        run(writer.read_equipment(root / EQUIPMENT))


@pytest.mark.parametrize("stored,found", [('"2.0"', "2.0"), ("2", "2"), ('"garbage"', "garbage")])
def test_another_major_is_a_mismatch_with_found_as_text(writer, root, stored, found):
    from exlab_cache.compat.errors import SchemaMajorMismatchError

    put(root, EQUIPMENT, '{"schema_version":%s,"id":"X"}' % stored)
    with pytest.raises(SchemaMajorMismatchError) as caught:
        run(writer.read_equipment(root / EQUIPMENT))
    assert (caught.value.expected_major, caught.value.found) == (1, found)
    assert isinstance(caught.value, exlab_cache.SchemaMajorMismatchError)


def test_a_write_over_another_major_is_refused_and_the_file_stays(writer, root):
    from exlab_cache.compat.errors import SchemaMajorMismatchError

    before = put(root, EQUIPMENT, {"schema_version": "2.0", "id": "CONFOCAL_01"})
    with pytest.raises(SchemaMajorMismatchError):
        run(writer.write_equipment(root / EQUIPMENT, payload()))
    assert (root / EQUIPMENT).read_bytes() == before


def test_a_file_that_is_not_json_is_msgspecs_decode_error(writer, root):
    put(root, EQUIPMENT, "{not json")
    with pytest.raises(msgspec.DecodeError) as caught:
        run(writer.read_equipment(root / EQUIPMENT))
    assert isinstance(caught.value, exlab_cache.DecodeError)


def test_a_file_of_the_wrong_shape_is_msgspecs_validation_error(writer, root):
    put(root, EQUIPMENT, '{"schema_version":"1.0","id":"X"}')
    with pytest.raises(msgspec.ValidationError) as caught:
        run(writer.read_equipment(root / EQUIPMENT))
    assert caught.value.field == "label"


def test_bad_input_is_refused_before_anything_is_written(writer, root):
    from exlab_cache.compat.schemas import EquipmentJson

    bad = EquipmentJson("1.0", "lower case", "L", "/l", "/n", "", "")
    with pytest.raises(ValueError) as caught:
        run(writer.write_equipment(root / EQUIPMENT, bad))
    assert caught.value.field == "id"
    assert list(root.iterdir()) == []


def test_the_schema_gate_reports_the_version_it_was_given(compat):
    from exlab_cache.compat.equipment import require_schema_major
    from exlab_cache.compat.errors import SchemaMajorMismatchError

    require_schema_major("1.99", expected_major=1)
    for version, found in ((None, "None"), ("", ""), ("garbage", "garbage"), ("2.0", "2.0")):
        with pytest.raises(SchemaMajorMismatchError) as caught:
            require_schema_major(version, expected_major=1)
        assert caught.value.found == found


def test_the_files_are_the_policys_compact_json(writer, root):
    run(writer.write_equipment(root / EQUIPMENT, payload()))
    text = (root / EQUIPMENT).read_text()
    assert json.loads(text) == load(root, EQUIPMENT) and " " not in text.replace("Confocal 1", "")
