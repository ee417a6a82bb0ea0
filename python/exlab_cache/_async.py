"""`AsyncCache`: the same calls as coroutines that never block the loop."""
from __future__ import annotations

import asyncio
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from . import _sync
from ._sync import Step, StrPath


class AsyncCache:
    """:class:`exlab_cache.Cache` with coroutine methods.

    Each call runs the synchronous call in a worker thread
    (``asyncio.to_thread``); the native code releases the GIL, so the event
    loop keeps running and concurrent calls overlap. The lock, the
    write-once rule and every check are the same as for the sync class.

    ``inline_reads=True`` runs the calls that take no lock (the three reads
    and ``require_schema_major``) on the event loop's own thread instead:
    a read of a local disk then costs what the sync call costs (about
    10 us) instead of the worker-thread round trip (about 50-130 us here;
    BENCHMARKS.md). The trade-off: while such a read waits on the file
    system (a stalled NAS, a slow disk), the whole event loop waits with
    it. Leave it off (the default) unless the root is on a local disk.
    Writes always run in a worker thread: they may wait for a lock.

    The record kinds: ``run`` and every write, update and append run in a
    worker thread; an update's step runs there too, with the GIL, under the
    file's lock. The reads of a kind and the calls that touch no file
    (``kinds``, ``active_overrides``, ``format_log_line``) follow
    ``inline_reads``.
    """

    def __init__(
        self,
        root: StrPath,
        *,
        policy: Union[None, StrPath, bytes, bytearray, memoryview] = None,
        lock_timeout: float = 30.0,
        time_limit: Optional[float] = None,
        memory_limit: Optional[int] = None,
        trusted_keys: Optional[StrPath] = None,
        inline_reads: bool = False,
    ) -> None:
        self._cache = _sync.Cache(
            root,
            policy=policy,
            lock_timeout=lock_timeout,
            time_limit=time_limit,
            memory_limit=memory_limit,
            trusted_keys=trusted_keys,
        )
        self._inline_reads = bool(inline_reads)

    @classmethod
    def from_cache(cls, cache: "_sync.Cache", *, inline_reads: bool = False) -> "AsyncCache":
        """Wraps an existing synchronous cache (shares its policy)."""
        self = cls.__new__(cls)
        self._cache = cache
        self._inline_reads = bool(inline_reads)
        return self

    @property
    def inline_reads(self) -> bool:
        """Whether the calls that take no lock run on the loop's thread."""
        return self._inline_reads

    @property
    def cache(self) -> "_sync.Cache":
        """The synchronous cache underneath."""
        return self._cache

    @property
    def root(self) -> "os.PathLike[str]":
        return self._cache.root

    async def write_equipment(self, path: StrPath, record: Any) -> Dict[str, Any]:
        return await asyncio.to_thread(self._cache.write_equipment, path, record)

    async def read_equipment(self, path: StrPath) -> Dict[str, Any]:
        if self._inline_reads:
            return self._cache.read_equipment(path)
        return await asyncio.to_thread(self._cache.read_equipment, path)

    async def write_test_runs_marker(
        self, path: StrPath, marker: Any
    ) -> Tuple[bool, Optional[Dict[str, Any]]]:
        return await asyncio.to_thread(self._cache.write_test_runs_marker, path, marker)

    async def read_test_runs_marker(self, path: StrPath) -> Dict[str, Any]:
        if self._inline_reads:
            return self._cache.read_test_runs_marker(path)
        return await asyncio.to_thread(self._cache.read_test_runs_marker, path)

    async def write_runs_marker(
        self, path: StrPath, marker: Any
    ) -> Tuple[bool, Optional[Dict[str, Any]]]:
        return await asyncio.to_thread(self._cache.write_runs_marker, path, marker)

    async def read_runs_marker(self, path: StrPath) -> Dict[str, Any]:
        if self._inline_reads:
            return self._cache.read_runs_marker(path)
        return await asyncio.to_thread(self._cache.read_runs_marker, path)

    async def require_schema_major(
        self, version: Optional[str], expected_major: int
    ) -> None:
        if self._inline_reads:
            return self._cache.require_schema_major(version, expected_major)
        return await asyncio.to_thread(self._cache.require_schema_major, version, expected_major)

    async def _read(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        """A call that takes no lock: inline or in a worker thread, as set."""
        if self._inline_reads:
            return method(*args, **kwargs)
        return await asyncio.to_thread(method, *args, **kwargs)

    async def kinds(self) -> List[Dict[str, Any]]:
        return await self._read(self._cache.kinds)

    async def run(
        self, kind: str, operation: str, path: Optional[StrPath] = None, input: Any = None
    ) -> Any:
        # Any kind, any access: always in a worker thread.
        return await asyncio.to_thread(self._cache.run, kind, operation, path, input)

    async def update(self, kind: str, path: StrPath, step: Step) -> Dict[str, Any]:
        return await asyncio.to_thread(self._cache.update, kind, path, step)

    async def create_creation(
        self, path: StrPath, record: Any
    ) -> Tuple[bool, Optional[Dict[str, Any]]]:
        return await asyncio.to_thread(self._cache.create_creation, path, record)

    async def update_creation(self, path: StrPath, step: Step) -> Dict[str, Any]:
        return await asyncio.to_thread(self._cache.update_creation, path, step)

    async def read_creation(self, path: StrPath) -> Dict[str, Any]:
        return await self._read(self._cache.read_creation, path)

    async def active_overrides(
        self, overrides: Iterable[Any], now: Any = None
    ) -> List[Dict[str, Any]]:
        return await self._read(self._cache.active_overrides, overrides, now)

    async def create_ingest(
        self, path: StrPath, record: Any
    ) -> Tuple[bool, Optional[Dict[str, Any]]]:
        return await asyncio.to_thread(self._cache.create_ingest, path, record)

    async def transition_ingest(
        self, path: StrPath, state: str, host: Optional[str] = None, **extras: Any
    ) -> Dict[str, Any]:
        return await asyncio.to_thread(self._cache.transition_ingest, path, state, host, **extras)

    async def read_ingest(self, path: StrPath) -> Dict[str, Any]:
        return await self._read(self._cache.read_ingest, path)

    async def write_readme_fields(self, path: StrPath, record: Any) -> Dict[str, Any]:
        return await asyncio.to_thread(self._cache.write_readme_fields, path, record)

    async def read_readme_fields(self, path: StrPath) -> Dict[str, Any]:
        return await self._read(self._cache.read_readme_fields, path)

    async def format_log_line(self, **fields: Any) -> str:
        return await self._read(self._cache.format_log_line, **fields)

    async def append_log_line(
        self,
        path: StrPath,
        line_or_fields: Union[str, Mapping[str, Any]],
        *,
        max_bytes: Optional[int] = None,
    ) -> Dict[str, str]:
        # An append takes no lock but writes (a NAS may stall): a worker thread.
        return await asyncio.to_thread(
            self._cache.append_log_line, path, line_or_fields, max_bytes=max_bytes
        )

    async def policy_info(self) -> Dict[str, Any]:
        # No I/O: the info was read when the policy was loaded.
        return self._cache.policy_info()

    async def set_policy(self, policy: Any, *, signature: Optional[str] = None) -> Dict[str, Any]:
        """Replaces the policy (a path or the component's bytes) once it has
        been admitted (its signature too, with ``trusted_keys``) and passed
        the conformance gate."""
        return await asyncio.to_thread(self._cache.set_policy, policy, signature=signature)

    async def rollback(self) -> Dict[str, Any]:
        """Goes back to the policy that served before the last swap."""
        return await asyncio.to_thread(self._cache.rollback)

    async def status(self) -> Dict[str, Any]:
        """What serves, since when, signed by whom, and the last admission
        attempts (reads the trust file: run in a worker thread)."""
        return await asyncio.to_thread(self._cache.status)

    def __repr__(self) -> str:
        return f"Async{self._cache!r}"
