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

Bounded and clean: :func:`process_group` gives ``init_process_group`` and every collective a
timeout (:data:`DEFAULT_TIMEOUT_S`), names each collective (:class:`Collectives`) so that a rank
that never arrives is reported in one line (:class:`RankTimeoutError`: ``rank 1 did not reach step
0's gradient all-reduce within 30 s``), and ends the group in order — a final barrier, then
``destroy_process_group`` on every rank, so that gloo's worker threads are joined while the
interpreter is alive (see :func:`process_group` for the SIGABRT this prevents).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
import torch
import torch.distributed as dist
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel

from parity_tests.devices import check_device, parity_mode
from torch_ref.deep import DeepNetwork
from torch_ref.gd import make_optimizer
from torch_ref.layout import numpy_dtype, state_dict_to_params, torch_dtype

if TYPE_CHECKING:
    from parity_tests.registry import Model

SHARDS = ("equal", "weighted")
Params = dict[str, np.ndarray]
DEFAULT_TIMEOUT_S = 180.0
"""Seconds a rank waits for the others to join the group or reach a collective (gloo's and
NCCL's ``timeout``); the whole digits run takes seconds, so 3 minutes is slack for a loaded machine."""
STALL_ENV = "DLPARITY_DDP_STALL"
"""Test hook: ``"RANK:SECONDS"`` makes that rank sleep before its first gradient all-reduce (a
frozen rank, for the tests of the timeout)."""
EXIT_INCOMPLETE = 3
"""Exit status of a rank whose run did not complete (a rank missing, a collective failed)."""


class RankTimeoutError(RuntimeError):
    """A rank did not join the group or reach a collective in time, or left during one; the message
    is one line naming the rank(s) and the collective. ``after_start_s``, where :func:`run_ranks`
    raised it, is the time from the moment every rank had started (its imports done) to the end."""

    def __init__(self, message: str, after_start_s: float | None = None) -> None:
        super().__init__(message)
        self.after_start_s = after_start_s


class Collectives:
    """Names every collective of this rank and, if one fails, says which ranks never reached it.

    Each :meth:`reach` writes ``dlparity/<n>/<rank>`` to the group's store before the collective
    ``n``; on a failure (gloo's timeout, a peer gone) the ranks whose key is missing are the ones
    that never arrived. Example (rank 0, rank 1 frozen, ``timeout_s=30``)::

        RankTimeoutError: rank 1 did not reach step 0's gradient all-reduce within 30 s
    """

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = float(timeout_s)
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        try:  # the group's own store (torchrun's agent store, or the file store of spawn_ddp)
            self.store: Any = dist.distributed_c10d._get_default_store()
        except (AttributeError, RuntimeError, ValueError):
            self.store = None
        self.count = 0

    @contextlib.contextmanager
    def reach(self, what: str) -> Iterator[None]:
        """Run the body (one collective, or code that waits on one) as collective ``what``."""
        self.count += 1
        key = f"dlparity/{self.count}"
        if self.store is not None:
            self.store.set(f"{key}/{self.rank}", "1")
        start = time.monotonic()
        try:
            yield
        except RuntimeError as e:  # gloo/NCCL errors and DistError are RuntimeErrors
            if isinstance(e, RankTimeoutError):
                raise
            raise RankTimeoutError(self._explain(key, what, time.monotonic() - start, e)) from e

    def _explain(self, key: str, what: str, waited: float, error: BaseException) -> str:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        try:
            missing = [r for r in range(self.world) if not self.store.check([f"{key}/{r}"])]
        except Exception:  # no store, or it went down with a rank
            missing = None
        if not missing:
            who = "a rank" if missing is None else "every rank reached it, but it"
            return f"{what} failed after {waited:.0f} s ({who} failed on rank {self.rank}: {first})"
        ranks = f"rank{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))}"
        if waited >= 0.9 * self.timeout_s:
            return f"{ranks} did not reach {what} within {self.timeout_s:g} s"
        return f"{ranks} stopped before reaching {what} ({first})"


@contextlib.contextmanager
def process_group(
    backend: str, timeout_s: float = DEFAULT_TIMEOUT_S, destroy: bool = True, **init_kwargs: Any
) -> Iterator[Collectives]:
    """``init_process_group`` with a timeout, yielding this rank's :class:`Collectives`; on leaving,
    a final barrier (only if the body succeeded) and ``destroy_process_group`` on every rank
    (unless ``destroy=False``).

    Why the order matters (a SIGABRT, "terminate called without an active exception", after
    PASS in ~1 run in 8 on a loaded machine): ``torch.distributed.nn.functional`` binds
    ``group.WORLD`` as a default argument when it is imported, and DDP's constructor imports it
    (through ``torch._dynamo``). Imported *after* ``init_process_group``, it keeps the gloo group
    alive past ``destroy_process_group``; gloo's worker threads then outlive ``main`` and one of
    them, dropping its last finished work (which holds a tensor owned by Python), takes the GIL
    during interpreter finalization; Python ends that thread with ``pthread_exit`` inside a
    ``noexcept`` destructor and C++ calls ``std::terminate``. Importing ``torch._dynamo`` before
    the group exists binds ``None`` instead, so ``destroy_process_group`` frees the group and
    joins its threads while the interpreter is alive.

    Freeing the group can still hang (seen 1 run in 16 on a loaded machine, in the DDP benchmark):
    the group's destructor joins gloo's worker threads while this thread holds the GIL, and a
    worker that is still releasing its last finished work needs the GIL when that work holds a
    tensor whose Python object Python already dropped (``TensorImpl::decref_pyobject`` waiting in
    ``gil_scoped_acquire`` against ``~ProcessGroupGloo`` in ``std::thread::join``, seen with
    py-spy). A process that exists only to be this rank does not need the group freed: it passes
    ``destroy=False`` and ends through :func:`leave` (as every rank of :func:`run_ranks` and of
    ``python -m parity_tests.production.distributed`` does), so no destructor runs.

    Args:
        backend: ``"gloo"`` or ``"nccl"`` (:func:`backend_for`).
        timeout_s: seconds to wait for every rank to join and at every collective.
        destroy: ``destroy_process_group`` on leaving; ``False`` leaves the group to the end of
            the process, which must then end through :func:`leave` (Python's own finalization with
            a live gloo group can abort: see above).
        init_kwargs: ``init_method``, ``rank``, ``world_size`` as ``init_process_group`` takes them.

    Raises:
        RankTimeoutError: the group did not form within ``timeout_s``, or a collective inside
            the body failed (one line naming the missing rank).
    """
    import torch._dynamo  # noqa: F401  (before the group: see above)

    timeout_s = check_timeout(timeout_s)
    try:
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s), **init_kwargs)
    except RuntimeError as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        world = init_kwargs.get("world_size", os.environ.get("WORLD_SIZE", "?"))
        raise RankTimeoutError(
            f"not every rank joined the process group (world_size={world}) within {timeout_s:g} s: {first}"
        ) from e
    try:
        collectives = Collectives(timeout_s)
        yield collectives
        with collectives.reach("the final barrier"):  # skipped when the body raised
            dist.barrier()
    finally:
        if destroy:
            dist.destroy_process_group()


