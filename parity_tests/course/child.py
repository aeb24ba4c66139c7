"""The child side of :mod:`~parity_tests.course.contain`: the process that loads a learner's file
and runs the checks, started by the parent as
``python -c "from parity_tests.course.child import child_main; child_main(FD)"``. It reads its
:class:`~parity_tests.course.contain.Job` on stdin and sends each step over the pipe ``FD``
(the protocol is in :mod:`~parity_tests.course.contain`'s docstring). Kept apart from the parent
side so that the parent never imports the checks (and torch) and the two modules import one way:
this one imports :mod:`~parity_tests.course.runner`, which imports the parent side.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import time
import traceback
from typing import Any

from parity_tests.course.common import FunctionResult, LearnerError
from parity_tests.course.contain import OUTPUT_FILE_LIMIT, Job, _tail
from parity_tests.course.loader import CourseFileError


class NotCalledAgain(Exception):
    """Raised in place of a learner function that hung or ended an earlier child."""


def _refuse(name: str, why: str) -> Any:
    def refused(*args: Any, **kwargs: Any) -> Any:
        raise NotCalledAgain(f"{name} {why} earlier in this check, so it is not called again")

    refused.__name__ = name
    return refused


class _Capture:
    """The learner code's stdout and stderr, at the file-descriptor level (fds 1 and 2 are the
    parent's output file): emptied when a phase starts, read when it ends."""

    def __init__(self, path: str) -> None:
        self.path = path

    def start(self) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os.ftruncate(1, 0)
        os.lseek(1, 0, os.SEEK_SET)  # fds 1 and 2 share this offset (stderr=STDOUT)

    def read(self) -> str:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except OSError:  # the file limit was hit: what is there still tells
            pass
        return _tail(self.path)


def _limit_resources() -> None:
    """Half the machine's memory beyond what the child uses now; 64 MiB of output file."""
    try:
        import resource
    except ImportError:  # not POSIX
        return
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        budget = os.sysconf("SC_PHYS_PAGES") * page // 2
        with open("/proc/self/statm") as f:
            used = int(f.read().split()[0]) * page
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        soft = used + budget if hard == resource.RLIM_INFINITY else min(used + budget, hard)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    except (OSError, ValueError, AttributeError):  # no /proc (macOS): no address-space limit
        pass
    try:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit a write fails, not the process
        _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        if hard == resource.RLIM_INFINITY or hard > OUTPUT_FILE_LIMIT:
            resource.setrlimit(resource.RLIMIT_FSIZE, (OUTPUT_FILE_LIMIT, hard))
    except (OSError, ValueError, AttributeError):
        pass


def _exit_when_orphaned(parent: int) -> None:
    """A parent killed outright (SIGKILL, SIGTERM) cannot kill the child: it ends itself."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def child_main(fd: int) -> None:
    """The child: read the :class:`Job` from stdin, then load, tell the part and check, sending
    each step over the pipe ``fd``."""
    from multiprocessing.connection import Connection

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the user's Ctrl-C is the parent's to handle
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    conn = Connection(fd, readable=False)
    try:
        job: Job = pickle.load(sys.stdin.buffer)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)  # input() in their code reads end-of-file, never waits
        sys.stdout.reconfigure(line_buffering=True)  # their prints land in order with stderr
        _check(job, conn)
    except BaseException as exc:  # noqa: BLE001 — every failure of the checker itself goes to the parent
        conn.send(
            (
                "error",
                type(exc).__name__,
                str(exc) if isinstance(exc, (CourseFileError, ValueError)) else traceback.format_exc(),
            )
        )
    conn.close()
    sys.stdout.flush()
    os._exit(0)  # no atexit handlers of their modules


def _check(job: Job, conn: Any) -> None:
    import torch

    from parity_tests.course import runner
    from parity_tests.course.catalogue import signature_of
    from parity_tests.course.common import Learner
    from parity_tests.course.loader import load_course_file
    from parity_tests.devices import parity_mode

    class ContainedLearner(Learner):
        """Says which learner function is in flight; refuses those that hung or died before."""

        def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
            if name in job.broken:
                raise LearnerError(f"{name} {job.broken[name]} (not called again)")
            conn.send(("call", name))
            try:
                return super().call(name, *args, **kwargs)
            finally:
                conn.send(("return", name))

    torch.set_num_threads(1)  # tiny tensors: one thread (PERFORMANCE.md)
    with parity_mode():  # its first use imports torch._dynamo (seconds): not on a function's clock
        torch.sigmoid(torch.zeros(2, dtype=torch.float64, requires_grad=True)).sum().backward()
    _limit_resources()
    capture = _Capture(job.capture)
    conn.send(("start", "load"))
    capture.start()
    loaded = load_course_file(job.path, on_statement=lambda key: conn.send(("statement", key)), stop=job.stop)
    loaded.output = capture.read()
    conn.send(("loaded", loaded))
    found, wanted = runner.defined_functions(loaded.module.__dict__, str(job.path), job.functions)
    for name, why in job.broken.items():  # their other functions call it directly: refuse there too
        if name in found:
            loaded.module.__dict__[name] = _refuse(name, why)
    learner = runner.learner_for(found, loaded, ContainedLearner)
    learner.stdout = sys.stdout  # their prints reach fd 1, the output file
    conn.send(("start", "detect"))
    capture.start()
    det, order, not_checked = runner.plan(found, wanted, learner, job.part, job.detection)
    if job.detection is None:
        conn.send(
            (
                "plan",
                det,
                [(e.name, e.part, signature_of(e)) for e in order],
                not_checked,
                {e.name: runner.uses_of(e, found[e.name]) for e in order},
            )
        )
    for e in order:
        if e.name in job.done:
            continue
        conn.send(("start", e.name))
        capture.start()
        try:
            result = runner._run_one(e, learner)
        except BaseException as exc:  # noqa: BLE001 — SystemExit from their object's __array__, say
            result = FunctionResult(
                e.name, e.part, signature_of(e), error=f"could not be checked: {type(exc).__name__}: {exc}"
            )
        result.output = capture.read()
        conn.send(("result", result))
    conn.send(("done",))
