"""``dlparity report``: run every registered check on every available device and dtype.

Prints progress and a table; writes ``report.json``, ``report.md`` and (with matplotlib) the
PNGs of :mod:`parity_tests.plots`: one per trajectory overlaying the scratch and torch loss
curves and their difference, one per check with a figure of its own (clusters, an F1-vs-ε curve).

Writing goes through :mod:`parity_tests.outdir`: the folder's own files are never lost, and
the outputs change together (both or neither, even on Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import json
import platform
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from parity_tests.devices import available_devices
from parity_tests.html_report import write_report_html
from parity_tests.outdir import (  # noqa: F401  (MANIFEST, check_out_dir, ...: the report's API)
    MANIFEST,
    OutDirError,
    check_out_dir,
    fingerprint,
    interrupt_on_signals,
    is_output_name,
    new_stage,
    signals_held,
    swap_in,
)
from parity_tests.plots import Plotter
from parity_tests.registry import ParityCheck
from parity_tests.rows import Row, _plain, run_one  # noqa: F401  (Row, run_one: the report API)


class Interrupted(Exception):
    """Ctrl-C during a run: ``done`` of ``total`` checks had finished."""

    def __init__(self, done: int, total: int) -> None:
        super().__init__(f"interrupted after {done} of {total} checks")
        self.done, self.total = done, total


def plan(
    checks: Sequence[ParityCheck], devices: Sequence[str], dtypes: Sequence[str]
) -> list[tuple[ParityCheck, str, str]]:
    """Every (check, device, dtype) a run executes: cpu-only checks on the CPU alone, cuda-only
    ones on CUDA alone, each check in the dtypes it is registered for and that were asked for."""
    return [
        (c, dev, dt) for c in checks for dev in devices if c.runs_on(dev) for dt in c.dtypes if dt in dtypes
    ]


def run_checks(
    checks: Sequence[ParityCheck],
    devices: Sequence[str],
    dtypes: Sequence[str],
    progress: bool = True,
    on_row: Callable[[Row], None] | None = None,
    jobs: int = 1,
) -> list[Row]:
    """Run each check at each applicable device and dtype (:func:`plan`); never raises for a
    failing check (Ctrl-C raises :class:`Interrupted`, which says how far it got).

    ``jobs > 1`` runs the registered checks in this process and ``jobs − 1`` workers
    (:mod:`parity_tests.workers`); checks not in the registry (a test's, ``--distributed``'s)
    run here afterwards. The rows, and the order ``on_row`` sees them in (the report's
    :class:`~parity_tests.plots.Plotter`), are the plan's whatever ``jobs``; the progress lines
    come as rows finish."""
    planned = plan(checks, devices, dtypes)
    rows: list[Row | None] = [None] * len(planned)
    done = released = 0

    def finished(index: int, row: Row) -> None:
        nonlocal done, released
        rows[index] = row
        done += 1
        while released < len(rows) and rows[released] is not None:
            if on_row is not None:
                on_row(rows[released])
            released += 1
        if progress:  # after on_row: the line tells a watcher that the row's work is done
            label = f"{row.concept}/{row.case} {row.level} {row.device} {row.dtype}"
            print(
                f"[{done:>3}/{len(planned)}] {row.verdict:<11} {label} ({row.seconds:.2f}s)",
                file=sys.stderr,
                flush=True,
            )

    try:  # a Ctrl-C anywhere in the loop, not only inside a check
        pooled = [(i, *job) for i, job in enumerate(planned) if jobs > 1 and _registered(job[0])]
        if len(pooled) > 1:
            from parity_tests.workers import run_in_workers

            run_in_workers(pooled, jobs, finished)
        for i, (check, dev, dt) in enumerate(planned):
            if rows[i] is None:
                finished(i, run_one(check, dev, dt))
    except KeyboardInterrupt:
        raise Interrupted(done, len(planned)) from None
    return rows  # type: ignore[return-value]  # every one is filled


def _registered(check: ParityCheck) -> bool:
    """Whether a worker can find ``check`` by its id: it is the registry's own."""
    from parity_tests.registry import _REGISTRY

    return _REGISTRY.get(check.id) is check


VERDICTS = ("PASS", "FAIL", "INCONCLUSIVE", "ERROR", "UNAVAILABLE")
"""Every row's verdict. INCONCLUSIVE (the check could not have failed: an update below its
tolerance, an input nobody reads) is never a pass: ``dlparity report`` exits 1 on it, as on a
FAIL or an ERROR, and ``assert_parity`` raises on it."""

COLUMNS = ("concept", "case", "level", "device", "dtype", "worst_error", "tolerance", "verdict", "diagnosis")


