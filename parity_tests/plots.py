"""The report's PNGs: one per trajectory case and device (both sides' loss per step and their
difference), one overview per group of trajectories (``extra["plot_group"]``: a hyperparameter
grid), and one per check that carries a figure of its own (``extra["figure"]``).

Drawing a PNG costs about half a second, and a report draws over a hundred, while its checks
run on one thread (parity runs pin NumPy and torch to one). :class:`Plotter` therefore draws in
a second process while the checks run, so on a 2-core machine the plots come almost for free.
A figure is described as plain data (:func:`trajectory_spec`, :func:`figure_spec`) and drawn
by :func:`render`, which is all the drawing process needs.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def trajectory_spec(rows: Sequence[Any]) -> dict[str, Any] | None:
    """The loss curves of one trajectory case on one device (a row per dtype), as plain data."""
    curves = [
        (
            r.dtype,
            r.verdict,
            list(map(float, r.result.extra.get("scratch_loss", []))),
            list(map(float, r.result.extra.get("torch_loss", []))),
        )
        for r in rows
        if r.result is not None
    ]
    curves = [c for c in curves if c[2]]
    if not curves:
        return None
    first = rows[0]
    return {
        "kind": "trajectory",
        "concept": first.concept,
        "case": first.case,
        "device": first.device,
        "curves": curves,
        "name": f"{first.concept}-{first.case}-{first.device}.png".replace("/", "_"),
    }


def group_spec(rows: Sequence[Any]) -> dict[str, Any] | None:
    """Many trajectory cases of one group (``extra["plot_group"]``, e.g. a hyperparameter grid)
    on one device, as plain data: each case's loss curves per dtype."""
    cases: dict[str, list[Any]] = {}
    for r in rows:
        if r.result is not None and r.result.extra.get("scratch_loss"):
            cases.setdefault(r.case, []).append(
                (
                    r.dtype,
                    r.verdict,
                    list(map(float, r.result.extra["scratch_loss"])),
                    list(map(float, r.result.extra["torch_loss"])),
                )
            )
    if not cases:
        return None
    first = rows[0]
    group = first.result.extra["plot_group"]
    return {
        "kind": "group",
        "concept": first.concept,
        "group": group,
        "device": first.device,
        "cases": cases,
        "name": f"{first.concept}-{group}-{first.device}.png".replace("/", "_"),
    }


def figure_spec(row: Any) -> dict[str, Any] | None:
    """A check's own figure (``extra["figure"]``: title, axes labels, line and scatter series)."""
    spec = row.result.extra.get("figure") if row.result is not None else None
    if not spec:
        return None
    name = f"{row.concept}-{row.case}-{row.level}-{row.device}-{row.dtype}.png".replace("/", "_")
    return {
        "kind": "figure",
        "figure": spec,
        "name": name,
        "title": f"{row.concept}/{row.case} ({row.device}, {row.dtype}): {spec.get('title', '')} "
        f"— {row.verdict}",
    }


def render(spec: dict[str, Any], out_dir: str) -> str | None:
    """Draw ``spec`` into ``out_dir``; the file's name, or ``None`` without matplotlib."""
    plt = _pyplot()
    if plt is None:
        return None
    draw = {"trajectory": _draw_trajectory, "group": _draw_group, "figure": _draw_figure}[spec["kind"]]
    fig = draw(plt, spec)
    fig.savefig(Path(out_dir) / spec["name"], dpi=80)
    plt.close(fig)
    return spec["name"]


def _draw_trajectory(plt: Any, spec: dict[str, Any]) -> Any:
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    verdicts = []
    for i, (dtype, verdict, s, t) in enumerate(spec["curves"]):
        s, t = np.asarray(s), np.asarray(t)
        color = f"C{i}"
        steps = np.arange(s.size)
        ax1.plot(steps, s, color=color, lw=3, alpha=0.45, label=f"scratch (NumPy) {dtype}")
        ax1.plot(steps, t, "--", color=color, lw=1.2, label=f"torch ({spec['device']}) {dtype}")
        diff = np.abs(s - t)
        ax2.semilogy(steps, np.where(diff > 0, diff, np.nan), ".", ms=3, color=color, label=dtype)
        verdicts.append(f"{dtype} {verdict}")
    ax1.set_ylabel("loss J")
    ax1.legend(fontsize=8)
    ax1.set_title(f"{spec['concept']}/{spec['case']} on {spec['device']}: {', '.join(verdicts)}", fontsize=10)
    ax2.set_ylabel("|J_scratch − J_torch|")
    ax2.set_xlabel("step")
    ax2.legend(fontsize=8, title="(no dot: identical)", title_fontsize=7)
    fig.subplots_adjust(left=0.12, right=0.97, top=0.94, bottom=0.08, hspace=0.08)
    return fig


