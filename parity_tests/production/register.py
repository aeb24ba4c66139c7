"""Register the production checks of the served models, derived from their declarations.

A concept module serves a declared :class:`~parity_tests.registry.Model` with
:func:`~parity_tests.registry.register_served` (``register_served("deep", "relu-softmax", model,
make_inputs, quick=("onnx", "safetensors"))``); for each such declaration of a loaded concept
this plug-in registers ``<concept>-onnx-<name>-forward`` (ONNX Runtime, float32),
``<concept>-onnx-<name>-float64-forward`` and ``<concept>-safetensors-<name>-forward`` (float32
and float64). The declaration's ``quick`` says which run in the default report (an ONNX export
costs ~1-2 s per dtype on a 2-core machine); the others, and float64 ONNX always, are marked
slow (``--include-slow``, ``pytest -m slow``). Every check runs on every device (ONNX Runtime
itself runs on the CPU).

This module is a plug-in of the registry: :data:`parity_tests.registry.CHECK_PLUGINS` names
:func:`register_production_checks`, which ``load_concepts`` calls with the concepts it loaded,
after importing their modules. The registry never imports this package (it imports the
registry), so the dependency runs one way. Registration is idempotent: a served model already
registered here is skipped, so ``load_concepts`` may call it on every load.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from parity_tests.devices import DTYPES
from parity_tests.production.checks import run_onnx, run_safetensors
from parity_tests.registry import CONCEPT_IDS, ParityCheck, ServedModel, register, served_models

_DONE: set[tuple[str, str]] = set()
"""``(concept, name)`` of the served models whose checks are registered."""


def production_checks(served: ServedModel) -> list[ParityCheck]:
    """The ONNX Runtime and safetensors checks of one served model (not registered)."""
    concept, name = served.concept, served.name
    return [
        ParityCheck(
            concept,
            f"onnx-{name}",
            "forward",
            functools.partial(run_onnx, served),
            dtypes=("float32",),
            slow="onnx" not in served.quick,
        ),
        ParityCheck(
            concept,
            f"onnx-{name}-float64",
            "forward",
            functools.partial(run_onnx, served),
            dtypes=("float64",),
            slow=True,
        ),
        ParityCheck(
            concept,
            f"safetensors-{name}",
            "forward",
            functools.partial(run_safetensors, served),
            dtypes=DTYPES,
            slow="safetensors" not in served.quick,
        ),
    ]


def register_production_checks(concepts: Iterable[str] | None = None) -> list[ParityCheck]:
    """Register the production checks of the served models of ``concepts`` (all loaded ones when
    ``None``) whose concept modules are loaded; returns the newly registered checks. Unknown
    concept ids are refused."""
    wanted = list(CONCEPT_IDS if concepts is None else concepts)
    unknown = [c for c in wanted if c not in CONCEPT_IDS]
    if unknown:
        raise ValueError(f"concepts: {unknown} are not concept ids; known: {list(CONCEPT_IDS)}")
    new = [s for s in served_models(wanted) if (s.concept, s.name) not in _DONE]
    _DONE.update((s.concept, s.name) for s in new)
    return [register(check) for served in new for check in production_checks(served)]


__all__ = ["production_checks", "register_production_checks"]
