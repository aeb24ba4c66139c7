"""The distributed check: DDP trajectory == single-process trajectory == scratch trajectory.

A deep softmax network (``64-24-10``, ReLU) trains on scikit-learn's digits for a few
mini-batch steps three ways from the same scratch parameters on the same batches:

1. scratch NumPy (``scratch.deep.propagate`` + ``p := p − α dp``) on the whole batch;
2. torch in one process (``DeepNetwork`` + ``torch.optim.SGD``) on the whole batch;
3. torch under ``DistributedDataParallel`` with ``W`` processes, each on its shard
   (:mod:`parity_tests.production.ddp`: equal shards with the mean loss, or unequal shards
   with the weighting that keeps the step exact).

The loss and every parameter are compared at every step — (3) vs (2) and (3) vs (1) at the
``distributed`` tolerance, (2) vs (1) at the trajectory tolerance — and every rank must end
with bitwise the same parameters. Run it with :func:`run_distributed_check` (processes on this
machine), from ``dlparity report --distributed N`` (:func:`distributed_checks`), or across
machines with ``torchrun ... -m parity_tests.production.distributed`` (:func:`main`; see
the README's section on production).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from parity_tests.compare import CheckResult, Comparison, compare, group_result, tolerance_ratio
from parity_tests.devices import DTYPES, check_device, parity_mode
from parity_tests.production.ddp import (
    DEFAULT_TIMEOUT_S,
    EXIT_INCOMPLETE,
    SHARDS,
    DDPJob,
    RankTimeoutError,
    check_shards,
    check_timeout,
    leave,
    process_group,
    shard_loss,
    spawn_ddp,
)
from parity_tests.registry import ParityCheck, seed_for
from parity_tests.tolerances import EXACT, Tolerance, distributed_tolerance, tolerance
from parity_tests.trajectory import torch_trajectory
from scratch import deep as S
from scratch.gd import gd_update
from torch_ref.layout import SAME, numpy_dtype, torch_dtype

Params = dict[str, np.ndarray]
Trajectory = tuple[list[float], list[Params]]
LAYER_DIMS, ACTIVATION, LEARNING_RATE, STEPS = (64, 24, 10), "relu", 0.5, 6
BATCH = {"equal": 96, "weighted": 95}
"""Examples per step: 96 splits equally over 2, 3, 4, 6 or 8 ranks; 95 over none of 2 … 5."""


def make_job(
    dtype: str = "float64", shards: str = "equal", steps: int = STEPS, batch_size: int | None = None
) -> DDPJob:
    """The digits problem: He-initialized parameters from a seeded generator, ``steps``
    consecutive batches of digits (batch-first rows, class indices)."""
    from parity_tests.datasets import digits

    if shards not in SHARDS:
        raise ValueError(f"shards: expected one of {list(SHARDS)}, got {shards!r}")
    X, labels = digits()  # (64, 1797), (1797,)
    m = BATCH[shards] if batch_size is None else int(batch_size)
    rng = np.random.default_rng(seed_for("deep", "ddp"))
    init = S.initialize_parameters_deep(LAYER_DIMS, rng, "he")
    batches = [(np.ascontiguousarray(X[:, s].T), labels[s]) for s in S.minibatches(X.shape[1], m, steps)]
    return DDPJob(LAYER_DIMS, ACTIVATION, LEARNING_RATE, init, batches, dtype, shards)


def scratch_trajectory(job: DDPJob) -> Trajectory:
    """Full-batch gradient descent in NumPy (course layout ``X (n_x, m)``)."""
    p = {k: v.astype(numpy_dtype(job.dtype)) for k, v in job.init_params.items()}
    propagate = job.model.propagate  # the declared scratch side: (J, grads) of the course's network
    losses, params = [], []
    for X, labels in job.batches:
        J, grads = propagate(p, np.ascontiguousarray(X.T.astype(p["W1"].dtype)), labels)
        p = gd_update(p, grads, job.learning_rate)
        losses.append(float(J))
        params.append(p)
    return losses, params


def _whole_batch_loss(model: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The mean cross-entropy over the batch (labels arrive as floats from the runner)."""
    return shard_loss(model(x), labels.long(), x.shape[0], 1, "equal")


