"""The registry of concept pairs × generic checks (scikit-learn's ``parametrize_with_checks`` shape).

A concept registers, once, in ``parity_tests/concepts/<id>.py``: its cases at each parity level,
built from its scratch side, torch side, converters and sample inputs. The pytest suite and
``dlparity report`` both iterate :func:`all_checks` × devices × dtypes; neither knows any
concept by name.

Example (what a concept module writes)::

    register_gradient("dense", "linear", scratch_grads=..., torch_fn=F.linear,
                      make_inputs=lambda rng: {...}, wrt=["A_prev", "W", "b"], ...)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any

import numpy as np

from parity_tests.api import check_finite_differences, check_forward, check_gradients
from parity_tests.checks import (  # noqa: F401  (re-exported: the registry's API)
    _REGISTRY,
    CHECK_PLUGINS,
    CONCEPT_IDS,
    LEVEL_ORDER,
    CheckUnavailable,
    ParityCheck,
    _concept_modules,
    all_checks,
    check_concepts,
    load_concepts,
    proving_check,
    register,
    registered_concepts,
    seed_for,
)
from parity_tests.compare import CheckResult, compare, group_result
from parity_tests.devices import DTYPES, HALF_DTYPES, kernel_unavailable
from parity_tests.tolerances import OPTIMUM_GRAD_TOL, kernel_tolerance, tolerance
from parity_tests.trajectory import check_training, torch_trajectory

SERVING_FORMATS = ("onnx", "safetensors")
"""How a served model ships (:func:`register_served`): exported to ONNX Runtime, and its weights
in ``.safetensors`` files; the production plug-in derives one check of each."""

MakeInputs = Callable[[np.random.Generator], Mapping[str, np.ndarray]]
MakeProblem = Callable[[np.random.Generator], Mapping[str, Any]]


def _rng(concept: str, case: str) -> np.random.Generator:
    return np.random.default_rng(seed_for(concept, case))


def _dtypes(half: bool) -> tuple[str, ...]:
    return DTYPES + HALF_DTYPES if half else DTYPES


@dataclass
class ScratchCall:
    """The scratch side's call in one check run (its arguments as the check passed them, cast to
    the run's dtype, and its output) — what an ``explain`` hook reads to name a mistake."""

    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] | None = None
    out: Any = None


Explain = Callable[[ScratchCall, str], "str | None"]
"""``explain(call, dtype) -> sentence | None``: on a failed check only, the concept's own
diagnosis (a typical mistake recomputed from ``call``'s inputs), put before the generic one."""


@dataclass(frozen=True)
class _Recorded:
    """A scratch function that records its call into ``call``."""

    fn: Callable[..., Any]
    call: ScratchCall

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.call.args, self.call.kwargs = args, kwargs
        self.call.out = self.fn(*args, **kwargs)
        return self.call.out


def _explained(
    fn: Callable[..., Any],
    explain: Explain | None,
    dtype: str,
    check: Callable[[Callable[..., Any]], CheckResult],
) -> CheckResult:
    """``check(fn)``, with ``explain``'s sentence before the diagnosis when it fails."""
    if explain is None:
        return check(fn)
    call = ScratchCall()
    result = check(_Recorded(fn, call))
    if not result.passed:
        result.diagnosis = "; ".join(t for t in (explain(call, dtype), result.diagnosis) if t) or None
    return result


def _kernel_tolerance(kernel: str | None, device: str, dtype: str, level: str) -> dict[str, Any]:
    """``{"tol": ...}`` of a check whose torch side runs the named vendor ``kernel`` (the policy's
    :func:`~parity_tests.tolerances.kernel_tolerance`), ``{}`` for the policy's own; raises
    :class:`CheckUnavailable` where ``device`` lacks that kernel."""
    if kernel is None:
        return {}
    reason = kernel_unavailable(kernel, device)
    if reason:
        raise CheckUnavailable(reason)
    return {"tol": kernel_tolerance(kernel, dtype, level)}


