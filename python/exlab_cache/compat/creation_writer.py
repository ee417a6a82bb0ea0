"""Drop-in for ``exlab_wizard.cache.creation_writer``: ``creation.json``
through the policy.

What differs from the app's writer (python/README.md): ``write_creation``
never overwrites (a file already there is ``FileExistsError``); readers take
no lock; an update's mutator runs under the lock inside the policy's
update, which checks what it returns (``validation_overrides`` append-only,
the fields' types) before anything is written; a file of another major is
never rewritten; ids given to old overrides are derived from the entry,
so two reads agree.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Dict, Iterable, List, Optional

import msgspec

from . import _support
from ._support import StrPath

__all__ = ["CreationWriter", "select_active_overrides"]


class CreationWriter:
    """Creates, updates and reads ``creation.json``."""

    def __init__(self, lock_timeout_seconds: float = 30.0) -> None:
        """``lock_timeout_seconds``: the longest wait for the file's lock;
        past it, the lock timeout (also ``filelock.Timeout``) is raised."""
        self._lock_timeout = lock_timeout_seconds

    async def write_creation(self, path: StrPath, payload: Any) -> None:
        """Creates the file from ``payload``; ``FileExistsError`` when it is
        there already (it is never overwritten)."""
        p = _support.path(path)
        with _support.app_errors(p):
            outcome = await self._cache().create_creation(p, payload)
        _support.created(outcome, p)

    async def update_creation_atomic(self, path: StrPath, mutator: Callable[[Any], Any]) -> Any:
        """Under the file's lock: the record as the app's ``CreationJson``
        to ``mutator``, which changes it in place or returns a new one; the
        record written comes back. If ``mutator`` raises, nothing is
        written and its exception is raised here."""
        p = _support.path(path)
        creation_json = _support.struct("CreationJson")
        raised: List[BaseException] = []

        def step(record: Dict[str, Any]) -> Any:
            payload = msgspec.convert(record, creation_json)
            try:
                returned = mutator(payload)
            except BaseException as e:
                raised.append(e)
                raise
            return payload if returned is None else returned

        with _support.app_errors(p, keep=raised):
            written = await self._cache().update_creation(p, step)
        return msgspec.convert(written, creation_json)

    async def read_creation_snapshot(self, path: StrPath) -> Any:
        """The record as the app's ``CreationJson`` (no lock: a reader sees
        the old file or the new one, never a mix)."""
        p = _support.path(path)
        with _support.app_errors(p):
            record = await self._cache().read_creation(p)
        return msgspec.convert(record, _support.struct("CreationJson"))

    def _cache(self) -> Any:
        return _support.cache(self._lock_timeout)


def select_active_overrides(
    validation_overrides: Iterable[Dict[str, Any]],
    *,
    now: Optional[datetime] = None,
) -> List[Dict[str, Any]]:
    """The entries active at ``now`` (None: the clock), in order, by the
    policy's matching rule; orphan tombstones and malformed ``expires_at``
    are logged to ``exlab_cache``."""
    with _support.app_errors():
        return _support.cache().cache.active_overrides(validation_overrides, now)