def single_process_trajectory(job: DDPJob, device: str = "cpu") -> Trajectory:
    """Full-batch ``torch.optim.SGD`` on one process (the mean cross-entropy over the batch): the
    harness's torch trajectory runner (:func:`~parity_tests.trajectory.torch_trajectory`) on the
    declared network, its batches batch-first as the ranks see them."""
    params, losses = torch_trajectory(
        job.build(device),
        _whole_batch_loss,
        job.init_params,
        job.batches,
        param_spec=job.model.spec(),
        learning_rate=job.learning_rate,
        batch_layouts=(SAME, SAME),
        device=device,
        dtype=job.dtype,
    )
    return losses, params[1:]


def compare_trajectories(
    label: str, actual: Trajectory, expected: Trajectory, tol_at: Callable[[int], Tolerance]
) -> list[Comparison]:
    """One record per quantity (``loss`` and each parameter): its first failing step, else the
    step closest to its tolerance ``tol_at(step)``."""
    (la, pa), (le, pe) = actual, expected
    if len(la) != len(le) or not la:
        return [
            Comparison(
                f"{label}: steps",
                (len(la),),
                (len(le),),
                float("inf"),
                float("inf"),
                None,
                None,
                None,
                0.0,
                0.0,
                False,
                "the trajectories differ in length",
            )
        ]
    records = []
    for name in ["loss", *pe[0]]:

        def value(t: int, losses: list[float], params: list[Params], n: str = name) -> Any:
            return losses[t] if n == "loss" else params[t][n]

        ratios = [tolerance_ratio(value(t, la, pa), value(t, le, pe), tol_at(t)) for t in range(len(le))]
        failing = [t for t, r in enumerate(ratios) if r > 1]
        t = failing[0] if failing else int(np.argmax(ratios))
        records.append(compare(f"{name} ({label})", value(t, la, pa), value(t, le, pe), tol_at(t), step=t))
    return records


