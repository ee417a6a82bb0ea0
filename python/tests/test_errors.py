"""The exception classes: one per docs/spec.md §4 code, each also the
builtin a Python caller already catches."""
from __future__ import annotations

import pickle

import pytest

import exlab_cache
from exlab_cache import (
    AccessDeniedError,
    CacheError,
    DecodeError,
    IoError,
    LockTimeoutError,
    NotFoundError,
    PolicyError,
    SchemaMajorMismatchError,
    ValidationError,
)

from conftest import EQUIPMENT, put

CLASSES = [
    (NotFoundError, "not_found", FileNotFoundError),
    (SchemaMajorMismatchError, "schema_major_mismatch", None),
    (DecodeError, "decode_error", ValueError),
    (ValidationError, "validation_error", ValueError),
    (AccessDeniedError, "access_denied", PermissionError),
    (LockTimeoutError, "lock_timeout", TimeoutError),
    (PolicyError, "policy_error", None),
    (IoError, "io_error", OSError),
]


@pytest.mark.parametrize("cls,code,builtin", CLASSES)
def test_classes_and_bases(cls, code, builtin):
    assert issubclass(cls, CacheError) and cls.code == code
    if builtin is not None:
        assert issubclass(cls, builtin)
    e = cls("what happened")
    assert str(e) == e.message == "what happened" and e.code == code
    again = pickle.loads(pickle.dumps(e))
    assert type(again) is cls and again.message == e.message and again.code == code


def test_exported():
    for cls, _, _ in CLASSES:
        assert getattr(exlab_cache, cls.__name__) is cls
        assert cls.__name__ in exlab_cache.__all__


def test_a_missing_file_is_caught_as_file_not_found(root):
    cache = exlab_cache.Cache(root)
    try:
        cache.read_equipment(EQUIPMENT)
    except FileNotFoundError as e:
        assert isinstance(e, NotFoundError) and e.code == "not_found" and e.field is None
        assert EQUIPMENT in e.message
    else:  # pragma: no cover
        pytest.fail("no FileNotFoundError")


@pytest.mark.parametrize("stored", ['"2.0"', "2", "2.50", '"garbage"', "{\"a\":1}", "false"])
def test_found_is_the_stored_value_verbatim(root, stored):
    import json

    put(root, EQUIPMENT, '{"schema_version":%s}' % stored)
    with pytest.raises(SchemaMajorMismatchError) as caught:
        exlab_cache.Cache(root).read_equipment(EQUIPMENT)
    e = caught.value
    assert e.found == json.loads(stored) and type(e.found) is type(json.loads(stored))
    assert (e.code, e.field, e.expected_major) == ("schema_major_mismatch", "schema_version", 1)
    again = pickle.loads(pickle.dumps(e))
    assert again.found == e.found and again.expected_major == 1


def test_validation_error_names_the_field(root):
    with pytest.raises(ValidationError) as caught:
        exlab_cache.Cache(root).write_equipment(EQUIPMENT, {"id": "CONFOCAL_01"})
    assert caught.value.field == "label"
