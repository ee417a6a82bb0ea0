"""Records in: what is not a dict (a mapping, a dataclass, a msgspec.Struct)
is taken by its fields; the native module writes the JSON text.

Only the shape is converted here (by fields, one level per call: the native
module calls again for a struct inside a struct); every check on the values
is the policy component's, exactly as for the CLI.
"""
from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any


def fields_of(record: Any) -> Any:
    """The record's fields as a dict, an enum member's value (as msgspec
    writes it), or the value itself when it has neither (so that it is
    refused). Called by the native module for any value that is not a
    JSON type, at any depth."""
    if isinstance(record, dict):
        return record
    if isinstance(record, Mapping):
        return dict(record.items())
    struct_fields = getattr(type(record), "__struct_fields__", None)
    if struct_fields is not None:  # msgspec.Struct, without importing msgspec
        return {name: getattr(record, name) for name in struct_fields}
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    if isinstance(record, enum.Enum):
        return record.value
    return record
