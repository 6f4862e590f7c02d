"""What the estimate before training says: the lines printed before a run and the suggestions for a slow or big one.

The numbers come from :func:`cnnlab.training.estimate.estimate_run`; this module only turns them into plain
words (``duration``, ``nbytes``, ``describe``) and into concrete options that make a run smaller (``suggestions``).
"""

from __future__ import annotations

import math

from cnnlab.config import RunConfig
from cnnlab.errors import CnnlabError
from cnnlab.models.registry import check_model_args, model_info

SLOW_EPOCH_SECONDS = 600.0  # an epoch (or a feature pass) longer than this gets suggestions


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


__all__ = ["SLOW_EPOCH_SECONDS", "describe", "duration", "nbytes", "suggestions"]
