"""Training events as plain data: what the progress bar, the job API, the studio and the experiments read.

Every run reports what happens as JSON-able dicts, each with an ``"event"`` key:

    started       {"run", "config", "time"}
    stage         {"stage", "done", "total", "unit"}          data decoding, feature extraction
    note          {"text"}                                      something the user should know
    estimate      {"epoch_seconds", "total_seconds", "peak_rss_bytes", "suggestions", "text", ...}  before training
    epoch_begin   {"epoch", "epochs", "phase", "batches", "batch"}
    batch         {"epoch", "batch", "batches", "step", "loss", "lr"}
    epoch_end     {"epoch", "epochs", "phase", "metrics"}
    finished      {"run", "metrics", "result"}
    interrupted   {"run", "message", "resume"}
    failed        {"run", "message", "kind"}                    kind: "user" (fixable) or "bug"

:class:`EventRelay` turns the trainer's callback events into these dicts; :class:`ConsolePrinter` shows
them on a terminal (bars only on a terminal, one line per epoch everywhere).

>>> from cnnlab.training.events import ConsolePrinter
>>> show = ConsolePrinter(bars=False)
>>> show({"event": "epoch_end", "epoch": 1, "epochs": 2, "phase": "epoch",
...       "metrics": {"train_loss": 0.5, "seconds": 1.0, "images_per_second": 1000.0}})
epoch   1/2  train_loss 0.5000  1.0s  1,000 img/s
"""

from __future__ import annotations

import sys
import time
from typing import Callable

from cnnlab.progress import bar

END_EVENTS = ("finished", "failed", "interrupted")  # the last event of every run
EVENT_TYPES = ("started", "stage", "note", "estimate", "epoch_begin", "batch", "epoch_end", "finished", "interrupted",
               "failed")
Listener = Callable[[dict], None]


class EventRelay:
    """Trainer callback: emits ``epoch_begin``, ``batch`` and ``epoch_end`` events to ``emit``.

    Args:
        emit: a function receiving each event dict.
        loss_every: attach the loss to every N-th batch event (reading it synchronises the device).
    """

    def __init__(self, emit: Listener, loss_every: int = 10):
        self.emit, self.loss_every = emit, loss_every

    def before_epoch(self, t):
        self.emit({"event": "epoch_begin", "epoch": t.epoch_offset + t.epoch + 1,
                   "epochs": t.epoch_offset + t.num_epochs, "phase": t.label,
                   "batches": t.batches_in_epoch(t.epoch), "batch": t.batch})

    def after_batch(self, t):
        if t.stop_requested and not getattr(self, "_told", False):
            self._told = True
            self.emit({"event": "note", "text": "stopping after this batch and saving a checkpoint "
                                                "(Ctrl-C again to stop at once, without saving)"})
        e = {"event": "batch", "epoch": t.epoch_offset + t.epoch + 1, "batch": t.batch,
             "batches": t.batches_in_epoch(t.epoch), "step": t.step}
        if t.batch % self.loss_every == 0 or t.batch == e["batches"]:
            e.update(loss=round(t.loss.item(), 5), lr=t.lr)
        self.emit(e)

    def after_epoch(self, t):
        self.emit({"event": "epoch_end", "epoch": t.metrics["epoch"], "epochs": t.epoch_offset + t.num_epochs,
                   "phase": t.label, "metrics": dict(t.metrics)})


class Broadcast:
    """Sends each event to several listeners; adds a timestamp."""

    def __init__(self, *listeners: Listener | None):
        self.listeners = [fn for fn in listeners if fn is not None]

    def __call__(self, event: dict) -> None:
        event.setdefault("time", round(time.time(), 3))
        for fn in self.listeners:
            fn(event)


class ConsolePrinter:
    """Shows events on the terminal: a bar per epoch and per stage (terminal only), one line per epoch.

    Args:
        bars: draw progress bars (they appear only when standard error is a terminal).
        stream: where lines go (standard output by default).
    """

    def __init__(self, bars: bool = True, stream=None):
        self.bars, self.stream = bars, stream
        self.bar = None
        self.stage = None

    def _print(self, text: str) -> None:
        self._close()
        print(text, file=self.stream or sys.stdout, flush=True)

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar, self.stage = None, None

    def __call__(self, e: dict) -> None:
        kind = e["event"]
        if kind == "epoch_begin":
            self._close()
            self.bar = bar(total=e["batches"], initial=e["batch"], unit="batch", enabled=self.bars,
                           desc=f"{e['phase']} {e['epoch']}/{e['epochs']}")
        elif kind == "batch" and self.bar is not None:
            self.bar.update(1)
            if "loss" in e:
                self.bar.set_postfix(loss=f"{e['loss']:.3f}", lr=f"{e['lr']:.2e}")
        elif kind == "stage":
            if self.stage != e["stage"]:
                self._close()
                self.stage = e["stage"]
                self.bar = bar(total=e["total"], desc=e["stage"], unit=e.get("unit", "it"), enabled=self.bars)
            self.bar.update(e["done"] - self.bar.n)
        elif kind == "epoch_end":
            m = e["metrics"]
            val = f"  val_loss {m['val_loss']:.4f}  val_acc {m['val_accuracy']:.2%}" if "val_loss" in m else ""
            self._print(f"{e['phase']} {e['epoch']:>3}/{e['epochs']}  train_loss {m['train_loss']:.4f}{val}"
                        f"  {m['seconds']:.1f}s  {m['images_per_second']:,.0f} img/s")
        elif kind == "note":
            self._print(f"note: {e['text']}")
        elif kind == "estimate":  # the numbers are in the event; cnnlab.training.estimate_words.describe wrote the text
            self._print(e["text"])
        elif kind == "interrupted":
            self._print(e["message"])
        elif kind in ("finished", "failed"):
            self._close()


__all__ = ["Broadcast", "ConsolePrinter", "EVENT_TYPES", "EventRelay"]
