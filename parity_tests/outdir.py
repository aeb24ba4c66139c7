"""``--out``: dlparity never loses what it did not write, and a report's files change together.

What "dlparity wrote" means: the folder's entries ``.dlparity-manifest.json`` and
``.dlparity.lock`` (plain files), ``.dlparity-staging-*`` folders, and the files a valid manifest
lists that are still as written (a plain file of the recorded size and SHA-256).
A folder holding anything else is refused (:func:`check_out_dir`) unless ``force``, and even then
only the report's own names are replaced. A manifest names only plain files directly inside the
folder with the report's names (``report.md``, ``report.json``, ``report.html``, ``*.png``); a
forged, copied or older one is ignored with a warning and deletes nothing.

The outputs change together: every file is staged in a folder inside ``--out``; then, under a
lock and with SIGINT and SIGTERM held back, the previous run's files are moved into the staging
folder, the new ones renamed into place and the manifest last; a failure part-way moves
everything back. The staging folder (with the previous files) is removed in a ``finally``.
Only SIGKILL or a power loss during those few renames can leave a mix; the previous files are
then in ``.dlparity-staging-*/.previous``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

MANIFEST = ".dlparity-manifest.json"
"""What the last run wrote into ``--out``: ``{"tool": "dlparity", "version": 2, "files": {name:
{"size": bytes, "sha256": hex}}}``. The next run replaces or removes those files, and only while
they are still as recorded."""
MANIFEST_VERSION = 2
LOCK = ".dlparity.lock"
STAGING = ".dlparity-staging-"
_OWN_PREFIXES = (STAGING, ".dlparity-probe-")  # a run's staging folder, check_out_dir's probe


OUTPUT_NAMES = ("report.md", "report.json", "report.html")
"""The report's fixed file names in ``--out`` (besides its ``*.png`` plots)."""


class OutDirError(ValueError):
    """``--out`` cannot be written without losing something: a file, or a folder we cannot write,
    or a folder holding files dlparity did not write (without ``force``)."""


def is_output_name(name: object) -> bool:
    """Whether ``name`` is one dlparity writes into ``--out`` — ``report.md``, ``report.json``,
    ``report.html`` or a ``*.png`` — as one plain name: no folder, no ``..``, not absolute, not hidden."""
    return (
        isinstance(name, str)
        and name == os.path.basename(name)
        and "\\" not in name
        and "\0" not in name
        and not name.startswith(".")
        and (name in OUTPUT_NAMES or name.endswith(".png"))
    )


def fingerprint(path: Path) -> dict[str, Any]:
    """``{"size", "sha256"}`` of the plain file ``path`` (a symbolic link is not followed)."""
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with open(fd, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
        return {"size": os.fstat(f.fileno()).st_size, "sha256": digest.hexdigest()}


def _is_plain_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def read_manifest(out_dir: Path) -> tuple[set[str], str | None]:
    """The files in ``out_dir`` that dlparity wrote and that are still as it wrote them (plain
    files of the recorded size and SHA-256), and why the manifest was ignored — ``None`` when it
    was not, or when there is none. An ignored manifest owns nothing."""
    path = out_dir / MANIFEST
    if not os.path.lexists(path):
        return set(), None
    if not _is_plain_file(path):
        return set(), "it is not a plain file"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return set(), f"it is not readable JSON ({exc})"
    files = data.get("files") if isinstance(data, dict) else None
    if (
        not isinstance(files, dict)
        or data.get("tool") != "dlparity"
        or data.get("version") != MANIFEST_VERSION
    ):
        return set(), f"it is not a version-{MANIFEST_VERSION} dlparity manifest (with checksums)"
    bad = [name for name in files if not is_output_name(name)]
    if bad:
        return set(), f"it names files dlparity does not write ({', '.join(map(repr, bad[:3]))})"
    if not all(
        isinstance(r, dict) and type(r.get("size")) is int and isinstance(r.get("sha256"), str)
        for r in files.values()
    ):
        return set(), "an entry lacks its size or sha256"
    owned = set()
    for name, recorded in files.items():
        try:
            if _is_plain_file(out_dir / name) and fingerprint(out_dir / name) == recorded:
                owned.add(name)
        except OSError:  # gone or unreadable: not ours to replace
            pass
    return owned, None


def foreign_entries(out_dir: Path) -> tuple[list[str], str | None]:
    """The entries of ``out_dir`` that dlparity did not write — all but the files its manifest
    owns (:func:`read_manifest`), the manifest and the lock (as plain files), and staging folders
    — and why the manifest was ignored, if it was."""
    owned, problem = read_manifest(out_dir)
    own = owned | {n for n in (MANIFEST, LOCK) if _is_plain_file(out_dir / n)}
    names = sorted(entry.name for entry in os.scandir(out_dir))
    return [n for n in names if n not in own and not n.startswith(_OWN_PREFIXES)], problem


def _some(names: Sequence[str], shown: int = 5) -> str:
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _warn_manifest(out_dir: Path, problem: str | None) -> None:
    if problem:
        print(
            f"dlparity report: warning: ignoring {out_dir / MANIFEST}: {problem}; it deletes nothing",
            file=sys.stderr,
            flush=True,
        )


@contextlib.contextmanager
def _locked(out_dir: Path) -> Iterator[None]:
    """An exclusive lock on ``out_dir`` while a run swaps its files in (POSIX; elsewhere none)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    try:  # neither truncate nor follow a link: the lock file holds nothing
        fd = os.open(out_dir / LOCK, os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as exc:
        raise OutDirError(f"--out: cannot lock {out_dir / LOCK} ({exc.strerror or exc})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block is done, then take effect as they would have.
    Python runs signal handlers in the main thread, whichever thread the OS gave the signal to,
    so holding them there holds them for the process (elsewhere this does nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = {
        s: signal.signal(s, lambda signum, frame: held.append(signum))
        for s in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)
        for s in dict.fromkeys(held):
            signal.raise_signal(s)


class Stop:
    """Which signal stopped the run (:func:`interrupt_on_signals`); ``None`` while none has."""

    signum: int | None = None

    @property
    def exit_status(self) -> int:
        """The shell's convention: 128 + the signal (130 for Ctrl-C, 143 for SIGTERM)."""
        return 128 + (self.signum or signal.SIGINT)


@contextlib.contextmanager
def interrupt_on_signals() -> Iterator[Stop]:
    """SIGINT and SIGTERM raise ``KeyboardInterrupt`` in the main thread, the first one only: a
    later one is ignored, so the cleanup in ``finally`` blocks runs whole (one already ignored,
    as in a background job, stays ignored). Yields the :class:`Stop` that records which signal
    came; restores the previous handlers on exit."""
    stop = Stop()

    def interrupt(signum: int, frame: Any) -> None:
        if stop.signum is None:
            stop.signum = signum
            raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {
        s: signal.signal(s, interrupt)
        for s in (signal.SIGINT, signal.SIGTERM)
        if signal.getsignal(s) is not signal.SIG_IGN
    }  # e.g. `cmd &` in a script: stays so
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)


