"""Check a learner's file in a child process, one function at a time, with a time limit each.

The learner's code (the file's imports, which can run local modules; its decorators, default
values and class bodies; every function the checks call) runs in a child Python process, never
in ``dlparity check``'s own. The parent (:func:`check_file`) starts the child, hands it a
:class:`Job` on its stdin, and reads what it sends back over a private pipe (never its stdout):

- ``("start", phase)``: ``"load"``, ``"detect"`` or a function's name — the time limit runs from here;
- ``("statement", "line 3")`` while loading, ``("call", name)`` / ``("return", name)`` around each
  call of a learner function: what is in flight if the child hangs or dies;
- ``("loaded", LoadedFile)``, ``("plan", …)``, ``("result", FunctionResult)``, ``("done",)``,
  or ``("error", kind, message)``.

A phase that does not end in time, or a child that dies (``os._exit``, a crash, a signal), is
recorded against what was in flight: a FAIL for the function being checked, the learner function
in flight marked broken (later checks that call it get a :class:`~parity_tests.course.common.LearnerError`
instead of calling it again), or the statement being loaded marked stopped. A fresh child then
goes on with the functions not yet checked. Normally one child does everything.

In the child: Ctrl-C is ignored (and it runs in its own session, so only the parent sees the
terminal's); its address space is limited to what it uses after importing torch plus half the
machine's memory, so a huge allocation is a ``MemoryError`` (a FAIL), not swapping; the file
it writes its output to is limited to 64 MiB; the learner code's stdout and stderr go, at the
file-descriptor level, to a file the parent reads: the last lines of what each function
printed travel in :attr:`FunctionResult.output` and what loading printed in
:attr:`LoadedFile.output`.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parity_tests.course.common import FunctionResult
from parity_tests.course.loader import CourseFileError, LoadedFile, check_readable

AVAILABLE = os.name == "posix"  # elsewhere check_course(path) runs in-process
STARTUP_S = 120.0  # the child's own start (importing torch) is not the learner's time
OUTPUT_LINES = 20  # lines of a function's output kept
OUTPUT_FILE_LIMIT = 64 << 20  # bytes the child may write to its output file (an endless print loop)


@dataclass
class Job:
    """What a child is asked to do; a fresh child after a hang or death gets what is known."""

    path: Path
    part: str | None
    functions: list[str] | None
    capture: str  # the file its stdout and stderr go to
    stop: dict[str, str] = field(default_factory=dict)  # statements not to run again: why
    broken: dict[str, str] = field(default_factory=dict)  # learner functions not to call again: why
    detection: Any = None  # the first child's Detection, so every child checks the same way
    done: set[str] = field(default_factory=set)  # functions already checked


def trim(text: str, lines: int = OUTPUT_LINES) -> str:
    """The last ``lines`` lines of ``text`` (each at most 200 characters), saying how many were left out."""
    rows = text.rstrip("\n").splitlines()
    kept = [r if len(r) <= 200 else r[:199] + "…" for r in rows[-lines:]]
    if len(rows) > lines:
        kept.insert(0, f"… ({len(rows) - lines} earlier lines)")
    return "\n".join(kept)


def _tail(path: str, limit: int = 64 << 10) -> str:
    """The end of the output file (a runaway print loop may have filled it)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            data = f.read()
    except OSError:
        return ""
    return trim(data.decode("utf-8", errors="replace"))


def _death(returncode: int | None) -> str:
    """How the child ended, e.g. ``ended the checker's process with os._exit(0)``."""
    if returncode is None:
        return "ended the checker's process"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        what = " (out of memory?)" if name == "SIGKILL" else ""
        return f"ended the checker's process with signal {name}{what}"
    return f"ended the checker's process with exit status {returncode} (as os._exit({returncode}) does)"


# --- the parent ---------------------------------------------------------------------------------
_LIVE: set[_Child] = set()  # children running now (several when files are checked in parallel)
_LIVE_LOCK = threading.Lock()
_CANCELLED = threading.Event()
_PARSE_LOCK = threading.Lock()


def cancel_all() -> None:
    """Kill every running child (the user's Ctrl-C while several files are checked in threads):
    each :func:`check_file` in flight then raises ``KeyboardInterrupt`` in its own thread."""
    _CANCELLED.set()
    with _LIVE_LOCK:
        children = list(_LIVE)
    for child in children:
        child.kill()


def reset_cancel() -> None:
    """Clear :func:`cancel_all`'s flag before a new run."""
    _CANCELLED.clear()


