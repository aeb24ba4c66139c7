"""The verdict of ``dlparity check``: one line per function, a summary, JSON records and an
HTML table for Jupyter."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from parity_tests.compare import SIGNIFICANT_DIGITS, Comparison
from parity_tests.course.common import FunctionResult, shape_str
from parity_tests.course.detection import Detection
from parity_tests.course.loader import LoadedFile


def link_dependencies(results: list[FunctionResult], uses: Mapping[str, set[str]]) -> None:
    """Set ``depends_on`` of each failing result (in the course's order) to the earlier failing
    functions it uses."""
    for i, res in enumerate(results):
        if res.passed:
            continue
        res.depends_on = [
            o.name for o in results[:i] if o.name in uses[res.name] and not o.passed and o.checkable
        ]


def _fmt(v: float) -> str:
    return f"{v:.{SIGNIFICANT_DIGITS}g}"


def worst_error(r: Comparison | None, statistic: bool = False) -> str:
    """The worst error of a function, e.g. ``dw: max abs err 0.1234567``; for a statistic of an
    initializer its value against its limit, e.g. ``std(W1) = 0.01001 (0.01 ± 0.0002)``."""
    if r is None:
        return "-"
    at = f" at iteration {r.step}" if r.step is not None else ""
    if r.shape_actual != r.shape_expected:
        return f"{r.name}{at}: shape {shape_str(r.shape_actual)} vs {shape_str(r.shape_expected)}"
    if statistic and r.worst_actual is not None and r.worst_expected is not None:
        return f"{r.name} = {_fmt(r.worst_actual)} ({_fmt(r.worst_expected)} ± {_fmt(r.atol)})"
    return f"{r.name}{at}: max abs err {_fmt(r.max_abs_err)}"


def function_worst(r: FunctionResult) -> str:
    worst = r.worst
    statistic = any(c.level == "property" and worst in c.records for c in r.checks)
    return worst_error(worst, statistic)


def _indented(text: str, n: int) -> list[str]:
    return [" " * n + line for line in text.splitlines()]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@dataclass
class CourseReport:
    """What :func:`~parity_tests.course.check_course` found."""

    source: str
    part_asked: str | None
    detection: Detection
    results: list[FunctionResult]
    not_checked: list[tuple[str, str]]
    loaded: LoadedFile | None = None

    @property
    def passed(self) -> bool:
        """Every checked function passed (and there was at least one). A function that could not
        be checked (it needs a name the file leaves undefined) counts neither way."""
        checked = [r for r in self.results if r.checkable]
        return bool(checked) and all(r.passed for r in checked)

    @property
    def file_problems(self) -> list[str]:
        """What went wrong with the file itself: notebook cells that do not parse, statements that
        exited, hung or crashed the load (each makes the exit status 1)."""
        ld = self.loaded
        if ld is None:
            return []
        return [f"syntax error: {e}" for e in ld.syntax_errors] + [
            f"FAIL while loading: {s}" for s in ld.stopped
        ]

    @property
    def exit_status(self) -> int:
        return 0 if self.passed and not self.file_problems else 1

    def part_line(self) -> str:
        det = self.detection
        version = f" — course version {det.version}" if det.version else ""  # of det.part
        if self.part_asked:
            return f"part: {self.part_asked} (--part){version if det.part == self.part_asked else ''}"
        if det.part:
            shown = det.reasons[:4] + ([f"… {len(det.reasons) - 4} more"] if len(det.reasons) > 4 else [])
            return f"part: {det.part} (from {', '.join(shown)}){version}"
        if det.tied:
            return (
                f"part: ambiguous between {' and '.join(det.tied)}; shared names checked as "
                f"{det.tied[0]} — choose with --part"
            )
        return "part: none found (no course function is defined)"

    def lines(self) -> list[str]:
        out = [f"dlparity check: {self.source}", self.part_line()]
        if self.loaded is not None:
            ld = self.loaded
            out.append(
                f"loaded {_plural(len(ld.imports), 'import')}, "
                f"{_plural(len(ld.definitions), 'definition')}, "
                f"{_plural(len(ld.constants), 'constant')}; not run: "
                f"{_plural(len(ld.skipped), 'other top-level statement')}"
            )
            out += [f"  not loaded: {f}" for f in ld.failed]
            out += [f"  supplied by dlparity: {s}" for s in ld.supplied]
            out += [f"  not supplied (not needed to check): {s}" for s in ld.not_supplied]
            out += [f"  {p}" for p in self.file_problems]
            if ld.output and self.exit_status:  # shown only when something failed
                out += ["  while loading the file, it printed:", *_indented(ld.output, 4)]
        width = max((len(r.name) for r in self.results), default=0)
        for r in self.results:
            text = f"{r.status}  {r.name:<{width}}  {function_worst(r)}"
            if r.diagnosis:
                text += f" — {r.diagnosis}"
            out.append(text)
            if r.output and not r.passed:
                out += [f"      {r.name} printed:", *_indented(r.output, 8)]
        if self.not_checked:
            out.append("not checked: " + "; ".join(f"{n} ({why})" for n, why in self.not_checked))
        out.append(self.summary())
        return out

    def summary(self) -> str:
        checked = [r for r in self.results if r.checkable]
        failed = [r for r in checked if not r.passed]
        blocked = [r for r in failed if r.depends_on]
        text = (
            f"{_plural(len(checked), 'function')} checked: {len(checked) - len(failed)} "
            f"passed, {len(failed)} failed"
        )
        if blocked:
            uses = "it uses" if len(blocked) == 1 else "they use"
            text += f" ({len(blocked)} of them because a function {uses} fails)"
        unchecked = [r for r in self.results if not r.checkable]
        if unchecked:
            needs = sorted({n for r in unchecked for n in r.needs})
            text += (
                f"; {len(unchecked)} not checkable (they need {', '.join(needs)}, which the file "
                f"leaves undefined)"
            )
        ld = self.loaded
        if ld is not None and ld.syntax_errors:
            text += f"; {_plural(len(ld.syntax_errors), 'notebook cell')} with a syntax error"
        if ld is not None and ld.stopped:
            text += f"; {_plural(len(ld.stopped), 'statement')} failed while loading"
        return text

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def notes(self) -> list[str]:
        return [f"{r.name}: {n}" for r in self.results for n in r.notes]

    def to_dict(self) -> dict[str, Any]:
        ld = self.loaded
        d = {
            "source": self.source,
            "part": self.part_asked or self.detection.part,
            "part_line": self.part_line(),
            "course_version": self.detection.version,
            "course_version_from": self.detection.version_reasons,
            "passed": self.passed,
            "exit_status": self.exit_status,
            "functions": [r.to_dict() for r in self.results],
            "not_checked": [{"function": n, "reason": why} for n, why in self.not_checked],
            "summary": self.summary(),
        }
        if ld is not None:
            d["loaded"] = {
                "imports": ld.imports,
                "definitions": ld.definitions,
                "constants": ld.constants,
                "not_run": ld.skipped,
                "failed": ld.failed,
                "supplied": ld.supplied,
                "not_supplied": ld.not_supplied,
                "unbound": ld.unbound,
                "syntax_errors": ld.syntax_errors,
                "stopped": ld.stopped,
                "output": ld.output,
            }
        return json.loads(json.dumps(d, default=str))

    def _repr_html_(self) -> str:
        rows = []
        for r in self.results:
            color = "#1a7f37" if r.passed else "#cf222e"
            rows.append(
                f"<tr><td><code>{html.escape(r.name)}</code></td>"
                f"<td style='color:{color};font-weight:bold'>{r.status}</td>"
                f"<td>{html.escape(function_worst(r))}</td>"
                f"<td>{html.escape(r.diagnosis or '')}</td></tr>"
            )
        for n, why in self.not_checked:
            rows.append(
                f"<tr><td><code>{html.escape(n)}</code></td><td>not checked</td><td></td>"
                f"<td>{html.escape(why)}</td></tr>"
            )
        return (
            f"<p><b>dlparity check</b>: {html.escape(self.source)} — {html.escape(self.part_line())}</p>"
            "<table><thead><tr><th>function</th><th>verdict</th><th>worst error</th>"
            f"<th>diagnosis</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
            f"<p>{html.escape(self.summary())}</p>"
        )
