"""Small shared helpers: hashing, id formatting, Pyomo's import (output files: :mod:`gzcharge.export.outputs`)."""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from collections.abc import Iterable
from types import ModuleType

logger = logging.getLogger(__name__)


def file_sha256(path: str | os.PathLike[str], *, chunk: int = 1 << 20) -> str:
    """Return the hex SHA-256 of a file (used for input hashes in run metadata)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def preview_ids(ids: Iterable[object], limit: int = 10) -> str:
    """Format ids for an error message: the first ``limit`` of them and how many more."""
    items = list(ids)
    shown = ", ".join(str(i) for i in items[:limit])
    if len(items) > limit:
        shown += f", … ({len(items) - limit} more)"
    return shown


def import_pyomo() -> ModuleType:
    """Import and return ``pyomo.environ`` without Pyomo importing ``scipy.stats`` at once.

    Pyomo's dependency layer (``pyomo.common.dependencies``, Pyomo 6.x) defers its optional
    imports, except for modules already in ``sys.modules``: those it imports at once with their
    "finalizers", and the scipy finalizer imports ``scipy.stats``, ``scipy.integrate`` and
    ``scipy.spatial`` (~0.5 s CPU warm, seconds from a cold disk: benchmarks/README.md, "Session
    3 — wall time"). gzcharge always has ``scipy.sparse`` loaded before it builds a model, so the
    first Pyomo import runs with scipy's modules set aside in ``sys.modules``: Pyomo then treats
    scipy as not yet imported and resolves it only when Pyomo code uses it (model building and
    the appsi HiGHS interface do not). The modules are put back unchanged; Pyomo's import itself
    loads no scipy module (any it did load is dropped, so that only the original ``scipy``
    exists). Not thread-safe: call it before any solver thread starts (model building does).

    Call this wherever a Pyomo model is first built, instead of ``import pyomo.environ``.
    """
    if "pyomo.environ" in sys.modules:
        return sys.modules["pyomo.environ"]
    if "pyomo" in sys.modules or "scipy" not in sys.modules:
        import pyomo.environ as pyo

        return pyo
    hidden = {k: sys.modules.pop(k) for k in list(sys.modules) if k == "scipy" or k.startswith("scipy.")}
    try:
        import pyomo.environ as pyo
    finally:
        fresh = [k for k in sys.modules if k == "scipy" or k.startswith("scipy.")]
        for k in fresh:  # a second copy of a scipy module must not survive beside the original
            del sys.modules[k]
        if fresh:
            logger.debug("Pyomo's import loaded scipy modules %s; they were dropped", preview_ids(fresh))
        sys.modules.update(hidden)
    return pyo
