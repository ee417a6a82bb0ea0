"""Records cross the native boundary as data (issue 13): no json.dumps on
the way in, dicts built from the typed records on the way out, the error
table from the native module, and AsyncCache's inline reads."""
from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import threading
import types

import pytest

import exlab_cache
from exlab_cache import SchemaMajorMismatchError, ValidationError, _errors, _native

from conftest import EQUIPMENT, EQUIPMENT_FIELDS, TEST_RUNS, equipment, load, marker, put


@pytest.fixture
def no_json_module(monkeypatch):
    """Fails any use of Python's json encoder or decoder by the package."""

    def refuse(*args, **kwargs):
        raise AssertionError("the package used Python's json module")

    monkeypatch.setattr(json, "dumps", refuse)
    monkeypatch.setattr(json, "loads", refuse)


def test_records_reach_the_host_without_json_dumps(root, no_json_module):
    @dataclasses.dataclass
    class Equipment:
        id: str
        label: str
        configured_local_root: str
        configured_nas_root: str

    cache = exlab_cache.Cache(root)
    assert cache.write_equipment(EQUIPMENT, equipment("dict"))["label"] == "dict"
    mapping = types.MappingProxyType(equipment("mapping"))
    assert cache.write_equipment(EQUIPMENT, mapping)["label"] == "mapping"
    dc = Equipment("CONFOCAL_01", "dataclass", "/l", "/n")
    assert cache.write_equipment(EQUIPMENT, dc)["label"] == "dataclass"
    written, first = cache.write_test_runs_marker(TEST_RUNS, marker())
    assert written and first["project"] == "P1"
    assert cache.write_test_runs_marker(TEST_RUNS, marker()) == (False, first)


@pytest.mark.parametrize(
    "label",
    ['quote " and \\ backslash', "tab\tnewline\ncr\r\x00\x1f\x7f", "é, 中文, 🧪", "/\u2028\u2029"],
)
def test_strings_are_escaped_as_json_dumps_would(root, label):
    cache = exlab_cache.Cache(root)
    written = cache.write_equipment(EQUIPMENT, equipment(label))
    assert written["label"] == label
    assert load(root, EQUIPMENT)["label"] == label
    assert cache.read_equipment(EQUIPMENT)["label"] == label


def test_every_json_type_reaches_the_policy(root):
    # Unknown input keys are ignored by the policy, but must be valid JSON
    # for it to read the rest: ints past 64 bits, floats, bools, None,
    # nested lists and tuples, and non-str keys as json.dumps writes them.
    extra = {
        "big": 10**30,
        "neg": -(2**63),
        "f": [0.1, 1e300, -0.0, 5e-324],
        "flags": (True, False, None),
        "nested": {"a": [{"b": []}], 1: "int key", 2.5: "float key", None: "none", True: "bool"},
    }
    written = exlab_cache.Cache(root).write_equipment(EQUIPMENT, equipment(**extra))
    assert list(written) == EQUIPMENT_FIELDS


def _cycle():
    d = {"id": "CONFOCAL_01"}
    d["self"] = d
    return d


@pytest.mark.parametrize(
    "record,why",
    [
        (equipment(extra=object()), "Object of type object is not JSON serializable"),
        (equipment(extra={1, 2}), "Object of type set is not JSON serializable"),
        (equipment(extra=math.nan), "Out of range float values are not JSON compliant"),
        (equipment(extra=math.inf), "Out of range float values are not JSON compliant"),
        (equipment(extra={(1, 2): 3}), "keys must be str, int, float, bool or None, not tuple"),
        (_cycle(), "nested too deeply"),
        (equipment(label="lone \udc80 surrogate"), None),
        (b"\xff\xfe", "not UTF-8"),
        ("lone \ud800", "not UTF-8"),
    ],
)
def test_what_is_not_json_is_a_validation_error(root, record, why):
    with pytest.raises(ValidationError) as caught:
        exlab_cache.Cache(root).write_equipment(EQUIPMENT, record)
    assert caught.value.field is None
    assert caught.value.message.startswith("input is not JSON")
    if why is not None:
        assert why in caught.value.message
    assert list(root.iterdir()) == []