def check_timeout(timeout_s: float) -> float:
    """``timeout_s`` as a positive finite float, else ``ValueError`` repeating it."""
    try:
        t = float(timeout_s)
    except (TypeError, ValueError):
        t = float("nan")
    if isinstance(timeout_s, bool) or not 0 < t < float("inf"):
        raise ValueError(f"timeout: expected a positive number of seconds, got {timeout_s!r}")
    return t


def _maybe_stall(rank: int) -> None:
    """The :data:`STALL_ENV` test hook: sleep if this is the rank it names."""
    spec = os.environ.get(STALL_ENV)
    if spec:
        stall_rank, seconds = spec.split(":")
        if int(stall_rank) == rank:
            time.sleep(float(seconds))


def check_shards(m: int, world_size: int, shards: str = "equal") -> None:
    """Refuse a split that cannot be exact: ``ValueError`` naming ``m`` and ``world_size``."""
    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size: expected a positive integer, got {world_size!r}")
    if shards not in SHARDS:
        raise ValueError(f"shards: expected one of {list(SHARDS)}, got {shards!r}")
    if m < world_size:
        raise ValueError(
            f"batch_size: {m} examples cannot give each of world_size={world_size} ranks a non-empty shard"
        )
    if shards == "equal" and m % world_size:
        raise ValueError(
            f"batch_size: {m} examples do not split into world_size={world_size} equal "
            f"shards ({m} % {world_size} = {m % world_size}); use a batch size divisible "
            f"by {world_size}, or shards='weighted' (each rank's loss W/m Σ L_i, exact "
            "for unequal shards)"
        )


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

    @property
    def model(self) -> Model:
        """The network's declaration: the ``deep`` concept's L-layer network with a softmax
        output (:func:`parity_tests.concepts._networks.deep`), the one every checker uses
        (imported here: a report worker that imports this package for another plug-in loads no
        concept's declarations it does not run)."""
        from parity_tests.concepts._networks import deep as deep_network

        return deep_network(self.layer_dims, self.activation, "softmax")

    def build(self, device: str | torch.device) -> DeepNetwork:
        """The softmax network at ``device``/``dtype``, holding :attr:`init_params`
        (:meth:`Model.build <parity_tests.registry.Model.build>` of :attr:`model`)."""
        params = {k: v.astype(numpy_dtype(self.dtype)) for k, v in self.init_params.items()}
        return self.model.build(params, device=device, dtype=torch_dtype(self.dtype))


