"""Small shared helpers: atomic output files, hashing, id formatting."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from gzcharge.errors import ExportError


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
