"""exlab_cache: the exlab-cache policy component, in-process.

The lab-cache files (``equipment.json``, ``test_runs.json``, ``runs.json``)
written and read through the sandboxed WebAssembly policy, with the same
files, locks and errors as the ``exlab-cache`` CLI. See README.md.
"""
from __future__ import annotations

from typing import Optional

from ._errors import (
    AccessDeniedError,
    CacheError,
    DecodeError,
    IoError,
    LockTimeoutError,
    NotFoundError,
    PolicyError,
    SchemaMajorMismatchError,
    ValidationError,
)
from . import _native
from ._sync import Cache
from ._async import AsyncCache

INTERFACE: str = _native.INTERFACE
#: The bytes of the policy component built into this package.
BUILTIN_POLICY: bytes = _native.BUILTIN_POLICY


def require_schema_major(version: Optional[str], expected_major: int) -> None:
    """The schema gate (built-in policy): returns None when ``version``'s
    major is ``expected_major``, else raises SchemaMajorMismatchError.
    ``None`` and ``""`` fail like an absent version."""
    _native.require_schema_major(version, expected_major)


__all__ = [
    "Cache",
    "AsyncCache",
    "require_schema_major",
    "INTERFACE",
    "BUILTIN_POLICY",
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