def train_ddp(
    job: DDPJob, device: str | torch.device, collectives: Collectives | None = None
) -> tuple[list[float], list[Params], int]:
    """Run ``job`` on this rank of the initialized process group (``collectives`` names each
    collective for the timeout's message; :func:`process_group` yields one).

    Returns ``(J per step, parameters after each step (course layout), ranks whose final
    parameters differ bitwise from rank 0's)`` — the same on every rank.
    """
    world, rank = dist.get_world_size(), dist.get_rank()
    for X, _ in job.batches:
        check_shards(X.shape[0], world, job.shards)
    reach = (collectives or Collectives(DEFAULT_TIMEOUT_S)).reach
    model = job.build(device)
    spec = model.param_spec
    cuda = torch.device(device).type == "cuda"
    with reach("DDP's start (parameter shapes and broadcast)"):
        ddp = DistributedDataParallel(model, device_ids=[device] if cuda else None)
    opt = make_optimizer(ddp.parameters(), job.learning_rate)
    losses: list[float] = []
    params: list[Params] = []
    for t, (X, labels) in enumerate(job.batches):
        m = X.shape[0]
        lo, hi = shard_bounds(m, world, rank, job.shards)
        x = torch.tensor(X[lo:hi], device=device, dtype=torch_dtype(job.dtype))  # (m_r, n_x)
        y = torch.tensor(labels[lo:hi], device=device, dtype=torch.long)  # (m_r,)
        opt.zero_grad(set_to_none=True)
        J_r = shard_loss(ddp(x), y, m, world, job.shards)
        if t == 0:
            _maybe_stall(rank)
        with reach(f"step {t}'s gradient all-reduce"):
            J_r.backward()  # DDP all-reduces: grad = 1/W Σ_r ∇J_r
        opt.step()
        J = J_r.detach().clone()
        with reach(f"step {t}'s loss all-reduce"):
            dist.all_reduce(J)  # Σ_r J_r
        losses.append(J.item() / world)
        params.append(state_dict_to_params(model.state_dict(), spec))
    differ = torch.zeros((), device=device, dtype=torch.int64)
    with reach("the comparison of the final parameters"):
        for p in model.parameters():
            ref = p.detach().clone()
            dist.broadcast(ref, src=0)
            differ += int(not torch.equal(ref, p.detach()))
        dist.all_reduce(differ)
    return losses, params, int(differ.item())


def backend_for(device: str, world_size: int) -> str:
    """gloo on the CPU; NCCL on CUDA with a GPU per rank, else gloo (NCCL refuses shared GPUs)."""
    if (
        torch.device(device).type == "cuda"
        and dist.is_nccl_available()
        and torch.cuda.device_count() >= world_size
    ):
        return "nccl"
    return "gloo"


def rank_device(device: str, rank: int) -> str:
    """``cuda:<rank mod GPUs>`` on CUDA, else ``"cpu"``; ``RuntimeError`` for CUDA without a GPU."""
    if torch.device(device).type == "cuda":
        check_device(device)
        return f"cuda:{rank % torch.cuda.device_count()}"
    return "cpu"


