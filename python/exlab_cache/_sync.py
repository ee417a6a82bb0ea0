"""`Cache`: the native cache under its public name."""
from __future__ import annotations

from . import _native


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
    JSON text; the native module turns them into JSON itself. Results are
    dicts with keys in the file's field order. Writes and reads release the GIL
    while they work (they may wait for a lock or the disk);
    ``require_schema_major``, guest code only, keeps it.

    ``write_equipment(path, record)`` returns the record as written (unknown
    fields kept from disk included); ``write_test_runs_marker(path, marker)``
    and ``write_runs_marker`` write the marker once and return ``(written,
    marker as on disk)`` (``written`` is False when the file existed).
    """

    __slots__ = ()
