"""The four rooms import only downwards: ``scratch`` (NumPy) and ``torch_ref`` (torch) know
nothing of each other or of the harness; ``parity_tests`` joins them."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _imports(folder: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / folder).rglob("*.py"):
        tops = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = tops
    return found


@pytest.mark.parametrize(
    "folder, forbidden",
    [
        ("torch_ref", {"scratch", "parity_tests", "benchmarks"}),
        ("scratch", {"torch", "torch_ref", "parity_tests", "benchmarks"}),
    ],
)
def test_sources_import_only_downwards(folder: str, forbidden: set[str]) -> None:
    offenders = {f: sorted(tops & forbidden) for f, tops in _imports(folder).items() if tops & forbidden}
    assert not offenders, f"{folder}/ must not import {sorted(forbidden)}: {offenders}"


def test_importing_torch_ref_loads_neither_scratch_nor_the_harness() -> None:
    mods = sorted(p.stem for p in (ROOT / "torch_ref").glob("*.py") if not p.stem.startswith("_"))
    mods += sorted(p.name for p in (ROOT / "torch_ref").iterdir() if (p / "__init__.py").exists())
    code = (
        "import sys\n"
        + "".join(f"import torch_ref.{m}\n" for m in mods)
        + "print(sorted(m for m in ('scratch', 'parity_tests') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_torch_ref_modules_do_not_special_case_the_meta_device() -> None:
    """The harness builds parameter-free skeletons on ``device="meta"`` (for
    ``torch.func.functional_call``); initialization on meta tensors is a no-op that draws nothing,
    so the modules need no branch for it — ``reset_parameters`` is plain."""
    branches = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "torch_ref").rglob("*.py")
        if (n := len(re.findall(r"device\.type\s*[!=]=\s*[\"']meta[\"']", p.read_text())))
    }
    assert not branches, f"torch_ref branches on the meta device: {branches}"


@pytest.mark.parametrize(
    "module, cls, args",
    [
        ("deep", "DeepNetwork", ([3, 4, 2], "tanh", "softmax")),
        ("shallow", "ShallowNetwork", (3, 4, 1, "tanh")),
        ("cnn", "ConvNet", ((7, 9, 2), (3, 4))),
        ("rnn", "SequenceModel", (3, 4, 2, "lstm")),
        ("anomaly", "GaussianDetector", (3, "full")),
        ("kmeans", "KMeans", (2, 3)),
    ],
)
def test_modules_build_on_meta_without_drawing_random_numbers(module: str, cls: str, args: tuple) -> None:
    import importlib

    import torch

    make = getattr(importlib.import_module(f"torch_ref.{module}"), cls)
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    built = make(*args, device="meta")
    assert all(t.device.type == "meta" for t in [*built.parameters(), *built.buffers()])
    assert torch.equal(torch.rand(3), expected), "building on meta drew from the global RNG"