def test_unknown_fields_of_a_rewrite_come_back_as_stored(root):
    cache = exlab_cache.Cache(root)
    cache.write_equipment(EQUIPMENT, equipment())
    stored = load(root, EQUIPMENT)
    stored.update({"k\"ey": "v\n", "n": [1, 2.5, None, True, {"x": "é"}], "big": 10**20})
    put(root, EQUIPMENT, stored)
    written = cache.write_equipment(EQUIPMENT, equipment("again"))
    assert written == load(root, EQUIPMENT)
    assert list(written) == EQUIPMENT_FIELDS + ["k\"ey", "n", "big"]
    assert written["n"] == [1, 2.5, None, True, {"x": "é"}]


def test_error_codes_come_from_the_native_module():
    codes = dict(_native.ERROR_CODES)
    assert codes == {
        "not_found": 3,
        "schema_major_mismatch": 4,
        "decode_error": 5,
        "validation_error": 6,
        "access_denied": 7,
        "lock_timeout": 8,
        "policy_error": 9,
        "io_error": 1,
    }
    for code, cls in _errors._BY_CODE.items():
        assert cls.code == code and cls.exit_status == codes[code]


def test_a_code_without_a_class_fails_loudly():
    codes = _native.ERROR_CODES + (("new_code", 10),)
    with pytest.raises(ImportError, match="new_code"):
        _errors._by_code(_errors._CLASSES, codes)
    with pytest.raises(ImportError, match="not_found"):
        _errors._by_code(_errors._CLASSES[1:], _native.ERROR_CODES)


def test_found_arrives_decoded(root, no_json_module):
    put(root, EQUIPMENT, '{"schema_version":{"major":2}}')
    with pytest.raises(SchemaMajorMismatchError) as caught:
        exlab_cache.Cache(root).read_equipment(EQUIPMENT)
    assert caught.value.found == {"major": 2}


def test_paths_may_be_str_or_pathlike(root):
    import pathlib

    cache = exlab_cache.Cache(root)
    cache.write_equipment(EQUIPMENT, equipment())
    for path in (EQUIPMENT, pathlib.Path(EQUIPMENT), pathlib.Path(root / EQUIPMENT)):
        assert cache.read_equipment(path)["label"] == "Confocal 1"
    with pytest.raises(TypeError, match="argument 'path'"):
        cache.read_equipment(5)


def _loop_thread_reads(acache):
    seen = []
    real = acache.cache

    class Spy:
        def __getattr__(self, name):
            method = getattr(real, name)

            def call(*args):
                seen.append(threading.get_ident())
                return method(*args)

            return call

    acache._cache = Spy()

    async def main():
        await acache.read_equipment(EQUIPMENT)
        await acache.read_test_runs_marker(TEST_RUNS)
        await acache.read_runs_marker(TEST_RUNS.replace("TestRuns", "Runs").replace("test_runs", "runs"))
        await acache.require_schema_major("1.0", 1)
        await acache.write_test_runs_marker(TEST_RUNS, marker())
        return threading.get_ident()

    loop_thread = asyncio.run(main())
    return [t == loop_thread for t in seen]


def test_async_reads_run_in_a_worker_thread_by_default(root):
    cache = exlab_cache.Cache(root)
    cache.write_equipment(EQUIPMENT, equipment())
    cache.write_test_runs_marker(TEST_RUNS, marker())
    cache.write_runs_marker(TEST_RUNS.replace("TestRuns", "Runs").replace("test_runs", "runs"), marker())
    acache = exlab_cache.AsyncCache.from_cache(cache)
    assert acache.inline_reads is False
    assert _loop_thread_reads(acache) == [False] * 5


def test_inline_reads_run_on_the_loop_and_writes_do_not(root):
    cache = exlab_cache.Cache(root)
    cache.write_equipment(EQUIPMENT, equipment())
    cache.write_test_runs_marker(TEST_RUNS, marker())
    cache.write_runs_marker(TEST_RUNS.replace("TestRuns", "Runs").replace("test_runs", "runs"), marker())
    acache = exlab_cache.AsyncCache.from_cache(cache, inline_reads=True)
    assert acache.inline_reads is True
    assert _loop_thread_reads(acache) == [True, True, True, True, False]
    assert exlab_cache.AsyncCache(root, inline_reads=True).inline_reads is True
