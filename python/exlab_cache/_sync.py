"""`Cache`: the native cache, with records converted on the way in."""
from __future__ import annotations

import os
from typing import Any, Dict, Optional, Tuple, Union

from . import _native
from ._records import to_json

StrPath = Union[str, "os.PathLike[str]"]


class Cache(_native.Cache):
    """The policy component serving one root folder; thread-safe.

    ``Cache(root, *, policy=None, lock_timeout=30.0)``: ``root`` is the
    capability root (str or ``os.PathLike``); ``policy`` a path to a policy
    component or its bytes (default: the built-in one); ``lock_timeout`` the
    longest wait for a file's lock, in seconds (0 tries once);
    ``time_limit`` (seconds, default 5) and ``memory_limit`` (bytes, default
    64 MiB) bound the policy component per call.

    Paths are relative to the root, or absolute inside it. Records may be a
    dict or any mapping, a dataclass or a ``msgspec.Struct`` (by fields), or
    JSON text. Results are dicts with keys in the file's field order. Every
    call releases the GIL while it works.
    """

    __slots__ = ()

    def write_equipment(self, path: StrPath, record: Any) -> Dict[str, Any]:
        """Writes ``equipment.json``; returns the record as written (unknown
        fields kept from disk included)."""
        return self._write_equipment_json(path, to_json(record))

    def write_test_runs_marker(
        self, path: StrPath, marker: Any
    ) -> Tuple[bool, Optional[Dict[str, Any]]]:
        """Writes ``test_runs.json`` once: ``(written, marker as on disk)``.
        When the file exists nothing is written (``written`` is False)."""
        return self._write_marker_json("test_runs", path, to_json(marker))

    def write_runs_marker(
        self, path: StrPath, marker: Any
    ) -> Tuple[bool, Optional[Dict[str, Any]]]:
        """Writes ``runs.json`` once: ``(written, marker as on disk)``."""
        return self._write_marker_json("runs", path, to_json(marker))
