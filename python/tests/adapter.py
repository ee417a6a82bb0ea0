"""The app's ``EquipmentCacheWriter`` API over ``exlab_cache``: structs in,
structs out, exceptions mapped to the ones the app already catches.

This is the whole switch for the lab app (see python/README.md):
``EquipmentCacheWriter()`` becomes ``adapter.EquipmentCacheWriter()``.
"""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Iterator, Union

import msgspec

import exlab_cache
from exlab_wizard.api.schemas import EquipmentJson, TestRunsJson
from exlab_wizard.errors import SchemaMajorMismatchError


@contextlib.contextmanager
def _app_errors() -> Iterator[None]:
    try:
        yield
    except exlab_cache.SchemaMajorMismatchError as e:
        found = e.found if isinstance(e.found, str) else json.dumps(e.found)
        raise SchemaMajorMismatchError(e.expected_major, found) from e
    except exlab_cache.DecodeError as e:
        raise msgspec.DecodeError(e.message) from e
    except exlab_cache.ValidationError as e:
        raise msgspec.ValidationError(e.message) from e
    # NotFoundError is a FileNotFoundError, the rest are OSErrors: as is.


class EquipmentCacheWriter:
    def __init__(self, root: Union[str, Path] = "/") -> None:
        self._cache = exlab_cache.AsyncCache(root)

    async def write_equipment(self, path: Path, payload: EquipmentJson) -> None:
        with _app_errors():
            await self._cache.write_equipment(path, payload)

    async def read_equipment(self, path: Path) -> EquipmentJson:
        with _app_errors():
            return msgspec.convert(await self._cache.read_equipment(path), EquipmentJson)

    async def write_test_runs_marker(self, path: Path, payload: TestRunsJson) -> None:
        with _app_errors():
            await self._cache.write_test_runs_marker(path, payload)

    async def read_test_runs_marker(self, path: Path) -> TestRunsJson:
        with _app_errors():
            return msgspec.convert(await self._cache.read_test_runs_marker(path), TestRunsJson)
