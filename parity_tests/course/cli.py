"""The ``check`` subcommand of ``dlparity`` (wired into :mod:`parity_tests.cli`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from parity_tests.course.detection import PARTS
from parity_tests.course.loader import SUFFIXES, CourseFileError
from parity_tests.workers import jobs_argument

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def add_check_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``dlparity check PATH [PATH ...] [--part P] [--json FILE] [--csv FILE] [--timeout SECONDS]
    [--jobs N]`` (several files, or a folder: :mod:`parity_tests.course.classroom`)."""
    p = subparsers.add_parser(
        "check",
        help="check your course code (a .py file or .ipynb notebook) against torch",
        description="Check the course functions a file defines (sigmoid, propagate, "
        "forward_propagation, L_model_backward, ...) against torch, one line per "
        "function. Only the file's imports, definitions and literal constants run, "
        "in a child process with a time limit per function. "
        "Exit status: 0 all passed, 1 a function failed, 2 bad usage, 130 interrupted.",
    )
    p.add_argument(
        "path",
        type=Path,
        nargs="+",
        help="your .py file or .ipynb notebook; or several, or a folder of them (a class)",
    )
    p.add_argument(
        "--part",
        choices=PARTS,
        default=None,
        help="which assignment the file follows (detected from the signatures otherwise)",
    )
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="write the records as JSON")
    p.add_argument(
        "--csv",
        type=Path,
        default=None,
        metavar="FILE",
        help="several files: write one row per file (a gradebook: verdict per function)",
    )
    p.add_argument(
        "--html",
        type=Path,
        default=None,
        metavar="FILE",
        help="several files: write one self-contained page of files × functions",
    )
    p.add_argument(
        "--jobs",
        type=jobs_argument,
        default=None,
        metavar="N",
        help="several files: how many to check at once (default: the core count)",
    )
    p.add_argument(
        "--timeout",
        type=_seconds,
        default=60.0,
        metavar="SECONDS",
        help="the time loading the file, and checking each function, may take (default 60); "
        "a function over it is a FAIL and the others are still checked",
    )
    p.set_defaults(func=cmd_check)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _write(option: str, path: Path, text: str) -> bool:
    try:
        path.write_text(text)
    except OSError as exc:
        print(f"dlparity check: {option} {str(path)!r}: {exc.strerror}", file=sys.stderr)
        return False
    return True


def cmd_class(args: argparse.Namespace, paths: list[Path]) -> int:
    """Several files or a folder: one table of files × functions; 0 when every file passes."""
    from parity_tests.course.classroom import check_files, expand

    try:
        files = expand(paths)
    except CourseFileError as exc:
        print(f"dlparity check: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not files:
        print(f"dlparity check: no .py or .ipynb files in {', '.join(map(str, paths))}", file=sys.stderr)
        return EXIT_USAGE
    done = [0]

    def progress(row: object) -> None:
        done[0] += 1
        if sys.stderr.isatty():
            print(f"\r{done[0]}/{len(files)} files checked", end="", file=sys.stderr, flush=True)

    try:
        report = check_files(
            files,
            part=args.part,
            timeout=getattr(args, "timeout", 60.0),
            jobs=getattr(args, "jobs", None),
            progress=progress,
        )
    except KeyboardInterrupt:
        print(
            "\ndlparity check: interrupted" if sys.stderr.isatty() else "dlparity check: interrupted",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(report)
    text = json.dumps(report.to_dict(), indent=2) + "\n"
    if args.json is not None and not _write("--json", args.json, text):
        return EXIT_USAGE
    if getattr(args, "csv", None) is not None and not _write("--csv", args.csv, report.to_csv()):
        return EXIT_USAGE
    if getattr(args, "html", None) is not None:
        from parity_tests.html_report import render_class_html

        if not _write("--html", args.html, render_class_html(report)):
            return EXIT_USAGE
    return report.exit_status


def cmd_check(args: argparse.Namespace) -> int:
    """Run the check; print the verdicts; 0 all pass, 1 any fails, 2 bad usage, 130 on Ctrl-C."""
    paths = args.path if isinstance(args.path, list) else [args.path]
    if len(paths) > 1 or Path(paths[0]).is_dir():
        return cmd_class(args, [Path(p) for p in paths])
    if getattr(args, "csv", None) is not None:
        print("dlparity check: --csv is for several files or a folder (one row per file)", file=sys.stderr)
        return EXIT_USAGE
    if getattr(args, "html", None) is not None:
        print("dlparity check: --html is for several files or a folder (files × functions)", file=sys.stderr)
        return EXIT_USAGE
    path = Path(paths[0])
    if path.suffix not in SUFFIXES:
        print(f"dlparity check: expected a .py file or a .ipynb notebook, got {str(path)!r}", file=sys.stderr)
        return EXIT_USAGE
    if not path.is_file():
        print(f"dlparity check: no such file: {str(path)!r}", file=sys.stderr)
        return EXIT_USAGE
    try:
        from parity_tests.course.classroom import check_path

        report = check_path(path, part=args.part, timeout=getattr(args, "timeout", 60.0))
    except CourseFileError as exc:
        print(f"dlparity check: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # the child is killed on the way out
        print("dlparity check: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(report)
    if args.json is not None:
        try:
            args.json.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
        except OSError as exc:
            print(f"dlparity check: --json {str(args.json)!r}: {exc.strerror}", file=sys.stderr)
            return EXIT_USAGE
    if not report.results:
        return EXIT_FAILED
    return report.exit_status
