"""Callbacks: what happens around the training loop, hooked in by event name.

Each callback is a plain object with methods named after events (``before_fit``,
``before_epoch``, ``before_batch``, ``after_loss``, ``after_batch``, ``after_epoch``,
``after_fit``); each receives the trainer.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable

from cnnlab.errors import TrainingError
from cnnlab.files import atomic_write
from cnnlab.training import distributed
from cnnlab.training.rundir import save_resume
from cnnlab.training.trainer import StopTraining


class History:
    """Writes history.jsonl (one JSON object per epoch), atomically, after every epoch."""

    def __init__(self, run_dir):
        self.path = Path(run_dir) / "history.jsonl"

    def after_epoch(self, t):
        atomic_write(self.path, "".join(json.dumps(m) + "\n" for m in t.history))


class Checkpoint:
    """Saves a resumable checkpoint after every epoch and when training is stopped (Ctrl-C, a cancelled job).

    Args:
        run_dir: the run directory.
        extra: a function returning what else resume.json must hold (the run's configuration, time spent).
        every_steps: also save every N steps (None: only at epoch ends and on a stop).
    """

    def __init__(self, run_dir, extra: Callable[[], dict], every_steps: int | None = None):
        self.run_dir, self.extra, self.every_steps = Path(run_dir), extra, every_steps

    def after_batch(self, t):
        if (self.every_steps and t.step % self.every_steps == 0) or t.stop_requested:
            save_resume(self.run_dir, t, self.extra())

    def after_epoch(self, t):
        save_resume(self.run_dir, t, self.extra())


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
        bad = not math.isfinite(t.loss.item())
        if distributed.current().active:  # every process stops together, whichever part of the batch went bad
            bad = distributed.any_rank(bad)
        if bad:
            raise TrainingError(
                f"the loss became {t.loss.item()} at epoch {t.epoch + 1}, step {t.step}; training stopped "
                "and the last good checkpoint is kept. Try a lower learning rate (--lr), or check the data.")
