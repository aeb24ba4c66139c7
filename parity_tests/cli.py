"""The dlparity command.

dlparity report   run every registered parity check (quick sizes) on every available device
                  and dtype; print progress and a table; write report.json, report.md and the
                  plots to --out (default dlparity-report/; a folder holding files dlparity
                  did not write is refused without --force). --jobs N runs the checks in N
                  processes, this one and N-1 workers (default: the CPU cores). Exit status: 0 all
                  passed, 1 a check failed, errored or was INCONCLUSIVE (it could not have
                  failed: never a pass), 2 bad options, 130 Ctrl-C, 143 SIGTERM.
dlparity list     the registered checks.
dlparity check    check your own course code (a .py file or a notebook) against torch, one
                  verdict per function it knows (exit status 1 if any fails).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
from collections.abc import Collection, Sequence
from pathlib import Path

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 1, 2, 130, 141


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("dlparity")
    except Exception:  # not installed (run from a checkout)
        return "unknown (not installed)"


def _pin_threads() -> None:
    """One thread each for NumPy's BLAS and torch: parity runs alternate the two libraries, and
    their busy-waiting thread pools slow each other down badly otherwise (PERFORMANCE.md)."""
    import torch

    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass


def _usage_error(message: str) -> int:
    print(f"dlparity: {message}", file=sys.stderr)
    return EXIT_USAGE


def _max_ranks() -> int:
    """``--distributed``'s cap: two ranks per usable CPU core (each rank is a process with one
    thread; the test suite runs 4 on 2 cores), and at most 95 (an example each in a batch)."""
    from parity_tests.workers import default_jobs

    return max(2, min(95, 2 * default_jobs()))


def cmd_report(args: argparse.Namespace) -> int:
    """``dlparity report``. SIGINT and SIGTERM stop it cleanly: one line on stderr, no staging
    folder left, ``--out`` as it was, exit 128 + the signal."""
    from parity_tests.report import Interrupted, interrupt_on_signals

    with interrupt_on_signals() as stop:
        try:
            return _report(args)
        except (Interrupted, KeyboardInterrupt) as exc:
            by = "" if stop.signum in (None, signal.SIGINT) else f" by {signal.Signals(stop.signum).name}"
            done = (
                f" after {exc.done} of {exc.total} checks; nothing was written"
                if isinstance(exc, Interrupted)
                else ""
            )  # else: --out holds either run, whole
            print(f"dlparity report: interrupted{by}{done}", file=sys.stderr)
            return stop.exit_status


def _report_usage(args: argparse.Namespace) -> str | None:
    """What is wrong with ``dlparity report``'s devices, dtypes and ``--distributed``, if anything."""
    from parity_tests.devices import DTYPES, HALF_DTYPES, available_devices

    if not args.devices and args.devices is not None:
        return "--devices: expected one or more of cpu, cuda"
    absent = sorted(set(args.devices or ()) - set(available_devices()))
    if absent:
        return f"--devices {absent} not available here (available: {available_devices()})"
    if not args.dtypes:
        return f"--dtypes: expected one or more of {list(DTYPES + HALF_DTYPES)}"
    bad = sorted(set(args.dtypes) - set(DTYPES) - set(HALF_DTYPES))
    if bad:
        return f"--dtypes {bad} unknown; expected some of {list(DTYPES + HALF_DTYPES)}"
    if args.distributed is not None and not 2 <= args.distributed <= _max_ranks():
        return (
            f"--distributed {args.distributed}: expected 2 to {_max_ranks()} ranks here "
            f"(two per usable CPU core; each rank is a process)"
        )
    return None


def _report(args: argparse.Namespace) -> int:
    from parity_tests.devices import available_devices
    from parity_tests.registry import all_checks
    from parity_tests.report import OutDirError, check_out_dir, plan

    problem = _report_usage(args)
    if problem:
        return _usage_error(problem)
    devices = args.devices if args.devices is not None else available_devices()
    try:
        check_out_dir(args.out, force=args.force)
        checks = all_checks(args.concepts, include_slow=args.include_slow)
        if args.distributed:
            from parity_tests.production import distributed_checks

            checks += distributed_checks(args.distributed)
    except ValueError as exc:
        return _usage_error(str(exc))
    _pin_threads()
    jobs = plan(checks, devices, args.dtypes)
    print(
        f"dlparity report: {len(jobs)} checks ({len(checks)} registered checks x devices "
        f"{devices} x dtypes {args.dtypes})",
        file=sys.stderr,
    )
    try:
        rows, names = _run_and_write(args, checks, devices)
    except OutDirError as exc:  # a file of the report's name appeared in --out during the run
        return _usage_error(str(exc))
    except OSError as exc:  # e.g. a full disk: the swap moved everything back
        print(f"dlparity report: could not write to {args.out}/ ({exc}); it was not changed", file=sys.stderr)
        return EXIT_FAILED
    return _print_outcome(rows, names, args.out)


def _run_and_write(args: argparse.Namespace, checks: list, devices: list[str]) -> tuple[list, list[str]]:
    """Run ``checks`` (plots drawn while they run) and write the report into ``args.out`` through a
    staging folder: an interruption anywhere leaves ``--out`` as it was and no staging folder."""
    from parity_tests.plots import Plotter
    from parity_tests.report import new_stage, run_checks, signals_held, write_outputs

    stage = plotter = None
    try:
        stage = new_stage(args.out)
        plotter = None if args.no_plots else Plotter(stage)
        rows = run_checks(
            checks, devices, args.dtypes, on_row=plotter.add if plotter else None, jobs=args.jobs
        )
        if plotter is not None:
            plotter.finish()
        return rows, write_outputs(rows, args.out, plots=False, stage=stage, force=args.force)
    finally:
        if plotter is not None:
            plotter.close()
        if stage is not None:
            with signals_held():  # a Ctrl-C now would leave half a staging folder
                shutil.rmtree(stage, ignore_errors=True)