def _draw_group(plt: Any, spec: dict[str, Any]) -> Any:
    """Top: every case's scratch loss (thin) with torch's dashed over it; bottom: each case's
    largest |J_scratch − J_torch| per dtype, so one figure shows the whole grid's parity."""
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 6.5))
    names = list(spec["cases"])
    worst: dict[str, list[float]] = {}
    verdicts = []
    for curves in spec["cases"].values():
        for dtype, verdict, s, t in curves:
            s, t = np.asarray(s), np.asarray(t)
            if dtype == curves[-1][0]:
                ax1.plot(s, color="C0", lw=0.8, alpha=0.5)
                ax1.plot(t, "--", color="C1", lw=0.6, alpha=0.5)
            worst.setdefault(dtype, []).append(float(np.max(np.abs(s - t))) if s.size else np.nan)
            verdicts.append(verdict)
    ax1.plot([], color="C0", label="scratch (NumPy)")
    ax1.plot([], "--", color="C1", label=f"torch ({spec['device']})")
    ax1.set_ylabel("loss J")
    ax1.legend(fontsize=8)
    passed = sum(v == "PASS" for v in verdicts)
    ax1.set_title(
        f"{spec['concept']}/{spec['group']} on {spec['device']}: {len(names)} cases, "
        f"{passed} of {len(verdicts)} runs pass",
        fontsize=10,
    )
    for i, (dtype, values) in enumerate(worst.items()):
        v = np.asarray(values)
        ax2.semilogy(np.arange(v.size), np.where(v > 0, v, np.nan), "o", ms=3, color=f"C{i + 2}", label=dtype)
    ax2.set_xlabel("case (in registration order)")
    ax2.set_ylabel("max |J_scratch − J_torch|")
    ax2.legend(fontsize=8, title="(no dot: identical)", title_fontsize=7)
    fig.tight_layout()
    return fig


def _draw_figure(plt: Any, spec: dict[str, Any]) -> Any:
    fig_spec = spec["figure"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, series in enumerate(fig_spec.get("series", [])):
        x, y = np.asarray(series.get("x", []), dtype=float), np.asarray(series.get("y", []), dtype=float)
        if series.get("kind") == "scatter":
            ax.scatter(
                x,
                y,
                s=series.get("size", 12),
                alpha=0.7,
                color=f"C{i % 10}",
                label=series.get("label"),
                marker=series.get("marker", "o"),
            )
        else:
            ax.plot(x, y, color=f"C{i % 10}", label=series.get("label"), lw=1.5)
    ax.set_title(spec["title"], fontsize=9)
    ax.set_xlabel(fig_spec.get("xlabel", ""))
    ax.set_ylabel(fig_spec.get("ylabel", ""))
    if any(sr.get("label") for sr in fig_spec.get("series", [])):
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


@contextlib.contextmanager
def _interrupts_ignored() -> Iterator[None]:
    """Ignore SIGINT while the drawing process starts: an ignored signal stays ignored across
    ``exec`` and Python leaves it so, so a terminal's Ctrl-C — which reaches the whole process
    group — cannot give that process a KeyboardInterrupt traceback, even while it is still
    importing. The parent answers Ctrl-C and stops it (:meth:`Plotter.close`)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)


def _ignore_interrupts() -> None:
    """The drawing process's initializer: ignore SIGINT (as :func:`_interrupts_ignored` began)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Plotter:
    """Collects a run's rows as they finish and draws their PNGs into ``out_dir``.

    Rows arrive in the run's order (check, then device, then dtype), so a trajectory case's rows
    on one device are consecutive: the group is drawn once the next row belongs to another.
    ``background=True`` draws in one separate process (spawned: no forked torch state; it ignores
    SIGINT and the parent stops it), else in this one. Leaving the ``with`` block waits for every
    drawing and sets each row's ``plot``.
    """

    def __init__(self, out_dir: Path, background: bool = True) -> None:
        self.out_dir = str(out_dir)
        self._pending: list[Any] = []
        self._groups: dict[tuple[str, str, str], list[Any]] = {}
        self._jobs: list[tuple[list[Any], Future[str | None] | str | None]] = []
        self._pool = None
        if background and _pyplot() is not None:
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_ignore_interrupts
            )

    def _submit(self, rows: list[Any], spec: dict[str, Any] | None) -> None:
        if spec is None:
            return
        if self._pool is not None:
            starts = not self._jobs  # the first submit starts the drawing process
            with _interrupts_ignored() if starts else contextlib.nullcontext():
                job: Future[str | None] | str | None = self._pool.submit(render, spec, self.out_dir)
        else:
            job = render(spec, self.out_dir)
        self._jobs.append((rows, job))

    def _flush(self) -> None:
        if self._pending:
            self._submit(self._pending, trajectory_spec(self._pending))
            self._pending = []

    def add(self, row: Any) -> None:
        """A finished row: queue its trajectory group, or draw its own figure."""
        key = (row.concept, row.case, row.device)
        if (
            self._pending
            and (self._pending[0].concept, self._pending[0].case, self._pending[0].device) != key
        ):
            self._flush()
        extra = row.result.extra if row.result is not None else {}
        if row.level == "trajectory" and extra.get("plot_group") and extra.get("scratch_loss"):
            self._groups.setdefault((row.concept, extra["plot_group"], row.device), []).append(row)
        elif row.level == "trajectory" and extra.get("scratch_loss"):
            self._pending.append(row)
        elif row.result is not None and row.result.extra.get("figure"):
            self._submit([row], figure_spec(row))

    def finish(self) -> None:
        """Draw what is pending, wait for every drawing, and name each row's PNG."""
        self._flush()
        for rows in self._groups.values():
            self._submit(rows, group_spec(rows))
        self._groups = {}
        for rows, job in self._jobs:
            name = job.result() if isinstance(job, Future) else job
            for row in rows:
                row.plot = name
        self._jobs = []
        self.close()

    def close(self) -> None:
        """Stop the drawing process (without waiting for drawings not yet started)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Plotter:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is None:
            self.finish()
        else:
            self.close()
