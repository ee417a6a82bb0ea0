"""The errors of docs/spec.md §4, as exceptions.

Each code has its own class, derived from :class:`CacheError` and from the
builtin exception a Python caller would already catch for it, so
``except FileNotFoundError`` or ``except ValueError`` keep working.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Type

from . import _native

__all__ = [
    "CacheError",
    "NotFoundError",
    "SchemaMajorMismatchError",
    "DecodeError",
    "ValidationError",
    "AccessDeniedError",
    "LockTimeoutError",
    "PolicyError",
    "IoError",
]


class CacheError(Exception):
    """A failed cache call.

    ``code`` is the docs/spec.md §4 code (``"not_found"``, ...),
    ``message`` the human-readable text, ``field`` the field at fault
    (``"schema_version"`` for a mismatch, the input or stored field for a
    validation error, else ``None``).
    """

    code: str = "io_error"
    #: The CLI's exit status for this code (from the native error table).
    exit_status: int = 1

    def __init__(self, message: str = "", field: Optional[str] = None) -> None:
        # One argument only: two would read as (errno, strerror) to OSError.
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> Any:
        # Picklable (for process pools): rebuilt with the same attributes.
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: Type[CacheError], state: Dict[str, Any]) -> CacheError:
    exc = cls.__new__(cls, state.get("message", ""))
    CacheError.__init__(exc, state.get("message", ""), state.get("field"))
    exc.__dict__.update(state)
    return exc


class NotFoundError(CacheError, FileNotFoundError):
    """``not_found``: the file to read does not exist."""

    code = "not_found"


class SchemaMajorMismatchError(CacheError):
    """``schema_major_mismatch``: another (or no) schema major.

    ``expected_major`` is the major this reader accepts; ``found`` the
    on-disk ``schema_version`` verbatim, as JSON gives it (``"2.0"``, ``2``,
    ``2.5``, ``"garbage"``), or the version the gate was given; decoded by
    the native module.
    """

    code = "schema_major_mismatch"

    def __init__(
        self,
        message: str = "",
        field: Optional[str] = "schema_version",
        *,
        expected_major: int = 1,
        found: Any = None,
    ) -> None:
        super().__init__(message, field)
        self.expected_major = expected_major
        self.found = found


class DecodeError(CacheError, ValueError):
    """``decode_error``: the file on disk is not JSON."""

    code = "decode_error"


class ValidationError(CacheError, ValueError):
    """``validation_error``: wrong shape on disk or invalid input; ``field``
    names the field (``None`` when the whole document is at fault)."""

    code = "validation_error"


class AccessDeniedError(CacheError, PermissionError):
    """``access_denied``: the path leaves the root."""

    code = "access_denied"


class LockTimeoutError(CacheError, TimeoutError):
    """``lock_timeout``: the file's lock was not had in time."""

    code = "lock_timeout"


class PolicyError(CacheError):
    """``policy_error``: the policy component trapped, ran out of time or
    memory, or does not fit the interface."""

    code = "policy_error"


class IoError(CacheError, OSError):
    """``io_error``: anything else from the file system."""

    code = "io_error"


_CLASSES = (
    NotFoundError,
    SchemaMajorMismatchError,
    DecodeError,
    ValidationError,
    AccessDeniedError,
    LockTimeoutError,
    PolicyError,
    IoError,
)


def _by_code(
    classes: Tuple[Type[CacheError], ...], codes: Tuple[Tuple[str, int], ...]
) -> Dict[str, Type[CacheError]]:
    """The class for each code of the host's table (``_native.ERROR_CODES``),
    found by the classes' ``code`` attributes; each class also gets the
    CLI's ``exit_status`` for its code. A code without a class, or a class
    whose code the host does not have, fails here, at import."""
    by_code = {cls.code: cls for cls in classes}
    exit_status = dict(codes)
    missing = sorted(set(exit_status) - set(by_code))
    unknown = sorted(set(by_code) - set(exit_status))
    if missing or unknown:
        raise ImportError(
            "exlab_cache._errors does not match the native error table: "
            f"codes without a class {missing}, classes without a code {unknown}"
        )
    for code, cls in by_code.items():
        cls.exit_status = exit_status[code]
    return by_code


# The native module raises the class registered here for an error's code.
_BY_CODE: Dict[str, Type[CacheError]] = _by_code(_CLASSES, _native.ERROR_CODES)
