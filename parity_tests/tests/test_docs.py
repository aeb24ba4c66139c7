"""Every code block of the documentation runs: each fenced ``python`` block of ``docs/*.md`` and
README.md is executed, each ``bash`` block is run in a folder holding the files it names
(``my_logreg.py``, ``my_notebook.ipynb``, ``submissions/``, and links to ``mkdocs.yml``,
``docs/`` and the packages, so ``mkdocs build --strict`` builds the site there), and the site builds
with ``mkdocs build --strict``. A page shows a README block with a snippet line
(``--8<-- "README.md:quickstart"``): it is run once, from the README.

A block that cannot run here — a fresh virtual environment, a CUDA GPU, two machines, minutes of
timing — is preceded by ``<!-- not-run: REASON -->``; the reason is required, and such blocks
stay few. (Where a block's *output* is shown, the test of that feature compares it:
``test_readme.py``, ``test_course_check.py``, ``test_safetensors.py``.)
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = [*sorted(DOCS.glob("*.md")), ROOT / "README.md"]
MAX_NOT_RUN = 8  # in docs/ and the README together: fresh venvs, CUDA, torchrun, timings, lr_utils
_PACKAGES = ("scratch", "torch_ref", "parity_tests")  # what the API reference documents
_FENCE = re.compile(r"^```(python|bash)\n(.*?)^```", re.S | re.M)
_COMMENT = re.compile(r"<!--(.*?)-->", re.S)


@dataclass
class Block:
    """A fenced code block of a page: its language, code, line, and why it is not run (if so)."""

    page: Path
    lang: str
    code: str
    line: int
    not_run: str | None
    continues: bool = False  # ``<!-- continues: … -->``: runs after the page's previous python block

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The ``python`` and ``bash`` blocks of ``page``. A ``<!-- not-run: reason -->`` comment
    counts for the block it precedes, across blank lines and other comments (``<!-- x:start -->``)."""
    text = page.read_text(encoding="utf-8")
    out = []
    for m in _FENCE.finditer(text):
        before = text[: m.start()]
        lead = re.search(r"(?:\s*<!--(?:(?!-->).)*-->)*\s*$", before, re.S)
        comments = [c.strip() for c in _COMMENT.findall(lead.group(0))] if lead else []
        reasons = [c.split(":", 1)[1].strip() for c in comments if c.startswith("not-run")]
        out.append(
            Block(
                page,
                m.group(1),
                m.group(2),
                before.count("\n") + 1,
                reasons[0] if reasons else None,
                any(c.startswith("continues") for c in comments),
            )
        )
    return out


def setup_code(block: Block) -> str:
    """The code a ``continues`` block runs after: the page's python blocks before it, back to the
    first one that does not continue another."""
    if not block.continues:
        return ""
    earlier = [b for b in blocks(block.page) if b.lang == "python" and b.line < block.line]
    if not earlier:
        raise AssertionError(f"{block.id}: 'continues' but no python block before it")
    return setup_code(earlier[-1]) + earlier[-1].code + "\n"


ALL = [b for page in PAGES for b in blocks(page)]
RUN = [b for b in ALL if b.not_run is None]


def test_the_docs_have_runnable_blocks_and_few_justified_exceptions() -> None:
    assert DOCS.is_dir() and len(PAGES) >= 10
    assert any(b.lang == "python" for b in RUN) and any(b.lang == "bash" for b in RUN)
    skipped = [b for b in ALL if b.not_run is not None]
    assert all(len(b.not_run) >= 15 for b in skipped), [(b.id, b.not_run) for b in skipped]
    assert len(skipped) <= MAX_NOT_RUN, [b.id for b in skipped]


def test_the_marker_is_read_only_before_its_block(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text(
        "<!-- not-run: needs two machines here -->\n<!-- x:start -->\n```bash\ntrue\n```\n"
        "<!-- x:end -->\n\ntext\n\n```python\nprint(1)\n```\n"
    )
    first, second = blocks(page)
    assert first.not_run == "needs two machines here" and second.not_run is None and second.line == 10


@pytest.mark.parametrize("block", [b for b in RUN if b.lang == "python"], ids=lambda b: b.id)
def test_python_block_runs(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(setup_code(block) + block.code, block.id, "exec"), {"__name__": "docs_example"})


def _course_files(folder: Path) -> None:
    """The files the docs' commands name: the course page's ``my_logreg.py``, the same code as
    ``my_notebook.ipynb``, a ``submissions/`` folder of two learners, and links to what
    ``mkdocs build`` reads (the config, the pages, the snippets and the documented packages)."""
    for name in ("mkdocs.yml", "docs", "README.md", "CONTRIBUTING.md", *_PACKAGES):
        (folder / name).symlink_to(ROOT / name)
    text = (DOCS / "course-checker.md").read_text(encoding="utf-8")
    code = re.search(r"<!-- course-example:start -->\s*```python\n(.*?)```", text, re.S).group(1)
    (folder / "my_logreg.py").write_text(code)
    cells = [
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": part.splitlines(keepends=True),
        }
        for part in code.split("\n\n\n")
    ]
    (folder / "my_notebook.ipynb").write_text(
        json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    (folder / "submissions").mkdir()
    shutil.copy(folder / "my_logreg.py", folder / "submissions" / "ada.py")
    fixed = code.replace("db = np.sum(A - Y)", "db = np.sum(A - Y) / m")
    (folder / "submissions" / "ben.py").write_text(fixed)


@pytest.mark.parametrize("block", [b for b in RUN if b.lang == "bash"], ids=lambda b: b.id)
def test_bash_block_runs(block: Block, tmp_path: Path) -> None:
    """Every command exits 0 or 1 (1: dlparity found a failing check, as a learner's file with a
    mistake should); 2 and above — bad usage, a missing file, a crash — fail the test."""
    _course_files(tmp_path)
    script = (
        "set -E\ntrap 'rc=$?; if [ $rc -ge 2 ]; then echo \"DOCS-BLOCK-FAILED status $rc: "
        "$BASH_COMMAND\" >&2; fi' ERR\n" + block.code
    )
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert "DOCS-BLOCK-FAILED" not in proc.stderr and proc.returncode in (0, 1), (
        proc.returncode,
        proc.stdout[-3000:],
        proc.stderr[-3000:],
    )


def test_every_page_is_in_the_nav_and_the_reference_is_generated() -> None:
    config = (ROOT / "mkdocs.yml").read_text()
    for page in DOCS.glob("*.md"):
        assert f": {page.name}" in config, f"{page.name} is not in mkdocs.yml's nav"
    reference = (DOCS / "reference.md").read_text()
    assert "::: parity_tests.api" in reference and "::: torch_ref.layout" in reference
    assert '--8<-- "CONTRIBUTING.md"' in (DOCS / "contributing.md").read_text()


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (tmp_path / "reference" / "index.html").read_text().count("check_gradients") > 0
