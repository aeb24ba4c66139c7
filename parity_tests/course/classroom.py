"""``dlparity check`` on a whole class at once: several files, or a folder of them.

Each file is checked as ``dlparity check FILE`` checks it — in its own child process, with the
per-function time limit (:mod:`parity_tests.course.contain`) — and the files run in parallel,
one child per file, up to ``jobs`` at a time (default: the cores this process may use). One file
that cannot be read, hangs or crashes never stops the others: it is a row of its own.

The result is one table, each file against each function's verdict, plus JSON
(:meth:`ClassReport.to_dict`) and CSV for a gradebook (:meth:`ClassReport.to_csv`: one row per
file; nbgrader and otter-grader import CSV).

Example:
    >>> from pathlib import Path
    >>> expand([Path("no-such-folder")])
    Traceback (most recent call last):
    ...
    parity_tests.course.loader.CourseFileError: path: no such file or folder: 'no-such-folder'
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from parity_tests.course import contain
from parity_tests.course.loader import SUFFIXES, CourseFileError
from parity_tests.workers import default_jobs

CELL = {"PASS": "PASS", "FAIL": "FAIL", "NOT CHECKABLE": "n/c"}


def expand(paths: Iterable[Path]) -> list[Path]:
    """The course files named by ``paths``: files as given, folders searched recursively for
    ``.py`` and ``.ipynb`` files (hidden folders and ``.ipynb_checkpoints`` skipped), sorted."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*")
                if p.suffix in SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            found.append(path)
        else:
            raise CourseFileError(f"path: no such file or folder: {str(path)!r}")
    return list(dict.fromkeys(found))


@dataclass
class FileRow:
    """One file's outcome: its report, or why it could not be checked at all."""

    path: str
    report: Any = None  # a CourseReport
    refused: str | None = None

    @property
    def exit_status(self) -> int:
        return 1 if self.refused is not None else self.report.exit_status

    def verdicts(self) -> dict[str, str]:
        if self.report is None:
            return {}
        return {r.name: r.status for r in self.report.results}