class _Child:
    """One child process and the read end of its pipe."""

    def __init__(self, job: Job) -> None:
        from multiprocessing.connection import Connection

        read, write = os.pipe()
        code = (
            "import sys; sys.path[:] = sys.argv[2:]; "
            "from parity_tests.course.child import child_main; child_main(int(sys.argv[1]))"
        )
        with open(job.capture, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", code, str(write), *sys.path],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
                pass_fds=(write,),
                start_new_session=True,
            )
        os.close(write)
        self.conn = Connection(read, writable=False)
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(pickle.dumps(job))
            self.proc.stdin.close()
        except BrokenPipeError:  # it died at once: reading the pipe says so
            pass
        with _LIVE_LOCK:
            _LIVE.add(self)

    def kill(self) -> None:
        """SIGKILL it and anything it started (its session)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def receive(self, deadline: float) -> tuple | None:
        """The next message; ``None`` past ``deadline``; ``("died", how)`` when the child ended."""
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not self.conn.poll(remaining):
            return None
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            try:
                rc = self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                rc = None
            return ("died", _death(rc))

    def close(self) -> None:
        """Kill it and anything it started (its session), and close the pipe."""
        self.kill()
        self.proc.wait()
        self.conn.close()
        with _LIVE_LOCK:
            _LIVE.discard(self)


@dataclass
class _Run:
    """What the children found so far."""

    loaded: LoadedFile | None = None
    load_output: list[str] = field(default_factory=list)  # printed by loads that hung or died
    not_checked: list[tuple[str, str]] = field(default_factory=list)
    order: list[tuple[str, str, str]] = field(default_factory=list)  # (name, part, signature)
    uses: dict[str, set[str]] = field(default_factory=dict)
    results: dict[str, FunctionResult] = field(default_factory=dict)
    finished: bool = False


def _one_child(job: Job, run: _Run, timeout: float) -> None:
    """Run one child until it finishes, or a phase hangs or it dies: then record that in ``job``
    and ``run`` so the next child goes on past it."""
    child = _Child(job)
    try:
        phase, deadline = None, time.monotonic() + max(STARTUP_S, timeout)
        statement, calls = None, []
        while True:
            msg = child.receive(deadline)
            if _CANCELLED.is_set():
                raise KeyboardInterrupt
            if msg is None or msg[0] == "died":
                if msg is None and phase is None:
                    raise RuntimeError(
                        f"dlparity check: the checker's process did not start in "
                        f"{max(STARTUP_S, timeout):g} s"
                    )
                why = f"did not finish in {timeout:g} s" if msg is None else msg[1]
                _record(job, run, phase, statement, calls, why, _tail(job.capture))
                return
            kind = msg[0]
            if kind == "start":
                phase, deadline, calls = msg[1], time.monotonic() + timeout, []
            elif kind == "statement":
                statement = msg[1]
            elif kind == "call":
                calls.append(msg[1])
            elif kind == "return":
                if calls:
                    calls.pop()
            elif kind == "loaded":
                run.loaded = msg[1]
            elif kind == "plan":
                job.detection, run.order, run.not_checked, run.uses = msg[1:]
            elif kind == "result":
                run.results[msg[1].name] = msg[1]
                job.done.add(msg[1].name)
            elif kind == "done":
                run.finished = True
                return
            elif kind == "error":
                _, name, text = msg
                if phase is None:
                    raise RuntimeError(f"dlparity check: the checker's process failed to start:\n{text}")
                known = {"CourseFileError": CourseFileError, "ValueError": ValueError}
                raise known.get(name, RuntimeError)(text)
    finally:
        child.close()


def _record(
    job: Job, run: _Run, phase: str | None, statement: str | None, calls: list[str], why: str, output: str
) -> None:
    """Put a hang or death in ``phase`` against what was in flight."""
    if phase is None:
        raise RuntimeError(f"dlparity check: the checker's process could not start ({why}):\n{output}")
    if phase == "load":
        if statement is None:
            raise CourseFileError(f"{job.path}: loading {why}")
        job.stop[statement] = why
        if output:
            run.load_output.append(output)
        return
    culprit = calls[-1] if calls else phase
    if phase == "detect":
        if not calls:
            raise RuntimeError(f"dlparity check: telling the part {why}")
        job.broken[culprit] = f"{why} while dlparity told the part"
        return
    job.broken[culprit] = why
    part, signature = next(((p, s) for n, p, s in run.order if n == phase), ("", phase))
    error = f"{phase} {why}" if culprit == phase else f"{phase}'s check: {culprit}, which it calls, {why}"
    run.results[phase] = FunctionResult(phase, part, signature, error=error, output=output)
    job.done.add(phase)


def check_file(
    path: Path, part: str | None = None, functions: Iterable[str] | None = None, timeout: float = 60.0
) -> Any:
    """Check ``path`` contained in child processes; a
    :class:`~parity_tests.course.report.CourseReport` like
    :func:`~parity_tests.course.runner.check_course`'s.

    Raises :class:`CourseFileError` when the file cannot be read, ``ValueError`` for a name in
    ``functions`` it does not define, and lets ``KeyboardInterrupt`` through (after killing the child).
    """
    from parity_tests.course.report import CourseReport, link_dependencies

    if not timeout > 0:
        raise ValueError(f"timeout: expected a positive number of seconds, got {timeout!r}")
    with _PARSE_LOCK:  # CPython 3.11's ast.parse is not thread-safe ("AST constructor recursion
        # depth mismatch" with files checked in parallel threads)
        check_readable(path)  # a file that cannot be read is refused here, before any child starts
    fd, capture = tempfile.mkstemp(prefix="dlparity-check-", suffix=".out")
    os.close(fd)
    job = Job(Path(path), part, None if functions is None else list(functions), capture)
    run = _Run()
    try:
        for _ in range(10_000):  # each round ends one hang or death, or finishes
            _one_child(job, run, timeout)
            if run.finished:
                break
    finally:
        os.unlink(capture)
    loaded = run.loaded
    assert loaded is not None and job.detection is not None
    if run.load_output:
        loaded.output = "\n".join([*run.load_output, loaded.output]).strip("\n")
    results = [run.results[name] for name, _, _ in run.order]
    link_dependencies(results, run.uses)
    return CourseReport(str(path), part, job.detection, results, run.not_checked, loaded)
