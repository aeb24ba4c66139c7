"""Project structure: scratch never imports torch; scratch, torch_ref and the registry mirror
each other concept by concept; the README's concept table tells the truth."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from parity_tests.registry import CONCEPT_IDS, registered_concepts

ROOT = Path(__file__).resolve().parents[2]
TORCH_REF_HELPERS = {"layout", "serving"}  # torch_ref modules that are not concepts
SCRATCH_HELPERS = {"safetensors_io"}  # scratch modules that are not concepts


def _modules(folder: str) -> set[str]:
    names = set()
    for p in (ROOT / folder).iterdir():
        name = p.stem if p.suffix == ".py" else p.name if (p / "__init__.py").exists() else None
        if name and not name.startswith("_"):
            names.add(name)
    return names


def test_scratch_sources_never_import_torch() -> None:
    offenders = []
    for path in (ROOT / "scratch").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "torch"]
    assert not offenders, f"scratch/ imports torch: {offenders}"


def test_importing_every_scratch_module_loads_no_torch() -> None:
    mods = sorted(_modules("scratch"))
    code = "import sys\n" + "".join(f"import scratch.{m}\n" for m in mods) + "print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", f"importing scratch pulled in torch: {out.stderr}"


def test_scratch_and_torch_ref_mirror_each_other() -> None:
    scratch, torch_ref = _modules("scratch") - SCRATCH_HELPERS, _modules("torch_ref") - TORCH_REF_HELPERS
    assert scratch == torch_ref, (
        f"only in scratch: {sorted(scratch - torch_ref)}; only in torch_ref: {sorted(torch_ref - scratch)}"
    )
    assert scratch <= set(CONCEPT_IDS), f"not concept ids: {sorted(scratch - set(CONCEPT_IDS))}"


def test_every_concept_module_registers_checks() -> None:
    concepts = _modules("parity_tests/concepts")
    assert concepts == _modules("scratch") - SCRATCH_HELPERS, "parity_tests/concepts must mirror scratch/"
    assert set(registered_concepts()) == concepts


def test_readme_concept_table_tells_the_truth() -> None:
    text = (ROOT / "README.md").read_text()
    table = text.split("<!-- concept-table:start -->")[1].split("<!-- concept-table:end -->")[0]
    rows = {m.group(1): line for line in table.splitlines() if (m := re.match(r"\| `(\w+)` \|", line))}
    assert set(rows) == set(CONCEPT_IDS)
    built = set(registered_concepts())
    for cid, line in rows.items():
        status = line.rstrip(" |").rsplit("|", 1)[1].strip()
        if cid in built:
            assert status != "planned", f"README says {cid} is planned but it is registered"
        else:
            assert status == "planned", f"README says {cid} is {status!r} but nothing is registered"
