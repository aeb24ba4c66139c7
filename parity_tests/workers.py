"""``dlparity report --jobs N``: the report's checks in N processes — this one and N − 1 workers.

This process takes part: it has already imported torch and the concepts (the plan needs them),
so on 2 cores a second process is the only start-up paid again. Each worker is *spawned* (a
fresh interpreter: no forked torch state, no half-initialised thread pool) with one BLAS thread
and one torch thread — ``OMP_NUM_THREADS``/``MKL_NUM_THREADS``/``OPENBLAS_NUM_THREADS`` are 1 in
its environment before it imports NumPy or torch, and threadpoolctl and ``torch.set_num_threads``
pin them again — since parity checks alternate the two libraries, whose busy-waiting pools slow
each other down (PERFORMANCE.md); :mod:`parity_tests.cli` pins this process the same way. A check
travels by its id; a worker imports a check's concept module the first time it needs it.

What a run prints and writes does not depend on N: each check seeds itself (and
:func:`parity_tests.rows.run_one` seeds the global generators from the check's id, device and
dtype), so a row is the same whichever process runs it and whatever ran there before; the caller
puts the rows back in plan order. Only timings differ.

Scheduling: the work is cut into *units* — one check at one device and dtype, or every check
that shares an expensive setup (the ONNX exporter's imports, :data:`SETUPS`), which one worker
then pays once — handed out costliest first (:func:`cost_hint`), then in plan order, so rows come
back roughly in order (the report draws its plots while the run goes on) and the cheap units at
the end let the processes finish together. A worker asks for work once it has started; until
then this process works through the queue alone, so a small run does not wait for a worker.

Signals: workers start with SIGINT ignored (a terminal's Ctrl-C reaches the whole process group;
they must not print a ``KeyboardInterrupt`` traceback); this process answers Ctrl-C and SIGTERM
and terminates them. A worker that dies (a crash in native code) costs the check it was running
— an ERROR row — and is replaced.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import queue
import re
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from parity_tests.registry import ParityCheck
    from parity_tests.rows import Row

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
"""Set to 1 in a worker's environment, before it imports NumPy or torch."""

SETUPS: tuple[tuple[str, str, float], ...] = (("onnx", r"-onnx-", 4.5),)
"""(key, regex on the check id, seconds): checks whose first run in a process pays an expensive
setup — the ONNX exporter imports ``torch.onnx``, onnxscript and onnxruntime, ≈ 4.5 s here —
form one unit, so one worker pays it once (this process takes none of them)."""

COST_HINTS: tuple[tuple[str, float], ...] = (
    (r"^logreg-onnx-proba-forward$", 1.0),
    (r"^deep-onnx-.*-forward$", 0.9),
    (r"^logreg-breast-cancer-optimum$", 1.6),
    (r"^logreg-breast-cancer-vectorized-trajectory$", 1.1),
    (r"^logreg-breast-cancer-loop-trajectory$", 0.7),
    (r"^shallow-planar-flower-tanh-trajectory$", 0.5),
)
"""(regex on the check id, seconds per run), measured on this 2-core machine with one thread:
the checks worth starting first. The others cost 0.3 s or less; their order is the plan's."""

DEFAULT_COST = 0.05
"""The hint of a check :data:`COST_HINTS` does not list (the report's mean is ≈ 0.03 s)."""

HOIST = 0.45
"""Units whose hint reaches this many seconds are handed out first, the longest first."""

AHEAD = 0.2
"""Seconds of work (by the hints) a worker holds beyond the unit it runs — at least one unit, and
at least the unit this process is about to run — so it never waits while this process runs one
of its own, and at the end of the run holds little that this process could have done."""

Task = tuple[int, "ParityCheck", str, str]
"""(index in the plan, check, device, dtype)."""


