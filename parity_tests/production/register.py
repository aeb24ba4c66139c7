"""Register the production checks under the concepts whose models they ship.

For each served model of :data:`parity_tests.production.cases.CASES` whose concept is loaded:
``<concept>-onnx-<name>-forward`` (ONNX Runtime) and ``<concept>-safetensors-<name>-forward``.
The first model of each concept runs in the default report (one ONNX export per dtype, ~1-2 s
each on a 2-core machine); the others are marked slow (``--include-slow``). Every check runs on
every device (ONNX Runtime itself runs on the CPU) in float32 and float64.

This module is a plug-in of the registry: :data:`parity_tests.registry.CHECK_PLUGINS` names
:func:`register_production_checks`, which ``load_concepts`` calls with the concepts it loaded.
The registry never imports this package (it imports the registry), so the dependency runs one
way. Registration is idempotent: a concept already registered here is skipped, so
``load_concepts`` may call it on every load.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from parity_tests.devices import DTYPES
from parity_tests.production.cases import Served, cases_for
from parity_tests.production.checks import run_onnx, run_safetensors
from parity_tests.registry import CONCEPT_IDS, ParityCheck, register

_DONE: set[str] = set()


REPORT_ONNX = ("deep-relu-softmax", "logreg-proba")
"""The served models whose ONNX Runtime check runs in the default report and test run."""


def production_checks(case: Served) -> list[ParityCheck]:
    """The ONNX Runtime and safetensors checks of one served model (not registered)."""
    # An export costs 1-2 s and the report must stay under a minute: it serves two models in
    # float32 (what a runtime ships); the other models and float64 run with the slow cases
    # (pytest -m slow, dlparity report --include-slow).
    quick = f"{case.concept}-{case.name}" in REPORT_ONNX and not case.slow
    return [ParityCheck(case.concept, f"onnx-{case.name}", "forward",
                        functools.partial(run_onnx, case), dtypes=("float32",), slow=not quick),
            ParityCheck(case.concept, f"onnx-{case.name}-float64", "forward",
                        functools.partial(run_onnx, case), dtypes=("float64",), slow=True),
            ParityCheck(case.concept, f"safetensors-{case.name}", "forward",
                        functools.partial(run_safetensors, case), dtypes=DTYPES, slow=case.slow)]


def register_production_checks(concepts: Iterable[str] | None = None) -> list[ParityCheck]:
    """Register the production checks of ``concepts`` (all served concepts when ``None``);
    returns the newly registered checks. Unknown concept ids are refused."""
    wanted = list(CONCEPT_IDS if concepts is None else concepts)
    unknown = [c for c in wanted if c not in CONCEPT_IDS]
    if unknown:
        raise ValueError(f"concepts: {unknown} are not concept ids; known: {list(CONCEPT_IDS)}")
    new = [c for c in wanted if c not in _DONE]
    _DONE.update(new)
    return [register(check) for case in cases_for(new) for check in production_checks(case)]


__all__ = ["production_checks", "register_production_checks"]
