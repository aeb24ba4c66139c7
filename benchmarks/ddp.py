"""Data-parallel training step time on this machine: 1 process vs ``DistributedDataParallel``
with 1 and 2 ranks (gloo, CPU), float32.

The step: an MLP ``784-512-256-10`` (ReLU, softmax cross-entropy), a global batch of 256, SGD —
the model of ``benchmarks/mlp_step``. Rows:

- ``1 process``: plain torch, no process group, at 1 thread and at 2 threads (the fair
  baseline on a 2-core machine: the same cores, no communication);
- ``ddp``: ``W`` ranks (``torch.multiprocessing``, started with ``spawn``: this process has run
  torch with 2 threads, and a forked child can deadlock on its OpenMP workers), 1 thread each,
  each on its ``256/W`` shard, gradients all-reduced by gloo over loopback.

For each: median step time (rank 0, between barriers), speed-up over the 1-thread process, and
for DDP the time one all-reduce of the whole gradient (535,818 floats, 2.1 MB) takes alone. On 2
cores two ranks can at best halve the compute; what is left is the all-reduce (a copy through
the kernel's loopback, serialized with compute in this small model: DDP overlaps it only bucket
by bucket), the per-step Python and autograd overhead that does not shrink with the shard, and
any other load on the machine's two cores (``load_average_1min`` in the JSON).

Run: ``python -m benchmarks ddp [--quick]``.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel

from benchmarks._common import machine_loaded, table, threads, write_json
from parity_tests.production.ddp import DEFAULT_TIMEOUT_S, process_group, run_ranks
from torch_ref.deep import DeepNetwork
from torch_ref.gd import make_optimizer

DIMS = (784, 512, 256, 10)
BATCH = 256
LR = 1e-3


def _data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(BATCH, DIMS[0], generator=gen), torch.randint(0, DIMS[-1], (BATCH,), generator=gen)


def _model() -> DeepNetwork:
    return DeepNetwork(DIMS, "relu", "softmax", generator=torch.Generator().manual_seed(0))


def _step_times(step, steps: int, warmup: int, sync=None) -> list[float]:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        if sync:
            sync()
        t0 = time.perf_counter()
        step()
        if sync:
            sync()
        times.append(time.perf_counter() - t0)
    return times


def single_process(n_threads: int, steps: int) -> float:
    """Median step time of plain torch with ``n_threads`` threads."""
    x, y = _data()
    model = _model()
    opt = make_optimizer(model.parameters(), LR)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    with threads(n_threads):
        return statistics.median(_step_times(step, steps, warmup=3))


def _rank(rank: int, world: int, steps: int, rendezvous: str, out: str) -> None:
    torch.set_num_threads(1)
    # process_group: a timeout on every collective and a final barrier; the group is not destroyed
    # (run_ranks ends this process through ddp.leave, the end that cannot hang: see process_group)
    with process_group(
        "gloo", destroy=False, init_method=f"file://{rendezvous}", rank=rank, world_size=world
    ) as collectives:
        x, y = _data()
        lo, hi = rank * BATCH // world, (rank + 1) * BATCH // world
        x, y = x[lo:hi], y[lo:hi]
        with collectives.reach("DDP's start"):
            ddp = DistributedDataParallel(_model())
        opt = make_optimizer(ddp.parameters(), LR)

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(ddp(x), y).backward()  # all-reduce inside backward
            opt.step()

        with collectives.reach("the timed DDP steps"):
            times = _step_times(step, steps, warmup=3, sync=dist.barrier)
        flat = torch.zeros(sum(p.numel() for p in ddp.parameters()))
        with collectives.reach("the timed all-reduces"):
            reduce = _step_times(lambda: dist.all_reduce(flat), steps, warmup=2, sync=dist.barrier)
        if rank == 0:
            np.savez(out, step=np.array(times), allreduce=np.array(reduce), numel=flat.numel())


def ddp_ranks(world: int, steps: int) -> tuple[float, float]:
    """(median step time, median all-reduce time of the whole gradient) with ``world`` ranks."""
    with tempfile.TemporaryDirectory(prefix="dlparity-bench-ddp-") as tmp:
        rendezvous, out = os.path.join(tmp, "rdzv"), os.path.join(tmp, "times.npz")
        run_ranks(
            _rank, (world, steps, rendezvous, out), world, out, "spawn", deadline_s=2 * DEFAULT_TIMEOUT_S + 60
        )
        with np.load(out) as data:
            return float(np.median(data["step"])), float(np.median(data["allreduce"]))


def main(quick: bool = False, out_dir: Path | None = None) -> dict[str, Any]:
    steps = 8 if quick else 40
    base = single_process(1, steps)
    rows = [
        {
            "setup": "1 process",
            "ranks": 1,
            "threads/rank": 1,
            "step ms": 1e3 * base,
            "speed-up": 1.0,
            "all-reduce ms": None,
        }
    ]
    if (os.cpu_count() or 1) >= 2:
        t = single_process(2, steps)
        rows.append(
            {
                "setup": "1 process",
                "ranks": 1,
                "threads/rank": 2,
                "step ms": 1e3 * t,
                "speed-up": base / t,
                "all-reduce ms": None,
            }
        )
    for world in (1, 2):
        t, reduce = ddp_ranks(world, steps)
        rows.append(
            {
                "setup": "ddp (gloo)",
                "ranks": world,
                "threads/rank": 1,
                "step ms": 1e3 * t,
                "speed-up": base / t,
                "all-reduce ms": 1e3 * reduce,
            }
        )
    loaded, load = machine_loaded()
    print(
        f"DDP step, MLP {'-'.join(map(str, DIMS))}, global batch {BATCH}, float32, "
        f"{os.cpu_count()} CPUs (load average {load})"
    )
    print(table(rows, ["setup", "ranks", "threads/rank", "step ms", "speed-up", "all-reduce ms"]))
    findings = []
    if loaded:
        findings.append(
            f"the machine is loaded (load average {load:.1f}): the ranks share "
            f"{os.cpu_count()} cores with other work, so scaling figures are pessimistic"
        )
    two = rows[-1]
    findings.append(
        f"2 ranks run {two['speed-up']:.2f}x the 1-thread process; the whole gradient's "
        f"all-reduce alone takes {two['all-reduce ms']:.2f} ms of the "
        f"{two['step ms']:.2f} ms step"
    )
    for line in findings:
        print(line)
    payload = {
        "dims": DIMS,
        "batch": BATCH,
        "dtype": "float32",
        "steps": steps,
        "rows": rows,
        "findings": findings,
    }
    write_json("ddp", payload, out_dir)
    return payload


if __name__ == "__main__":
    main()
