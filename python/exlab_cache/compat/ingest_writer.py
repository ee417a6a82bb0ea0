"""Drop-in for ``exlab_wizard.cache.ingest_writer``: ``ingest.json``
through the policy.

What differs from the app's writer (python/README.md): ``write_ingest``
never overwrites (``FileExistsError``), and refuses a record whose
``current_state`` is not its last history entry's; reads take no lock; a
transition keeps the file's unknown fields; lock waits are bounded.
"""
from __future__ import annotations

import socket
from typing import Any, Optional

import msgspec

from . import _support
from ._support import StrPath

__all__ = ["IngestWriter", "default_host"]


class IngestWriter:
    """Creates, moves forward and reads ``ingest.json``."""

    async def write_ingest(self, path: StrPath, payload: Any) -> None:
        """Creates the file from ``payload``; ``FileExistsError`` when it is
        there already."""
        p = _support.path(path)
        with _support.app_errors(p):
            outcome = await _support.cache().create_ingest(p, payload)
        _support.created(outcome, p)

    async def read_ingest(self, path: StrPath) -> Any:
        """The record as the app's ``IngestJson`` (no lock)."""
        p = _support.path(path)
        with _support.app_errors(p):
            record = await _support.cache().read_ingest(p)
        return msgspec.convert(record, _support.struct("IngestJson"))

    async def append_state_transition(
        self,
        path: StrPath,
        new_state: Any,
        *,
        host: str,
        files_received: Optional[int] = None,
        bytes_received: Optional[int] = None,
        nas_path: Optional[str] = None,
        checksum_file: Optional[str] = None,
    ) -> Any:
        """Moves the state one step forward under the file's lock and
        returns the record written. An illegal step is a ``ValueError``
        with the policy's message, and the file stays as it was."""
        p = _support.path(path)
        with _support.app_errors(p):
            record = await _support.cache().transition_ingest(
                p,
                new_state,
                host,
                files_received=files_received,
                bytes_received=bytes_received,
                nas_path=nas_path,
                checksum_file=checksum_file,
            )
        return msgspec.convert(record, _support.struct("IngestJson"))


def default_host() -> str:
    """This machine's host name, for ``append_state_transition``'s ``host``."""
    return socket.gethostname()