def default_jobs() -> int:
    """The CPU cores this process may use (``os.sched_getaffinity``; ``os.cpu_count`` where that
    does not exist)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def jobs_argument(value: str) -> int:
    """``--jobs``: a whole number of processes, at least 1."""
    try:
        jobs = int(value)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"expected a number of processes >= 1, got {value!r}")
    return jobs


def setup_key(check: ParityCheck) -> str | None:
    """The expensive shared setup ``check`` needs (a key of :data:`SETUPS`), or ``None``."""
    return next((key for key, pattern, _ in SETUPS if re.search(pattern, check.id)), None)


def cost_hint(check: ParityCheck) -> float:
    """A run's expected seconds here (:data:`COST_HINTS`, else :data:`DEFAULT_COST`)."""
    return next((s for pattern, s in COST_HINTS if re.search(pattern, check.id)), DEFAULT_COST)


@dataclass
class Unit:
    """Plan indices one process runs in turn, their estimated seconds, and whether they share an
    expensive setup (then a worker runs them, never this process)."""

    indices: list[int]
    seconds: float
    setup: str | None = None


def schedule(tasks: Sequence[Task]) -> list[Unit]:
    """The units, in the order they are handed out: checks of one expensive setup
    (:data:`SETUPS`) together, every other run alone; units whose hint reaches :data:`HOIST`
    first, longest first (ties in plan order), then the rest in plan order."""
    units: list[Unit] = []
    shared: dict[str, Unit] = {}
    for index, check, _, _ in tasks:
        key = setup_key(check)
        if key is None:
            units.append(Unit([index], cost_hint(check)))
        elif key in shared:
            shared[key].indices.append(index)
            shared[key].seconds += cost_hint(check)
        else:
            setup = next(seconds for k, _, seconds in SETUPS if k == key)
            shared[key] = Unit([index], setup + cost_hint(check), key)
            units.append(shared[key])
    first = sorted((u for u in units if u.seconds >= HOIST), key=lambda u: (-u.seconds, u.indices[0]))
    return first + [u for u in units if u.seconds < HOIST]


@dataclass
class _Worker:
    process: Any  # a multiprocessing.Process of the spawn context
    conn: Connection
    running: Any  # shared memory: the plan index it runs now, -1 between checks
    ready: bool = False  # it has started and asks for work
    units: list[Unit] = field(default_factory=list)  # handed to it, not finished

    def ahead(self) -> float:
        return sum(u.seconds for u in self.units[1:])