def format_table(rows: Sequence[Row], markdown: bool = False) -> str:
    """The report table (plain text, or GitHub markdown)."""
    cells = [[str(getattr(r, c)).replace("|", "/") for c in COLUMNS] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        lines += ["| " + " | ".join(row) + " |" for row in cells]
        return "\n".join(lines)
    widths = [
        max(len(c), *(len(row[i]) for row in cells)) if cells else len(c) for i, c in enumerate(COLUMNS)
    ]
    widths[-1] = len(COLUMNS[-1])  # the diagnosis runs on freely
    fmt = lambda row: "  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(list(COLUMNS)), fmt(["-" * w for w in widths])] + [fmt(r) for r in cells])


def summary_table(rows: Sequence[Row], markdown: bool = False) -> str:
    """One line per concept: how many checks, how many passed, failed (or errored) and were
    INCONCLUSIVE (could not have failed: not a pass), which levels, devices and dtypes, and how
    close the closest call came to its tolerance (worst error / tolerance, 1 = at it)."""
    cols = (
        "concept",
        "checks",
        "passed",
        "failed",
        "inconclusive",
        "levels",
        "devices",
        "dtypes",
        "closest call",
    )
    lines = []
    for concept in dict.fromkeys(r.concept for r in rows):
        mine = [r for r in rows if r.concept == concept]
        ratios = [
            r.result.worst.tol_ratio
            for r in mine
            if r.result is not None and r.result.worst is not None and r.verdict == "PASS"
        ]
        lines.append(
            [
                concept,
                str(len(mine)),
                str(sum(r.verdict == "PASS" for r in mine)),
                str(sum(r.verdict in ("FAIL", "ERROR") for r in mine)),
                str(sum(r.verdict == "INCONCLUSIVE" for r in mine)),
                ",".join(dict.fromkeys(r.level for r in mine)),
                ",".join(dict.fromkeys(r.device for r in mine)),
                ",".join(dict.fromkeys(r.dtype for r in mine)),
                f"{max(ratios):.2g} of tol" if ratios else "-",
            ]
        )
    if markdown:
        return "\n".join(
            ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
            + ["| " + " | ".join(line) + " |" for line in lines]
        )
    widths = [max(len(c), *(len(line[i]) for line in lines)) if lines else len(c) for i, c in enumerate(cols)]
    fmt = lambda line: "  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(list(cols)), fmt(["-" * w for w in widths])] + [fmt(line) for line in lines])


def write_outputs(
    rows: Sequence[Row], out_dir: Path, plots: bool = True, stage: Path | None = None, force: bool = False
) -> list[str]:
    """``report.json``, ``report.md``, ``report.html`` and the PNGs, swapped into ``out_dir`` together (see
    :func:`~parity_tests.outdir.swap_in`); returns the names written. ``stage`` is a folder from
    :func:`new_stage` that already holds the run's plots (drawn while the checks ran, see
    :class:`~parity_tests.plots.Plotter`); without one, the plots are drawn here. Raises
    :class:`OutDirError`, changing nothing, if a file dlparity did not write has one of the
    report's names (unless ``force``). The staging folder is removed in any case. Call
    :func:`check_out_dir` first: it refuses a folder of someone else's files before the run."""
    stage = stage or new_stage(out_dir)
    try:
        if plots:
            with Plotter(stage, background=False) as plotter:
                for row in rows:
                    plotter.add(row)
        _render(rows, stage)
        write_report_html(stage)  # report.html, from report.json and the PNGs beside it
        files = {p.name: fingerprint(p) for p in sorted(stage.iterdir()) if is_output_name(p.name)}
        swap_in(out_dir, stage, files, force)
    finally:
        with signals_held():  # a Ctrl-C now would leave half a staging folder
            shutil.rmtree(stage, ignore_errors=True)
    return list(files)


def _render(rows: Sequence[Row], out_dir: Path) -> None:
    counts = {v: sum(r.verdict == v for r in rows) for v in VERDICTS}
    env = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "devices": available_devices(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    (out_dir / "report.json").write_text(
        json.dumps(
            {"environment": env, "counts": counts, "rows": [r.to_dict() for r in rows]},
            indent=1,
            default=_plain,
        )
    )
    md = [
        "# dlparity report",
        "",
        f"torch {env['torch']}, numpy {env['numpy']}, devices: {', '.join(env['devices'])}",
        "",
        ", ".join(f"{v}: {n}" for v, n in counts.items()),
        "",
        "## Summary",
        "",
        summary_table(rows, markdown=True),
        "",
        "## Every check",
        "",
        format_table(rows, markdown=True),
    ]
    metrics = [
        (r, r.result.extra["metrics"]) for r in rows if r.result is not None and "metrics" in r.result.extra
    ]
    if metrics:
        md += ["", "## Metrics", ""]
        md += [
            f"- {r.concept}/{r.case} ({r.device}, {r.dtype}): "
            + ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}" for k, v in m.items())
            for r, m in metrics
        ]
    pngs = list(dict.fromkeys(r.plot for r in rows if r.plot))
    if pngs:
        md += ["", "## Plots", ""] + [f"![{p}]({p})" for p in pngs]
    failing = [r for r in rows if r.verdict in ("FAIL", "ERROR", "INCONCLUSIVE")]
    if failing:
        md += ["", "## Failures and inconclusive checks", ""]
        md += [
            "```\n"
            + (
                str(r.result)
                if r.result
                else f"{r.verdict} {r.concept}/{r.case} [{r.level}, {r.device}, {r.dtype}]: {r.diagnosis}"
            )
            + "\n```"
            for r in failing
        ]
    (out_dir / "report.md").write_text("\n".join(md) + "\n")