def _print_outcome(rows: list, names: list[str], out: str) -> int:
    """The table, the summary and the counts on stdout; the exit status (1 unless all passed)."""
    from parity_tests.report import VERDICTS, format_table, summary_table

    print(format_table(rows))
    print("\n" + summary_table(rows))
    counts = {v: sum(r.verdict == v for r in rows) for v in VERDICTS}
    print("\n" + ", ".join(f"{n} {v.lower()}" for v, n in counts.items() if n or v == "FAIL"))
    pngs = [n for n in names if n.endswith(".png")]
    others = [n for n in names if not n.endswith(".png")]
    print(
        f"wrote to {out}/: {', '.join(others)}"
        + (f" and {len(pngs)} plots (*.png)" if pngs else " (no plots)")
    )
    return 0 if not counts["FAIL"] + counts["ERROR"] + counts["INCONCLUSIVE"] else EXIT_FAILED


def cmd_list(args: argparse.Namespace) -> int:
    from parity_tests.registry import all_checks

    try:
        checks = all_checks(args.concepts)
    except ValueError as exc:
        return _usage_error(str(exc))
    for c in checks:
        only = " cpu-only" if c.cpu_only else " cuda-only" if c.cuda_only else ""
        print(f"{c.id:<55} dtypes={','.join(c.dtypes)}{only}{' slow' if c.slow else ''}")
    return 0


COMMANDS = {
    "report": "run every parity check and write the report",
    "list": "list the registered checks",
    "check": "check your course code (a .py file or .ipynb notebook) against torch",
}
"""The subcommands and their one-line help (``check``'s is :mod:`parity_tests.course`'s own)."""


def _add_report(sub: argparse._SubParsersAction) -> None:
    from parity_tests.devices import DTYPES, HALF_DTYPES
    from parity_tests.workers import default_jobs, jobs_argument

    rep = sub.add_parser("report", help=COMMANDS["report"])
    rep.add_argument("--concepts", type=_csv, default=None, help="comma-separated concept ids")
    rep.add_argument("--devices", type=_csv, default=None, help="e.g. cpu,cuda (default: all present)")
    rep.add_argument(
        "--dtypes",
        type=_csv,
        default=list(DTYPES),
        help=f"comma-separated, from {list(DTYPES + HALF_DTYPES)} (default "
        f"{list(DTYPES)}; half precision runs the checks registered for it)",
    )
    rep.add_argument("--out", type=Path, default=Path("dlparity-report"), help="output folder")
    rep.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    rep.add_argument(
        "--force",
        action="store_true",
        help="write into an --out folder that holds files dlparity did not write (a file "
        "with one of the report's names is replaced; the others are kept)",
    )
    rep.add_argument("--include-slow", action="store_true", help="also run checks marked slow")
    rep.add_argument(
        "--jobs",
        type=jobs_argument,
        default=default_jobs(),
        metavar="N",
        help="processes running the checks, each with one thread: this one and N-1 "
        f"spawned workers (default: the usable CPU cores, {default_jobs()} here). The "
        "report is the same for any N",
    )
    from parity_tests.production import add_distributed_option

    add_distributed_option(rep)
    rep.set_defaults(func=cmd_report)


def _add_list(sub: argparse._SubParsersAction) -> None:
    lst = sub.add_parser("list", help=COMMANDS["list"])
    lst.add_argument("--concepts", type=_csv, default=None, help="comma-separated concept ids")
    lst.set_defaults(func=cmd_list)


def _add_check(sub: argparse._SubParsersAction) -> None:
    from parity_tests.course import add_check_parser

    add_check_parser(sub)


def build_parser(commands: Collection[str] | None = None) -> argparse.ArgumentParser:
    """The ``dlparity`` parser, with the options of ``commands`` (default: every subcommand); the
    others are there by name and help only, which is all ``dlparity --help`` shows. Building a
    subcommand's options imports what it runs on (``report``: torch; ``check``: the course
    checker), so :func:`main` builds only the one on its command line."""
    parser = argparse.ArgumentParser(
        prog="dlparity", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"dlparity {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    adders = {"report": _add_report, "list": _add_list, "check": _add_check}
    for name, add in adders.items():
        if commands is None or name in commands:
            add(sub)
        else:
            sub.add_parser(name, help=COMMANDS[name])
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand on the command line (the first word that is not an option), if any."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    """``dlparity``. Ctrl-C and SIGTERM stop it with one line on stderr and exit 130 or 143,
    from its first line on: this module imports nothing heavy, and the parser's imports (torch,
    the course checker) run under :func:`~parity_tests.outdir.interrupt_on_signals`."""
    from parity_tests.outdir import interrupt_on_signals

    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        with interrupt_on_signals() as stop:
            try:
                args = build_parser({_command(argv) or ""}).parse_args(argv)
            except KeyboardInterrupt:
                by = "" if stop.signum in (None, signal.SIGINT) else f" by {signal.Signals(stop.signum).name}"
                print(f"dlparity: interrupted{by}", file=sys.stderr)
                return stop.exit_status
        status = args.func(args)
        sys.stdout.flush()
        return status
    except KeyboardInterrupt:
        print("dlparity: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # the reader went away (dlparity list | head): stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    raise SystemExit(main())
