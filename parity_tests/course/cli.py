"""The ``check`` subcommand of ``dlparity`` (wired into :mod:`parity_tests.cli`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from parity_tests.course.catalogue import PARTS
from parity_tests.course.loader import SUFFIXES, CourseFileError

EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def add_check_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add ``dlparity check PATH [--part logreg|shallow|deep] [--json FILE] [--timeout SECONDS]``."""
    p = subparsers.add_parser(
        "check", help="check your course code (a .py file or .ipynb notebook) against torch",
        description="Check the course functions a file defines (sigmoid, propagate, "
                    "forward_propagation, L_model_backward, ...) against torch, one line per "
                    "function. Only the file's imports, definitions and literal constants run, "
                    "in a child process with a time limit per function. "
                    "Exit status: 0 all passed, 1 a function failed, 2 bad usage, 130 interrupted.")
    p.add_argument("path", type=Path, help="your .py file or .ipynb notebook")
    p.add_argument("--part", choices=PARTS, default=None,
                   help="which assignment the file follows (detected from the signatures otherwise)")
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="write the records as JSON")
    p.add_argument("--timeout", type=_seconds, default=60.0, metavar="SECONDS",
                   help="the time loading the file, and checking each function, may take (default 60); "
                        "a function over it is a FAIL and the others are still checked")
    p.set_defaults(func=cmd_check)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def cmd_check(args: argparse.Namespace) -> int:
    """Run the check; print the verdicts; 0 all pass, 1 any fails, 2 bad usage, 130 on Ctrl-C."""
    from parity_tests.course.runner import check_course

    path = Path(args.path)
    if path.suffix not in SUFFIXES:
        print(f"dlparity check: expected a .py file or a .ipynb notebook, got {str(path)!r}", file=sys.stderr)
        return EXIT_USAGE
    if not path.is_file():
        print(f"dlparity check: no such file: {str(path)!r}", file=sys.stderr)
        return EXIT_USAGE
    try:
        report = check_course(path, part=args.part, timeout=getattr(args, "timeout", 60.0))
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
