"""Issue 10, point 3 through the package: a file Python's json wrote, with
nesting past serde_json's 128 and lone surrogates, is read, kept on rewrite,
and comes back as the dict ``json.loads`` gives."""
from __future__ import annotations

import json

from conftest import EQUIPMENT, TEST_RUNS, equipment, load, marker, put

OLD = "2020-01-01T00:00:00Z"


def deep(levels: int) -> list:
    value: list = []
    for _ in range(levels):
        value = [value]
    return value


def test_p3_python_json_with_deep_nesting_and_lone_surrogates_is_kept(cache, root):
    extra = {"deep": deep(200), "note": "\ud800 half a pair"}
    record = {
        "schema_version": "1.4",
        **equipment("Old"),
        "first_seen_at": OLD,
        "last_modified_at": OLD,
        **extra,
    }
    put(root, EQUIPMENT, json.dumps(record))
    written = cache.write_equipment(EQUIPMENT, equipment())
    assert written["first_seen_at"] == OLD and written["schema_version"] == "1.4"
    assert {k: written[k] for k in extra} == extra
    assert load(root, EQUIPMENT) == written


def test_p3_an_existing_marker_that_serde_json_refuses_comes_back_as_json_loads_reads_it(cache, root):
    stored = {**marker(), "schema_version": "1.0", "created_at": OLD, "deep": deep(200), "s": "\udc00"}
    put(root, TEST_RUNS, json.dumps(stored))
    written, on_disk = cache.write_test_runs_marker(TEST_RUNS, marker())
    assert written is False
    assert on_disk == stored