def run_distributed_check(
    world_size: int,
    device: str = "cpu",
    dtype: str = "float64",
    shards: str = "equal",
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> CheckResult:
    """Train the digits network with ``world_size`` DDP processes on this machine and compare it,
    step by step, with one process and with scratch (see the module docstring).

    A rank that does not reach a collective within ``timeout_s`` ends the run with
    :class:`~parity_tests.production.ddp.RankTimeoutError` (one line naming it)."""
    check_device(device)
    timeout_s = check_timeout(timeout_s)
    dtype = str(torch_dtype(dtype)).replace("torch.", "")
    if dtype not in DTYPES:
        raise ValueError(f"dtype: the distributed check runs in {list(DTYPES)}, got {dtype!r}")
    job = make_job(dtype, shards)
    for X, _ in job.batches:
        check_shards(X.shape[0], world_size, shards)
    ddp_losses, ddp_params, differ = spawn_ddp(job, world_size, device, timeout_s=timeout_s)
    with parity_mode():
        single = single_process_trajectory(job, device)
    return _result(job, world_size, device, (ddp_losses, ddp_params), single, differ)


def _result(
    job: DDPJob, world_size: int, device: str, ddp: Trajectory, single: Trajectory, differ: int
) -> CheckResult:
    scratch = scratch_trajectory(job)
    dist_tol = functools.partial(distributed_tolerance, job.dtype)
    records = (
        compare_trajectories(f"{world_size} ranks vs 1 process", ddp, single, dist_tol)
        + compare_trajectories(f"{world_size} ranks vs scratch", ddp, scratch, dist_tol)
        + compare_trajectories(
            "1 process vs scratch", single, scratch, lambda t: tolerance(job.dtype, "trajectory", step=t)
        )
    )
    records.append(
        compare("ranks whose final parameters differ from rank 0's", np.array([differ]), np.array([0]), EXACT)
    )
    m = job.batches[0][0].shape[0]
    extra = {
        "scratch_loss": scratch[0],
        "torch_loss": ddp[0],
        "world_size": world_size,
        "shards": job.shards,
        "batch_size": m,
        "metrics": {
            "world_size": float(world_size),
            "batch_size": float(m),
            "final_loss_ddp": ddp[0][-1],
            "final_loss_scratch": scratch[0][-1],
        },
    }
    case = f"ddp-{world_size}-ranks" + ("" if job.shards == "equal" else "-unequal-shards")
    return group_result("deep", case, "trajectory", device, job.dtype, records, extra)


# --- the report's hook -----------------------------------------------------------------------
def _positive_ranks(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of ranks >= 2, got {value!r}") from None
    if n < 2:
        raise argparse.ArgumentTypeError(f"expected a number of ranks >= 2, got {n}")
    return n


def add_distributed_option(report_parser: argparse.ArgumentParser) -> None:
    """Add ``--distributed N`` to ``dlparity report``: also run :func:`distributed_checks` (N)."""
    report_parser.add_argument(
        "--distributed",
        type=_positive_ranks,
        default=None,
        metavar="N",
        help="also prove DDP training with N processes on this machine equal to one process and "
        "to scratch (gloo on CPU, NCCL on CUDA; deep network on digits)",
    )


def distributed_checks(n: int) -> list[ParityCheck]:
    """The checks ``--distributed n`` adds: equal shards (``96 = n · 96/n`` when ``n`` divides 96)
    and unequal shards with the exact weighting; not in the registry (they start processes)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n: expected a number of ranks >= 2, got {n!r}")
    checks = []
    for shards in SHARDS:
        if shards == "equal" and BATCH["equal"] % n:
            continue  # refused by check_shards; the weighted case covers this n
        case = f"ddp-{n}-ranks" + ("" if shards == "equal" else "-unequal-shards")
        run = functools.partial(_run, n, shards)
        checks.append(ParityCheck("deep", case, "trajectory", run, dtypes=DTYPES))
    return checks


def _run(world_size: int, shards: str, device: str, dtype: str) -> CheckResult:
    return run_distributed_check(world_size, device, dtype, shards)


# --- torchrun: the same check across processes and machines -----------------------------------
def _seconds(value: str) -> float:
    try:
        return check_timeout(float(value))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {value!r}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``torchrun ... -m parity_tests.production.distributed``: every rank trains
    its shard; rank 0 also runs the single-process and scratch trajectories and prints the result.

    Exit status (every rank): 0 the check passed, 1 it failed (rank 0's verdict, broadcast),
    2 a usage error (``--device cuda`` without a GPU, not under torchrun), 3 the run did not
    complete — a rank did not join or reach a collective within ``--timeout`` seconds, reported
    in one line on stderr (``[rank 0] rank 1 did not reach step 0's gradient all-reduce within
    30 s``). A rank that joined the group ends the process through
    :func:`~parity_tests.production.ddp.leave` (after a final barrier when the run succeeded),
    without freeing the group: freeing a gloo group can hang, and Python's own finalization with
    one alive can abort (:func:`~parity_tests.production.ddp.process_group`).
    """
    import torch.distributed as dist

    from parity_tests.production.ddp import backend_for, rank_device, train_ddp

    parser = argparse.ArgumentParser(prog="python -m parity_tests.production.distributed")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="float64", choices=list(DTYPES))
    parser.add_argument("--shards", default="equal", choices=list(SHARDS))
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help="how long a rank waits for the others to join and at every collective "
        f"before the run ends with exit status 3 (default {DEFAULT_TIMEOUT_S:g})",
    )
    args = parser.parse_args(argv)
    if "RANK" not in os.environ:
        parser.error("run me under torchrun (it sets RANK, WORLD_SIZE and the rendezvous)")
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    try:
        check_device(args.device)
    except (RuntimeError, ValueError) as e:
        if local_rank == 0:
            print(f"{parser.prog}: error: --device {args.device}: {e}; use --device cpu", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    job = make_job(args.dtype, args.shards)
    dev = rank_device(args.device, local_rank)
    if dev.startswith("cuda"):
        torch.cuda.set_device(dev)
    try:
        with process_group(
            backend_for(args.device, world), args.timeout, destroy=False, init_method="env://"
        ) as collectives:
            with parity_mode():
                losses, params, differ = train_ddp(job, dev, collectives)
                passed = torch.ones((), device=dev, dtype=torch.int64)
                if rank == 0:
                    result = _result(
                        job, world, args.device, (losses, params), single_process_trajectory(job, dev), differ
                    )
                    print(result, flush=True)
                    passed.fill_(int(result.passed))
                with collectives.reach("rank 0's verdict"):
                    dist.broadcast(passed, src=0)
            verdict = bool(passed.item())
    except RankTimeoutError as e:
        print(f"[rank {rank}] {e}", file=sys.stderr, flush=True)
        leave(EXIT_INCOMPLETE)  # not `return`: freeing the failed DDP can deadlock (ddp.leave)
    leave(0 if verdict else 1)  # the group is alive: ends without Python's finalization


__all__ = [
    "make_job",
    "scratch_trajectory",
    "single_process_trajectory",
    "compare_trajectories",
    "run_distributed_check",
    "add_distributed_option",
    "distributed_checks",
    "main",
]

if __name__ == "__main__":
    sys.exit(main())