def forward_run(
    concept: str,
    case: str,
    scratch_fn: Callable[..., Any],
    torch_fn: Callable[..., Any],
    make_inputs: MakeInputs,
    explain: Explain | None = None,
    kernel: str | None = None,
    **kwargs: Any,
) -> Callable[[str, str], CheckResult]:
    """The ``run(device, dtype)`` that :func:`register_forward` registers (a test may run it on
    configurations beyond the registered ones); ``kwargs`` go to
    :func:`~parity_tests.api.check_forward`."""

    def run(device: str, dtype: str) -> CheckResult:
        tol = _kernel_tolerance(kernel, device, dtype, "forward")
        return _explained(
            scratch_fn,
            explain,
            dtype,
            lambda fn: check_forward(
                fn,
                torch_fn,
                make_inputs(_rng(concept, case)),
                device=device,
                dtype=dtype,
                concept=concept,
                case=case,
                **tol,
                **kwargs,
            ),
        )

    return run


def gradient_run(
    concept: str,
    case: str,
    scratch_grads: Callable[..., Any],
    torch_fn: Callable[..., Any],
    make_inputs: MakeInputs,
    wrt: Sequence[str],
    explain: Explain | None = None,
    kernel: str | None = None,
    **kwargs: Any,
) -> Callable[[str, str], CheckResult]:
    """The ``run(device, dtype)`` that :func:`register_gradient` registers; ``kwargs`` go to
    :func:`~parity_tests.api.check_gradients` (the upstream ``G`` is ``call.args[0]`` with
    ``vjp=True``)."""

    def run(device: str, dtype: str) -> CheckResult:
        tol = _kernel_tolerance(kernel, device, dtype, "gradient")
        return _explained(
            scratch_grads,
            explain,
            dtype,
            lambda fn: check_gradients(
                fn,
                torch_fn,
                make_inputs(_rng(concept, case)),
                wrt,
                device=device,
                dtype=dtype,
                seed=seed_for(concept, case, "G"),
                concept=concept,
                case=case,
                **tol,
                **kwargs,
            ),
        )

    return run


def register_forward(
    concept: str,
    case: str,
    scratch_fn: Callable[..., Any],
    torch_fn: Callable[..., Any],
    make_inputs: MakeInputs,
    half: bool = False,
    explain: Explain | None = None,
    kernel: str | None = None,
    cuda_only: bool = False,
    **kwargs: Any,
) -> ParityCheck:
    """Register a forward check; ``kwargs`` go to :func:`~parity_tests.api.check_forward`.

    ``half=True`` also runs it in float16 and bfloat16 (against a float32 scratch reference);
    ``explain`` (:data:`Explain`) names a concept's typical mistake when it fails. ``kernel``
    (one of :data:`~parity_tests.tolerances.KERNELS`) says that ``torch_fn`` runs that vendor
    kernel: the check is held to its kernel tolerance, and is unavailable on a device that lacks
    it; ``cuda_only=True`` runs it on CUDA devices only (a GPU library's kernel).
    """
    run = forward_run(concept, case, scratch_fn, torch_fn, make_inputs, explain, kernel, **kwargs)
    return register(ParityCheck(concept, case, "forward", run, dtypes=_dtypes(half), cuda_only=cuda_only))


def register_gradient(
    concept: str,
    case: str,
    scratch_grads: Callable[..., Any],
    torch_fn: Callable[..., Any],
    make_inputs: MakeInputs,
    wrt: Sequence[str],
    half: bool = False,
    explain: Explain | None = None,
    kernel: str | None = None,
    cuda_only: bool = False,
    **kwargs: Any,
) -> ParityCheck:
    """Register a gradient check; ``kwargs`` go to :func:`~parity_tests.api.check_gradients`;
    ``half``, ``explain``, ``kernel`` and ``cuda_only`` as in :func:`register_forward`."""
    run = gradient_run(concept, case, scratch_grads, torch_fn, make_inputs, wrt, explain, kernel, **kwargs)
    return register(
        ParityCheck(
            concept, case, "gradient", run, dtypes=_dtypes(half), covers=tuple(wrt), cuda_only=cuda_only
        )
    )


