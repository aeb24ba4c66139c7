"""Data-parallel training of a torch_ref network with ``torch.distributed`` — nothing home-made.

Every rank holds the same :class:`~torch_ref.deep.DeepNetwork` wrapped in
``torch.nn.parallel.DistributedDataParallel`` and takes *its shard* of every batch: rank ``r`` of
``W`` the contiguous rows :func:`shard_bounds` names (an explicit split, not
``DistributedSampler``, which pads a short shard with repeated examples). DDP all-reduces the
gradients and divides by ``W``; every rank then takes the same SGD step.

Why the result is the full batch's step, exactly (up to summation order):

* **equal shards** (``shards="equal"``, ``m = W·m_r``): each rank's loss is its shard's mean
  ``J_r = 1/m_r Σ_{i∈r} L_i``, so ``1/W Σ_r ∇J_r = 1/(W m_r) Σ_i ∇L_i = 1/m Σ_i ∇L_i`` — the
  full batch's gradient. A batch that ``W`` does not divide is refused.
* **unequal shards** (``shards="weighted"``, any ``m >= W``): the mean would weight an example
  of a short shard more (``1/(W m_r)`` instead of ``1/m``). Each rank uses instead
  ``J_r = W/m Σ_{i∈r} L_i`` (a sum-reduced loss scaled by ``W/m``): after DDP's average,
  ``1/W Σ_r ∇J_r = 1/m Σ_i ∇L_i`` again, whatever the shard sizes.

In both cases the full batch's cost is ``J = 1/W Σ_r J_r``, one all-reduce of the detached losses.

Backends: gloo on the CPU; NCCL on CUDA when there is a GPU per rank (several ranks sharing one GPU
cannot use NCCL; they fall back to gloo, which all-reduces CUDA tensors too).
"""

from __future__ import annotations

import datetime
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel

from parity_tests.devices import parity_mode
from torch_ref.deep import DeepNetwork
from torch_ref.gd import make_optimizer
from torch_ref.layout import state_dict_to_params, torch_dtype

SHARDS = ("equal", "weighted")
Params = dict[str, np.ndarray]


def check_shards(m: int, world_size: int, shards: str = "equal") -> None:
    """Refuse a split that cannot be exact: ``ValueError`` naming ``m`` and ``world_size``."""
    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size: expected a positive integer, got {world_size!r}")
    if shards not in SHARDS:
        raise ValueError(f"shards: expected one of {list(SHARDS)}, got {shards!r}")
    if m < world_size:
        raise ValueError(f"batch_size: {m} examples cannot give each of world_size={world_size} ranks "
                         "a non-empty shard")
    if shards == "equal" and m % world_size:
        raise ValueError(f"batch_size: {m} examples do not split into world_size={world_size} equal "
                         f"shards ({m} % {world_size} = {m % world_size}); use a batch size divisible "
                         f"by {world_size}, or shards='weighted' (each rank's loss W/m Σ L_i, exact "
                         "for unequal shards)")


def shard_bounds(m: int, world_size: int, rank: int, shards: str = "equal") -> tuple[int, int]:
    """Rows ``[lo, hi)`` of a batch of ``m`` that rank ``rank`` of ``world_size`` trains on: the
    first ``m mod W`` ranks take ``⌈m/W⌉`` rows, the others ``⌊m/W⌋``.

    Example:
        >>> [shard_bounds(10, 4, r, "weighted") for r in range(4)]
        [(0, 3), (3, 6), (6, 8), (8, 10)]
    """
    check_shards(m, world_size, shards)
    if not 0 <= rank < world_size:
        raise ValueError(f"rank: expected 0 <= rank < world_size={world_size}, got {rank}")
    base, extra = divmod(m, world_size)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (rank < extra)


def shard_loss(z: torch.Tensor, y: torch.Tensor, m: int, world_size: int, shards: str) -> torch.Tensor:
    """Rank's loss ``J_r`` on its shard's logits ``z (m_r, k)`` and class indices ``y (m_r,)``:
    the mean (equal shards) or ``W/m Σ L_i`` (weighted); DDP's average of ``∇J_r`` is then
    the full batch's ``∇J`` (see the module docstring)."""
    if shards == "equal":
        return F.cross_entropy(z, y)
    return F.cross_entropy(z, y, reduction="sum") * (world_size / m)


@dataclass
class DDPJob:
    """One data-parallel training run: the network, its start, the batches, the dtype."""

    layer_dims: tuple[int, ...]
    activation: str
    learning_rate: float
    init_params: Params  # course layout, float64
    batches: list[tuple[np.ndarray, np.ndarray]]  # (X (m, n_x) batch-first, labels (m,) int64)
    dtype: str = "float64"
    shards: str = "equal"
    extra: dict = field(default_factory=dict)

    def build(self, device: str | torch.device) -> DeepNetwork:
        """The softmax network at ``device``/``dtype``, holding :attr:`init_params`."""
        params = {k: v.astype(np.float64 if self.dtype == "float64" else np.float32)
                  for k, v in self.init_params.items()}
        return DeepNetwork.from_scratch(params, self.activation, "softmax", device=device,
                                        dtype=torch_dtype(self.dtype))


