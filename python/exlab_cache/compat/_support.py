"""What the drop-in modules share: the cache they serve through, the
app's classes when it is importable, and the app's exceptions out."""
from __future__ import annotations

import contextlib
import errno
import importlib
import os
import sys
import threading
from typing import Any, Dict, Iterator, Optional, Sequence, Tuple, Union

import exlab_cache

from . import errors, schemas

StrPath = Union[str, "os.PathLike[str]"]

#: The environment variable that narrows the drop-ins' root (default ``/``).
ROOT_ENV = "EXLAB_CACHE_COMPAT_ROOT"

#: The lock wait of the writers whose app original takes no timeout (it
#: waits forever; ours are bounded, docs/spec.md §3).
DEFAULT_LOCK_TIMEOUT = 30.0

_lock = threading.Lock()
_root: Optional[str] = None
_lock_timeout = DEFAULT_LOCK_TIMEOUT
# One cache per lock timeout, made at first use: a Cache compiles nothing
# twice, but each one holds its own policy slot.
_caches: Dict[float, exlab_cache.AsyncCache] = {}
# The app's modules that did not import, with the import path they were
# looked for on.
_missing: Dict[str, Tuple[Any, ...]] = {}


def configure(
    root: Optional[StrPath] = None, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT
) -> None:
    """Sets the root the drop-ins serve (None: ``$EXLAB_CACHE_COMPAT_ROOT``,
    else ``/``) and the lock wait of the writers that take none (seconds).
    The shared caches are made again at their next use, and the app's
    packages looked for again."""
    global _root, _lock_timeout
    with _lock:
        _root = None if root is None else os.fspath(root)
        _lock_timeout = float(lock_timeout)
        _caches.clear()
        _missing.clear()


def root() -> str:
    """The root the drop-ins serve now."""
    return _root or os.environ.get(ROOT_ENV) or "/"


def cache(lock_timeout: Optional[float] = None) -> exlab_cache.AsyncCache:
    """The shared cache for ``lock_timeout`` (None: the configured one)."""
    timeout = _lock_timeout if lock_timeout is None else float(lock_timeout)
    with _lock:
        found = _caches.get(timeout)
        if found is None:
            found = exlab_cache.AsyncCache(root(), lock_timeout=timeout)
            _caches[timeout] = found
        return found


def path(p: StrPath) -> str:
    """The app's path as the cache takes it: a relative one is the app's
    own (from the working folder), as ``open`` would take it."""
    text = os.fspath(p)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    return text if os.path.isabs(text) else os.path.join(os.getcwd(), text)


def app_class(module: str, name: str, mirror: Any) -> Any:
    """``module.name`` of the app when it imports, else ``mirror``. Looked
    up at each call, so the app counts as soon as it is importable; a fault
    inside the app's own module is raised."""
    found = sys.modules.get(module)
    if found is None:
        # A failed import costs ~0.1 ms: tried again only once the import
        # path changed (or after configure()).
        state = (tuple(sys.path), tuple(map(id, sys.meta_path)))
        if _missing.get(module) == state:
            return mirror
        try:
            found = importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name is None or not _is_parent_of(e.name, module):
                raise
            _missing[module] = state
            return mirror
    return getattr(found, name, mirror)


def _is_parent_of(missing: str, module: str) -> bool:
    return module == missing or module.startswith(missing + ".")


def struct(name: str) -> Any:
    """The app's struct ``name`` (``exlab_wizard.api.schemas``), or ours."""
    return app_class("exlab_wizard.api.schemas", name, getattr(schemas, name))


def schema_mismatch(expected_major: int, found: str) -> BaseException:
    cls = app_class(
        "exlab_wizard.errors", "SchemaMajorMismatchError", errors.SchemaMajorMismatchError
    )
    return cls(expected_major, found)


def spelled_as_app(found: Any) -> str:
    """A stored ``schema_version`` as the app's error spells it: its
    ``str()``, and ``""`` when there is none."""
    if found is None:
        return ""
    return found if isinstance(found, str) else str(found)


@contextlib.contextmanager
def app_errors(p: Optional[str] = None, keep: Sequence[BaseException] = ()) -> Iterator[None]:
    """The cache's errors as the app's callers catch them; ``keep`` are
    exceptions to let through as they are (a caller's step raised them)."""
    try:
        yield
    except exlab_cache.CacheError as e:
        mapped = translated(e, p)
        if mapped is e or any(e is k for k in keep):
            raise
        raise mapped from e


def translated(e: exlab_cache.CacheError, p: Optional[str]) -> BaseException:
    if isinstance(e, exlab_cache.SchemaMajorMismatchError):
        return schema_mismatch(e.expected_major, spelled_as_app(e.found))
    if isinstance(e, exlab_cache.DecodeError):
        return errors.DecodeError(e.message, e.field)
    if isinstance(e, exlab_cache.ValidationError):
        return errors.ValidationError(e.message, e.field)
    if isinstance(e, exlab_cache.LockTimeoutError):
        return errors.lock_timeout(e.message, None if p is None else p + ".lock")
    return e


def created(outcome: Tuple[bool, Any], p: str) -> None:
    """A create that found the file there is ``FileExistsError`` (the
    policy never overwrites it)."""
    written, _ = outcome
    if not written:
        raise FileExistsError(errno.EEXIST, "the file exists and is never overwritten", p)