def register_finite_differences(
    concept: str,
    case: str,
    scratch_fn: Callable[..., Any],
    scratch_grads: Callable[..., Any],
    make_inputs: MakeInputs,
    wrt: Sequence[str],
    **kwargs: Any,
) -> ParityCheck:
    """Register a float64 finite-difference check of a scratch backward (CPU, no torch)."""

    def run(device: str, dtype: str) -> CheckResult:
        return check_finite_differences(
            scratch_fn,
            scratch_grads,
            make_inputs(_rng(concept, case)),
            wrt,
            seed=seed_for(concept, case, "G"),
            concept=concept,
            case=case,
            **kwargs,
        )

    return register(
        ParityCheck(
            concept, case, "finite-difference", run, dtypes=("float64",), cpu_only=True, covers=tuple(wrt)
        )
    )


def register_trajectory(
    concept: str,
    case: str,
    make_problem: Callable[[np.random.Generator], Mapping[str, Any]],
    slow: bool = False,
    **kwargs: Any,
) -> ParityCheck:
    """Register a training trajectory.

    ``make_problem(rng)`` returns the keyword arguments of
    :func:`~parity_tests.trajectory.check_training` (``scratch_step``, a fresh ``torch_model``,
    ``torch_loss``, ``init_params``, ``batches``, ``param_spec``, ``learning_rate``), so every
    run starts from a fresh model — and optionally ``plot_group``: trajectories of one group (a
    hyperparameter grid) share one overview PNG in the report instead of one PNG each.
    """

    def run(device: str, dtype: str) -> CheckResult:
        problem = dict(make_problem(_rng(concept, case)))
        plot_group = problem.pop("plot_group", None)
        result = check_training(device=device, dtype=dtype, concept=concept, case=case, **problem)
        if plot_group:
            result.extra["plot_group"] = plot_group
        return result

    return register(ParityCheck(concept, case, "trajectory", run, slow=slow, **kwargs))


