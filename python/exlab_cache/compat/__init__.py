"""Drop-in modules for the lab app's ``exlab_wizard.cache`` writers.

``exlab_cache.compat.equipment``, ``creation_writer``, ``ingest_writer`` and
``log_writer`` have the public names and signatures of the app's modules of
the same names; every rule behind them is the policy's (python/README.md,
"Moving the app over"). They need ``msgspec`` (``pip install
exlab-cache[compat]``); the rest of the package does not.

Structs and exceptions: when the app's own packages import
(``exlab_wizard.api.schemas``, ``exlab_wizard.errors``), the drop-ins take
and return its structs and raise its exception classes; otherwise the
mirror structs of ``exlab_cache.compat.schemas`` and the classes of
``exlab_cache.compat.errors``.

The root: the app passes absolute paths anywhere, so the drop-ins serve
them through a shared cache whose root is ``/``; narrow it with
:func:`configure` or the ``EXLAB_CACHE_COMPAT_ROOT`` environment variable
(a path outside the root is then ``PermissionError``).
"""
from __future__ import annotations

from ._support import ROOT_ENV, configure

__all__ = ["configure", "ROOT_ENV"]
