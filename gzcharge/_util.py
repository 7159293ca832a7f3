"""Small shared helpers: atomic output files, hashing, id formatting, Pyomo's import."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType

from gzcharge.errors import ExportError

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    Nothing half-written is ever left at ``path``: on any exception the temporary file
    is removed and ``path`` keeps its previous content (or stays absent).

    Raises
    ------
    ExportError
        When the output folder does not exist or is not writable.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise ExportError(f"cannot write {target}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise ExportError(f"cannot write {target}: folder {folder} is not writable")
    if target.exists() and target.is_dir():
        raise ExportError(f"cannot write {target}: it is a folder")
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.stem}.", suffix=suffix if suffix is not None else target.suffix, dir=folder
    )
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # writers such as GDAL want to create the file themselves
    try:
        yield tmp
        if not tmp.exists():
            raise ExportError(f"internal error: nothing was written for {target}")
        os.replace(tmp, target)
    except BaseException:
        for leftover in (tmp, Path(str(tmp) + "-journal"), Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        raise


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
    ``scipy.spatial`` (~0.5 s CPU warm, seconds from a cold disk; FIELD-NOTES). gzcharge always has
    ``scipy.sparse`` loaded before it builds a model, so the first Pyomo import runs with scipy's
    modules set aside in ``sys.modules``: Pyomo then treats scipy as not yet imported and resolves
    it only when Pyomo code uses it (model building and the appsi HiGHS interface do not). The
    modules are put back unchanged; Pyomo's import itself loads no scipy module (checked: any it
    did load is dropped so that only the original ``scipy`` exists).

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