@dataclass(frozen=True)
class Model:
    """A model-level concept, declared once by its interface (scikit-learn's checks are functions
    of an estimator's interface; these are functions of this pair). Every model check — the
    output, the cost, each parameter gradient against autograd, float64 central differences, each
    training trajectory — is derived from it by :func:`register_model`; a concept never builds
    those by hand.

    The scratch side, in the course layout:

    - ``propagate(params, X, Y) -> (J, grads)`` (``grads`` keyed ``"d<name>"``) — also the
      trajectories' step: the runner applies ``p := p − α dp`` on both sides (torch's ``SGD``);
      ``None`` for a model with no cost of its own, which can be served (:func:`register_served`,
      dense's layer) but has nothing for :func:`register_model` to derive;
    - ``forward(params, X) -> output``.

    The torch side:

    - ``make_module(**factory_kwargs)``, a fresh module (``device="meta"`` for the functional
      checks, built when a check runs: declaring and registering build none);
    - ``param_spec``: ``{scratch name: (state_dict key, Layout)}``, or a
      :class:`torch_ref.layout.Converter` object (``names``, ``to_torch``/``to_state_dict``…)
      where one course array is split over several keys or several are stacked into one
      (torch's LSTM gates: ``torch_ref.rnn.CourseConverter``);
    - its output method (``output_method``, whose value equals ``forward``) and its cost:
      ``torch_cost(logits, Y) -> J`` on the output of the module's ``forward``, or the module's
      own method ``loss_method`` (``model.loss(x, y)``);
    - ``torch_context``: a context manager factory the torch side runs in (``rnn``: torch's own
      CUDA kernels, not cuDNN's), or ``None``.

    The data: ``x_name``/``y_name`` name the batch inputs (sequences are ``x``);
    ``x_layout``/``y_layout``/``output_layout`` say how they and the output convert — any
    N-D :class:`~torch_ref.layout.Layout` (``IMAGES``, ``SEQUENCE``), ``COLUMNS`` by default.
    ``inputs`` names the batch inputs of ``propagate`` and of the cost, in their order, where
    they are not ``(x_name, y_name)``:

    - ``(x_name,)``: the labels are ``X`` itself (an autoencoder): ``propagate(params, X)``,
      ``loss(X)`` or ``torch_cost(output, X)``; a trajectory's batches are ``(X, X)`` pairs
      whose second half the step ignores;
    - more names (``("S", "actions", "A")``: a policy's cost reads states, the actions taken and
      their advantages): ``propagate(params, S, actions, A)``, ``loss(S, actions, A)`` or
      ``torch_cost(output, actions, A)``; inputs other than ``x_name``/``y_name`` keep their
      layout (``SAME``), and such a model has no trajectory (:func:`model_problem` steps on
      ``(X, Y)`` batches).

    ``index_inputs`` names the integer inputs (class or action indices) that stay integers on
    both sides instead of taking the run's float dtype.
    """

    forward: Callable[..., Any]
    make_module: Callable[..., Any]
    param_spec: Any
    propagate: Callable[..., Any] | None = None
    torch_cost: Callable[..., Any] | None = None
    output_method: str = "forward"
    loss_method: str | None = None
    x_layout: Any = None
    y_layout: Any = None
    output_layout: Any = None
    x_name: str = "X"
    y_name: str = "Y"
    torch_context: Callable[[], AbstractContextManager[Any]] | None = None
    inputs: tuple[str, ...] | None = None
    index_inputs: tuple[str, ...] = ()

    @property
    def batch_inputs(self) -> tuple[str, ...]:
        """The inputs ``propagate`` and the cost read after the parameters, in order."""
        return (self.x_name, self.y_name) if self.inputs is None else tuple(self.inputs)

    @property
    def targets(self) -> tuple[str, ...]:
        """What ``torch_cost`` takes after the output: the inputs after ``X``, or ``X`` itself
        when it is the only one (an autoencoder's labels)."""
        return self.batch_inputs[1:] or (self.x_name,)

    @property
    def unsupervised(self) -> bool:
        """``inputs == (x_name,)``: the labels are ``X`` itself."""
        return self.batch_inputs == (self.x_name,)

    def layouts(self) -> tuple[Any, Any, Any]:
        from torch_ref.layout import COLUMNS

        return (self.x_layout or COLUMNS, self.y_layout or COLUMNS, self.output_layout or COLUMNS)

    @property
    def names(self) -> tuple[str, ...]:
        """The scratch parameter names, in the spec's (or converter's) order."""
        spec = self.param_spec
        return tuple(spec) if isinstance(spec, Mapping) else tuple(spec.names)

    def spec(self) -> Any:
        """The parameter spec as the converters take it: a fresh dict, or the converter itself."""
        return dict(self.param_spec) if isinstance(self.param_spec, Mapping) else self.param_spec

    def _params(self, kw: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: kw[k] for k in self.names}

    def _context(self) -> AbstractContextManager[Any]:
        return self.torch_context() if self.torch_context is not None else nullcontext()

    # scratch side, as functions of named inputs {params..., X, Y} (or of ``inputs``)
    def scratch_output(self, **kw: np.ndarray) -> Any:
        return self.forward(self._params(kw), kw[self.x_name])

    def _propagate(self, kw: Mapping[str, np.ndarray]) -> Any:
        return self.propagate(self._params(kw), *(kw[k] for k in self.batch_inputs))

    def scratch_cost(self, **kw: np.ndarray) -> Any:
        return self._propagate(kw)[0]

    def scratch_grads(self, **kw: np.ndarray) -> Any:
        return self._propagate(kw)[1]

    def step(self, params: Mapping[str, np.ndarray], X: np.ndarray, Y: np.ndarray) -> Any:
        """A trajectory's ``scratch_step(params, X, Y) -> (J, grads)``: ``propagate``, which
        reads no ``Y`` when the labels are ``X`` itself (:attr:`unsupervised`)."""
        return self.propagate(params, X) if self.unsupervised else self.propagate(params, X, Y)

    # torch side: the module itself, its parameters passed in (module_function)
    def _fn(self, method: str) -> Callable[..., Any]:
        from parity_tests.torch_functional import module_function

        return module_function(partial(self.make_module, device="meta"), self.spec(), method)[0]

    def build(
        self, params: Mapping[str, np.ndarray] | None = None, device: Any = None, dtype: Any = None
    ) -> Any:
        """A fresh module from ``make_module(device=, dtype=)`` holding the scratch ``params``
        (course layout, through :meth:`spec`; held to ``check_param_arrays``: floating, one
        dtype, finite), whose dtype it takes unless ``dtype`` is given; with no ``params``, its
        own initialization."""
        from torch_ref.layout import check_param_arrays, load_scratch_params, scratch_dtype

        if params is None:
            return self.make_module(device=device, dtype=dtype)
        params = check_param_arrays(params, allow_nonfinite=False)
        module = self.make_module(device=device, dtype=scratch_dtype(params, dtype))
        return load_scratch_params(module, params, self.spec())

    def torch_output(self, **kw: Any) -> Any:
        with self._context():
            return self._fn(self.output_method)(kw[self.x_name], **self._params(kw))

    def module_output(self, module: Any, x: Any) -> Any:
        """The output method of a built ``module`` (its parameters loaded) on a batch ``x`` in
        torch's layout, without autograd: what a served file computes."""
        import torch

        with torch.no_grad(), self._context():
            return getattr(module, self.output_method)(x)

    def torch_logits(self, **kw: Any) -> Any:
        """The module's ``forward`` output (what ``torch_cost`` takes), for upstream-gradient checks."""
        with self._context():
            return self._fn("forward")(kw[self.x_name], **self._params(kw))

    def torch_objective(self, **kw: Any) -> Any:
        with self._context():
            if self.loss_method is not None:
                from parity_tests.torch_functional import module_function

                loss, _ = module_function(
                    partial(self.make_module, device="meta"),
                    self.spec(),
                    self.loss_method,
                    inputs=self.batch_inputs,
                )
                return loss(*(kw[k] for k in self.batch_inputs), **self._params(kw))
            return self.torch_cost(
                self._fn("forward")(kw[self.x_name], **self._params(kw)), *(kw[k] for k in self.targets)
            )

    def torch_loss(self, model: Any, X: Any, Y: Any) -> Any:
        """A trajectory's ``torch_loss(model, X, Y)`` (``Y`` unread when :attr:`unsupervised`)."""
        with self._context():
            if self.loss_method is not None:
                return getattr(model, self.loss_method)(*((X,) if self.unsupervised else (X, Y)))
            return self.torch_cost(model(X), X if self.unsupervised else Y)

    def input_layouts(self) -> dict[str, Any]:
        """How each input converts for torch: the parameters by the spec, the batch by the
        declared layouts — read off the declaration, no module built."""
        x, y, _ = self.layouts()
        data = {self.x_name: x, **({self.y_name: y} if self.y_name in self.batch_inputs else {})}
        return {**param_layouts(self.param_spec), **data}

    def batch_layouts(self) -> tuple[Any, Any]:
        """A trajectory's ``(X, Y)`` layouts; ``(X, X)`` when the labels are ``X`` itself."""
        x, y, _ = self.layouts()
        return (x, x) if self.unsupervised else (x, y)


