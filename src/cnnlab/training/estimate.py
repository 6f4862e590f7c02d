"""Estimate before training: the time per epoch and the peak memory of a run, from a few real steps on this machine.

    estimate_run(cfg, net, (train, val, test), tcfg)  ->  {"event": "estimate", "epoch_seconds": ..., ...}

A few training steps are timed on a *copy* of the model (with the run's batch size, augmentation,
precision, memory format and compile setting, through the run's own :class:`~cnnlab.training.trainer.Trainer`),
then a validation pass on a few images; a frozen run times its one-off feature pass instead. The copy has
its own optimizer and the random streams are restored afterwards, so the run itself trains exactly as it
would have without the estimate (same weights, bit for bit).

    time per epoch = steps per epoch x time per step + validation images / validation speed
    total          = epochs x that (+ the one-off feature pass of a frozen run) + the test pass

Peak memory is the process's resident memory (RSS): what it uses now (the data and the model loaded) plus
the growth measured during the calibration steps (gradients, optimizer state, activations, augmentation),
plus the data pages a memory-mapped photo folder keeps while it is read, plus a frozen run's feature table.
Writing the report at the end (matplotlib) is not included. On CUDA, the GPU's own peak is estimated too.

Left to decide itself (``estimate=None``), a frozen run times the first batch of its own feature pass and
keeps those features (:func:`cnnlab.training.transfer.first_features`: the pass then starts at its second
batch), so a run that turns out short pays nothing for having been timed.

A long or big run gets concrete suggestions: a smaller ``--image-size`` (photo folders), a smaller
``input_size`` (pretrained models), ``--pretrained --freeze``, or fewer images with ``--per-class``.
"""

from __future__ import annotations

import copy
import ctypes
import math
import os
import sys
import threading
import time
from dataclasses import replace

import torch

from cnnlab.config import RunConfig, TrainConfig, resolve_training
from cnnlab.data.cache import cache_dir
from cnnlab.data.features import FeatureSet
from cnnlab.data.folder import available_memory
from cnnlab.data.imageset import ImageSet, MappedImages
from cnnlab.data.sources import get_source
from cnnlab.data.splits import load_splits
from cnnlab.device import autocast_dtype, pick_device
from cnnlab.errors import CnnlabError
from cnnlab.models.registry import check_model_args, model_info
from cnnlab.training import distributed, transfer
from cnnlab.training.trainer import StopTraining, Trainer, evaluate

try:
    import resource
except ImportError:  # Windows
    resource = None

AUTO_SECONDS = 30.0  # estimate=None: only runs that look longer than this are estimated (and printed)
SLOW_EPOCH_SECONDS = 600.0  # an epoch (or a feature pass) longer than this gets suggestions
BUDGET_SECONDS = 1.0  # time for the timed training steps; validation and features get a share of it


# ---------------------------------------------------------------- memory of this process


def rss_bytes() -> int:
    """Resident memory of this process now, in bytes (the peak so far where the system has no /proc)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return peak_rss_bytes()


def peak_rss_bytes() -> int:
    """The highest resident memory of this process so far, in bytes (0 where the system cannot say)."""
    if resource is None:
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS counts bytes, Linux kilobytes


def trim_heap() -> None:
    """Hand freed heap memory back to the system (glibc's malloc_trim; elsewhere nothing), so that the RSS growth
    of what follows shows the memory it needs, not only what the heap could not recycle."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


class MemoryWatch:
    """Context manager: the highest RSS of this process while it is open (``.peak``), sampled every 5 ms."""

    def __init__(self, every: float = 0.005):
        self.every, self.peak = every, 0
        self._stop = threading.Event()

    def __enter__(self):
        self._start_peak, self.peak = peak_rss_bytes(), rss_bytes()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self):
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())
        if peak_rss_bytes() > self._start_peak:  # a new high while watched: the system's own count is exact
            self.peak = max(self.peak, peak_rss_bytes())


# ---------------------------------------------------------------- timing real steps


