"""Records in: a mapping, a dataclass or a msgspec.Struct, as JSON text.

Only the shape is converted here (by fields, shallowly); every check on the
values is the policy component's, exactly as for the CLI.
"""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from ._errors import ValidationError


def fields_of(record: Any) -> Any:
    """The record's fields as a dict (or the value itself when it has none,
    so that the policy rejects it as "not a JSON object")."""
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


def to_json(record: Any) -> str:
    """JSON text for the policy. ``str``/``bytes`` are taken as JSON text."""
    if isinstance(record, str):
        return record
    if isinstance(record, (bytes, bytearray, memoryview)):
        try:
            return bytes(record).decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError("input is not JSON: not UTF-8", None) from None
    try:
        return json.dumps(fields_of(record), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValidationError(f"input is not JSON: {e}", None) from e