def param_layouts(spec: Any) -> dict[str, Any]:
    """``{scratch name: Layout}`` of a parameter spec: each entry's layout for a ``ParamSpec``;
    ``SAME`` for every name of a converter (it converts course-layout arrays itself) — as
    :func:`~parity_tests.torch_functional.module_function` passes them, with no module built."""
    from torch_ref.layout import SAME

    if isinstance(spec, Mapping):
        return {name: layout for name, (_, layout) in spec.items()}
    return {name: SAME for name in spec.names}


@dataclass(frozen=True)
class ModuleFunction:
    """:func:`~parity_tests.torch_functional.module_function`'s ``fn`` built on its first call,
    not when declared: registering a check builds no module (a module built on ``meta`` imports
    ``torch._dynamo``, ~1.5 s). ``make_module()`` builds it (``device="meta"``); the built
    function is kept for later calls in this process."""

    make_module: Callable[[], Any]
    spec: Any
    method: str = "forward"
    inputs: tuple[str, ...] = ("X",)

    @cached_property
    def fn(self) -> Callable[..., Any]:
        from parity_tests.torch_functional import module_function

        return module_function(self.make_module, self.spec, self.method, self.inputs)[0]

    def __call__(self, *args: Any, **tensors: Any) -> Any:
        return self.fn(*args, **tensors)