class _StepClock:
    """Trainer callback: the seconds of each step, end to end (slicing, augmentation, forward, backward, update).

    How many steps are timed is decided from the first timed one (about ``budget`` seconds in all, at most
    ``max_steps``): stopping whenever the time spent passes the budget would pick the step that crossed it,
    which is more often a slow one.
    """

    def __init__(self, warmup: int, max_steps: int, budget: float, is_short=None):
        self.warmup, self.max_steps, self.budget, self.is_short = warmup, max_steps, budget, is_short
        self.times: list[float] = []
        self.short, self.target = False, max_steps

    def before_fit(self, t):
        self.last = time.perf_counter()

    def after_batch(self, t):
        now = time.perf_counter()
        self.times.append(now - self.last)
        self.last = now
        if len(self.times) == 1 and self.times[0] < 0.1:
            self.warmup += 2  # a small model's first steps stay slow for a while (caches, memory): skip two more
        timed = self.times[self.warmup:]
        if len(timed) == 1:
            first = timed[0]
            self.target = min(self.max_steps, max(2 if first < self.budget else 1, round(self.budget / first)))
            self.short = self.is_short is not None and self.is_short(first)  # a short run needs no more steps
        if self.short or len(timed) >= self.target:
            raise StopTraining("calibrated")


def time_steps(model: torch.nn.Module, data: ImageSet | FeatureSet, config: TrainConfig, budget: float = BUDGET_SECONDS,
               max_steps: int = 20, callbacks=(), param_groups=None, is_short=None) -> _StepClock:
    """Time a few real training steps of ``model`` (it is trained: pass a copy) on the first batch of ``data``.

    One warm-up step (two with ``compile``) is run first (it holds one-off costs: memory, kernels chosen for the
    shapes), then steps until ``budget`` seconds or ``max_steps`` (at least one: a big model is timed by one step).

    Returns:
        The clock: ``times`` (seconds of every step, warm-up first), ``warmup`` and ``short`` (``is_short``,
        called with the first timed step's seconds, said yes and timing stopped there).
    """
    part = _first(data, config.batch_size)
    clock = _StepClock(2 if config.compile else 1, max_steps, budget, is_short)
    cfg = replace(config, epochs=clock.warmup + max_steps)  # one batch per epoch: each epoch is one step
    if Trainer(model, part, None, cfg, callbacks=[*callbacks, clock], param_groups=param_groups).fit().interrupted:
        raise KeyboardInterrupt  # a Ctrl-C (a cancelled job) came while timing: the run itself must stop too
    return clock


