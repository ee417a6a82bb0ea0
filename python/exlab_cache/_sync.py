"""`Cache`: the native cache under its public name, with typed conveniences
for the record kinds of interface 1.1 over the native `run` and `update`."""
from __future__ import annotations

import os
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from . import _native

StrPath = Union[str, "os.PathLike[str]"]
#: An update's step: the record as a dict in, the new record out (or None
#: for the dict as the step left it).
Step = Callable[[Dict[str, Any]], Any]


class Cache(_native.Cache):
    """The policy component serving one root folder; thread-safe.

    ``Cache(root, *, policy=None, lock_timeout=30.0)``: ``root`` is the
    capability root (str or ``os.PathLike``); ``policy`` a path to a policy
    component or its bytes (default: the built-in one); ``lock_timeout`` the
    longest wait for a file's lock, in seconds (0 tries once);
    ``time_limit`` (seconds, default 5) and ``memory_limit`` (bytes, default
    64 MiB) bound the policy component per call.

    Paths are relative to the root, or absolute inside it. Records may be a
    dict or any mapping, a dataclass or a ``msgspec.Struct`` (by fields, at
    any depth), or JSON text; the native module turns them into JSON
    itself. Results are dicts with keys in the file's field order. Writes
    and reads release the GIL while they work (they may wait for a lock or
    the disk); ``require_schema_major``, guest code only, keeps it.

    ``write_equipment(path, record)`` returns the record as written (unknown
    fields kept from disk included); ``write_test_runs_marker(path, marker)``
    and ``write_runs_marker`` write the marker once and return ``(written,
    marker as on disk)`` (``written`` is False when the file existed).

    The record kinds by name: ``kinds()``, ``run(kind, operation, path,
    input)`` and ``update(kind, path, step)`` (native), and the typed
    conveniences below, each one ``run`` or ``update`` of a known kind.
    """

    __slots__ = ()

    # creation.json

    def create_creation(self, path: StrPath, record: Any) -> Tuple[bool, Optional[Dict[str, Any]]]:
        """Writes ``creation.json`` once: ``(written, the file)``; a file
        already there is left as it is (``written`` False, the file as on
        disk, or None when it is not JSON)."""
        return _created(self.run("creation", "create", path, record), "creation")

    def update_creation(self, path: StrPath, step: Step) -> Dict[str, Any]:
        """``update("creation", path, step)``: the file as written."""
        return self.update("creation", path, step)

    def read_creation(self, path: StrPath) -> Dict[str, Any]:
        """Every known field, defaults of an older minor filled (no lock)."""
        return self.run("creation", "read", path)

    def active_overrides(self, overrides: Iterable[Any], now: Any = None) -> List[Dict[str, Any]]:
        """The entries of a ``validation_overrides`` list active at ``now``
        (an ISO 8601 str or a datetime; None: the clock), as given, in order.
        Orphan tombstones and malformed ``expires_at`` are logged."""
        return self.run("creation", "active-overrides", None, _overrides_input(overrides, now))

    # ingest.json

    def create_ingest(self, path: StrPath, record: Any) -> Tuple[bool, Optional[Dict[str, Any]]]:
        """Writes ``ingest.json`` once: ``(written, the file)``."""
        return _created(self.run("ingest", "create", path, record), "ingest")

    def transition_ingest(
        self, path: StrPath, state: str, host: Optional[str] = None, **extras: Any
    ) -> Dict[str, Any]:
        """Moves ``ingest.json`` one state forward under its lock (``host``
        None: this machine's); ``extras`` are ``files_received``,
        ``bytes_received``, ``nas_path``, ``checksum_file``. The file as
        written."""
        return self.run("ingest", "transition", path, {"state": state, "host": host, **extras})

    def read_ingest(self, path: StrPath) -> Dict[str, Any]:
        """The known fields of ``ingest.json`` (no lock)."""
        return self.run("ingest", "read", path)

    # readme_fields.json

    def write_readme_fields(self, path: StrPath, record: Any) -> Dict[str, Any]:
        """Writes ``readme_fields.json`` (an overwrite, stamped): the file as written."""
        return self.run("readme-fields", "write", path, record)

    def read_readme_fields(self, path: StrPath) -> Dict[str, Any]:
        """The known fields of ``readme_fields.json`` (no lock)."""
        return self.run("readme-fields", "read", path)

    # wizard.<hostname>.log

    def format_log_line(self, **fields: Any) -> str:
        """One log line, without its newline: ``level``, ``message``, and
        optionally ``timestamp`` (``YYYY-MM-DDTHH:MM:SSZ``; None: now),
        ``host``, ``equipment_id``, ``project_short_id``, ``run_kind``,
        ``run_id``, ``max_bytes`` (the line with its newline; 1024)."""
        return self.run("log", "format", None, fields)["line"]

    def append_log_line(
        self,
        path: StrPath,
        line_or_fields: Union[str, Mapping[str, Any]],
        *,
        max_bytes: Optional[int] = None,
    ) -> Dict[str, str]:
        """Appends one line (a str, or the fields of ``format_log_line``)
        with one ``O_APPEND`` write, no lock. ``path`` is a ``.log`` file,
        or the folder of ``wizard.<hostname>.log``. ``{"path", "line"}``."""
        if isinstance(line_or_fields, str):
            fields: Dict[str, Any] = {"line": line_or_fields}
        else:
            fields = dict(line_or_fields)
        if max_bytes is not None:
            fields["max_bytes"] = max_bytes
        return self.run("log", "append", path, fields)


def _created(result: Dict[str, Any], key: str) -> Tuple[bool, Optional[Dict[str, Any]]]:
    return result["written"], result[key]


def _overrides_input(overrides: Iterable[Any], now: Any) -> Dict[str, Any]:
    # A datetime as the ISO text the policy reads (naive: UTC).
    if now is not None and not isinstance(now, str):
        now = now.isoformat()
    return {"validation_overrides": list(overrides), "now": now}