def register_model(
    concept: str,
    case: str,
    model: Model,
    make_inputs: MakeInputs,
    trajectories: Mapping[str, MakeProblem] | None = None,
    half: Sequence[str] = (),
    fd: bool | tuple[Model, MakeInputs] = True,
    output_case: str | None = None,
    cost_case: str | None = None,
) -> list[ParityCheck]:
    """Derive a model's checks from its declaration (:class:`Model`): the forward output
    (``output_case``, default ``<case>``), the cost's value and every parameter gradient of it vs
    autograd (``cost_case``, default ``<case>-cost``), float64 central differences of the scratch
    backward (``fd``: ``True``, of this model on ``make_inputs``; ``(model, make_inputs)``, of a
    smaller instance of it — each parameter entry costs two forwards; ``False``: none), and each
    trajectory of ``trajectories`` — ``{name: make_problem(rng)}`` returning ``init_params``,
    ``batches``, ``learning_rate`` (optionally ``metrics``, ``step_returns``, ``still``); the
    model supplies the step, a fresh torch module, its loss, its spec and the batch layouts.

    ``make_inputs(rng)`` returns ``{param: array, ..., X: ..., Y: ...}`` (or the model's
    ``inputs``) in the course layout; the output check gets the parameters and ``X`` only.
    ``half`` names the levels (``"forward"``, ``"gradient"``) also run in float16/bfloat16.
    """
    if model.propagate is None:
        raise ValueError(
            f"register_model({concept!r}, {case!r}): the model declares no propagate "
            "(no cost), so there is no cost, gradient or trajectory to derive; "
            "register_forward checks its output, register_served serves it"
        )
    names = list(model.names)
    layouts = model.input_layouts()
    out_layout = model.layouts()[2]
    cost_case = f"{case}-cost" if cost_case is None else cost_case
    index = {"index_inputs": list(model.index_inputs)} if model.index_inputs else {}
    checks = [  # the output reads only the parameters and X (an unread input never passes)
        register_forward(
            concept,
            case if output_case is None else output_case,
            model.scratch_output,
            model.torch_output,
            _OutputInputs(make_inputs, (*names, model.x_name)),
            layouts=layouts,
            output_layout=out_layout,
            half="forward" in half,
        ),
        register_forward(
            concept,
            cost_case,
            model.scratch_cost,
            model.torch_objective,
            make_inputs,
            layouts=layouts,
            output_names=["J"],
            half="forward" in half,
            **index,
        ),
        register_gradient(
            concept,
            cost_case,
            model.scratch_grads,
            model.torch_objective,
            make_inputs,
            wrt=names,
            layouts=layouts,
            half="gradient" in half,
            **index,
        ),
    ]
    if fd:
        fd_model, fd_inputs = fd if isinstance(fd, tuple) else (model, make_inputs)
        checks.append(
            register_finite_differences(
                concept,
                cost_case,
                fd_model.scratch_cost,
                fd_model.scratch_grads,
                fd_inputs,
                wrt=list(fd_model.names),
                **index,
            )
        )
    for name, make_problem in (trajectories or {}).items():
        checks.append(register_trajectory(concept, name, model_problem(model, make_problem)))
    return checks


