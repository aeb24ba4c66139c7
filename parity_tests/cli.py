"""The ``dlparity`` command.

``dlparity report`` — run every registered parity check (quick sizes) on every available
device and dtype; print progress and a table; write ``report.json``, ``report.md`` and loss-curve
PNGs to ``--out`` (default ``dlparity-report/``). Exit status 1 if any check fails.
``dlparity list`` — the registered checks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from parity_tests.devices import DTYPES, HALF_DTYPES, available_devices


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


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


def cmd_report(args: argparse.Namespace) -> int:
    from parity_tests.registry import all_checks
    from parity_tests.report import format_table, run_checks, summary_table, write_outputs

    devices = args.devices or available_devices()
    absent = sorted(set(devices) - set(available_devices()))
    if absent:
        print(f"dlparity report: --devices {absent} not available here (available: "
              f"{available_devices()})", file=sys.stderr)
        return 2
    bad = sorted(set(args.dtypes) - set(DTYPES) - set(HALF_DTYPES))
    if bad:
        print(f"dlparity report: --dtypes {bad} unknown; expected some of "
              f"{list(DTYPES + HALF_DTYPES)}",
              file=sys.stderr)
        return 2
    try:
        checks = all_checks(args.concepts or None, include_slow=args.include_slow)
    except ValueError as exc:
        print(f"dlparity report: {exc}", file=sys.stderr)
        return 2
    _pin_threads()
    print(f"dlparity report: {len(checks)} checks x devices {devices} x dtypes {args.dtypes}",
          file=sys.stderr)
    rows = run_checks(checks, devices, args.dtypes)
    write_outputs(rows, args.out, plots=not args.no_plots)
    print(format_table(rows))
    print("\n" + summary_table(rows))
    counts = {v: sum(r.verdict == v for r in rows) for v in ("PASS", "FAIL", "ERROR", "UNAVAILABLE")}
    print("\n" + ", ".join(f"{n} {v.lower()}" for v, n in counts.items() if n or v == "FAIL"))
    print(f"wrote {args.out / 'report.md'} and {args.out / 'report.json'}")
    return 0 if counts["FAIL"] == 0 and counts["ERROR"] == 0 else 1


def cmd_list(args: argparse.Namespace) -> int:
    from parity_tests.registry import all_checks

    for c in all_checks(args.concepts or None):
        print(f"{c.id:<55} dtypes={','.join(c.dtypes)}{' cpu-only' if c.cpu_only else ''}"
              f"{' slow' if c.slow else ''}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dlparity", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="run every parity check and write the report")
    rep.add_argument("--concepts", type=_csv, default=[], help="comma-separated concept ids")
    rep.add_argument("--devices", type=_csv, default=[], help="e.g. cpu,cuda (default: all present)")
    rep.add_argument("--dtypes", type=_csv, default=list(DTYPES),
                     help=f"comma-separated, from {list(DTYPES + HALF_DTYPES)} (default "
                          f"{list(DTYPES)}; half precision runs the checks registered for it)")
    rep.add_argument("--out", type=Path, default=Path("dlparity-report"), help="output folder")
    rep.add_argument("--no-plots", action="store_true", help="skip the loss-curve PNGs")
    rep.add_argument("--include-slow", action="store_true", help="also run checks marked slow")
    rep.set_defaults(func=cmd_report)
    lst = sub.add_parser("list", help="list the registered checks")
    lst.add_argument("--concepts", type=_csv, default=[])
    lst.set_defaults(func=cmd_list)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
