"""Drop-in for ``exlab_wizard.cache.log_writer``: the lines of
``wizard.<hostname>.log``, formatted and appended by the policy.

``LOG_LINE_MAX_BYTES`` bounds a line without its newline, as in the app; it
is read at each call, so setting the module attribute takes effect.

What differs from the app (python/README.md): a line break inside a value
is written escaped (one event, one line), and an appended line is bounded
by ``LOG_LINE_MAX_BYTES`` too (the app appends what it is given).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from . import _support
from ._support import StrPath

__all__ = ["append_log_line", "format_log_line"]

#: The longest line in bytes, without its newline.
LOG_LINE_MAX_BYTES: int = 1024


def format_log_line(
    *,
    timestamp_utc: datetime,
    level: str,
    message: str,
    host: Optional[str] = None,
    equipment_id: Optional[str] = None,
    project_short_id: Optional[str] = None,
    run_kind: Optional[str] = None,
    run_id: Optional[str] = None,
) -> str:
    """One line, without its newline: the time, the level, the tags given,
    the message; cut with ``...[truncated]`` past ``LOG_LINE_MAX_BYTES``."""
    with _support.app_errors():
        return _cache().format_log_line(
            timestamp=_utc_text(timestamp_utc),
            level=level,
            message=message,
            host=host,
            equipment_id=equipment_id,
            project_short_id=project_short_id,
            run_kind=run_kind,
            run_id=run_id,
            max_bytes=_max_bytes(),
        )


def append_log_line(path: StrPath, line: str) -> None:
    """Appends ``line`` and a newline to the log file ``path`` (its folders
    made) with one ``O_APPEND`` write: concurrent appenders never
    interleave. ``path`` must name a ``.log`` file: the policy takes any
    other name for the folder of this machine's log, and the app's callers
    mean the file they name."""
    p = _support.path(path)
    if not p.endswith(".log"):
        raise ValueError(
            f"{p}: the drop-in appends only to a file named *.log "
            "(another name would be taken for a folder of wizard.<hostname>.log)"
        )
    with _support.app_errors(p):
        _cache().append_log_line(p, line, max_bytes=_max_bytes())


def _cache():  # type: ignore[no-untyped-def]
    return _support.cache().cache


def _max_bytes() -> int:
    # The policy counts the newline that one append writes; the app does not.
    return max(LOG_LINE_MAX_BYTES, 0) + 1


def _utc_text(when: datetime) -> str:
    # A naive time is taken as UTC already, as the app takes it.
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
