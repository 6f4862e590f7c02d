"""Training on several processes: PyTorch's ``torchrun`` and ``DistributedDataParallel`` (DDP), not a home-made engine.

    cnnlab train ... --nproc 2 [--max-restarts 3]        # N processes on this machine (torchrun, started for you)
    torchrun --nnodes 2 --nproc-per-node 4 ... -m cnnlab train ...   # across machines (same data path on each)

How a run is split (the same numbers as one process, see :class:`~cnnlab.training.trainer.Trainer`):

- **Batches.** Every rank draws the same shuffled order from the seed, so global batch ``b`` is the same images
  as in a one-process run; rank ``r`` trains on its contiguous part of it (:func:`shard`). Batch sizes need not
  divide by the number of ranks: each rank's loss is weighted by its share of the batch (:func:`loss_weight`),
  so DDP's gradient average equals the gradient of the whole batch's mean loss, and the learning rate and
  schedule stay those of the one-process run.
- **Random draws.** Dropout and augmentation of step ``s`` come from ``(seed, s, rank)`` (rank 0 uses the
  one-process seed, but on its part of the batch, so its draws are not the ones a single process makes for those
  images). The same seed and number of processes give the same run; another number of processes gives the same
  batches with other augmentation and dropout draws (runs without either match one process, see the tests).
- **Batch norm.** On CPU (gloo) each rank normalizes with the statistics of its own part of the batch ("ghost
  batch norm"; SyncBatchNorm needs CUDA). That is still batch normalization, on batches of ``B / N`` images: the
  weights stay identical on every rank (DDP averages the gradients) and the running statistics used at test time
  are broadcast from rank 0 at every step, so the saved model is one consistent model. Only the noise of the
  batch statistics differs, as with a smaller batch. On CUDA (nccl) the layers become SyncBatchNorm: statistics
  over the whole batch.
- **Evaluation is exact.** Each rank scores a contiguous shard of the validation or test images (shards differ
  by at most one image; nothing is padded or repeated) and the logits are gathered in order, so accuracy is
  correct / total over every image exactly once.
- **Writing.** Only rank 0 takes the run folder's lock and writes (atomically); the others wait at a barrier.
- **Restarts.** ``--max-restarts N``: when a rank dies, torchrun stops the others and starts them all again;
  they continue from the run's last checkpoint (resume.json), read by rank 0 and sent to the others.
  On torch 2.14 a restart after a rank's death fails (a stale gloo port) or hangs unless
  ``TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1`` (pytorch issues #135712, #167288): :func:`torchrun_command` sets it.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist

from cnnlab.errors import ConfigError

ENV_FIX = {"TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1"}  # see the module docstring


@dataclass(frozen=True)
class World:
    """Where this process stands: its rank among ``size`` processes (rank 0 writes the run)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """True on the process that writes (rank 0)."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        """True when several processes train together."""
        return self.size > 1


def env_world() -> World:
    """The world torchrun describes in the environment (one process when not started by torchrun).

    >>> env_world() if "WORLD_SIZE" not in os.environ else World()
    World(rank=0, size=1, local_rank=0)
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    return World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))


def current() -> World:
    """The world of the initialized process group, or a single process."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    return World()


def restart_count() -> int:
    """How many times torchrun has restarted this job's processes (0 on the first attempt)."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))


def restarts_left() -> int:
    """How many more times torchrun will restart this job's processes (0 outside torchrun)."""
    return int(os.environ.get("TORCHELASTIC_MAX_RESTARTS", "0")) - restart_count()


def init(device: torch.device) -> World:
    """Join the process group torchrun set up (gloo on CPU, nccl on CUDA); a no-op for one process."""
    world = env_world()
    if world.active and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(world.local_rank)
        dist.init_process_group(backend)
    return current()


