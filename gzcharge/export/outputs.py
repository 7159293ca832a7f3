"""Outputs of a run written as one set: every file complete, or nothing changed.

A run writes several files (GeoPackage, report ``.md``/``.html``, map ``.png``, QGIS project,
tables …). Each writer asks for a temporary path beside its final file; the temporaries are
renamed into place only when **every** file of the set is complete. On any error, ``Ctrl-C``
or ``SIGTERM`` the temporaries are removed and the files of a previous run stay as they were.

Usage — a whole run::

    with OutputSet() as out:
        gpkg = out.temp_for("plans/anshun.gpkg")      # write the GeoPackage to ``gpkg``
        png = out.temp_for("plans/anshun_report.png")  # ... and the map to ``png``
    # here both files are in place (or, after an exception, neither changed)

Usage — inside a writer (joins the open set, or is a one-file set of its own)::

    with output_file(target) as tmp:
        tmp.write_text(...)

A writer that needs a file written earlier in the same (not yet committed) set reads it
through :func:`pending_path`.

Rules
-----
- Temporaries are hidden files in the target's own folder (``.<name>.<pid>-<token>.tmp<ext>``)
  so the final rename is atomic; they keep the final extension (GDAL picks its driver by it).
  Temporaries of killed runs (their process no longer exists) are removed by the next run.
- Commit: all temporaries must exist; they are flushed to disk, the target folders are locked
  (``flock`` on the folder itself, no lock file) and every temporary is renamed with SIGINT
  and SIGTERM held back, so a signal cannot split a set. Concurrent runs on one output are
  therefore *last writer wins, each set complete*: the folder holds one run's files, never a
  mix. ``replaces`` names files of the set that this run does not write (e.g. an older
  report when run with ``--no-report``): they are removed at commit, so a set never pairs a
  new GeoPackage with an old report.
- A full disk, a read-only file system or a permission error while writing or renaming is an
  :class:`~gzcharge.errors.ExportError` (exit 7) naming the file.

Test hook (tests only): ``GZCHARGE_TEST_SIGNAL_AT="<stage>:<SIGNAL>"`` makes the process send
itself the signal at an output stage — ``before:<file name>`` (a writer asked for its
temporary), ``after:<file name>`` (the writer finished, not yet committed) or ``commit`` —
so tests can interrupt each stage deterministically.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import logging
import os
import re
import secrets
import signal
from collections.abc import Iterable, Iterator
from pathlib import Path

from gzcharge.errors import ExportError

logger = logging.getLogger(__name__)

_ACTIVE: contextvars.ContextVar[OutputSet | None] = contextvars.ContextVar("gzcharge_output_set", default=None)
_COMMITTED: contextvars.ContextVar[tuple[Path, ...]] = contextvars.ContextVar("gzcharge_committed", default=())
_TEMP_RE = re.compile(r"^\..+\.(\d+)-[0-9a-f]{8}\.tmp")
_SIDECARS = ("-journal", "-wal", "-shm")
_HOOK_ENV = "GZCHARGE_TEST_SIGNAL_AT"
_DISK_ERRNOS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}
# how GDAL/SQLite/libpng say the same, when the error reaches us as text (pyogrio exceptions)
_DISK_TEXT = (
    ("disk is full", errno.ENOSPC), ("no space left", errno.ENOSPC), ("read-only", errno.EROFS),
    ("readonly", errno.EROFS), ("permission denied", errno.EACCES), ("quota", errno.EDQUOT),
)


def output_timestamp():
    """The time stamped into outputs (GeoPackage ``last_change``, style ``update_time``, …).

    ``SOURCE_DATE_EPOCH`` (seconds since 1970, the reproducible-builds convention) when set,
    else the epoch itself (1970-01-01T00:00:00Z): the same inputs give byte-identical files.
    Wall-clock facts of a run go to its optional timings file instead.

    Raises
    ------
    ExportError
        When ``SOURCE_DATE_EPOCH`` is not a whole number of seconds.
    """
    from datetime import UTC, datetime

    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    try:
        epoch = int(raw) if raw else 0
        return datetime.fromtimestamp(epoch, UTC)
    except (ValueError, OverflowError, OSError):
        raise ExportError(f"SOURCE_DATE_EPOCH={raw!r} is not a time in whole seconds since 1970 "
                          "(e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct))") from None


def _hook(stage: str) -> None:
    """Test hook: send this process the signal configured for ``stage`` (see the module docstring)."""
    spec = os.environ.get(_HOOK_ENV)
    if not spec:
        return
    where, _, sig = spec.rpartition(":")
    if where == stage:
        name = sig.upper() if sig.upper().startswith("SIG") else "SIG" + sig.upper()
        os.kill(os.getpid(), getattr(signal, name))


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_quietly(path: Path) -> None:
    for p in (path, *(Path(str(path) + s) for s in _SIDECARS)):
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError, OSError):
            p.unlink()


def export_error(exc: BaseException, target: Path | str) -> ExportError | None:
    """The :class:`ExportError` for a disk-level failure (full, read-only, permission), else ``None``.

    Works on :class:`OSError` (by ``errno``) and on library errors that only carry text
    (GDAL/SQLite through pyogrio: "database or disk is full", "attempt to write a readonly database").
    """
    code = exc.errno if isinstance(exc, OSError) else None
    if code not in _DISK_ERRNOS:
        text = str(exc).lower()
        code = next((c for needle, c in _DISK_TEXT if needle in text), None)
    if code is None or code not in _DISK_ERRNOS:
        return None
    hint = {errno.ENOSPC: "free some space or choose another --out folder",
            errno.EDQUOT: "free some space or choose another --out folder"}.get(code, "choose a writable --out folder")
    return ExportError(f"cannot write {target}: {_DISK_ERRNOS[code]} ({hint}); nothing was replaced")


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back (delivered on exit) so a rename sequence is not split."""
    sigs = {signal.SIGINT, signal.SIGTERM}
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX / not main thread
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextlib.contextmanager
def _folders_locked(folders: Iterable[Path]) -> Iterator[None]:
    """Exclusive ``flock`` on each folder (sorted, so two runs cannot deadlock)."""
    import fcntl

    fds: list[int] = []
    try:
        for folder in sorted({f.resolve() for f in folders}):
            fd = os.open(folder, os.O_RDONLY)
            fds.append(fd)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        for fd in reversed(fds):
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class OutputSet:
    """A set of output files renamed into place together, only when all are complete.

    Parameters
    ----------
    folder
        Folder that relative names given to :meth:`temp_for` are taken against
        (default: as given, i.e. the working directory).
    replaces
        Files that belong to this output set but that this run may not write (e.g. the
        report of an earlier run): removed at commit unless written by this set.

    Notes
    -----
    Use as a context manager; it becomes the active set of the current context, so writers
    that use :func:`output_file` join it. See the module docstring for the commit rules.
    """

    def __init__(self, folder: str | os.PathLike[str] | None = None, *,
                 replaces: Iterable[str | os.PathLike[str]] = ()) -> None:
        self.folder = Path(folder) if folder is not None else None
        self._replaces = [self._final(p) for p in replaces]
        self._temps: dict[Path, Path] = {}  # final -> temporary
        self._current: Path | None = None
        self._token: contextvars.Token | None = None
        self._swept: set[Path] = set()
        self.committed = False

    # ------------------------------------------------------------------ paths
    def _final(self, target: str | os.PathLike[str]) -> Path:
        p = Path(target)
        if self.folder is not None and not p.is_absolute():
            p = self.folder / p
        return p

    def _sweep(self, folder: Path) -> None:
        """Remove temporaries left by killed runs (their pid is gone)."""
        if folder in self._swept:
            return
        self._swept.add(folder)
        with contextlib.suppress(OSError):
            for entry in os.scandir(folder):
                m = _TEMP_RE.match(entry.name)
                if m and not _pid_alive(int(m.group(1))):
                    logger.info("removing the temporary %s of an interrupted run", entry.path)
                    _remove_quietly(Path(entry.path))

    def temp_for(self, target: str | os.PathLike[str]) -> Path:
        """Return the (not yet existing) temporary path to write ``target`` to.

        Raises
        ------
        ExportError
            When the folder does not exist or is not writable, ``target`` is a folder, or
            the same file is asked for twice in one set.
        """
        final = self._final(target)
        folder = final.parent if str(final.parent) else Path(".")
        if not folder.is_dir():
            raise ExportError(f"cannot write {final}: folder {folder} does not exist (create it first)")
        if final.is_dir():
            raise ExportError(f"cannot write {final}: it is a folder")
        if final in self._temps:
            raise ExportError(f"internal error: {final} is written twice in one output set")
        self._sweep(folder)
        tmp = folder / f".{final.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp{''.join(final.suffixes[-1:])}"
        try:  # prove the folder takes a file now (EROFS/EACCES/ENOSPC show here, not in GDAL's words)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.close(fd)
            tmp.unlink()  # writers such as GDAL want to create the file themselves
        except OSError as exc:
            raise export_error(exc, final) or ExportError(f"cannot write {final}: {exc.strerror}") from None
        self._temps[final] = tmp
        self._current = final
        return tmp

    def staged(self, target: str | os.PathLike[str]) -> Path | None:
        """The temporary of ``target`` when it is part of this (uncommitted) set, else ``None``."""
        return None if self.committed else self._temps.get(self._final(target))

    @property
    def paths(self) -> list[Path]:
        """Final paths of the files in the set, in the order they were asked for."""
        return list(self._temps)

    # ------------------------------------------------------------------ commit / abort
    def commit(self) -> list[Path]:
        """Rename every temporary into place (see the module docstring); return the final paths."""
        if self.committed:
            return self.paths
        missing = [f for f, t in self._temps.items() if not t.exists()]
        if missing:
            raise ExportError(f"internal error: nothing was written for {', '.join(map(str, missing))}")
        _hook("commit")
        current = None
        try:
            for final, tmp in self._temps.items():
                current = final
                fd = os.open(tmp, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            folders = [f.parent if str(f.parent) else Path(".") for f in (*self._temps, *self._replaces)]
            with _signals_held(), _folders_locked(folders):
                for final, tmp in self._temps.items():
                    current = final
                    os.replace(tmp, final)
                for old in self._replaces:
                    if old not in self._temps:
                        current = old
                        with contextlib.suppress(FileNotFoundError):
                            old.unlink()
                self.committed = True
        except OSError as exc:
            raise export_error(exc, current) or ExportError(f"cannot write {current}: {exc.strerror}") from None
        _COMMITTED.set(_COMMITTED.get() + tuple(self._temps))
        logger.info("wrote %s", ", ".join(map(str, self._temps)))
        return self.paths

    def abort(self) -> None:
        """Remove every temporary (and SQLite side files); final files stay as they were."""
        with _signals_held():
            for tmp in self._temps.values():
                _remove_quietly(tmp)

    def __enter__(self) -> OutputSet:
        self._token = _ACTIVE.set(self)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._token is not None:
            _ACTIVE.reset(self._token)
            self._token = None
        if exc is None:
            try:
                self.commit()
            except BaseException:
                self.abort()
                raise
            return
        self.abort()
        if isinstance(exc, Exception) and not isinstance(exc, ExportError) and self._current is not None:
            mapped = export_error(exc, self._current)
            if mapped is not None:
                raise mapped from exc


def active() -> OutputSet | None:
    """The output set open in this context, if any."""
    return _ACTIVE.get()


def committed() -> list[Path]:
    """Files committed so far in this context (the CLI names them when a run is interrupted)."""
    return list(_COMMITTED.get())


def forget_committed() -> None:
    """Start a new run's record of committed files (the CLI calls it once per command)."""
    _COMMITTED.set(())


def pending_path(target: str | os.PathLike[str]) -> Path:
    """Where ``target`` can be read now: its temporary while the open set is uncommitted, else itself."""
    s = _ACTIVE.get()
    staged = s.staged(target) if s is not None else None
    return staged if staged is not None else Path(target)


@contextlib.contextmanager
def output_file(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield the temporary path to write ``target`` to.

    Inside an open :class:`OutputSet` the file joins it (renamed when the set commits);
    otherwise it is a set of one, committed when the block ends. Either way a failure
    removes the temporary and leaves ``target`` as it was.
    """
    s = _ACTIVE.get()
    own = s is None
    if own:
        s = OutputSet()
        s.__enter__()
    name = Path(target).name
    try:
        _hook(f"before:{name}")
        tmp = s.temp_for(target)
        try:
            yield tmp
        except BaseException as exc:
            _remove_quietly(tmp)
            if isinstance(exc, ExportError) and str(tmp) in str(exc):  # name the file, not its temporary
                raise ExportError(str(exc).replace(str(tmp), str(target))) from exc
            if isinstance(exc, Exception) and not isinstance(exc, ExportError):
                mapped = export_error(exc, s._final(target))
                if mapped is not None:
                    raise mapped from exc
            raise
        if not tmp.exists():
            raise ExportError(f"internal error: nothing was written for {target}")
        _hook(f"after:{name}")
    except BaseException as exc:
        if own:
            s.__exit__(type(exc), exc, exc.__traceback__)
        raise
    if own:
        s.__exit__(None, None, None)
