"""``report.html``: one self-contained page for ``dlparity report`` and ``dlparity check DIR``.

The page opens from disk with nothing else: its CSS and its few lines of JavaScript are inline,
and every PNG is embedded as a base64 ``data:`` URI (no network, no CDN). Every string that
comes from a run — check names, diagnoses, a learner's file names — goes through
:func:`html.escape`.

``dlparity report`` (:func:`write_report_html`, called by
:func:`~parity_tests.report.write_outputs` on the staging folder) shows

- the run's environment (``report.json``'s versions and devices, the CPU and GPU, the BLAS
  libraries that :mod:`threadpoolctl` finds, and how each check was seeded);
- a summary: PASS / FAIL / INCONCLUSIVE counts per concept × level × device × dtype;
- filters by concept, level, device, dtype and verdict;
- every check, failing ones first, as a ``<details>`` that opens on its records: the worst
  element with both values, the tolerance, the diagnosis;
- the loss curves and trajectory plots.

``dlparity check DIR --html FILE`` (:func:`render_class_html`) shows files × functions in the
same style, then every failing function's diagnosis.
"""

from __future__ import annotations

import base64
import json
import os
import platform
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

FAILING = ("FAIL", "ERROR")
"""Verdicts counted as failures (an ERROR is a check that crashed: it proved nothing)."""
_ORDER = {"FAIL": 0, "ERROR": 0, "INCONCLUSIVE": 1, "UNAVAILABLE": 2, "PASS": 3}
_FILTERS = ("concept", "level", "device", "dtype", "verdict")
_MAX_RECORDS = 60  # per check; a trajectory may hold hundreds (report.json keeps them all)

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:1.5em auto;max-width:1200px;
color:#1f2328;padding:0 1em}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #d0d7de}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #d0d7de;padding:2px 8px;
text-align:left;vertical-align:top}th{background:#f6f8fa}
.PASS{color:#1a7f37}.FAIL,.ERROR{color:#cf222e;font-weight:bold}.INCONCLUSIVE{color:#9a6700;
font-weight:bold}.UNAVAILABLE,.NA{color:#57606a}
details.item{border:1px solid #d0d7de;border-radius:6px;margin:4px 0;padding:2px 8px}
details.item>summary{cursor:pointer}details.item[open]{background:#f6f8fa}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px}
pre{white-space:pre-wrap}.filters label{margin-right:1em}.muted{color:#57606a}
img{max-width:100%;border:1px solid #d0d7de;margin:4px 0}
"""

_JS = """
function dlpFilter(){
  var sel={};document.querySelectorAll('select[data-filter]').forEach(function(s){
    sel[s.dataset.filter]=s.value;});
  var shown=0;document.querySelectorAll('[data-item]').forEach(function(el){
    var ok=true;for(var k in sel){if(sel[k]&&el.dataset[k]!==sel[k]){ok=false;}}
    el.style.display=ok?'':'none';if(ok&&el.tagName==='DETAILS'){shown++;}});
  var n=document.getElementById('shown');if(n){n.textContent=shown;}
}
document.addEventListener('DOMContentLoaded',function(){
  document.querySelectorAll('select[data-filter]').forEach(function(s){
    s.addEventListener('change',dlpFilter);});dlpFilter();});
"""


def _page(title: str, body: Iterable[str]) -> str:
    """A whole HTML document: ``title`` (escaped here) and ``body`` (already escaped HTML)."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_CSS}</style><script>{_JS}</script></head>"
        f"<body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], raw: bool = False) -> str:
    """An HTML table; cells are escaped unless ``raw`` (then they are already HTML)."""
    cell = (lambda v: v) if raw else (lambda v: escape(str(v)))
    return (
        "<table><tr>"
        + "".join(f"<th>{escape(h)}</th>" for h in head)
        + "</tr>"
        + "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>" for r in rows)
        + "</table>"
    )


def _verdict(v: str) -> str:
    return f'<span class="{escape(v)}">{escape(v)}</span>'


def _filters(items: Sequence[Mapping[str, str]], keys: Sequence[str]) -> str:
    """One ``<select data-filter=KEY>`` per key, with every value the items take."""
    out = ['<div class="filters">']
    for key in keys:
        values = sorted({str(i[key]) for i in items})
        options = "".join(f'<option value="{escape(v)}">{escape(v)}</option>' for v in values)
        out.append(
            f'<label>{escape(key)} <select data-filter="{escape(key)}" id="filter-{escape(key)}">'
            f'<option value="">all</option>{options}</select></label>'
        )
    out.append(f'<span class="muted"><span id="shown">{len(items)}</span> of {len(items)} shown</span></div>')
    return "".join(out)


def _data_attrs(item: Mapping[str, str], keys: Sequence[str]) -> str:
    return " ".join(f'data-{k}="{escape(str(item[k]))}"' for k in keys)


def _num(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.7g}"
    return str(v)


# --- dlparity report ---------------------------------------------------------------------------
def environment() -> dict[str, Any]:
    """What ``report.json`` does not record about the machine: OS, CPU, core count, GPUs, the
    BLAS libraries and their thread counts (:mod:`threadpoolctl`, when installed), and torch's
    threads."""
    env: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": platform.processor() or _cpu_model(),
        "cores": os.cpu_count(),
    }
    try:
        import torch

        env["torch threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            env["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            env["cuda"] = torch.version.cuda
    except Exception:  # noqa: BLE001 - the page is written even without torch's details
        pass
    try:
        from threadpoolctl import threadpool_info

        env["blas"] = [
            f"{i.get('internal_api')} {i.get('version') or ''} ({i.get('num_threads')} threads, "
            f"{os.path.basename(i.get('filepath', ''))})"
            for i in threadpool_info()
        ]
    except ImportError:
        env["blas"] = "threadpoolctl not installed"
    return env


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def _check_id(row: Mapping[str, Any]) -> str:
    """The registry's id of a row's check (``concept-case-level``)."""
    return f"{row['concept']}-{row['case']}-{row['level']}"


def _records_table(records: Sequence[Mapping[str, Any]]) -> str:
    shown = sorted(records, key=lambda r: (bool(r.get("passed")), -(r.get("ratio") or 0.0)))
    rows = []
    for r in shown[:_MAX_RECORDS]:
        verdict = "PASS" if r.get("passed") else "INCONCLUSIVE" if r.get("inconclusive") else "FAIL"
        shape = (
            f"{tuple(r['shape_actual'])} vs {tuple(r['shape_expected'])}"
            if r.get("shape_actual") != r.get("shape_expected")
            else str(tuple(r.get("shape_actual") or ()))
        )
        note = " ".join(x for x in (r.get("diagnosis"), r.get("note") and f"[{r['note']}]") if x)
        rows.append(
            [
                _verdict(verdict),
                f"<code>{escape(str(r.get('name')))}</code>",
                escape(_num(r.get("step"))),
                escape(shape),
                escape(_num(r.get("max_abs_err"))),
                escape(_num(r.get("max_rel_err"))),
                escape(_num(r.get("worst_index") and tuple(r["worst_index"]))),
                escape(_num(r.get("worst_actual"))),
                escape(_num(r.get("worst_expected"))),
                escape(f"rtol {_num(r.get('rtol'))}, atol {_num(r.get('atol'))}"),
                escape(_num(r.get("ratio"))),
                escape(note),
            ]
        )
    table = _table(
        [
            "verdict",
            "quantity",
            "step",
            "shape",
            "max abs err",
            "max rel err",
            "worst at",
            "scratch",
            "reference",
            "tolerance",
            "of tol",
            "diagnosis",
        ],
        rows,
        raw=True,
    )
    more = (
        f'<p class="muted">{len(records) - _MAX_RECORDS} more records (all passing or closer to their '
        f"tolerance) are in report.json.</p>"
        if len(records) > _MAX_RECORDS
        else ""
    )
    return table + more


def _check_item(row: Mapping[str, Any], plots: set[str]) -> str:
    from parity_tests.registry import seed_for

    cid = _check_id(row)
    attrs = _data_attrs(row, _FILTERS[:-1]) + f' data-verdict="{escape(row["verdict"])}"'
    seed = seed_for(cid, row["device"], row["dtype"])
    head = (
        f"{_verdict(row['verdict'])} <code>{escape(cid)}</code> "
        f'<span class="muted">[{escape(row["device"])}, {escape(row["dtype"])}]</span> '
        f"{escape(row.get('worst_error') or '')} {escape(row.get('diagnosis') or '')}"
    )
    body = [
        f"<p>tolerance: {escape(row.get('tolerance') or '-')}; {float(row.get('seconds') or 0):.2f} s; "
        f"global generators seeded with {seed} (crc32 of <code>{escape(cid)}/{escape(row['device'])}/"
        f"{escape(row['dtype'])}</code>)</p>"
    ]
    if row.get("diagnosis"):
        body.append(f"<p><b>diagnosis:</b> {escape(row['diagnosis'])}</p>")
    records = row.get("records") or []
    body.append(_records_table(records) if records else '<p class="muted">no records</p>')
    metrics = (row.get("extra") or {}).get("metrics")
    if isinstance(metrics, Mapping) and metrics:
        body.append(
            "<p>metrics: " + escape(", ".join(f"{k} = {_num(v)}" for k, v in metrics.items())) + "</p>"
        )
    if row.get("plot") in plots:
        body.append(f'<p><a href="#plot-{escape(row["plot"])}">plot: {escape(row["plot"])}</a></p>')
    dom_id = escape(f"check-{cid}-{row['device']}-{row['dtype']}")
    return (
        f'<details class="item" id="{dom_id}" data-item {attrs}><summary>{head}</summary>'
        + "".join(body)
        + "</details>"
    )


def _summary(rows: Sequence[Mapping[str, Any]]) -> str:
    groups: dict[tuple[str, str, str, str], list[str]] = {}
    for r in rows:
        groups.setdefault((r["concept"], r["level"], r["device"], r["dtype"]), []).append(r["verdict"])
    lines = []
    for (concept, level, device, dtype), verdicts in groups.items():
        fail = sum(v in FAILING for v in verdicts)
        lines.append(
            [
                escape(concept),
                escape(level),
                escape(device),
                escape(dtype),
                f'<span class="{"PASS" if fail == 0 else "NA"}">{verdicts.count("PASS")}</span>',
                f'<span class="{"FAIL" if fail else "NA"}">{fail}</span>',
                f'<span class="{"INCONCLUSIVE" if "INCONCLUSIVE" in verdicts else "NA"}">'
                f"{verdicts.count('INCONCLUSIVE')}</span>",
                str(verdicts.count("UNAVAILABLE")),
            ]
        )
    return _table(
        ["concept", "level", "device", "dtype", "pass", "fail", "inconclusive", "unavailable"],
        lines,
        raw=True,
    )


def render_report_html(
    data: Mapping[str, Any], images: Mapping[str, bytes], extra_env: Mapping[str, Any] | None = None
) -> str:
    """The page for one ``dlparity report`` run: ``data`` is what ``report.json`` holds
    (``environment``, ``counts``, ``rows``), ``images`` the PNGs by name (embedded, each once)."""
    rows = sorted(data.get("rows", []), key=lambda r: _ORDER.get(r["verdict"], 0))  # stable: failing first
    counts = data.get("counts", {})
    env = {**data.get("environment", {}), **(extra_env or {})}
    body = [
        "<h1>dlparity report</h1>",
        "<p>" + ", ".join(f"{_verdict(v)}: {n}" for v, n in counts.items()) + "</p>",
        "<h2>Summary</h2>",
        _summary(rows),
        "<h2>Environment</h2>",
        _table(
            ["", ""],
            [[k, ", ".join(map(str, v)) if isinstance(v, list) else _num(v)] for k, v in env.items()],
        ),
        "<p class=\"muted\">Every check seeds Python's, NumPy's and torch's global generators with the "
        "crc32 of its id, device and dtype (shown in each check); data come from generators seeded "
        "by concept and case.</p>",
        f"<h2>Checks ({len(rows)}, failing first)</h2>",
        _filters([{**r, "verdict": r["verdict"]} for r in rows], _FILTERS),
    ]
    body += [_check_item(r, set(images)) for r in rows]
    if images:
        body.append("<h2>Plots</h2>")
        for name, png in images.items():
            uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
            body.append(
                f'<figure id="plot-{escape(name)}"><figcaption><code>{escape(name)}</code>'
                f'</figcaption><img alt="{escape(name)}" src="{uri}"></figure>'
            )
    return _page("dlparity report", body)


def write_report_html(folder: Path) -> Path:
    """Write ``folder/report.html`` from ``folder/report.json`` and the PNGs beside it."""
    data = json.loads((folder / "report.json").read_text())
    images = {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}
    path = folder / "report.html"
    path.write_text(render_report_html(data, images, environment()), encoding="utf-8")
    return path


# --- dlparity check DIR ------------------------------------------------------------------------
def render_class_html(report: Any) -> str:
    """The page for ``dlparity check DIR``: a :class:`~parity_tests.course.classroom.ClassReport`
    as files × functions (PASS, FAIL, ``n/c`` not checkable, ``-`` not in the file), filterable by
    part and status, each file opening on its functions' worst errors and diagnoses."""
    from parity_tests.course.report import function_worst

    names = report.functions()
    items, table_rows, details = [], [], []
    for row in report.rows:
        shown = report._shown(row)
        part = report._part(row)
        status = "PASS" if row.exit_status == 0 else "FAIL"
        items.append({"part": part, "status": status})
        attrs = f'data-item data-part="{escape(part)}" data-status="{escape(status)}"'
        verdicts = row.verdicts()
        cells = []
        for n in names:
            v = verdicts.get(n)
            cells.append(
                _verdict(v)
                if v in ("PASS", "FAIL")
                else '<span class="NA">n/c</span>'
                if v
                else '<span class="NA">-</span>'
            )
        if row.report is None:
            score = f"not checked: {escape(row.refused or '')}"
            inner = f'<p class="FAIL">not checked: {escape(row.refused or "")}</p>'
        else:
            checked = [r for r in row.report.results if r.checkable]
            score = f"{sum(r.passed for r in checked)}/{len(checked)}"
            inner = f"<p>{escape(row.report.part_line())}</p>" + _table(
                ["function", "verdict", "worst error", "diagnosis"],
                [
                    [
                        f"<code>{escape(r.name)}</code>",
                        _verdict(r.status),
                        escape(function_worst(r)),
                        escape(r.diagnosis or ""),
                    ]
                    for r in row.report.results
                ]
                + [
                    [f"<code>{escape(n)}</code>", '<span class="NA">not checked</span>', "", escape(why)]
                    for n, why in row.report.not_checked
                ],
                raw=True,
            )
        table_rows.append(
            f"<tr {attrs}><td><code>{escape(shown)}</code></td><td>{escape(part)}</td>"
            + "".join(f"<td>{c}</td>" for c in cells)
            + f"<td>{score}</td></tr>"
        )
        details.append(
            f'<details class="item" {attrs}><summary>{_verdict(status)} <code>{escape(shown)}'
            f"</code></summary>{inner}</details>"
        )
    failed = sum(i["status"] != "PASS" for i in items)
    body = [
        "<h1>dlparity check</h1>",
        f"<p>{len(items)} files: {_verdict('PASS')} {len(items) - failed}, {_verdict('FAIL')} {failed}</p>",
        "<h2>Files × functions</h2>",
        _filters(items, ("part", "status")),
        "<table><tr><th>file</th><th>part</th>"
        + "".join(f"<th><code>{escape(n)}</code></th>" for n in names)
        + "<th>passed</th></tr>"
        + "".join(table_rows)
        + "</table>",
        "<h2>Every file</h2>",
        *details,
    ]
    problems = report.problems()
    if problems:
        body += ["<h2>Failing functions</h2>", "<pre>" + escape("\n".join(problems)) + "</pre>"]
    return _page("dlparity check", body)
