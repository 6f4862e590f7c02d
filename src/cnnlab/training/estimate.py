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
import math
import sys
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
from cnnlab.models.registry import model_info
from cnnlab.training import distributed, transfer
from cnnlab.training.estimate_words import SLOW_EPOCH_SECONDS, describe, suggestions
from cnnlab.training.memory import MemoryWatch, peak_rss_bytes, rss_bytes, trim_heap
from cnnlab.training.trainer import StopTraining, Trainer, evaluate

AUTO_SECONDS = 30.0  # estimate=None: only runs that look longer than this are estimated (and printed)
BUDGET_SECONDS = 1.0  # time for the timed training steps; validation and features get a share of it


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


__all__ = ["AUTO_SECONDS", "dry_run", "emit_estimate", "estimate_run", "time_steps"]
