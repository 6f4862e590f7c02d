"""The training loop: short, seeded, with named events.

    before_fit -> [before_epoch -> (before_batch -> after_loss -> after_batch)* -> after_epoch]* -> after_fit

Progress bars, history, checkpoints, early stopping and NaN guards are callbacks
(:mod:`cnnlab.training.callbacks`) that hook into these events; the loop knows nothing about them.

Every random draw of step ``s`` (batch order, augmentation, dropout) derives from ``(seed, s)``,
so a run stopped after any step and resumed gives bit-identical weights on CPU.

>>> from cnnlab.data.sources import make_synthetic
>>> from cnnlab.models import create_model
>>> from cnnlab.training.trainer import TrainConfig, Trainer
>>> train_set, val_set = make_synthetic(n=200).split(0.2)
>>> model = create_model("lecture_cnn", num_classes=3, image_size=16, widths=(8, 16), hidden=16)
>>> result = Trainer(model, train_set, val_set, TrainConfig(epochs=2, batch_size=32, precision="fp32")).fit()
>>> [h["epoch"] for h in result.history], result.interrupted
([1, 2], False)
"""

from __future__ import annotations

import contextlib
import difflib
import math
import signal
import time
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnlab.config import TrainConfig, resolve_training
from cnnlab.data.augment import parse_augment
from cnnlab.data.features import FeatureSet, inputs_of
from cnnlab.data.imageset import ImageSet, MappedImages
from cnnlab.device import autocast_dtype, pick_device
from cnnlab.errors import ConfigError
from cnnlab.training import distributed

EVENTS = ("before_fit", "before_epoch", "before_batch", "after_loss", "after_batch", "after_epoch", "after_fit")


@dataclass
class TrainResult:
    """What a finished (or stopped) training returns, from scratch or by transfer learning.

    Args:
        model: the trained network (on ``device``).
        history: one dict of metrics per epoch.
        config: the resolved training settings used.
        device: where it trained.
        amp_dtype: the autocast dtype used (None for float32).
        interrupted: True when it stopped early on request (Ctrl-C, a cancelled job).
        timings: seconds spent in each phase.
        distributed: for a multi-process run: ``processes`` and each rank's weight ``fingerprints`` (all equal).
    """

    model: nn.Module
    history: list
    config: TrainConfig
    device: torch.device
    amp_dtype: object = None
    interrupted: bool = False
    timings: dict = field(default_factory=dict)
    distributed: dict | None = None


def check_callback(cb) -> None:
    """Refuse a callback with a method that looks like an event but is not one (``after_epcoh`` would never fire).

    Raises:
        ConfigError: naming the method and the closest event.
    """
    for name in dir(cb):
        if name.startswith("_") or name in EVENTS or not callable(getattr(cb, name, None)):
            continue
        close = difflib.get_close_matches(name, EVENTS, n=1, cutoff=0.75)
        if name.startswith(("before_", "after_", "on_")) or close:
            raise ConfigError("callbacks", f"{type(cb).__name__}.{name}",
                              "methods named after events: " + ", ".join(EVENTS) + " (other methods must not look "
                              "like events, or they would never be called)",
                              hint=f"did you mean {close[0]!r}?" if close else "")


class StopTraining(Exception):
    """Raised by a callback to end training cleanly (early stopping, Ctrl-C)."""


def step_seed(seed: int, step: int) -> int:
    """The seed of every random draw at ``step`` (negative steps name other streams, e.g. epoch orders).

    >>> step_seed(0, 5) == step_seed(0, 5) != step_seed(1, 5)
    True
    """
    return (seed * 1_000_003 + step * 7_919 + 12_345) % (2**63 - 1)