@dataclass(frozen=True)
class _OutputInputs:
    """``make_inputs`` cut to what a model's output reads (its parameters and ``X``)."""

    make_inputs: MakeInputs
    keep: tuple[str, ...]

    def __call__(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {k: v for k, v in self.make_inputs(rng).items() if k in self.keep}


def model_problem(model: Model, make_problem: MakeProblem) -> Callable[[np.random.Generator], dict[str, Any]]:
    """``make_problem(rng)`` for :func:`register_trajectory`, completed from ``model``: its step,
    a fresh torch module, its loss, its spec and its batch layouts. ``model_problem(model,
    make_problem)(rng)`` is also the whole keyword set of
    :func:`~parity_tests.trajectory.check_training`, for a test's longer run."""
    return _ModelProblem(model, make_problem)


@dataclass(frozen=True)
class _ModelProblem:
    model: Model
    make_problem: MakeProblem

    def __post_init__(self) -> None:
        if self.model.propagate is None:
            raise ValueError(
                "model_problem: the model declares no propagate (no cost), so it has no step to train with"
            )
        inputs = self.model.batch_inputs
        if len(inputs) > 2:
            raise ValueError(
                f"model_problem: a trajectory steps on (X, Y) batches; this model's cost reads {list(inputs)}"
            )

    def __call__(self, rng: np.random.Generator) -> dict[str, Any]:
        return {
            "scratch_step": self.model.step,
            "torch_model": self.model.make_module(),
            "torch_loss": self.model.torch_loss,
            "param_spec": self.model.spec(),
            "batch_layouts": self.model.batch_layouts(),
            **self.make_problem(rng),
        }


def register_optimum(concept: str, case: str, model: Model, make_problem: MakeProblem) -> ParityCheck:
    """Derive an ``optimum`` check from a model's declaration: both sides trained to convergence by
    full-batch gradient descent, each held to an independent solver's optimum (a convex cost).

    ``make_problem(rng)`` returns ``X``, ``Y`` (course layout), ``init_params``,
    ``learning_rate``, ``max_steps``, ``optimum`` (the solver's parameters, course layout), and
    optionally ``metrics`` (a :mod:`parity_tests.metrics` factory's function) and
    ``solver_metrics`` (``{name: value}`` of the solver). The scratch side steps
    ``p := p − α dp`` with the declared ``propagate`` until ``max |dp| <``
    :data:`~parity_tests.tolerances.OPTIMUM_GRAD_TOL` ``[dtype]`` (the policy's stopping rule) or
    ``max_steps``; the torch side takes as many steps with the trajectories' runner
    (:func:`~parity_tests.trajectory.torch_trajectory`: ``torch.optim.SGD`` on the declared
    module and loss). Both final parameters are compared with ``optimum`` at the policy's
    ``optimum`` tolerance; ``extra["metrics"]`` has the step count and the metrics.
    """
    if model.propagate is None:
        raise ValueError(
            f"register_optimum({concept!r}, {case!r}): the model declares no propagate (no cost)"
        )
    return register(ParityCheck(concept, case, "optimum", _Optimum(concept, case, model, make_problem)))


@dataclass(frozen=True)
class _Optimum:
    """The ``run(device, dtype)`` of :func:`register_optimum`."""

    concept: str
    case: str
    model: Model
    make_problem: MakeProblem

    def __call__(self, device: str, dtype: str) -> CheckResult:
        from torch_ref.layout import numpy_dtype

        problem = dict(self.make_problem(_rng(self.concept, self.case)))
        np_dtype = numpy_dtype(dtype)
        X, Y = (np.asarray(problem[k]).astype(np_dtype) for k in ("X", "Y"))
        init = {k: np.asarray(v).astype(np_dtype) for k, v in problem["init_params"].items()}
        lr = problem["learning_rate"]
        params, steps = self._descend(init, X, Y, lr, problem["max_steps"], OPTIMUM_GRAD_TOL[dtype])
        final = init
        if steps:
            trajectory, _ = torch_trajectory(
                self.model.make_module(),
                self.model.torch_loss,
                init,
                [(X, Y)] * steps,
                param_spec=self.model.spec(),
                learning_rate=lr,
                batch_layouts=self.model.batch_layouts(),
                device=device,
                dtype=dtype,
            )
            final = trajectory[-1]
        tol = tolerance(dtype, "optimum")
        records = [
            compare(f"{name} ({side}) vs solver", got[name], problem["optimum"][name], tol)
            for side, got in (("scratch", params), ("torch", final))
            for name in self.model.names
        ]
        scores: dict[str, Any] = {"steps": steps}
        if problem.get("metrics") is not None:
            scores.update(problem["metrics"](params, self.model.build(final, device=device)))
        scores.update(problem.get("solver_metrics", {}))
        return group_result(
            self.concept, self.case, "optimum", device, dtype, records, extra={"metrics": scores}
        )

    def _descend(
        self,
        params: dict[str, np.ndarray],
        X: np.ndarray,
        Y: np.ndarray,
        lr: float,
        max_steps: int,
        grad_tol: float,
    ) -> tuple[dict[str, np.ndarray], int]:
        """Scratch gradient descent with the declared step until ``max |dp| < grad_tol``;
        returns the parameters and the number of updates made."""
        steps = 0
        while steps < max_steps:
            _, grads = self.model.step(params, X, Y)
            if max(float(np.abs(grads[f"d{k}"]).max()) for k in params) < grad_tol:
                break
            params = {k: p - lr * grads[f"d{k}"] for k, p in params.items()}
            steps += 1
        return params, steps


@dataclass(frozen=True)
class ServedModel:
    """A declared :class:`Model` as it ships (:func:`register_served`): exported to ONNX Runtime
    and saved to ``.safetensors`` files, under ``<concept>-onnx-<name>`` and
    ``<concept>-safetensors-<name>``."""

    concept: str
    name: str
    model: Model
    make_inputs: MakeInputs
    quick: tuple[str, ...] = ("safetensors",)
    """The :data:`SERVING_FORMATS` whose float32 check runs in the default report and test run;
    the others (and float64 ONNX) are slow."""


_SERVED: dict[tuple[str, str], ServedModel] = {}


def register_served(
    concept: str, name: str, model: Model, make_inputs: MakeInputs, quick: Sequence[str] = ("safetensors",)
) -> ServedModel:
    """Declare that ``model`` is served: its ``output_method`` exported to ONNX Runtime and its
    parameters in ``.safetensors`` files, each proven equal to eager torch and to the scratch
    ``forward``. The checks (``<concept>-onnx-<name>``, ``-onnx-<name>-float64``,
    ``-safetensors-<name>``) are derived by the production plug-in (:data:`CHECK_PLUGINS`).

    The parameters are ``make_inputs(rng)``'s entries named by the model's spec, so the model's
    registered inputs (distinct, non-square sizes) serve it too; ``X`` gives the shape of an
    example. ``quick`` names the formats (:data:`SERVING_FORMATS`) that run in the default report:
    an ONNX export costs 1–2 s on 2 cores, so only a few models say ``"onnx"``; ``()`` makes
    all of a model's production checks slow.
    """
    if concept not in CONCEPT_IDS:
        raise ValueError(
            f"concept: {concept!r} is not a concept id of the README's concept table {CONCEPT_IDS}"
        )
    unknown = [f for f in quick if f not in SERVING_FORMATS]
    if unknown:
        raise ValueError(f"quick: {unknown} are not serving formats; known: {list(SERVING_FORMATS)}")
    if (concept, name) in _SERVED:
        raise ValueError(f"served model {concept}-{name} is registered twice")
    served = ServedModel(concept, name, model, make_inputs, tuple(quick))
    _SERVED[concept, name] = served
    return served


def served_models(concepts: Sequence[str] | None = None) -> list[ServedModel]:
    """The served models declared by the loaded concept modules (:func:`load_concepts`), of
    ``concepts`` (all when ``None``), in declaration order."""
    return [s for s in _SERVED.values() if concepts is None or s.concept in concepts]


def register_property(
    concept: str, case: str, run: Callable[[str, str], CheckResult], **kwargs: Any
) -> ParityCheck:
    """Register a check that is not a comparison of two computations on the same data — e.g.
    that both sides' initializers draw the same distribution. ``run(device, dtype)`` builds its
    own :class:`CheckResult`; ``kwargs`` go to :class:`ParityCheck` (``dtypes``, ``cpu_only``)."""
    return register(ParityCheck(concept, case, "property", run, **kwargs))