@contextlib.contextmanager
def _child_environment() -> Iterator[None]:
    """While workers start: one thread per pool in their environment, and SIGINT ignored — an
    ignored signal stays ignored across ``exec``, so a Ctrl-C during a worker's imports prints no
    traceback. SIGINT is blocked here meanwhile (where the OS allows), so this process's own
    Ctrl-C waits instead of being lost, and then reaches its handler."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update({name: "1" for name in THREAD_VARIABLES})
    main = threading.current_thread() is threading.main_thread()
    mask = main and hasattr(signal, "pthread_sigmask")
    if mask:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        yield
    finally:
        if main:
            signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
        if mask:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _start(count: int) -> list[_Worker]:
    ctx = multiprocessing.get_context("spawn")
    blocked = sorted(name for name, module in sys.modules.items() if module is None)
    workers = []
    with _child_environment():
        for _ in range(count):
            parent_end, child_end = ctx.Pipe()
            running = ctx.RawValue("q", -1)
            process = ctx.Process(
                target=_worker_main, args=(child_end, running, blocked), name="dlparity-worker"
            )
            process.start()
            child_end.close()
            workers.append(_Worker(process, parent_end, running))
    return workers


def _stop(workers: Sequence[_Worker]) -> None:
    """Terminate the workers (idle ones at the end of a run, or all on Ctrl-C) and reap them."""
    for w in workers:
        if w.process.is_alive():
            w.process.terminate()
    for w in workers:
        w.process.join(timeout=2)
        if w.process.is_alive():
            w.process.kill()
            w.process.join()
        w.conn.close()


def run_in_workers(
    tasks: Sequence[Task], jobs: int, done: Callable[[int, Row], None], take_part: bool = True
) -> None:
    """Run ``tasks`` — ``(plan index, check, device, dtype)``, each check either the registry's
    own or picklable — in ``jobs`` processes: this one and ``jobs − 1`` spawned workers, or
    (``take_part=False``) ``jobs`` workers while this one only hands out work; call
    ``done(index, row)`` here as each row arrives (in no particular order). Should every worker
    die before it starts, this process runs what is left. A ``KeyboardInterrupt`` (Ctrl-C, or
    SIGTERM under :func:`~parity_tests.outdir.interrupt_on_signals`) terminates the workers and
    propagates."""
    from parity_tests.rows import run_one

    by_index = {t[0]: t for t in tasks}
    pending = schedule(tasks)
    workers: list[_Worker] = []
    count = min(jobs - 1, len(pending) - 1) if take_part else min(jobs, len(pending))
    replacements = max(1, count)  # a worker that dies on a check is replaced, up to this many times

    def poll(timeout: float | None) -> None:
        nonlocal replacements
        for w in _poll(workers, pending, by_index, done, timeout):
            workers.remove(w)
            if pending and w.ready and replacements > 0:  # it died on a check: replace it
                replacements -= 1
                workers.extend(_start(1))

    try:
        workers.extend(_start(count) if count > 0 else [])
        while True:
            poll(timeout=0)
            if not pending and not any(w.units for w in workers):
                break
            mine = next((u for u in pending if (take_part and u.setup is None) or not workers), None)
            if mine is not None:
                pending.remove(mine)
            for w in workers:
                if w.ready:
                    _feed(w, pending, by_index, max(AHEAD, mine.seconds if mine else 0.0))
            if mine is not None:
                for i in mine.indices:
                    _, check, device, dtype = by_index[i]
                    done(i, run_one(check, device, dtype))
            elif workers:  # what is left is the workers': wait for one to report
                poll(timeout=None)
    finally:
        _stop(workers)


def _poll(
    workers: list[_Worker],
    pending: list[Unit],
    by_index: dict[int, Task],
    done: Callable[[int, Row], None],
    timeout: float | None,
) -> list[_Worker]:
    """Take what the workers have sent (waiting up to ``timeout`` for something) and return the
    ones that have died, their unfinished work settled (:func:`_bury`)."""
    if not workers:
        return []
    ready = wait([w.conn for w in workers] + [w.process.sentinel for w in workers], timeout)
    dead = []
    for w in workers:
        if w.conn in ready or w.process.sentinel in ready:
            _collect(w, by_index, done)
        if not w.process.is_alive():
            _collect(w, by_index, done)  # what it sent before it died
            _bury(w, pending, by_index, done)
            dead.append(w)
    return dead


def _feed(w: _Worker, pending: list[Unit], by_index: dict[int, Task], ahead: float) -> None:
    """Hand ``w`` units until it holds ``ahead`` seconds of work beyond the one it runs."""
    while pending and (len(w.units) < 2 or w.ahead() < ahead):
        unit = pending.pop(0)
        try:
            w.conn.send([_message(by_index[i]) for i in unit.indices])
        except OSError:  # it has just died: the next poll buries it
            pending.insert(0, unit)
            return
        w.units.append(unit)


def _message(task: Task) -> tuple[int, Any, str, str, str, str, str]:
    """What a worker receives for a task: the check's id when it is the registry's (the worker
    imports its concept), else the check itself (pickled); then its concept, case, level,
    device and dtype."""
    from parity_tests.registry import _REGISTRY

    index, check, device, dtype = task
    ref = check.id if _REGISTRY.get(check.id) is check else check
    return (index, ref, check.concept, check.case, check.level, device, dtype)


def _collect(w: _Worker, by_index: dict[int, Task], done: Callable[[int, Row], None]) -> None:
    """Take every message ``w`` has sent: that it is ready, or a finished row."""
    try:
        while w.conn.poll():
            message = w.conn.recv()
            if message == "ready":
                w.ready = True
                continue
            index, row = message
            w.units[0].indices.remove(index)
            if not w.units[0].indices:
                w.units.pop(0)
            done(index, row)
    except (EOFError, OSError):
        pass  # it died; its end of the pipe is closed


def _bury(
    w: _Worker, pending: list[Unit], by_index: dict[int, Task], done: Callable[[int, Row], None]
) -> None:
    """A worker died: the check it was running is an ERROR row; the rest of its work — those it
    had not started, and those whose rows it had not sent yet — goes back to the front of the
    queue."""
    w.process.join()
    w.conn.close()
    left = [i for unit in w.units for i in unit.indices]
    w.units.clear()
    crashed = w.running.value if w.running.value in left else None
    rest = [i for i in left if i != crashed]
    if rest:
        pending[:0] = [Unit(rest, 0.0, "retry")]  # a worker's: it may need the same setup
    if crashed is None:  # it died between checks
        return
    from parity_tests.rows import Row

    _, check, device, dtype = by_index[crashed]
    done(
        crashed,
        Row(
            check.concept,
            check.case,
            check.level,
            device,
            dtype,
            "ERROR",
            diagnosis=f"the worker process running it died ({_exit_reason(w.process.exitcode)})",
        ),
    )


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit status {code}"


# --- a worker ------------------------------------------------------------------------------------
def _worker_main(conn: Connection, running: Any, blocked: Sequence[str]) -> None:
    """A worker: say it is ready, then run the units it is sent until the pipe closes. Modules
    the parent has blocked (``sys.modules[name] = None``, how a test hides an optional
    dependency) are blocked here too. Rows go back through a sending thread, so a worker never
    waits for the parent to read; ``running`` (shared memory) says which check it is running,
    should it die."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    for name in blocked:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    _pin_threads()
    from parity_tests.rows import Row, run_one

    outbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
    sender = threading.Thread(target=_send_all, args=(conn, outbox), daemon=True)
    sender.start()
    outbox.put("ready")
    while True:
        try:
            unit = conn.recv()
        except (EOFError, OSError):  # the parent is gone, or done with this worker
            break
        for index, ref, concept, case, level, device, dtype in unit:
            running.value = index
            try:
                check = ref if not isinstance(ref, str) else _registered(ref, concept)
                row = run_one(check, device, dtype)
            except BaseException as exc:  # noqa: BLE001 - a worker reports; it does not die
                tb = traceback.extract_tb(exc.__traceback__)
                where = f" ({os.path.basename(tb[-1].filename)}:{tb[-1].lineno})" if tb else ""
                row = Row(
                    concept,
                    case,
                    level,
                    device,
                    dtype,
                    "ERROR",
                    diagnosis=f"{type(exc).__name__} in the worker: {exc}{where}",
                )
            outbox.put((index, row))
            running.value = -1
            sys.stdout.flush()
            sys.stderr.flush()
    outbox.put(None)
    sender.join()