@dataclass
class ClassReport:
    """Every file's row, in the order the files were given."""

    rows: list[FileRow] = field(default_factory=list)

    @property
    def exit_status(self) -> int:
        """0 when every file's check passed; 1 when any file failed or could not be checked."""
        return 1 if any(row.exit_status for row in self.rows) else 0

    def functions(self, rows: Sequence[FileRow] | None = None) -> list[str]:
        """Every function checked in any of ``rows`` (default: all), in the course's order."""
        return list(
            dict.fromkeys(name for row in (self.rows if rows is None else rows) for name in row.verdicts())
        )  # each report lists them in that order

    def _part(self, row: FileRow) -> str:
        if row.report is None:
            return "-"
        return row.report.part_asked or row.report.detection.part or "?"

    def _shown(self, row: FileRow) -> str:
        """The file's path relative to the folder all the files share."""
        paths = [os.path.abspath(r.path) for r in self.rows]
        common = os.path.commonpath([os.path.dirname(p) for p in paths]) if paths else ""
        return os.path.relpath(os.path.abspath(row.path), common) if common else row.path

    def table(self) -> str:
        """Files × functions, one table per part of the course: PASS, FAIL, ``n/c`` (not
        checkable), ``-`` (not in the file); then the files that could not be checked at all."""
        width = max([4, *(len(self._shown(row)) for row in self.rows)])
        blocks = []
        for part in dict.fromkeys(self._part(row) for row in self.rows if row.report is not None):
            rows = [row for row in self.rows if row.report is not None and self._part(row) == part]
            names = self.functions(rows)
            lines = ["  ".join([f"part {part}".ljust(width), *names, "passed"])]
            for row in rows:
                verdicts = row.verdicts()
                cells = [CELL.get(verdicts.get(n, ""), "-").ljust(len(n)) for n in names]
                checked = [r for r in row.report.results if r.checkable]
                score = f"{sum(r.passed for r in checked)}/{len(checked)}"
                lines.append("  ".join([self._shown(row).ljust(width), *cells, score]))
            blocks.append("\n".join(lines))
        refused = [
            f"{self._shown(row).ljust(width)}  not checked: {row.refused}"
            for row in self.rows
            if row.refused is not None
        ]
        if refused:
            blocks.append("\n".join(refused))
        return "\n\n".join(blocks)

    def problems(self) -> list[str]:
        """One line per failing function of every file, with its diagnosis."""
        out = []
        for row in self.rows:
            if row.report is None:
                continue
            for r in row.report.results:
                if not r.passed:
                    out.append(f"{self._shown(row)}: {r.status} {r.name} — {r.diagnosis}")
            if row.report.loaded is not None:
                out += [f"{self._shown(row)}: syntax error: {e}" for e in row.report.loaded.syntax_errors]
        return out

    def __str__(self) -> str:
        refused = sum(1 for row in self.rows if row.refused is not None)
        failed = sum(1 for row in self.rows if row.exit_status) - refused
        summary = f"{len(self.rows)} files: {len(self.rows) - failed - refused} passed, {failed} failed"
        if refused:
            summary += f", {refused} could not be checked"
        return "\n".join([self.table(), "", *self.problems(), summary])

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": [
                {
                    "path": row.path,
                    "exit_status": row.exit_status,
                    "refused": row.refused,
                    "report": row.report.to_dict() if row.report is not None else None,
                }
                for row in self.rows
            ],
            "functions": self.functions(),
            "exit_status": self.exit_status,
        }

    def to_csv(self) -> str:
        """One row per file: ``file, part, course_version, checked, passed, failed, not_checkable,
        status``, then one column per function (PASS, FAIL, NOT CHECKABLE or empty)."""
        names = self.functions()
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(
            [
                "file",
                "part",
                "course_version",
                "checked",
                "passed",
                "failed",
                "not_checkable",
                "status",
                *names,
            ]
        )
        for row in self.rows:
            if row.report is None:
                writer.writerow(
                    [row.path, "", "", 0, 0, 0, 0, f"not checked: {row.refused}", *[""] * len(names)]
                )
                continue
            results = row.report.results
            checked = [r for r in results if r.checkable]
            passed = sum(r.passed for r in checked)
            verdicts = row.verdicts()
            writer.writerow(
                [
                    row.path,
                    self._part(row),
                    row.report.detection.version or "",
                    len(checked),
                    passed,
                    len(checked) - passed,
                    len(results) - len(checked),
                    "PASS" if row.exit_status == 0 else "FAIL",
                    *[verdicts.get(n, "") for n in names],
                ]
            )
        return buffer.getvalue()


def check_path(path: Path, part: str | None = None, timeout: float = 60.0) -> Any:
    """``check_course(path)`` without loading the checks (and torch) in this process where the file
    is checked in a child (:mod:`~parity_tests.course.contain`)."""
    from parity_tests.course import contain

    if contain.AVAILABLE:
        return contain.check_file(path, part, None, timeout)
    from parity_tests.course.runner import check_course

    return check_course(path, part=part, timeout=timeout)


def check_files(
    paths: Sequence[Path],
    part: str | None = None,
    timeout: float = 60.0,
    jobs: int | None = None,
    progress: Callable[[FileRow], None] | None = None,
) -> ClassReport:
    """Check every file of ``paths`` (see :func:`expand`), ``jobs`` files at a time.

    A file that cannot be read (:class:`CourseFileError`) or whose checker fails is a row with
    ``refused`` set; the others go on. ``KeyboardInterrupt`` kills every child and propagates.
    """
    jobs = default_jobs() if jobs is None else jobs
    if jobs < 1:
        raise ValueError(f"jobs: expected at least 1, got {jobs}")
    rows = {str(p): FileRow(str(p)) for p in paths}

    def one(path: Path) -> FileRow:
        row = rows[str(path)]
        try:
            row.report = check_path(path, part=part, timeout=timeout)
        except (CourseFileError, ValueError, RuntimeError) as exc:
            row.refused = str(exc).splitlines()[0]
        return row

    contain.reset_cancel()
    pool = ThreadPoolExecutor(max_workers=jobs)  # threads wait; each file's work is its child process
    try:
        futures = [pool.submit(one, p) for p in paths]
        for future in as_completed(futures):
            row = future.result()
            if progress is not None:
                progress(row)
    except KeyboardInterrupt:
        contain.cancel_all()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return ClassReport(list(rows.values()))