def check_out_dir(out_dir: Path, force: bool = False) -> None:
    """Refuse an unusable ``--out`` before any check runs (:class:`OutDirError`): a file, a folder
    we cannot write, or — unless ``force`` — a folder holding files dlparity did not write
    (:func:`foreign_entries`). An absent or empty folder is fine. Warns of an ignored manifest."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutDirError(f"--out: {out_dir} exists and is not a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".dlparity-probe-"):
            pass
    except OSError as exc:
        raise OutDirError(f"--out: cannot write to {out_dir} ({exc.strerror or exc})") from None
    foreign, problem = foreign_entries(out_dir)
    _warn_manifest(out_dir, problem)
    if foreign and not force:
        raise OutDirError(
            f"--out: {out_dir} holds files dlparity did not write ({_some(foreign)}); choose an "
            f"empty or new folder, or pass --force to write beside them (a file with one of the "
            f"report's names is then replaced)"
        )


def new_stage(out_dir: Path) -> Path:
    """A fresh staging folder inside ``out_dir`` for one run's files (see :func:`write_outputs`)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=STAGING, dir=out_dir))


def swap_in(out_dir: Path, stage: Path, files: dict[str, dict[str, Any]], force: bool = False) -> None:
    """Put the staged ``files`` (name: :func:`fingerprint`) of ``stage`` into ``out_dir`` together,
    under the folder's lock and with SIGINT and SIGTERM held back until done; the previous run's
    files end up in ``stage/.previous`` (the caller removes ``stage``). Raises
    :class:`OutDirError`, changing nothing, when a file dlparity did not write has one of the
    new names (unless ``force``)."""
    with _locked(out_dir), signals_held():
        _swap(out_dir, stage, files, force)


_move = os.replace
"""The renames of :func:`_swap` (a test fails one part-way)."""


def _swap(out_dir: Path, stage: Path, files: dict[str, dict[str, Any]], force: bool) -> None:
    """Move the previous run's files (and, with ``force``, others with the new names) into
    ``stage/.previous``, the new files and then the manifest from ``stage`` into ``out_dir``;
    on any failure move everything back and re-raise."""
    owned, _ = read_manifest(out_dir)  # check_out_dir warned of an ignored one
    if _is_plain_file(out_dir / MANIFEST):
        owned.add(MANIFEST)
    clash = sorted(n for n in [*files, MANIFEST] if n not in owned and os.path.lexists(out_dir / n))
    folders = [n for n in clash if os.path.isdir(out_dir / n) and not os.path.islink(out_dir / n)]
    if folders or (clash and not force):
        raise OutDirError(
            f"--out: {out_dir} now holds {'folders' if folders else 'files'} dlparity "
            f"did not write with the report's names ({_some(folders or clash)}); "
            f"nothing was replaced" + ("" if folders else " (--force replaces them)")
        )
    (stage / MANIFEST).write_text(
        json.dumps({"tool": "dlparity", "version": MANIFEST_VERSION, "files": files}, indent=1)
    )
    previous = stage / ".previous"
    previous.mkdir()
    moved: list[str] = []
    placed: list[str] = []
    try:
        for name in sorted(owned | set(clash)):
            _move(out_dir / name, previous / name)
            moved.append(name)
        for name in [*files, MANIFEST]:  # the manifest last: it vouches for the rest
            _move(stage / name, out_dir / name)
            placed.append(name)
    except BaseException:
        for name in reversed(placed):
            with contextlib.suppress(OSError):
                os.replace(out_dir / name, stage / name)
        for name in reversed(moved):
            with contextlib.suppress(OSError):
                os.replace(previous / name, out_dir / name)
        raise
