"""Drop-in for ``exlab_wizard.cache.equipment``: ``equipment.json`` and the
``test_runs.json`` marker through the policy.

What differs from the app's writer (python/README.md): a file of another
schema major is refused on write and left as it is; marker input is
checked even when the marker exists; lock waits are bounded; warnings go
to the ``exlab_cache`` logger.
"""
from __future__ import annotations

from typing import Any, Optional

import msgspec

import exlab_cache

from . import _support
from ._support import StrPath

__all__ = ["EquipmentCacheWriter", "require_schema_major"]


class EquipmentCacheWriter:
    """Writes and reads ``equipment.json`` and ``test_runs.json``; holds no
    state (the shared cache of ``exlab_cache.compat`` does the work)."""

    async def write_equipment(self, path: StrPath, payload: Any) -> None:
        """Writes the record, stamped (``first_seen_at`` kept from the file)."""
        p = _support.path(path)
        with _support.app_errors(p):
            await _support.cache().write_equipment(p, payload)

    async def read_equipment(self, path: StrPath) -> Any:
        """The record as the app's ``EquipmentJson`` (no lock)."""
        p = _support.path(path)
        with _support.app_errors(p):
            record = await _support.cache().read_equipment(p)
        return _convert(record, "EquipmentJson")

    async def write_test_runs_marker(self, path: StrPath, payload: Any) -> None:
        """Writes the marker once; a marker already there stays as it is."""
        p = _support.path(path)
        with _support.app_errors(p):
            await _support.cache().write_test_runs_marker(p, payload)

    async def read_test_runs_marker(self, path: StrPath) -> Any:
        """The marker as the app's ``TestRunsJson`` (no lock)."""
        p = _support.path(path)
        with _support.app_errors(p):
            record = await _support.cache().read_test_runs_marker(p)
        return _convert(record, "TestRunsJson")


def require_schema_major(version: Optional[str], *, expected_major: int) -> None:
    """The policy's schema gate; a refusal is the app's
    ``SchemaMajorMismatchError`` with ``found`` the version given, as text."""
    try:
        exlab_cache.require_schema_major(version, expected_major)
    except exlab_cache.SchemaMajorMismatchError as e:
        raise _support.schema_mismatch(expected_major, str(version)) from e


def _convert(record: Any, struct_name: str) -> Any:
    return msgspec.convert(record, _support.struct(struct_name))