def _send_all(conn: Connection, outbox: queue.SimpleQueue[Any]) -> None:
    """Send what the worker puts in ``outbox`` until ``None``; a row that does not pickle is
    sent as an ERROR row saying so."""
    from parity_tests.rows import Row

    while (message := outbox.get()) is not None:
        try:
            conn.send(message)
        except (EOFError, OSError):  # the parent is gone
            return
        except Exception as exc:  # the row's result does not pickle
            index, row = message
            conn.send(
                (
                    index,
                    Row(
                        row.concept,
                        row.case,
                        row.level,
                        row.device,
                        row.dtype,
                        "ERROR",
                        seconds=row.seconds,
                        diagnosis=f"its result could not be sent from the worker ({exc})",
                    ),
                )
            )


def _pin_threads() -> None:
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # the environment variables have pinned NumPy's BLAS already
        pass
    import torch

    torch.set_num_threads(1)
    with contextlib.suppress(RuntimeError):  # possible only before any inter-op work
        torch.set_num_interop_threads(1)


def _registered(check_id: str, concept: str) -> ParityCheck:
    """The registered check ``check_id``: its concept's module is imported the first time (then
    every concept's, should another module register it)."""
    from parity_tests import registry

    for concepts in ([concept], None):
        check = registry._REGISTRY.get(check_id)
        if check is not None:
            return check
        registry.load_concepts(concepts)
    check = registry._REGISTRY.get(check_id)
    if check is None:
        raise LookupError(f"no check {check_id!r} is registered")
    return check