def train_ddp(job: DDPJob, device: str | torch.device) -> tuple[list[float], list[Params], int]:
    """Run ``job`` on this rank of the initialized process group.

    Returns ``(J per step, parameters after each step (course layout), ranks whose final
    parameters differ bitwise from rank 0's)`` — the same on every rank.
    """
    world, rank = dist.get_world_size(), dist.get_rank()
    for X, _ in job.batches:
        check_shards(X.shape[0], world, job.shards)
    model = job.build(device)
    spec = model.param_spec
    cuda = torch.device(device).type == "cuda"
    ddp = DistributedDataParallel(model, device_ids=[device] if cuda else None)
    opt = make_optimizer(ddp.parameters(), job.learning_rate)
    losses: list[float] = []
    params: list[Params] = []
    for X, labels in job.batches:
        m = X.shape[0]
        lo, hi = shard_bounds(m, world, rank, job.shards)
        x = torch.tensor(X[lo:hi], device=device, dtype=torch_dtype(job.dtype))  # (m_r, n_x)
        y = torch.tensor(labels[lo:hi], device=device, dtype=torch.long)  # (m_r,)
        opt.zero_grad(set_to_none=True)
        J_r = shard_loss(ddp(x), y, m, world, job.shards)
        J_r.backward()  # DDP all-reduces: grad = 1/W Σ_r ∇J_r
        opt.step()
        J = J_r.detach().clone()
        dist.all_reduce(J)  # Σ_r J_r
        losses.append(J.item() / world)
        params.append(state_dict_to_params(model.state_dict(), spec))
    differ = torch.zeros((), device=device, dtype=torch.int64)
    for p in model.parameters():
        ref = p.detach().clone()
        dist.broadcast(ref, src=0)
        differ += int(not torch.equal(ref, p.detach()))
    dist.all_reduce(differ)
    return losses, params, int(differ.item())


def backend_for(device: str, world_size: int) -> str:
    """gloo on the CPU; NCCL on CUDA with a GPU per rank, else gloo (NCCL refuses shared GPUs)."""
    if torch.device(device).type == "cuda" and dist.is_nccl_available() \
            and torch.cuda.device_count() >= world_size:
        return "nccl"
    return "gloo"


def rank_device(device: str, rank: int) -> str:
    """``cuda:<rank mod GPUs>`` on CUDA, else ``"cpu"``."""
    if torch.device(device).type == "cuda":
        return f"cuda:{rank % torch.cuda.device_count()}"
    return "cpu"


def _spawned(rank: int, world_size: int, job: DDPJob, device: str, rendezvous: str, out: str) -> None:
    """Body of each process started by :func:`spawn_ddp` (importable, as ``spawn`` needs)."""
    torch.set_num_threads(1)  # W ranks share the machine's cores
    dev = rank_device(device, rank)
    if dev.startswith("cuda"):
        torch.cuda.set_device(dev)
    dist.init_process_group(backend_for(device, world_size), init_method=f"file://{rendezvous}",
                            rank=rank, world_size=world_size, timeout=datetime.timedelta(seconds=120))
    try:
        with parity_mode():
            losses, params, differ = train_ddp(job, dev)
        if rank == 0:
            arrays = {f"{name}@{t}": a for t, p in enumerate(params) for name, a in p.items()}
            np.savez(out, losses=np.array(losses), differ=np.array(differ), **arrays)
    finally:
        dist.destroy_process_group()


def default_start_method(device: str) -> str:
    """``"fork"`` for CPU runs on POSIX from a process whose torch runs one thread (the ranks
    inherit the imported torch: ~0.1 s to start instead of a fresh interpreter's seconds);
    ``"spawn"`` otherwise: on CUDA (a forked child cannot use its parent's CUDA context), and when
    torch runs several threads (a forked child can deadlock on the OpenMP worker threads its
    parent started — seen here with 2). The test suite and ``dlparity report`` pin one thread."""
    import multiprocessing

    fork_ok = (torch.device(device).type == "cpu" and torch.get_num_threads() == 1
               and "fork" in multiprocessing.get_all_start_methods())
    return "fork" if fork_ok else "spawn"


def spawn_ddp(job: DDPJob, world_size: int, device: str = "cpu",
              start_method: str | None = None) -> tuple[list[float], list[Params], int]:
    """Train ``job`` with ``world_size`` processes on this machine, started by
    ``torch.multiprocessing.start_processes`` (``spawn``'s machinery; ``start_method`` defaults to
    :func:`default_start_method`); returns :func:`train_ddp`'s result, read back from rank 0."""
    for X, _ in job.batches:
        check_shards(X.shape[0], world_size, job.shards)
    start_method = start_method or default_start_method(device)
    with tempfile.TemporaryDirectory(prefix="dlparity-ddp-") as tmp:
        rendezvous, out = os.path.join(tmp, "rendezvous"), os.path.join(tmp, "rank0.npz")
        torch.multiprocessing.start_processes(_spawned, args=(world_size, job, device, rendezvous, out),
                                              nprocs=world_size, join=True, start_method=start_method)
        with np.load(Path(out), allow_pickle=False) as data:
            steps = len(data["losses"])
            names = list(job.init_params)
            params = [{n: data[f"{n}@{t}"] for n in names} for t in range(steps)]
            return [float(v) for v in data["losses"]], params, int(data["differ"])


__all__ = ["SHARDS", "check_shards", "shard_bounds", "shard_loss", "DDPJob", "train_ddp",
           "backend_for", "rank_device", "spawn_ddp"]