def _spawned(
    rank: int,
    world_size: int,
    job: DDPJob,
    device: str,
    rendezvous: str,
    out: str,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> None:
    """Body of each process started by :func:`spawn_ddp` (importable, as ``spawn`` needs)."""
    torch.set_num_threads(1)  # W ranks share the machine's cores
    dev = rank_device(device, rank)
    if dev.startswith("cuda"):
        torch.cuda.set_device(dev)
    with process_group(
        backend_for(device, world_size),
        timeout_s,
        destroy=False,  # run_ranks ends this process through leave(): see process_group
        init_method=f"file://{rendezvous}",
        rank=rank,
        world_size=world_size,
    ) as collectives:
        with parity_mode():
            losses, params, differ = train_ddp(job, dev, collectives)
        if rank == 0:
            arrays = {f"{name}@{t}": a for t, p in enumerate(params) for name, a in p.items()}
            np.savez(out, losses=np.array(losses), differ=np.array(differ), **arrays)


def leave(status: int) -> NoReturn:
    """End this rank now with ``status``, after flushing stdout and stderr, without running
    Python's finalization.

    Every rank that joined a gloo group ends here, whether it succeeded or not. Why (a rank that
    timed out hung instead of exiting, ~1 run in 3 under load; a rank that succeeded, ~1 in 16):
    the failed collective's traceback, or DDP itself, still holds DDP's ``Reducer``, which holds
    the gloo group. When Python frees it (at the end of the ``except`` block, when the rank's
    function returns, or at interpreter exit), the group's destructor joins gloo's worker
    threads *while holding the GIL*, and a worker that is still destroying its last work needs the
    GIL to release a tensor whose Python object Python already dropped: each waits for the other,
    forever (seen with py-spy: ``~ProcessGroupGloo`` in ``std::thread::join`` against
    ``gil_scoped_acquire`` in ``~AsyncWork``). The rank's outcome is already written; nothing is
    left to clean up that the operating system does not free.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)


START_ALLOWANCE_S = 300.0
"""How long :func:`run_ranks` waits for every rank to start (a spawned rank imports torch first:
~2 s on an idle machine, over a minute seen here on 2 cores under a parallel test suite) before
the run's own deadline begins; past it the ranks are killed."""


def _started(out: str, world_size: int) -> list[int]:
    """The ranks of :func:`run_ranks` that have not started yet."""
    return [r for r in range(world_size) if not os.path.exists(f"{out}.rank{r}.started")]


def _rank_entry(rank: int, world_size: int, fn: Callable[..., None], out: str, *args: Any) -> NoReturn:
    """A rank of :func:`run_ranks`: mark it started (its imports are done once it runs), wait
    until every rank has (so the rendezvous's timeout measures a frozen rank, not how long another
    took to import torch), run ``fn(rank, *args)``, and end the process through :func:`leave`
    whatever happened — never through Python's finalization, which can hang or abort on a live
    gloo group (:func:`leave`, :func:`process_group`):

    - ``fn`` returned: status 0;
    - :class:`RankTimeoutError`: its one line in ``<out>.rank<r>.err``, status
      :data:`EXIT_INCOMPLETE` (no traceback);
    - any other exception: its traceback on stderr and in ``<out>.rank<r>.traceback``, status 1.
    """
    Path(f"{out}.rank{rank}.started").touch()
    give_up = time.monotonic() + START_ALLOWANCE_S
    while _started(out, world_size) and time.monotonic() < give_up:
        time.sleep(0.05)
    try:
        fn(rank, *args)
    except RankTimeoutError as e:
        Path(f"{out}.rank{rank}.err").write_text(f"{e}\n")
        leave(EXIT_INCOMPLETE)
    except BaseException:
        text = traceback.format_exc()
        sys.stderr.write(text)
        Path(f"{out}.rank{rank}.traceback").write_text(text)
        leave(1)
    leave(0)


def _kill(context: Any) -> None:
    for p in context.processes:
        if p.is_alive():
            p.kill()
        p.join()


def run_ranks(
    fn: Callable[..., None], args: tuple, world_size: int, out: str, start_method: str, deadline_s: float
) -> None:
    """Start ``fn(rank, *args)`` in ``world_size`` processes and join them with a deadline.

    Every rank ends through :func:`leave` (see :func:`_rank_entry`), so a rank that needs a process
    group passes ``destroy=False`` to :func:`process_group`. A rank that exits non-zero ends the
    others (after a 2 s grace, SIGTERM, then SIGKILL): a :class:`RankTimeoutError` in a rank is
    raised here with its line (the lines of all ranks that wrote one, joined by ``; ``); any other
    exception in a rank is raised here as ``RuntimeError`` carrying that rank's traceback; a rank
    that died without either (a signal) raises torch's ``ProcessExitedException``. ``deadline_s`` counts from
    the moment every rank has started (a loaded machine can take a minute to import torch in a
    spawned process; that is not the run's time): past it, or past :data:`START_ALLOWANCE_S`
    with a rank not yet started, every rank is killed and :class:`RankTimeoutError` says so.
    """
    from torch.multiprocessing import ProcessExitedException

    context = torch.multiprocessing.start_processes(
        _rank_entry,
        args=(world_size, fn, out, *args),
        nprocs=world_size,
        join=False,
        start_method=start_method,
    )
    started_at: float | None = None
    give_up = time.monotonic() + START_ALLOWANCE_S

    def elapsed() -> float | None:
        return None if started_at is None else time.monotonic() - started_at

    try:
        while not context.join(timeout=0.2, grace_period=2.0):
            now = time.monotonic()
            if started_at is None:
                waiting = _started(out, world_size)
                if not waiting:
                    started_at, give_up = now, now + deadline_s
                elif now > give_up:
                    _kill(context)
                    ranks = f"rank{'s' if len(waiting) > 1 else ''} {', '.join(map(str, waiting))}"
                    raise RankTimeoutError(
                        f"{ranks} did not start within {START_ALLOWANCE_S:g} s; "
                        f"killed the {world_size} DDP ranks"
                    )
            elif now > give_up:
                _kill(context)
                raise RankTimeoutError(
                    f"the {world_size} DDP ranks did not finish within "
                    f"{deadline_s:g} s of starting; killed them",
                    elapsed(),
                )
    except ProcessExitedException:
        lines = [
            Path(f"{out}.rank{r}.err").read_text().strip()
            for r in range(world_size)
            if os.path.exists(f"{out}.rank{r}.err")
        ]
        if lines:
            raise RankTimeoutError("; ".join(dict.fromkeys(lines)), elapsed()) from None
        for r in range(world_size):
            if os.path.exists(f"{out}.rank{r}.traceback"):
                text = Path(f"{out}.rank{r}.traceback").read_text()
                raise RuntimeError(f"DDP rank {r} of {world_size} raised:\n{text}") from None
        raise


def default_start_method(device: str) -> str:
    """``"fork"`` for CPU runs on POSIX from a process whose torch runs one thread (the ranks
    inherit the imported torch: ~0.1 s to start instead of a fresh interpreter's seconds);
    ``"spawn"`` otherwise: on CUDA (a forked child cannot use its parent's CUDA context), and when
    torch runs several threads (a forked child can deadlock on the OpenMP worker threads its
    parent started — seen here with 2). The test suite and ``dlparity report`` pin one thread."""
    import multiprocessing

    fork_ok = (
        torch.device(device).type == "cpu"
        and torch.get_num_threads() == 1
        and "fork" in multiprocessing.get_all_start_methods()
    )
    return "fork" if fork_ok else "spawn"


def spawn_ddp(
    job: DDPJob,
    world_size: int,
    device: str = "cpu",
    start_method: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> tuple[list[float], list[Params], int]:
    """Train ``job`` with ``world_size`` processes on this machine, started by
    ``torch.multiprocessing.start_processes`` (``spawn``'s machinery; ``start_method`` defaults to
    :func:`default_start_method`); returns :func:`train_ddp`'s result, read back from rank 0.

    Bounded: each rank waits at most ``timeout_s`` at the rendezvous and at every collective, and
    the whole run is killed ``2 timeout_s + 60`` s after every rank started; a missing rank raises
    :class:`RankTimeoutError` with one line (``rank 1 did not reach step 0's gradient all-reduce
    within 30 s``). ``device="cuda"`` without a GPU raises ``RuntimeError`` before starting.
    """
    for X, _ in job.batches:
        check_shards(X.shape[0], world_size, job.shards)
    check_device(device)
    timeout_s = check_timeout(timeout_s)
    start_method = start_method or default_start_method(device)
    with tempfile.TemporaryDirectory(prefix="dlparity-ddp-") as tmp:
        rendezvous, out = os.path.join(tmp, "rendezvous"), os.path.join(tmp, "rank0.npz")
        run_ranks(
            _spawned,
            (world_size, job, device, rendezvous, out, timeout_s),
            world_size,
            out,
            start_method,
            deadline_s=2 * timeout_s + 60,
        )
        with np.load(Path(out), allow_pickle=False) as data:
            steps = len(data["losses"])
            names = list(job.init_params)
            params = [{n: data[f"{n}@{t}"] for n in names} for t in range(steps)]
            return [float(v) for v in data["losses"]], params, int(data["differ"])


__all__ = [
    "SHARDS",
    "DEFAULT_TIMEOUT_S",
    "RankTimeoutError",
    "Collectives",
    "process_group",
    "check_timeout",
    "check_shards",
    "shard_bounds",
    "shard_loss",
    "DDPJob",
    "train_ddp",
    "backend_for",
    "rank_device",
    "leave",
    "run_ranks",
    "spawn_ddp",
]
