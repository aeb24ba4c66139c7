"""``report.html`` (``dlparity report``) and ``dlparity check DIR --html FILE``: one self-contained
page — nothing loaded from the network, every PNG embedded — with every check, failing ones
first, the filter controls, and everything from a run escaped."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from parity_tests import cli
from parity_tests.compare import compare, group_result
from parity_tests.html_report import render_report_html
from parity_tests.registry import ParityCheck
from parity_tests.tests.test_course_check_mutations import FIXTURES
from parity_tests.tests.test_course_classroom import run_cli
from parity_tests.tolerances import tolerance


def _check(case: str, fail: bool = False, concept: str = "dense") -> ParityCheck:
    def run(device: str, dtype: str):
        rec = compare("Z", np.ones(3) * (2 if fail else 1), np.ones(3), tolerance(dtype, "forward"))
        return group_result(concept, case, "forward", device, dtype, [rec])

    return ParityCheck(concept, case, "forward", run)


class _Links(HTMLParser):
    """Every ``src``/``href`` of a page and every ``<select data-filter>``."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.filters: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.links += [v for k, v in attrs if k in ("src", "href") and v]
        if tag == "select" and a.get("data-filter"):
            self.filters.append(a["data-filter"])


def _parse(page: str) -> _Links:
    parser = _Links()
    parser.feed(page)
    return parser


def assert_self_contained(page: str) -> None:
    """Nothing to load: every link is a fragment (``#...``) or a ``data:`` URI; no external
    script, stylesheet or font."""
    links = _parse(page).links
    outside = [u for u in links if not (u.startswith("#") or u.startswith("data:"))]
    assert not outside, outside
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert "@import" not in page and "url(http" not in page


@pytest.fixture()
def report_page(tmp_path: Path, monkeypatch) -> str:
    checks = [_check("good"), _check("bad", fail=True), _check("fine", concept="gd")]
    monkeypatch.setattr("parity_tests.registry.all_checks", lambda *a, **k: checks)
    status = cli.main(
        [
            "report",
            "--devices",
            "cpu",
            "--dtypes",
            "float64,float32",
            "--no-plots",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    assert status == 1
    return (tmp_path / "out" / "report.html").read_text(encoding="utf-8")


def test_report_html_is_written_self_contained_and_holds_every_check(report_page: str) -> None:
    assert_self_contained(report_page)
    for cid in ("dense-good-forward", "dense-bad-forward", "gd-fine-forward"):
        for dtype in ("float32", "float64"):
            assert f'id="check-{cid}-cpu-{dtype}"' in report_page


def test_report_html_puts_failing_checks_first(report_page: str) -> None:
    ids = re.findall(r'<details class="item" id="check-([^"]+)"', report_page)
    assert len(ids) == 6
    assert [i.startswith("dense-bad-") for i in ids] == [True, True, False, False, False, False]


def test_report_html_has_the_filters_summary_records_and_environment(report_page: str) -> None:
    assert _parse(report_page).filters == ["concept", "level", "device", "dtype", "verdict"]
    assert "dlpFilter" in report_page and "<h2>Summary</h2>" in report_page
    summary = report_page.split("<h2>Summary</h2>")[1].split("</table>")[0]
    assert summary.count("<tr>") == 1 + 2 * 2  # header; (dense, gd) × (float64, float32)
    bad = report_page.split('id="check-dense-bad-forward-cpu-float64"')[1].split("</details>")[0]
    assert "<th>scratch</th>" in bad and "<td>2</td><td>1</td>" in bad  # the worst element's two values
    assert "rtol 1e-10, atol 1e-12" in bad and "off by a constant factor" in bad
    for key in ("numpy", "torch", "python", "blas", "cores"):
        assert f"<td>{key}</td>" in report_page
    assert "global generators seeded with" in bad


def test_report_html_embeds_plots_and_escapes_everything() -> None:
    row = {
        "concept": "dense",
        "case": "<script>alert(1)</script>",
        "level": "forward",
        "device": "cpu",
        "dtype": "float64",
        "verdict": "FAIL",
        "diagnosis": 'a < b & "c"',
        "plot": "curve.png",
        "records": [],
    }
    page = render_report_html(
        {"environment": {"torch": "x"}, "counts": {"FAIL": 1}, "rows": [row]},
        {"curve.png": b"\x89PNG\r\n\x1a\nfake"},
    )
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "a &lt; b &amp; &quot;c&quot;" in page
    assert 'src="data:image/png;base64,iVBORw0KGgpmYWtl"' in page and 'href="#plot-curve.png"' in page
    assert_self_contained(page)


def test_check_class_html_lists_every_file_and_function(tmp_path: Path) -> None:
    folder = tmp_path / "class"
    folder.mkdir()
    text = (FIXTURES / "logreg_solution.py").read_text()
    shutil.copy(FIXTURES / "logreg_solution.py", folder / "ada.py")
    (folder / "ben<i>.py").write_text(text.replace("db = 1 / m * np.sum(A - Y)", "db = np.sum(A - Y)"))
    (folder / "cy.py").write_text("def sigmoid(z:\n")
    page_path = tmp_path / "class.html"
    assert run_cli(str(folder), "--timeout", "20", "--jobs", "2", "--html", str(page_path)) == 1
    page = page_path.read_text(encoding="utf-8")
    assert_self_contained(page)
    for shown in ("ada.py", "ben&lt;i&gt;.py", "cy.py"):
        assert f"<code>{shown}</code>" in page
    assert "ben<i>" not in page
    for function in ("sigmoid", "initialize_with_zeros", "propagate", "optimize", "predict", "model"):
        assert f"<th><code>{function}</code></th>" in page
    assert _parse(page).filters == ["part", "status"]
    assert "off by a constant factor of m" in page


def test_check_html_is_for_a_folder(tmp_path: Path, capsys) -> None:
    assert run_cli(str(FIXTURES / "logreg_solution.py"), "--html", str(tmp_path / "x.html")) == 2
    assert "--html is for several files" in capsys.readouterr().err
