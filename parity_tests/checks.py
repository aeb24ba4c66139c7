"""The store of registered checks: what a check is (:class:`ParityCheck`), the concept ids, and
loading, selecting and looking up the checks the concept modules register.

:mod:`parity_tests.registry` builds checks from declarations (and re-exports these names); this
module imports none of the harness's checkers, so :mod:`parity_tests.trajectory` can look up
the check a trajectory's ``verified_by`` names (:func:`proving_check`) without an import circle.
The concept modules and plug-ins are imported by name (:func:`load_concepts`).
"""

from __future__ import annotations

import importlib
import pkgutil
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from parity_tests.compare import CheckResult
from parity_tests.devices import DTYPES
from parity_tests.tolerances import LEVELS

CONCEPT_IDS = (
    "activations",
    "losses",
    "dense",
    "gd",
    "logreg",
    "compgraph",
    "shallow",
    "init",
    "deep",
    "regression",
    "cnn",
    "rnn",
    "kmeans",
    "anomaly",
    "similarity",
    "rl",
)
"""Every concept id of the course's catalogue (the README's concept table), in its order."""

LEVEL_ORDER = LEVELS
"""The parity levels in report order: :data:`parity_tests.tolerances.LEVELS`, the one definition."""

CHECK_PLUGINS = ("parity_tests.production.register:register_production_checks",)
"""Registrars of checks beyond :mod:`parity_tests.concepts`, as ``"module:function"`` (the ONNX
Runtime and safetensors checks of the models declared with :func:`register_served`).
:func:`load_concepts` imports each by name and calls ``function(concept_ids)`` with the concepts
it loaded; the registry imports none of them itself — they import the registry — so the
dependency runs one way."""


class CheckUnavailable(Exception):
    """Raised by a check whose optional requirement (e.g. scikit-learn's data) is missing."""


@dataclass(frozen=True)
class ParityCheck:
    """One registered check: ``run(device, dtype) -> CheckResult``."""

    concept: str
    case: str
    level: str
    run: Callable[[str, str], CheckResult]
    dtypes: tuple[str, ...] = DTYPES
    cpu_only: bool = False
    slow: bool = False
    cuda_only: bool = False
    """A check of a CUDA library's own kernels (cuDNN), which the CPU does not have."""
    covers: tuple[str, ...] = ()
    """The inputs whose gradients a gradient or finite-difference check compares (its ``wrt``)."""

    def runs_on(self, device: str) -> bool:
        """Whether this check runs on ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``)."""
        kind = device.split(":")[0]
        return not (self.cpu_only and kind != "cpu") and not (self.cuda_only and kind != "cuda")

    @property
    def id(self) -> str:
        return f"{self.concept}-{self.case}-{self.level}"


_REGISTRY: dict[str, ParityCheck] = {}


def register(check: ParityCheck) -> ParityCheck:
    """Add a check; ids must be unique."""
    if check.concept not in CONCEPT_IDS:
        raise ValueError(
            f"concept: {check.concept!r} is not a concept id of the README's concept table {CONCEPT_IDS}"
        )
    if check.id in _REGISTRY:
        raise ValueError(f"check {check.id!r} is registered twice")
    _REGISTRY[check.id] = check
    return check


def seed_for(*parts: str) -> int:
    """A stable seed per case (not Python's salted ``hash``)."""
    return zlib.crc32("/".join(parts).encode())


def proving_check(check_id: str, name: str, dtype: str) -> ParityCheck:
    """The registered check ``check_id`` that compares the gradient of ``name`` in ``dtype`` — the
    proof a trajectory's ``verified_by`` names for a parameter whose updates it cannot see;
    ``ValueError`` saying what is missing otherwise. The concept the id starts with is loaded."""
    concept = check_id.split("-", 1)[0]
    if check_id not in _REGISTRY and concept in _concept_modules():
        load_concepts([concept])
    check = _REGISTRY.get(check_id)
    if check is None:
        raise ValueError(f"verified_by: {name!r} names check {check_id!r}, which is not registered")
    if check.level not in ("gradient", "finite-difference") or name not in check.covers:
        raise ValueError(
            f"verified_by: check {check_id!r} does not compare the gradient of "
            f"{name!r} (it is a {check.level} check of {list(check.covers)})"
        )
    if dtype not in check.dtypes:
        raise ValueError(f"verified_by: check {check_id!r} runs in {list(check.dtypes)}, not {dtype}")
    return check


def _concept_modules() -> list[str]:
    import parity_tests.concepts as pkg

    return sorted(info.name for info in pkgutil.iter_modules(pkg.__path__) if not info.name.startswith("_"))


def load_concepts(concepts: Sequence[str] | None = None) -> None:
    """Import the modules of :mod:`parity_tests.concepts` (all, or only ``concepts``), which
    register their checks. Importing only what a run asks for keeps one concept's optional
    dependency (SciPy, gymnasium) from breaking another's run."""
    modules = _concept_modules()
    wanted = modules if concepts is None else [c for c in concepts if c in modules]
    for name in wanted:
        importlib.import_module(f"parity_tests.concepts.{name}")
    for plugin in CHECK_PLUGINS:
        module, function = plugin.split(":")
        getattr(importlib.import_module(module), function)(wanted)


def check_concepts(concepts: Sequence[str]) -> list[str]:
    """Validate a concept selection: every id known to the catalogue and implemented; a planned
    id (in the catalogue, no module yet) and an unknown one get different messages."""
    concepts = list(concepts)
    if not concepts or any(not c for c in concepts):
        raise ValueError(f"concepts: expected one or more concept ids, got {concepts!r}")
    unknown = [c for c in concepts if c not in CONCEPT_IDS]
    if unknown:
        raise ValueError(f"concepts: {unknown} are not concept ids; known: {list(CONCEPT_IDS)}")
    planned = [c for c in concepts if c not in _concept_modules()]
    if planned:
        raise ValueError(
            f"concepts: {planned} are planned in the README's concept table but not "
            "implemented yet; "
            f"implemented: {[c for c in CONCEPT_IDS if c in _concept_modules()]}"
        )
    return concepts


def all_checks(concepts: Sequence[str] | None = None, include_slow: bool = True) -> list[ParityCheck]:
    """Every registered check (optionally only some concepts), in catalogue then level order."""
    if concepts is not None:
        concepts = check_concepts(concepts)
    load_concepts(concepts)
    checks = [
        c
        for c in _REGISTRY.values()
        if (concepts is None or c.concept in concepts) and (include_slow or not c.slow)
    ]
    return sorted(
        checks,
        key=lambda c: (
            CONCEPT_IDS.index(c.concept),
            LEVEL_ORDER.index(c.level) if c.level in LEVEL_ORDER else 99,
        ),
    )


def registered_concepts() -> list[str]:
    """Concept ids with at least one registered check."""
    load_concepts()
    return [c for c in CONCEPT_IDS if any(k.concept == c for k in _REGISTRY.values())]