def one_cycle(step: int, total: int, peak: float, warmup: float = 0.25) -> float:
    """Learning rate at ``step``: linear rise from peak/25 to peak, then cosine down to ~0."""
    rise = max(1, int(total * warmup))
    if step < rise:
        return peak * (0.04 + 0.96 * step / rise)
    t = (step - rise) / max(1, total - rise)
    return peak * (0.0004 + 0.9996 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


class Trainer:
    """The training loop: AdamW, a one-cycle schedule, batched augmentation, named events for callbacks.

    Args:
        model: a network taking uint8 images (N, C, H, W) (or features, for a FeatureSet) and returning logits.
        train_set: an ImageSet (or FeatureSet) to train on.
        val_set: scored after every epoch (None: no validation).
        config: a :class:`~cnnlab.config.TrainConfig`; "auto" values are resolved from the model and data size.
        callbacks: objects with methods named after :data:`EVENTS`, each called with the trainer.
        optimizer: replaces the default AdamW.
        param_groups: optimizer parameter groups (each may carry an ``lr_scale``).

    Raises:
        ConfigError: a callback method that looks like an event but is not one, or a bad setting.
    """

    def __init__(self, model: nn.Module, train_set: ImageSet, val_set: ImageSet | None = None,
                 config: TrainConfig | None = None, callbacks=(), optimizer=None, param_groups=None):
        name = getattr(model, "cnnlab_config", {}).get("name")
        self.config = resolve_training(config or TrainConfig(), name, len(train_set))
        self.device = pick_device(self.config.device)
        self.model = model.to(self.device)
        if self.config.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.train_set, self.val_set = train_set, val_set
        self.augment = parse_augment(self.config.augment)
        self.amp_dtype = autocast_dtype(self.device, self.config.precision)
        groups = param_groups or [{"params": [p for p in model.parameters() if p.requires_grad]}]
        self.optimizer = optimizer or torch.optim.AdamW(groups, lr=self.config.lr,
                                                        weight_decay=self.config.weight_decay)
        for g in self.optimizer.param_groups:
            g.setdefault("lr_scale", 1.0)
        self.world = distributed.current()  # several processes under torchrun: see cnnlab.training.distributed
        distributed.check_batch(self.config.batch_size, self.world.size)
        wrapped = distributed.wrap(self.model, self.device)
        self.forward = torch.compile(wrapped) if self.config.compile else wrapped
        self.loss_weight = 1.0
        n, bs = len(train_set), self.config.batch_size
        self.batches_per_epoch = max(1, n // bs)  # the last partial batch is dropped (batch norm needs >1)
        if not self.config.epochs > 0:
            raise ConfigError("epochs", self.config.epochs, "a number of epochs above 0")
        self.total_steps = max(1, round(self.config.epochs * self.batches_per_epoch))
        self.num_epochs = math.ceil(self.total_steps / self.batches_per_epoch)  # the last one may be partial
        self.callbacks = []
        for cb in callbacks:
            self.add_callback(cb)
        self.epoch = self.step = self.batch = 0
        self.history: list[dict] = []
        self.loss = torch.tensor(float("nan"))
        self.stop_requested = False
        self.interrupted = False
        self.epoch_offset = 0  # epochs of an earlier phase (transfer: head epochs before fine-tuning)
        self.label = "epoch"  # what the progress bar calls this phase ("head", "fine-tune", ...)
        # weight averaging (config.average): the mean of the weights after each step of the last share of steps
        self.average_from = self.total_steps - round(self.config.average * self.total_steps) \
            if self.config.average else None
        self.averaged: dict[str, torch.Tensor] = {}
        self.averaged_count = 0

    # ------------------------------------------------------------------ events
    def add_callback(self, cb) -> None:
        """Hook ``cb`` into the loop: its methods named after :data:`EVENTS` are called with the trainer."""
        check_callback(cb)
        self.callbacks.append(cb)

    def fire(self, event: str) -> None:
        """Call every callback's method named ``event``."""
        for cb in self.callbacks:
            fn = getattr(cb, event, None)
            if fn is not None:
                fn(self)

    # ------------------------------------------------------------------ loop
    def batches_in_epoch(self, epoch: int) -> int:
        """Steps in epoch ``epoch`` (the last epoch of a fractional budget is shorter)."""
        return min(self.batches_per_epoch, self.total_steps - epoch * self.batches_per_epoch)

    def batch_indices(self, epoch: int) -> torch.Tensor:
        """The shuffled order of the training examples in epoch ``epoch`` (from the seed)."""
        g = torch.Generator().manual_seed(step_seed(self.config.seed, -1 - epoch))
        return torch.randperm(len(self.train_set), generator=g)

    def set_lr(self) -> float:
        """Set and return the one-cycle learning rate of the current step."""
        lr = one_cycle(self.step, self.total_steps, self.config.lr, self.config.warmup)
        for g in self.optimizer.param_groups:
            g["lr"] = lr * g["lr_scale"]
        return lr

    def autocast(self):
        """The autocast context of the chosen precision (a no-op for float32)."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """One optimizer step on a batch: forward, loss, backward, update."""
        torch.manual_seed(distributed.rank_seed(step_seed(self.config.seed, self.step), self.world.rank))  # dropout
        self.lr = self.set_lr()
        with self.autocast():
            out = self.forward(x)
            self.loss = F.cross_entropy(out.float(), y, label_smoothing=self.config.label_smoothing)
        self.fire("after_loss")
        self.optimizer.zero_grad(set_to_none=True)
        # several processes: weighted so that DDP's gradient average is the whole batch's (distributed.loss_weight)
        (self.loss * self.loss_weight if self.loss_weight != 1.0 else self.loss).backward()
        self.optimizer.step()

    def fit(self) -> TrainResult:
        """Train to the end of the schedule (or until stopped); returns a :class:`TrainResult`."""
        cfg = self.config
        images, labels = inputs_of(self.train_set), self.train_set.labels
        bs = cfg.batch_size
        previous = signal.getsignal(signal.SIGINT)
        with contextlib.suppress(ValueError):  # not in the main thread: no Ctrl-C handling
            signal.signal(signal.SIGINT, self._on_sigint)
        try:
            self.fire("before_fit")
            while self.epoch < self.num_epochs:
                self.model.train()
                self.fire("before_epoch")
                order = self.batch_indices(self.epoch)
                t0, seen = time.perf_counter(), 0
                while self.batch < self.batches_in_epoch(self.epoch):
                    idx = order[self.batch * bs:(self.batch + 1) * bs]
                    seen += len(idx)  # images/s counts the whole batch, over all processes
                    if self.world.active:  # this rank's part of the global batch
                        part = idx[distributed.shard(len(idx), self.world.rank, self.world.size)]
                        self.loss_weight = distributed.loss_weight(len(part), len(idx), self.world.size)
                        idx = part
                    x, y = images[idx], labels[idx]  # uint8 (B, C, H, W), int64 (B,)
                    if self.augment is not None:
                        seed = distributed.rank_seed(step_seed(cfg.seed, self.step), self.world.rank)
                        g = torch.Generator().manual_seed(seed ^ 0x5DEECE66D)
                        x = self.augment(x, generator=g)
                    x = x.to(self.device, non_blocking=True)
                    if cfg.channels_last:
                        x = x.contiguous(memory_format=torch.channels_last)
                    self.x, self.y = x, y.to(self.device, non_blocking=True)
                    self.fire("before_batch")
                    self.train_step(self.x, self.y)
                    self.step += 1
                    if self.average_from is not None and self.step > self.average_from:
                        self.add_to_average()
                    self.batch += 1
                    stop = self.stop_requested
                    if self.world.active:  # every rank stops at the same step, decided before rank 0's checkpoint
                        stop = distributed.any_rank(stop)  # callbacks; a later Ctrl-C counts at the next step
                        self.stop_requested = self.stop_requested or stop
                    self.fire("after_batch")
                    if stop if self.world.active else self.stop_requested:
                        self.interrupted = True
                        raise StopTraining("interrupted")
                self.epoch_seconds = time.perf_counter() - t0
                self.epoch_images = seen
                self.metrics = self.end_of_epoch_metrics()
                self.epoch += 1
                self.batch = 0
                self.history.append(self.metrics)
                self.fire("after_epoch")
        except StopTraining:
            pass
        finally:
            signal.signal(signal.SIGINT, previous)
        if self.averaged_count and not self.interrupted:
            self.use_average()
        self.fire("after_fit")
        shared = None
        if self.world.active:
            prints = distributed.fingerprints(self.model)
            if len(set(prints)) > 1:
                raise RuntimeError(f"the {self.world.size} processes ended with different weights: {prints}")
            shared = {"processes": self.world.size, "fingerprints": prints}
        return TrainResult(self.model, self.history, self.config, self.device, self.amp_dtype, self.interrupted,
                           distributed=shared)

    @torch.no_grad()
    def add_to_average(self) -> None:
        """Add the current weights (and batch-norm statistics) to the running mean: avg += (w - avg) / n."""
        self.averaged_count += 1
        for name, value in self.model.state_dict().items():
            if not value.is_floating_point():
                continue
            if name not in self.averaged:
                self.averaged[name] = value.detach().clone().float()
            else:
                self.averaged[name].add_(value.float() - self.averaged[name], alpha=1.0 / self.averaged_count)

    def use_average(self) -> None:
        """Put the averaged weights into the model (the one that is evaluated and saved)."""
        state = self.model.state_dict()
        self.model.load_state_dict({k: self.averaged[k].to(v.dtype) if k in self.averaged else v
                                    for k, v in state.items()})

    def _on_sigint(self, signum, frame) -> None:
        if self.stop_requested:  # second Ctrl-C: stop now
            raise KeyboardInterrupt
        self.stop_requested = True  # the loop stops after this batch; callbacks save a checkpoint

    def end_of_epoch_metrics(self) -> dict:
        """The metrics of the epoch just finished (with validation scores)."""
        m = {"epoch": self.epoch_offset + self.epoch + 1, "step": self.step, "lr": self.lr,
             # several processes: each rank's mean weighted by its share of the batch = the whole batch's mean
             "train_loss": distributed.mean_over_ranks(self.loss.item() * self.loss_weight),
             "seconds": round(self.epoch_seconds, 3),
             "images_per_second": round(self.epoch_images / max(self.epoch_seconds, 1e-9), 1)}
        if self.val_set is not None and len(self.val_set):
            r = evaluate(self.model, self.val_set, self.config.eval_batch_size, self.device,
                         tta=self.config.tta, amp_dtype=self.amp_dtype)
            m.update(val_loss=r["loss"], val_accuracy=r["accuracy"])
        return m


@torch.inference_mode()
def predict_logits(model: nn.Module, images: torch.Tensor, batch_size: int = 1024, device=None,
                   tta: bool = False, amp_dtype=None) -> torch.Tensor:
    """Logits (N, K) in float32 for uint8 images (N, C, H, W), in batches; ``tta`` adds the mirror image."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = []
    ctx = torch.autocast(device.type, dtype=amp_dtype) if amp_dtype is not None else contextlib.nullcontext()
    with ctx:
        for i in range(0, len(images), batch_size):
            x = images[i:i + batch_size].to(device)
            if x.ndim == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            logits = model(x).float()
            if tta:
                logits = (logits.log_softmax(1) + model(x.flip(-1)).float().log_softmax(1)) / 2
            out.append(logits.cpu())
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, 0)


def evaluate(model: nn.Module, data: ImageSet | FeatureSet, batch_size: int = 1024, device=None, tta: bool = False,
             amp_dtype=None) -> dict:
    """Accuracy, mean cross-entropy, predictions and probabilities on an ImageSet.

    Under several processes each scores its :func:`~cnnlab.training.distributed.shard` and the logits are gathered:
    every image counted exactly once, with rank 0's batch-norm statistics on every rank.
    """
    world = distributed.current()
    if world.active:
        distributed.sync_buffers(model)
        part = distributed.shard(len(data.labels), world.rank, world.size)
        inputs = inputs_of(data)  # a memory-mapped folder: a view of the shard, read a batch at a time
        inputs = inputs.take(part) if isinstance(inputs, MappedImages) else inputs[part]
        local = predict_logits(model, inputs, batch_size, device, tta, amp_dtype)
        logits = distributed.gather_rows(local, len(data.labels))
    else:
        logits = predict_logits(model, inputs_of(data), batch_size, device, tta, amp_dtype)
    labels = data.labels
    loss = F.cross_entropy(logits, labels).item() if len(labels) else float("nan")
    pred = logits.argmax(1)
    return {"accuracy": (pred == labels).float().mean().item() if len(labels) else float("nan"),
            "loss": loss, "predictions": pred, "probabilities": logits.softmax(1)}
