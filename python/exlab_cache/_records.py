"""Records in: what is not a dict (a mapping, a dataclass, a msgspec.Struct)
is taken by its fields; the native module writes the JSON text.

Only the shape is converted here (by fields, shallowly); every check on the
values is the policy component's, exactly as for the CLI.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any


def fields_of(record: Any) -> Any:
    """The record's fields as a dict (or the value itself when it has none,
    so that the policy rejects it as "not a JSON object"). Called by the
    native module for records that are not a dict, str or bytes."""
    if isinstance(record, dict):
        return record
    if isinstance(record, Mapping):
        return dict(record.items())
    struct_fields = getattr(type(record), "__struct_fields__", None)
    if struct_fields is not None:  # msgspec.Struct, without importing msgspec
        return {name: getattr(record, name) for name in struct_fields}
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    return record
