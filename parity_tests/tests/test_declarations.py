"""The model declaration is the only way a concept says a model's checks (issue 21).

A model's forward output, cost, parameter gradients, central differences and trajectories are
derived from one :class:`parity_tests.registry.Model` by :func:`~parity_tests.registry.register_model`
(or its trajectories by :func:`~parity_tests.registry.model_problem`). A concept that builds such
a check by hand, ``register(ParityCheck(...))``, teaches the next contributor the wrong pattern:
every ``ParityCheck(`` built in ``parity_tests/concepts`` must be on :data:`ALLOWED`, each entry a
check that no declaration can say, with the reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CONCEPTS = Path(__file__).resolve().parents[1] / "concepts"

ALLOWED: dict[tuple[str, str, str], str] = {
    # (module, case as written, level as written): why no declaration derives it
    (
        "kmeans.py",
        '"blobs"',
        '"trajectory"',
    ): "Lloyd's iterations (assignments, centroids): an algorithm's own steps, not gradient descent",
    ("kmeans.py", "_name", '"trajectory"'): "the same, on the bundled data sets",
    ("kmeans.py", 'f"{_name}-sklearn"', '"oracle"'): "held against scikit-learn's KMeans",
    ("kmeans.py", '"iris-seeding"', '"property"'): "k-means++ seeding's distribution, no model",
    (
        "rl.py",
        "_case",
        '"trajectory"',
    ): "agent-environment runs: episodes, replay and target networks step both sides (not SGD "
    "on fixed batches); the networks' costs and gradients are declared checks",
    ("rl.py", '"testbed-epsilon-greedy"', '"trajectory"'): "a bandit's sample averages, no model",
    ("rl.py", '"testbed-gradient-bandit"', '"trajectory"'): "the gradient bandit's preferences, no model",
    ("rl.py", '"testbed-epsilon-greedy"', '"property"'): "the 10-armed testbed's statistics",
    ("rl.py", '"testbed-gradient-bandit"', '"property"'): "the same, for the gradient bandit",
    ("rnn/long_range.py", '"long-range"', '"property"'): "T = 200 gradient norms per step, no cost",
    ("rnn/checks.py", '"clipping"', '"forward"'): "gradient clipping vs torch.nn.utils, no model",
    ("rnn/tasks.py", '"charlm-sampling"', '"forward"'): "sampling from a character model's softmax",
    ("similarity.py", '"cosine-eps"', '"property"'): "torch's cosine epsilon convention",
    ("similarity.py", '"cdist-mm-mode"', '"property"'): "torch.cdist's matrix-multiply mode",
    ("similarity.py", '"scipy"', '"oracle"'): "held against SciPy's distances",
    ("similarity.py", '"digits-retrieval"', '"forward"'): "nearest-neighbour retrieval, no parameters",
    (
        "anomaly.py",
        "case",
        "level",
    ): "anomaly's _register: Gaussian detectors, thresholds, the trained autoencoder's detector "
    "(scores, epsilon, flags) and oracles run in parity mode; the autoencoder's own checks "
    "are declared (registry.Model, inputs=('X',))",
}
"""Every hand-built check of the concept modules. Keep it short: a model goes through
``register_model``; an operation through ``register_forward``/``register_gradient``/…"""

CLEAN_OF_DEFAULT_CLOSURES = tuple(sorted(str(p.relative_to(CONCEPTS)) for p in CONCEPTS.rglob("*.py")))
"""Every concept module is held to binding loop values with ``functools.partial`` (or a function
of them), not default arguments (``lambda rng, c=_config: ...``)."""


def _modules() -> list[Path]:
    return sorted(p for p in CONCEPTS.rglob("*.py") if not p.name.startswith("__"))


def _hand_built() -> list[tuple[str, str, str]]:
    """``(module, case, level)`` as written, of every ``ParityCheck(...)`` in the concept modules."""
    found = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ParityCheck":
                args = [*node.args, *(k.value for k in node.keywords if k.arg in ("case", "level"))]
                case, level = (ast.unparse(a) for a in args[1:3])
                found.append((path.relative_to(CONCEPTS).as_posix(), case, level))
    return found


def _allowed() -> set[tuple[str, str, str]]:
    """:data:`ALLOWED`'s keys as ``ast.unparse`` writes them (its quotes)."""

    def norm(src: str) -> str:
        return ast.unparse(ast.parse(src, mode="eval").body)

    return {(module, norm(case), norm(level)) for module, case, level in ALLOWED}


def test_no_hand_built_check_a_declaration_would_derive() -> None:
    extra = sorted(set(_hand_built()) - _allowed())
    assert not extra, (
        f"{extra}: hand-built register(ParityCheck(...)); declare the model once "
        "(registry.Model + register_model, CONTRIBUTING.md) or, for an operation, use "
        "register_forward/register_gradient/register_finite_differences"
    )


def test_allow_list_is_not_stale() -> None:
    stale = sorted(_allowed() - set(_hand_built()))
    assert not stale, f"{stale}: no longer hand-built; remove them from ALLOWED"


