"""Every docstring example in the package runs (STYLE: "a docstring example that runs")."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import benchmarks
import parity_tests
import scratch
import torch_ref


def _modules() -> list[str]:
    names = []
    for pkg in (scratch, torch_ref, parity_tests, benchmarks):
        names.append(pkg.__name__)
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            if ".tests" not in info.name and not info.name.endswith("__main__"):
                names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
