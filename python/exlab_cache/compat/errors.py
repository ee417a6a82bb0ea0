"""The exceptions the drop-ins raise, for callers of the app's writers.

Each is also the ``exlab_cache`` class for its code, so ``.code``,
``.field`` and ``.message`` stay at hand:

- :class:`DecodeError`: a file that is not JSON; also ``msgspec.DecodeError``
  (what the app's readers raise).
- :class:`ValidationError`: a file of the wrong shape, or input the policy
  refuses (an illegal ingest transition included); also
  ``msgspec.ValidationError``, so a ``ValueError``.
- the lock timeout: also ``filelock.Timeout`` when filelock is installed
  (what the app's writers raise), always a ``TimeoutError``.
- :class:`SchemaMajorMismatchError`: raised only when the app's own
  ``exlab_wizard.errors`` does not import (else the app's class is);
  built like the app's, ``(expected_major, found)``.
"""
from __future__ import annotations

from typing import Any, Optional

import msgspec

import exlab_cache

__all__ = ["DecodeError", "ValidationError", "LockTimeout", "SchemaMajorMismatchError"]


class DecodeError(exlab_cache.DecodeError, msgspec.DecodeError):
    """``decode_error``, as msgspec's reader would raise it."""


class ValidationError(exlab_cache.ValidationError, msgspec.ValidationError):
    """``validation_error``, as msgspec's reader (or a ``ValueError``) would
    raise it."""


try:
    from filelock import Timeout as _FileLockTimeout
except ImportError:  # filelock is optional: a TimeoutError alone
    _FileLockTimeout = None

if _FileLockTimeout is not None:

    class LockTimeout(exlab_cache.LockTimeoutError, _FileLockTimeout):  # type: ignore[misc]
        """``lock_timeout``, also ``filelock.Timeout``; ``lock_file`` is the
        ``<file>.lock`` that was not had in time."""

else:

    class LockTimeout(exlab_cache.LockTimeoutError):  # type: ignore[no-redef]
        """``lock_timeout``; ``lock_file`` is the ``<file>.lock`` that was
        not had in time."""

        @property
        def lock_file(self) -> Optional[str]:
            return getattr(self, "_lock_file", None)


def lock_timeout(message: str, lock_file: Optional[str]) -> LockTimeout:
    e = LockTimeout(message)
    e._lock_file = lock_file
    return e


class SchemaMajorMismatchError(exlab_cache.SchemaMajorMismatchError):
    """Another (or no) schema major, built as the app builds its own:
    ``found`` is the stored ``schema_version`` as text (``""`` when none)."""

    def __init__(self, expected_major: int, found: Any) -> None:
        message = f"schema_version {found!r} is not of major {expected_major}"
        super().__init__(message, expected_major=expected_major, found=found)