def close() -> None:
    """Leave the process group (call :func:`barrier` first, so that no rank leaves while others still talk)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard(n: int, rank: int, size: int) -> slice:
    """The contiguous part of ``n`` items that ``rank`` of ``size`` takes: sizes differ by at most one.

    >>> [shard(5, r, 2) for r in range(2)]
    [slice(0, 3, None), slice(3, 5, None)]
    >>> sum(shard(7, r, 3).stop - shard(7, r, 3).start for r in range(3))
    7
    """
    base, extra = divmod(n, size)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (1 if rank < extra else 0))


def loss_weight(local: int, total: int, size: int) -> float:
    """The factor on a rank's mean loss so that DDP's gradient average is the whole batch's mean-loss gradient.

    DDP averages gradients over ``size`` ranks: sum_r w_r * grad(mean_r) / size = grad(sum of losses) / total
    when w_r = local_r * size / total.

    >>> loss_weight(16, 32, 2), loss_weight(17, 33, 2)
    (1.0, 1.0303030303030303)
    """
    return local * size / total


def rank_seed(seed: int, rank: int) -> int:
    """The seed of a rank's own random draws: rank 0 keeps the one-process seed.

    >>> rank_seed(123, 0), rank_seed(123, 1) != 123
    (123, True)
    """
    return seed ^ (rank * 0x9E3779B97F4A7C15 % (2**62))


def _comm(t: torch.Tensor) -> torch.Tensor:
    """``t`` where the process group can send it: nccl only moves CUDA tensors, gloo CPU ones."""
    if dist.get_backend() == "nccl":
        return t.to(torch.device("cuda", torch.cuda.current_device()))
    return t.cpu()


def barrier() -> None:
    """Wait for every rank (a no-op for one process)."""
    if current().active:
        dist.barrier()


def any_rank(flag: bool) -> bool:
    """True if ``flag`` is true on any rank: all stop at the same step (Ctrl-C reaches them at different times)."""
    if not current().active:
        return flag
    t = _comm(torch.tensor([1.0 if flag else 0.0]))
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def mean_over_ranks(value: float) -> float:
    """The mean of a number over the ranks."""
    world = current()
    if not world.active:
        return value
    t = _comm(torch.tensor([float(value)], dtype=torch.float64))
    dist.all_reduce(t)
    return t.item() / world.size


def gather_rows(local: torch.Tensor, n: int) -> torch.Tensor:
    """Every rank's :func:`shard` of ``n`` rows, concatenated in order, on every rank.

    Shards may differ by one row; they are padded to the same length for the all-gather and the padding is
    cut off again, so each of the ``n`` rows appears exactly once. A rank with no rows (fewer rows than ranks)
    takes the row shape from rank 0, which always has the most.
    """
    world = current()
    if not world.active:
        return local
    longest = shard(n, 0, world.size)
    width = longest.stop - longest.start
    row = broadcast_json(list(local.shape[1:]) if world.main else None)  # an empty shard's shape says nothing
    padded = torch.zeros((width, *row), dtype=local.dtype)
    if len(local):
        padded[:len(local)] = local
    padded = _comm(padded)
    parts = [torch.empty_like(padded) for _ in range(world.size)]
    dist.all_gather(parts, padded)
    rows = [p[:shard(n, r, world.size).stop - shard(n, r, world.size).start] for r, p in enumerate(parts)]
    return torch.cat(rows).to(local.device)


def broadcast_bytes(data: bytes | None) -> bytes:
    """Rank 0's ``data`` on every rank (others pass None). Used for JSON and safetensors: no pickle."""
    world = current()
    if not world.active:
        return data or b""
    size = _comm(torch.tensor([len(data) if world.main else 0], dtype=torch.int64))
    dist.broadcast(size, 0)
    if world.main and data:
        buf = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    else:
        buf = torch.empty(int(size), dtype=torch.uint8)
    if int(size):
        buf = _comm(buf)
        dist.broadcast(buf, 0)
    return bytes(buf.cpu().numpy()) if int(size) else b""


def broadcast_json(obj):
    """Rank 0's JSON-able object on every rank."""
    return json.loads(broadcast_bytes(json.dumps(obj).encode() if current().main else None) or b"null")


def sync_buffers(model: torch.nn.Module) -> None:
    """Give every rank rank 0's buffers (batch-norm running statistics): DDP sends them before each training
    step, but each rank's last step then updated its own copy."""
    if current().active:
        for b in model.buffers():
            dist.broadcast(b.data, 0)


def fingerprints(model: torch.nn.Module) -> list[float]:
    """One number per rank summing its parameters: every rank must hold the same weights (DDP keeps them equal).

    Returns the list over ranks (one entry for one process); a mismatch is a bug, raised by the caller.
    """
    with torch.no_grad():
        own = torch.tensor([sum(float(p.double().sum()) for p in model.parameters())], dtype=torch.float64)
    world = current()
    if not world.active:
        return [own.item()]
    own = _comm(own)
    parts = [torch.empty_like(own) for _ in range(world.size)]
    dist.all_gather(parts, own)
    return [p.item() for p in parts]


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """The model wrapped in DistributedDataParallel (SyncBatchNorm on CUDA), or the model itself for one process."""
    if not current().active:
        return model
    from torch.nn.parallel import DistributedDataParallel  # deferred: only multi-process runs need it

    if device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return DistributedDataParallel(model, device_ids=[torch.cuda.current_device()])
    return DistributedDataParallel(model)


def check_supported(freeze: bool) -> None:
    """Refuse what several processes cannot do better than one.

    Raises:
        ConfigError: a frozen-backbone (transfer) run with ``--nproc`` above 1.
    """
    if freeze:
        raise ConfigError("nproc", env_world().size, "1 for a frozen-backbone run",
                          hint="a frozen backbone runs once per photo and then trains a tiny head in seconds: "
                               "one process does that best; leave out --nproc (or train without --freeze)")


