"""Small shared helpers: hashing, id formatting (output files: :mod:`gzcharge.export.outputs`)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable


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
