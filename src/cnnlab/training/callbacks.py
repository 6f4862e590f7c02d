"""Callbacks: what happens around the training loop, hooked in by event name.

Each callback is a plain object with methods named after events (``before_fit``,
``before_epoch``, ``before_batch``, ``after_loss``, ``after_batch``, ``after_epoch``,
``after_fit``); each receives the trainer.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from cnnlab.errors import TrainingError
from cnnlab.files import atomic_write
from cnnlab.training.rundir import save_resume
from cnnlab.training.trainer import StopTraining


class ProgressBar:
    """A tqdm bar per epoch with loss, learning rate and images/s; a line of metrics after each epoch."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.bar = None

    def before_epoch(self, t):
        if not self.enabled:
            return
        from tqdm.auto import tqdm

        self.bar = tqdm(total=t.batches_in_epoch(t.epoch), initial=t.batch, unit="batch", leave=False,
                        desc=f"{t.label} {t.epoch + 1}/{t.num_epochs}", dynamic_ncols=True)

    def after_batch(self, t):
        if self.bar is not None:
            self.bar.update(1)
            if t.batch % 10 == 0:
                self.bar.set_postfix(loss=f"{t.loss.item():.3f}", lr=f"{t.lr:.2e}")

    def after_epoch(self, t):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.enabled:
            m = t.metrics
            val = f"  val_loss {m['val_loss']:.4f}  val_acc {m['val_accuracy']:.2%}" if "val_loss" in m else ""
            print(f"{t.label} {m['epoch']:>3}/{t.num_epochs}  train_loss {m['train_loss']:.4f}{val}"
                  f"  {m['seconds']:.1f}s  {m['images_per_second']:,.0f} img/s", flush=True)

    def after_fit(self, t):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class History:
    """Writes history.jsonl (one JSON object per epoch), atomically, after every epoch."""

    def __init__(self, run_dir):
        self.path = Path(run_dir) / "history.jsonl"

    def after_epoch(self, t):
        atomic_write(self.path, "".join(json.dumps(m) + "\n" for m in t.history))


class Checkpoint:
    """Saves a resumable checkpoint after every epoch and when training is interrupted (Ctrl-C)."""

    def __init__(self, run_dir, extra: dict, every_steps: int | None = None):
        self.run_dir, self.extra, self.every_steps = Path(run_dir), extra, every_steps

    def after_batch(self, t):
        if (self.every_steps and t.step % self.every_steps == 0) or t.stop_requested:
            save_resume(self.run_dir, t, self.extra)
            if t.stop_requested:
                print(f"Checkpoint saved. Continue with: cnnlab train --out {self.run_dir} --resume", flush=True)

    def after_epoch(self, t):
        save_resume(self.run_dir, t, self.extra)


class EarlyStopping:
    """Stops when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(self, monitor: str = "val_loss", patience: int = 3, min_delta: float = 0.0):
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.best, self.wait = math.inf, 0

    def after_epoch(self, t):
        value = t.metrics.get(self.monitor)
        if value is None:
            return
        sign = -1 if "acc" in self.monitor else 1
        if sign * value < self.best - self.min_delta:
            self.best, self.wait = sign * value, 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                print(f"early stopping: {self.monitor} has not improved for {self.patience} epochs", flush=True)
                raise StopTraining("early stopping")


class NonFiniteGuard:
    """Stops training with a clear message when the loss becomes NaN or infinite.

    The check runs before the weights are updated, so the model (and the last checkpoint) stay finite.
    """

    def after_loss(self, t):
        if not math.isfinite(t.loss.item()):
            raise TrainingError(
                f"the loss became {t.loss.item()} at epoch {t.epoch + 1}, step {t.step}; training stopped "
                "and the last good checkpoint is kept. Try a lower learning rate (--lr), or check the data.")