@pytest.mark.parametrize("module", CLEAN_OF_DEFAULT_CLOSURES)
def test_no_default_argument_closures(module: str) -> None:
    """A loop value bound as a default (``def f(x, c=_cfg)``) is a hidden, overridable argument."""
    tree = ast.parse((CONCEPTS / module).read_text())
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Lambda, ast.FunctionDef)):
            defaults = [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
            bad += [
                f"line {node.lineno}: {ast.unparse(d)}"
                for d in defaults
                if isinstance(d, ast.Name) and d.id.startswith("_")
            ]
    assert not bad, f"{module}: default-argument closures {bad}; bind with functools.partial"


def test_convnet_checks_are_derived_from_its_declaration() -> None:
    """cnn's convnet declares one Model per (pooling, form); its checks keep their ids."""
    from parity_tests import registry as R

    ids = {c.id for c in R.all_checks(["cnn"])}
    for mode in ("max", "avg"):
        assert f"cnn-net-{mode}-forward" in ids
        for form in ("vectorized", "loop"):
            assert {f"cnn-net-{mode}-{form}-cost-gradient", f"cnn-net-{mode}-{form}-cost-forward"} <= ids
    assert {"cnn-net-max-vectorized-cost-finite-difference", "cnn-digits-max-trajectory"} <= ids


@pytest.mark.parametrize(
    "concept, declared",
    [
        (
            "rnn",
            [
                f"rnn-{cell}-{what}-{labels}-{level}"
                for cell in ("rnn", "lstm")
                for labels in ("steps", "last")
                for what, level in (
                    ("output", "forward"),
                    ("cost", "forward"),
                    ("cost", "gradient"),
                    ("cost", "finite-difference"),
                )
            ],
        ),
        (
            "anomaly",
            [
                "anomaly-autoencoder-forward",
                "anomaly-autoencoder-cost-forward",
                "anomaly-autoencoder-cost-gradient",
                "anomaly-autoencoder-cost-finite-difference",
            ],
        ),
        (
            "rl",
            [
                f"rl-{case}-{level}"
                for case in ("reinforce-cost", "td-huber", "td-squared")
                for level in ("forward", "gradient", "finite-difference")
            ]
            + ["rl-reinforce-logits-forward", "rl-td-huber-q-forward", "rl-td-squared-q-forward"],
        ),
    ],
)
def test_networks_checks_are_derived_from_their_declarations(concept: str, declared: list[str]) -> None:
    """rnn's sequence models, anomaly's autoencoder and rl's policy and Q-networks are declared
    (``register_model``); their cost checks keep the ids they had when built by hand."""
    from parity_tests import registry as R

    ids = {c.id for c in R.all_checks([concept])}
    assert set(declared) <= ids, sorted(set(declared) - ids)


def test_production_checks_are_derived_from_served_declarations() -> None:
    """The ONNX Runtime and safetensors checks come only from ``registry.register_served``: three
    per declared model, and none without a declaration (the concept modules declare; the
    production plug-in derives)."""
    from parity_tests import registry as R

    ids = {c.id for c in R.all_checks()}
    derived = {
        f"{s.concept}-{case}-forward"
        for s in R.served_models()
        for case in (f"onnx-{s.name}", f"onnx-{s.name}-float64", f"safetensors-{s.name}")
    }
    production = {i for i in ids if "-onnx-" in i or "-safetensors-" in i}
    assert derived <= ids, sorted(derived - ids)
    assert production == derived, sorted(production - derived)
    for path in _modules():
        tree = ast.parse(path.read_text())
        imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        assert not [m for m in imported if m.startswith("parity_tests.production")], path


def test_the_course_builds_its_networks_from_the_declarations(monkeypatch: pytest.MonkeyPatch) -> None:
    """``dlparity check``'s torch networks are the concepts' declarations (``concepts/_networks``):
    the module, its spec, the output method and the cost all come from the one ``Model`` —
    change the declaration and the course's references follow."""
    import dataclasses

    import numpy as np
    import torch
    from torch.nn import functional as F

    from parity_tests.concepts import _networks
    from parity_tests.course import references as R

    rng = np.random.default_rng(0)
    p = {
        "W1": rng.standard_normal((4, 3)),
        "b1": rng.standard_normal((4, 1)),
        "W2": rng.standard_normal((1, 4)),
        "b2": rng.standard_normal((1, 1)),
    }
    X, Y = rng.standard_normal((3, 5)), (rng.random((1, 5)) < 0.5).astype(float)
    for net in (R.deep_net(p), R.shallow_net(p, "relu")):
        assert R.declaration(net).names == ("W1", "b1", "W2", "b2")
    assert R.declaration(R.logreg_net({"w": np.ones((3, 1)), "b": 0.5})).output_method == "predict_proba"
    ref = R.cost_and_grads(R.deep_net(p), X, Y)
    values = R.forward_values(R.deep_net(p), X)

    declared = _networks.deep

    def changed(dims: tuple[int, ...], activation: str, out: str):
        return dataclasses.replace(
            declared(dims, activation, out),
            output_method="forward",
            loss_method=None,
            torch_cost=lambda z, y: 0.5 * F.binary_cross_entropy_with_logits(z, y),
        )

    monkeypatch.setattr(_networks, "deep", changed)
    assert R.cost_and_grads(R.deep_net(p), X, Y)["cost"] == pytest.approx(0.5 * ref["cost"], rel=1e-12)
    np.testing.assert_allclose(R.forward_values(R.deep_net(p), X)["A2"], values["Z2"], rtol=1e-12)
    with pytest.raises(TypeError, match="not a declared network"):
        R.declaration(torch.nn.Linear(2, 1))