def step_seconds(clock: _StepClock) -> float:
    """The median seconds of the timed steps: one step slowed by another program does not count ten times."""
    timed = sorted(clock.times[clock.warmup:] or clock.times)
    return (timed[(len(timed) - 1) // 2] + timed[len(timed) // 2]) / 2


def eval_rate(model, data: ImageSet | FeatureSet, config: TrainConfig, budget: float, guess: float) -> tuple:
    """Images per second of :func:`~cnnlab.training.trainer.evaluate` and the memory its batch added, scaled to a
    whole evaluation batch (``guess``: a first seconds-per-image; about ``budget`` seconds are spent).
    """
    device, amp = pick_device(config.device), autocast_dtype(pick_device(config.device), config.precision)
    n = int(min(len(data), config.eval_batch_size, max(32, budget / 2 / max(guess, 1e-9))))  # >= 32: memory
    part = _first(data, n)
    trim_heap()
    with MemoryWatch() as mem:
        before = rss_bytes()
        evaluate(model, part, config.eval_batch_size, device, config.tta, amp)  # warm-up: kernels set up per shape
        t0 = time.perf_counter()
        evaluate(model, part, config.eval_batch_size, device, config.tta, amp)
        seconds = time.perf_counter() - t0
    return n / max(seconds, 1e-9), (mem.peak - before) * min(len(data), config.eval_batch_size) / n


def _first(data, n: int):
    idx = torch.arange(min(n, len(data)))
    return data.subset(idx) if isinstance(data, ImageSet) else FeatureSet(data.features[idx], data.labels[idx],
                                                                          list(data.classes))


# ---------------------------------------------------------------- the estimate


def estimate_run(cfg: RunConfig, net: torch.nn.Module, splits: tuple, tcfg: TrainConfig, *, feature_cache: bool = True,
                 quick: bool = False, budget: float = BUDGET_SECONDS,
                 slow_epoch_seconds: float = SLOW_EPOCH_SECONDS) -> dict | None:
    """Predict the run's time per epoch, total time and peak memory from a few real steps on this machine.

    Args:
        cfg: the run configuration (model, data, freeze, fine_tune).
        net: the run's freshly built model (left untouched: a copy is timed).
        splits: ``(train, val, test)`` ImageSets as the run loaded them (val may be None).
        tcfg: the resolved training settings (batch size, augmentation...).
        feature_cache: a frozen run trains its head on cached features (as ``cnnlab.train``).
        quick: stop after one timed step and return None when the run looks shorter than :data:`AUTO_SECONDS`.
        budget: seconds for the timed steps.
        slow_epoch_seconds: an epoch or feature pass longer than this gets ``suggestions``.

    Returns:
        The ``{"event": "estimate", ...}`` dict (numbers, ``text``, ``suggestions``), or None (``quick``, short run).
    """
    start, rss0, hwm0 = time.perf_counter(), rss_bytes(), peak_rss_bytes()
    device = pick_device(tcfg.device)
    rng_devices = [device.index or 0] if device.type == "cuda" else []
    gpu0 = torch.cuda.memory_allocated(device) if device.type == "cuda" else 0
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with torch.random.fork_rng(devices=rng_devices):  # the run's random streams stay where they were
        if cfg.model.freeze and feature_cache:
            est = _frozen(cfg, net, splits, tcfg, quick, budget)
        else:
            est = _scratch(cfg, net, splits, tcfg, quick, budget)
    if est is None:
        return None
    growth = est.pop("growth")
    est.update(event="estimate", rss_now_bytes=rss0, available_bytes=available_memory(),
               peak_rss_bytes=int(max(hwm0, rss0 + growth + _mapped_bytes(splits))),
               calibration_seconds=round(time.perf_counter() - start, 2))
    if device.type == "cuda":
        est["gpu_peak_bytes"] = int(gpu0 + max(0, torch.cuda.max_memory_allocated(device) - est.pop("gpu_base")))
    est["suggestions"] = suggestions(cfg, splits, est, slow_epoch_seconds)
    est["text"] = describe(est)
    return est


def _images_phase(model, splits, tcfg, budget, quick=False, callbacks=(), groups=None) -> dict | None:
    """Steps that run the whole network on images (from scratch, fine-tuning, frozen without a cache), timed."""
    train, val, test = splits
    n_val = len(val) if val is not None else 0
    bs = tcfg.batch_size
    per_epoch, total_steps, num_epochs = _schedule(tcfg.epochs, len(train), bs)

    def is_short(step):  # forward-only evaluation costs about a third of a training step per image
        return step * total_steps + (n_val * num_epochs + len(test)) * step / bs / 3 < AUTO_SECONDS

    base = _base(tcfg)
    with MemoryWatch() as mem:
        clock = time_steps(model, train, tcfg, budget, callbacks=callbacks, param_groups=groups,
                           is_short=is_short if quick else None)
    if clock.short:
        return None
    step = step_seconds(clock)
    trim_heap()
    held = rss_bytes() - base["rss"]  # what training keeps between steps (gradients, optimizer state)
    rate, eval_growth = eval_rate(model, val if n_val and len(val) >= len(test) else test, tcfg, budget / 2,
                                  step / bs / 3)  # the bigger of the two: every batch holds up to eval_batch_size
    return {"steps_per_epoch": per_epoch, "batch_size": bs, "step_seconds": round(step, 5),
            "val_seconds": round(n_val / rate, 3), "epoch_seconds": round(per_epoch * step + n_val / rate, 3),
            "eval_images_per_second": round(rate, 1), "test_seconds": round(len(test) / rate, 3),
            "calibration_steps": len(clock.times), "gpu_base": base["gpu"],
            "growth": max(mem.peak - base["rss"], held + eval_growth),
            "train_seconds": round(total_steps * step + num_epochs * n_val / rate, 3)}


def _scratch(cfg, net, splits, tcfg, quick, budget) -> dict | None:
    """The estimate of a run whose every step runs the whole network."""
    model = copy.deepcopy(net)
    if cfg.model.freeze:  # without the feature cache: the frozen backbone runs in every step
        transfer.freeze_backbone(model)
    est = _images_phase(model, splits, tcfg, budget, quick, callbacks=[transfer.FrozenBatchNorm()] * cfg.model.freeze)
    if est is not None:
        est.update(kind="frozen, no feature cache" if cfg.model.freeze else "from scratch" if not cfg.model.pretrained
                   else "fine-tuning", epochs=tcfg.epochs,
                   total_seconds=round(est.pop("train_seconds") + est["test_seconds"], 2))
    return est


def _feature_probe(model, train, device, amp, base, quick, todo) -> tuple:
    """``(features, images per second, memory growth of a batch of 64)`` from 2 and twice 16 images
    (``(None, None, None)`` when ``quick`` finds the run short)."""
    with MemoryWatch() as small:  # 2 images, then twice a batch of 16 (timed the second time: kernels are set up
        t0 = time.perf_counter()    # per shape, and below ~8 images a batch costs more per image than 64 do)
        transfer.extract_features(model, train.images[:2], device=device, amp_dtype=amp)
        if quick and sum(todo.values()) * (time.perf_counter() - t0) / 2 < AUTO_SECONDS:
            return None, None, None
    n = min(len(train), 16)
    with MemoryWatch() as mem:
        transfer.extract_features(model, train.images[:n], device=device, amp_dtype=amp)
        t0 = time.perf_counter()
        feats = transfer.extract_features(model, train.images[:n], device=device, amp_dtype=amp)  # float32 (n, F)
        rate = n / max(time.perf_counter() - t0, 1e-9)
    g2, g16 = small.peak - base["rss"], max(small.peak, mem.peak) - base["rss"]
    growth = g16 + max(0, g16 - g2) / max(1, n - 2) * (min(len(train), 64) - n)  # the run's batches hold 64 images
    return feats, rate, growth


def _frozen(cfg, net, splits, tcfg, quick, budget) -> dict | None:
    """The estimate of a frozen run: the one-off feature pass, then the head's epochs (and any fine-tuning)."""
    train, val, test = splits
    model = copy.deepcopy(net)
    transfer.freeze_backbone(model)
    views = transfer.DEFAULT_VIEWS if tcfg.augment else 1
    path = cache_dir() / "features"
    todo = {name: 0 if (path / f"{transfer.cache_key(model, data, aug, n)}.safetensors").is_file() else len(data) * n
            for name, data, aug, n in (("train", train, tcfg.augment, views), ("val", val, None, 1),
                                       ("test", test, None, 1)) if data is not None}
    if quick and not todo["train"] + todo.get("val", 0):
        return None  # every feature is cached: the head trains in seconds
    device = pick_device(tcfg.device)
    amp = autocast_dtype(device, tcfg.precision)
    base = _base(tcfg)
    if quick and todo["train"]:  # the run's first batch of features, timed and kept for the run (costs nothing)
        with MemoryWatch() as mem:
            t0 = time.perf_counter()
            feats = transfer.first_features(model, train, device, amp)  # float32 (n, F)
            seconds = time.perf_counter() - t0
        if sum(todo.values()) * seconds / len(feats) < AUTO_SECONDS:
            return None
        rate = len(feats) / max(seconds, 1e-9)  # a whole batch of the run's size: set-up included, a bit slow
        growth = mem.peak - base["rss"]  # the run's own batch: nothing to extrapolate
    else:
        feats, rate, growth = _feature_probe(model, train, device, amp, base, quick, todo)
        if feats is None:
            return None
    growth += 2 * (sum(todo.values()) or len(train)) * feats.shape[1] * 4  # the float32 feature table, twice as built
    head_epochs = tcfg.epochs if cfg.model.fine_tune is None else min(cfg.model.fine_tune, tcfg.epochs)
    n_rows, n_val = len(train) * views, len(val) if val is not None else 0
    head_cfg = replace(tcfg, augment=None, channels_last=False, precision="fp32",
                       batch_size=min(tcfg.batch_size, max(2, n_rows)))
    reps = math.ceil(head_cfg.batch_size / len(feats))
    fs = FeatureSet(feats.repeat(reps, 1), train.labels[:len(feats)].repeat(reps), list(train.classes))
    head_step = step_seconds(time_steps(copy.deepcopy(net.head), fs, head_cfg, budget / 4))
    head_rate = eval_rate(copy.deepcopy(net.head), fs, head_cfg, budget / 8, 1e-5)[0]
    per_epoch, head_steps, head_n = _schedule(head_epochs, n_rows, head_cfg.batch_size)
    features = (todo["train"] + todo.get("val", 0)) / rate
    est = {"kind": "frozen", "epochs": tcfg.epochs, "head_epochs": head_epochs, "steps_per_epoch": per_epoch,
           "batch_size": head_cfg.batch_size, "step_seconds": round(head_step, 6),
           "val_seconds": round(n_val / head_rate, 4),
           "epoch_seconds": round(per_epoch * head_step + n_val / head_rate, 3),
           "features_images": todo["train"] + todo.get("val", 0), "features_per_second": round(rate, 1),
           "features_seconds": round(features, 2), "eval_images_per_second": round(rate, 1),
           "test_seconds": round(todo["test"] / rate, 2), "growth": growth, "gpu_base": base["gpu"]}
    total = features + head_steps * head_step + head_n * n_val / head_rate
    if cfg.model.fine_tune is not None and tcfg.epochs > head_epochs:  # the last blocks train on the images
        tuned = copy.deepcopy(net)
        transfer.freeze_backbone(tuned)
        groups = [{"params": list(tuned.head.parameters())},
                  {"params": transfer.unfreeze_last(tuned), "lr_scale": transfer.FINE_TUNE_LR_SCALE}]
        ft = _images_phase(tuned, splits, replace(tcfg, epochs=tcfg.epochs - head_epochs), budget / 2,
                           callbacks=[transfer.FrozenBatchNorm()], groups=groups)
        est["fine_tune_epoch_seconds"] = ft["epoch_seconds"]
        est["test_seconds"] = ft["test_seconds"]  # a fine-tuned backbone is scored on the images
        est["growth"] = max(growth, ft["growth"])
        total += ft["train_seconds"]
    est["total_seconds"] = round(total + est["test_seconds"], 2)
    return est


def _schedule(epochs: float, n: int, bs: int) -> tuple[int, int, int]:
    """(steps per epoch, steps in all, epochs begun) exactly as the Trainer counts them."""
    per_epoch = max(1, n // bs)
    total = max(1, round(epochs * per_epoch))
    return per_epoch, total, math.ceil(total / per_epoch)


def _base(tcfg: TrainConfig) -> dict:
    """Memory now, after the copy was made: what the calibration's growth is measured from."""
    device = pick_device(tcfg.device)
    trim_heap()
    return {"rss": rss_bytes(), "gpu": torch.cuda.memory_allocated(device) if device.type == "cuda" else 0}


def _mapped_bytes(splits) -> int:
    """Pages of memory-mapped photo folders the run will read (each map keeps at most READ_WINDOW of them)."""
    window = sys.modules[MappedImages.__module__].READ_WINDOW  # the module that hands the pages back says how many
    maps = {}
    for data in splits:
        if data is not None and isinstance(data.images, MappedImages):
            maps[id(data.images.mapping)] = min(data.images.mapping.array.nbytes, window)
    return sum(maps.values())


# ---------------------------------------------------------------- what to say


def suggestions(cfg: RunConfig, splits: tuple, est: dict, slow_epoch_seconds: float = SLOW_EPOCH_SECONDS) -> list[str]:
    """Concrete, valid options that make a slow or big run smaller (empty when it is neither).

    Each names the flag and what it is predicted to give: time scales with the pixels of the images the
    network sees and with the number of training images.
    """
    train, val, test = splits
    frozen = est["kind"] == "frozen"
    work = est.get("features_seconds", 0.0) + est["epoch_seconds"] if frozen else est["epoch_seconds"]
    unit = "in all" if frozen else "per epoch"
    slow = max(est["epoch_seconds"], est.get("features_seconds", 0.0)) > slow_epoch_seconds
    big = est["peak_rss_bytes"] - est["rss_now_bytes"] > est["available_bytes"]
    if not (slow or big):
        return []
    info = model_info(cfg.model.name)
    out = []
    if info.pretrained and not cfg.model.freeze:
        images = len(train) + (len(val) if val is not None else 0) + len(test)
        out.append(f"--pretrained --freeze (the pretrained part runs once per image, about "
                   f"{duration(images / est['eval_images_per_second'])}, then each epoch takes seconds)")
    if info.input_size is None and cfg.data.source.startswith("folder:"):
        size = train.image_size[0]
        new = max(16, size // 2 // 8 * 8)
        if new < size:
            out.append(f"--image-size {new} (about {duration(work * (new / size) ** 2)} {unit})")
    elif info.input_size is not None:
        size = int(cfg.model.args.get("input_size", info.input_size))
        new = max(32, size * 5 // 7 // 32 * 32)  # 224 -> 160
        try:
            check_model_args(cfg.model.name, {"input_size": new})
            if new < size:
                out.append(f"--model-arg input_size={new} (about {duration(work * (new / size) ** 2)} {unit})")
        except CnnlabError:
            pass  # this model has no input_size argument
    now = math.ceil(len(train) / max(1, len(train.classes)))
    share = min(slow_epoch_seconds / 2 / max(work, 1e-9) if slow else 1.0,
                est["available_bytes"] / 2 / max(1, est["peak_rss_bytes"] - est["rss_now_bytes"]) if big else 1.0)
    per_class = max(1, int(now * share))
    if 1 <= per_class < now:
        out.append(f"--per-class {per_class} (about {duration(work * per_class / now)} {unit})")
    return out


def duration(seconds: float) -> str:
    """A time as people say it.

    >>> duration(4.25), duration(42), duration(125), duration(7300)
    ('4.2s', '42s', '2m05s', '2h01m')
    """
    if seconds < 10:
        return f"{seconds:.1f}s"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def nbytes(n: float) -> str:
    """A size in MB or GB.

    >>> nbytes(3.5e8), nbytes(2.25e9)
    ('350 MB', '2.2 GB')
    """
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def describe(est: dict) -> str:
    """The one or two lines printed before the run starts."""
    epochs = f"{est['epochs']:g} epoch{'s' if est['epochs'] != 1 else ''}"
    if est["kind"] == "frozen":
        first = (f"features {duration(est['features_seconds'])} once ({est['features_images']:,} images at "
                 f"{est['features_per_second']:,.0f} img/s), then {duration(est['epoch_seconds'])} per head epoch"
                 if est["features_images"] else f"features cached, {duration(est['epoch_seconds'])} per head epoch")
        if "fine_tune_epoch_seconds" in est:
            first += f", {duration(est['fine_tune_epoch_seconds'])} per fine-tune epoch"
    else:
        first = (f"{duration(est['epoch_seconds'])} per epoch ({est['steps_per_epoch']:,} steps of "
                 f"{est['step_seconds'] * 1000:,.0f} ms + {duration(est['val_seconds'])} validation)")
    gpu = f", GPU {nbytes(est['gpu_peak_bytes'])}" if "gpu_peak_bytes" in est else ""
    text = (f"estimate: {first}; {epochs} with testing about {duration(est['total_seconds'])}; peak memory about "
            f"{nbytes(est['peak_rss_bytes'])}{gpu} (timed in {duration(est['calibration_seconds'])} on this machine)")
    if est["suggestions"]:
        big = est["peak_rss_bytes"] - est["rss_now_bytes"] > est["available_bytes"]
        why = (f"needs more memory than the {nbytes(est['available_bytes'])} available" if big else "this is slow")
        text += f"\n{why}; to make it smaller try: " + "; or ".join(est["suggestions"])
    return text


# ---------------------------------------------------------------- front doors


def emit_estimate(cfg: RunConfig, net: torch.nn.Module, splits: tuple, tcfg: TrainConfig, emit,
                  feature_cache: bool = True) -> dict | None:
    """Send the estimate to ``emit`` before the run trains, as ``cfg.training.estimate`` asks.

    ``estimate=None`` (the default) times one step first and goes on only when the run looks longer than
    :data:`AUTO_SECONDS` (a short run is not worth even a second); ``True`` always, ``False`` never. Runs of
    several processes are not estimated (each process would have to time the same steps together).
    """
    if cfg.training.estimate is False or distributed.current().active:
        return None
    est = estimate_run(cfg, net, splits, tcfg, feature_cache=feature_cache, quick=cfg.training.estimate is None)
    if est is not None:
        emit(est)
    return est


def dry_run(config: RunConfig, build_model, on_event=None, feature_cache: bool = True) -> dict:
    """The estimate of a run without the run (``cnnlab train --dry-run``): load, build, time, write no run folder.

    ``build_model`` is :func:`cnnlab.training.run.build_model` (passed in: that module imports this one);
    ``on_event`` receives the data's stage events and the estimate event, which is also returned.
    """
    emit = on_event or (lambda e: None)
    info = model_info(config.model.name)
    splits = load_splits(config.data.source, val_fraction=config.data.val_fraction, per_class=config.data.per_class,
                         seed=config.training.seed, fit=config.data.fit, on_event=emit,
                         image_size=config.data.image_size or config.model.args.get("input_size")
                         or info.folder_image_size)  # as cnnlab.training.run loads them
    torch.manual_seed(config.training.seed)
    net = build_model(config, splits[0], info)
    source, _ = get_source(config.data.source)
    tcfg = resolve_training(config.training, config.model.name, len(splits[0]), mirror_safe=source.mirror_safe)
    est = estimate_run(config, net, splits, tcfg, feature_cache=feature_cache)
    emit(est)
    return est


__all__ = ["AUTO_SECONDS", "MemoryWatch", "SLOW_EPOCH_SECONDS", "describe", "dry_run", "duration", "emit_estimate",
           "estimate_run", "nbytes", "peak_rss_bytes", "rss_bytes", "suggestions", "time_steps"]