def check_batch(batch_size: int | None, size: int) -> None:
    """Refuse a global batch that leaves a process fewer than two images (batch norm needs two, as in one process).

    >>> check_batch(4, 2), check_batch(None, 8)   # None: picked later from the model and the data
    (None, None)
    >>> check_batch(3, 2)
    Traceback (most recent call last):
      ...
    cnnlab.errors.ConfigError: batch_size=3: expected a whole number of at least 4 with 2 processes (each process \
trains on its part of the batch, and batch norm needs two images on each); ...

    Raises:
        ConfigError: ``batch_size`` below ``2 * size``.
    """
    if batch_size is not None and size > 1 and batch_size < 2 * size:
        raise ConfigError("batch_size", batch_size, f"a whole number of at least {2 * size} with {size} processes "
                          "(each process trains on its part of the batch, and batch norm needs two images on each)",
                          hint=f"give --batch-size {2 * size} or more, or use fewer processes")


def is_peer_failure(e: BaseException) -> bool:
    """True for the errors a process gets when another process of the run died (a broken gloo/nccl connection)."""
    if not env_world().active:
        return False
    if isinstance(e, getattr(dist, "DistError", ())):
        return True
    text = str(e).lower()
    return isinstance(e, RuntimeError) and any(w in text for w in ("gloo", "nccl", "connection reset", "broken pipe"))


def torchrun_command(argv: list[str], nproc: int, max_restarts: int = 0) -> tuple[list[str], dict]:
    """The torchrun command line and environment that runs ``cnnlab train ARGV`` on ``nproc`` local processes.

    >>> cmd, env = torchrun_command(["--data", "digits", "--out", "runs/d"], 2, 1)
    >>> cmd[1:4], cmd[-6:-4], env["TORCH_DISABLE_SHARE_RDZV_TCP_STORE"]
    (['-m', 'torch.distributed.run', '--standalone'], ['cnnlab', 'train'], '1')
    """
    threads = max(1, (os.cpu_count() or 1) // nproc)
    env = {**os.environ, **ENV_FIX}
    env.setdefault("OMP_NUM_THREADS", str(threads))  # torchrun would set 1 and warn; share the cores instead
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           f"--max-restarts={max_restarts}", "-m", "cnnlab", "train", *argv]
    return cmd, env


def launch(argv: list[str], nproc: int, max_restarts: int = 0) -> tuple[int, str]:
    """Run ``cnnlab train ARGV`` on ``nproc`` local processes with torchrun's launcher, inside this process.

    Each process says itself what went wrong (one line for a mistake it can name); torchrun's own log lines and
    tracebacks are left out, and a Ctrl-C reaches torchrun, which passes it on (the processes save a checkpoint).

    Returns:
        ``(exit code, message)``: 0, or the code of the process that failed first (2: a mistake it explained,
        130: interrupted, 1 otherwise), and one line to print when that process could not say it itself ("").
    """
    from torch.distributed.elastic.multiprocessing.api import SignalException  # deferred: the launcher's alone
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError  # deferred: the launcher's alone
    from torch.distributed.run import parse_args, run  # deferred: the launcher's alone

    cmd, env = torchrun_command(argv, nproc, max_restarts)
    os.environ.update({k: env[k] for k in (*ENV_FIX, "OMP_NUM_THREADS")})
    for name in list(logging.Logger.manager.loggerDict):  # each module's logger sets its own level when imported
        if name.startswith(("torch.distributed.elastic", "torch.distributed.run", "torch.distributed.launcher")):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        run(parse_args(cmd[cmd.index("torch.distributed.run") + 1:]))
    except SignalException:
        return 130, ""
    except ChildFailedError as e:
        rank, failure = e.get_first_failure()
        if failure.exitcode < 0:  # killed by a signal: it could say nothing
            return 1, (f"process {rank} of the run was killed ({failure.signal_name()}) and no restarts were left; "
                       "continue from the last checkpoint with --resume (--max-restarts N restarts by itself)")
        return (failure.exitcode if failure.exitcode in (2, 130) else 1), ""
    return 0, ""


def strip_launch_flags(argv: list[str]) -> list[str]:
    """``argv`` without ``--nproc N`` and ``--max-restarts N`` (the workers must not launch again).

    >>> strip_launch_flags(["--nproc", "2", "--data", "digits", "--max-restarts=3", "--out", "x"])
    ['--data', 'digits', '--out', 'x']
    """
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in ("--nproc", "--max-restarts"):
            skip = True
            continue
        if a.startswith(("--nproc=", "--max-restarts=")):
            continue
        out.append(a)
    return out


def tensors_from_bytes(data: bytes) -> dict:
    """Tensors from safetensors bytes (what :func:`broadcast_bytes` sends)."""
    from safetensors.torch import load  # deferred: only resumed multi-process runs need it

    return load(data)


__all__ = ["ENV_FIX", "World", "any_rank", "barrier", "broadcast_bytes", "broadcast_json", "check_batch",
           "check_supported", "close", "current", "env_world", "fingerprints", "gather_rows", "init", "is_peer_failure",
           "launch", "loss_weight", "mean_over_ranks", "rank_seed", "restart_count", "restarts_left", "shard",
           "strip_launch_flags", "sync_buffers", "tensors_from_bytes", "torchrun_command", "wrap"]
