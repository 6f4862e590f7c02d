"""Transfer learning: keep a pretrained feature extractor, train a new head, optionally fine-tune.

"Standing on the shoulders of giants": the backbone learned on ImageNet is frozen (its weights
*and* its batch-norm statistics), so its output for an image never changes. We therefore run
it once per image, cache the features on disk, and train the head on the cache: extra epochs
cost almost nothing.

With augmentation on, the cache holds ``views`` augmented versions of each image (view 0 is the
original). The head then trains on all views; this keeps most of augmentation's benefit for a
fixed cost of ``views`` backbone passes per image, instead of one per image per epoch.

Images that live on disk (a cached photo folder, :class:`cnnlab.data.imageset.MappedImages`) are
read a batch at a time, flipped and augmented a batch at a time: the features of a folder larger
than the memory are computed with one batch of images in memory.

``fine_tune=N``: after N epochs on the cache, the last blocks are unfrozen and trained on the
images (with augmentation) at a tenth of the head's learning rate for the remaining epochs.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import replace
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnlab.config import resolve_training
from cnnlab.data.augment import parse_augment
from cnnlab.data.cache import cache_dir
from cnnlab.data.features import FeatureSet
from cnnlab.data.imageset import ImageSet, MappedImages
from cnnlab.device import autocast_dtype, pick_device
from cnnlab.files import load_tensors, save_tensors
from cnnlab.training.trainer import TrainConfig, Trainer, TrainResult, predict_logits, step_seed

FINE_TUNE_LR_SCALE = 0.1
DEFAULT_VIEWS = 4
FEATURE_BATCH = 64  # images per backbone pass when features are computed
# The head on cached features is one small dense layer: each step is a few microseconds of arithmetic, and
# with 2 threads every operation waits for both to meet. Measured on the 2-core VM while other programs ran:
# 10 epochs of 360 features in 5.5 s with 2 threads, 0.2 s with 1.
HEAD_THREADS = 1
_FIRST: dict[tuple, torch.Tensor] = {}  # (cache key, device, dtype) -> the first batch's features (first_features)


def freeze_backbone(model: nn.Module) -> None:
    """Freeze every backbone parameter; only the head stays trainable."""
    for p in model.backbone.parameters():
        p.requires_grad_(False)


def unfreeze_last(model: nn.Module, blocks: int = 2) -> list[nn.Parameter]:
    """Unfreeze the last ``blocks`` stages of the backbone plus its final conv; returns their parameters."""
    bb = model.backbone
    parts: list[nn.Module] = []
    if hasattr(bb, "blocks"):
        parts += list(bb.blocks)[-blocks:]
    for name in ("conv_head", "bn2"):
        if hasattr(bb, name):
            parts.append(getattr(bb, name))
    if not parts:  # an unknown timm layout: unfreeze its last child modules
        parts = list(bb.children())[-blocks:]
    params = [p for m in parts for p in m.parameters()]
    for p in params:
        p.requires_grad_(True)
    return params


class FrozenBatchNorm:
    """Callback: after the trainer puts the model in train mode, frozen BN layers go back to eval mode.

    A batch-norm layer in train mode updates its running statistics even when its weights are
    frozen; in eval mode it keeps them, so the frozen part really stays as pretrained.
    """

    def before_epoch(self, t):
        for m in t.model.backbone.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                if not any(p.requires_grad for p in m.parameters()):
                    m.eval()


def _digest(*parts) -> str:
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        if isinstance(p, MappedImages):  # the cache file's name already hashes the photos: no need to read them
            h.update(f"mapped|{p.fingerprint()}".encode())
        elif torch.is_tensor(p):
            h.update(p.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
        else:
            h.update(repr(p).encode())
    return h.hexdigest()


def cache_key(model: nn.Module, data: ImageSet, augment: str | None, views: int, flip: bool = False) -> str:
    """Changes whenever the images, the labels, the backbone weights or the preprocessing change."""
    weights = _digest(*[v for v in model.backbone.state_dict().values()])
    return _digest(data.images, data.labels, weights, model.pretrained_cfg, augment, views,
                   *(["mirrored"] if flip else []))


def extract_features(model: nn.Module, images: torch.Tensor | MappedImages, batch_size: int = FEATURE_BATCH,
                     device=None, amp_dtype=None, on_event: Callable[[dict], None] | None = None,
                     stage: str = "features", transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
                     start: int = 0) -> torch.Tensor:
    """Backbone features for uint8 images, in eval mode, one batch of images in memory at a time.

    Args:
        model: a pretrained classifier with ``forward_features`` (and ``backbone.num_features``).
        images: uint8 (N, C, H, W): a tensor or memory-mapped images.
        batch_size: images per forward pass.
        device: where to compute (default cpu).
        amp_dtype: autocast dtype (None: float32).
        on_event: called with ``{"event": "stage", "stage": stage, "done": i, "total": N}`` as batches finish.
        stage: the stage's name in those events.
        transform: applied to each uint8 batch before the backbone (a flip, an augmentation).
        start: begin with this image (the batches are those of a pass from 0: ``start`` a multiple of
            ``batch_size``).

    Returns:
        float32 (N - start, F) on the CPU.
    """
    device = device or torch.device("cpu")
    was = model.training
    # outside inference mode: parameters converted inside it could never require grad again
    model.eval().to(memory_format=torch.channels_last)  # ~1.8x faster on CPU with bf16 (measured at 224x224)
    out = []
    for i in range(start, len(images), batch_size):
        x = images[i:i + batch_size]
        x = (transform(x) if transform else x).to(device).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            f = model.forward_features(x)
        out.append(f.float().cpu())
        if on_event:
            on_event({"event": "stage", "stage": stage, "done": min(i + batch_size, len(images)),
                      "total": len(images), "unit": "img"})
    model.train(was)
    return torch.cat(out) if out else torch.zeros(0, model.backbone.num_features)


def _first_key(model, data: ImageSet, device, amp_dtype) -> tuple:
    return cache_key(model, data, None, 1), str(device or "cpu"), str(amp_dtype)


def first_features(model, data: ImageSet, device=None, amp_dtype=None) -> torch.Tensor:
    """The features of the first batch of ``data``, kept for the feature pass that follows in this process.

    The estimate before a frozen run times this batch (:mod:`cnnlab.training.estimate`): the run's own
    :func:`cached_features` then starts at the second batch, so the timing costs nothing. The features are
    those the pass computes itself (the same batch of the same images, the same weights and precision).
    """
    n = min(len(data), FEATURE_BATCH)
    feats = extract_features(model, data.images[:n], FEATURE_BATCH, device, amp_dtype)
    _FIRST.clear()  # one data set remembered: a long-lived process (the studio) does not grow
    _FIRST[_first_key(model, data, device, amp_dtype)] = feats
    return feats


def cached_features(model, data: ImageSet, augment: str | None = None, views: int = 1, seed: int = 0,
                    device=None, amp_dtype=None, on_event: Callable[[dict], None] | None = None,
                    use_cache: bool = True, flip: bool = False) -> FeatureSet:
    """Features of ``data`` (and of ``views - 1`` augmented copies), from the disk cache when possible.

    Args:
        model: a pretrained classifier with a frozen backbone.
        data: the images.
        augment: augmentation spec for the extra views (None: one view, the originals).
        views: how many versions of each image (view 0 is the original).
        seed: seed of the augmented views.
        device, amp_dtype: where and in which precision to run the backbone.
        on_event: receives stage events while features are computed.
        use_cache: read and write ``cache_dir()/features``.
        flip: the features of the mirrored images (test-time augmentation).

    Memory-mapped images are augmented a batch at a time (the extra views' random draws then differ from
    those of the same images in memory, which are augmented all at once; both come from ``seed``).

    Returns:
        A FeatureSet with ``views * len(data)`` rows.
    """
    views = views if augment else 1
    path = cache_dir() / "features" / f"{cache_key(model, data, augment, views, flip)}.safetensors"
    if use_cache and path.is_file():
        t = load_tensors(path)
        return FeatureSet(t["features"], t["labels"], list(data.classes))
    pipeline = parse_augment(augment)
    feats, labels = [], []
    mapped = isinstance(data.images, MappedImages)
    first = _FIRST.pop(_first_key(model, data, device, amp_dtype), None) if _FIRST and not flip else None
    for v in range(views):
        images, steps = data.images, [(lambda x: x.flip(-1))] if flip else []
        if v > 0:
            g = torch.Generator().manual_seed(step_seed(seed, -1000 - v))
            if mapped:  # a batch at a time: never the whole (augmented) set in memory
                steps.append(lambda x, g=g: pipeline(x, generator=g))
            else:
                images = pipeline(images, generator=g)
        stage = f"features (view {v + 1}/{views})" if views > 1 else "features"
        done = first if v == 0 and first is not None else None  # the estimate's timed first batch
        if done is not None:
            feats.append(done)
        feats.append(extract_features(model, images, device=device, amp_dtype=amp_dtype, on_event=on_event,
                                      stage=stage, transform=_chain(steps), start=0 if done is None else len(done)))
        labels.append(data.labels)
    fs = FeatureSet(torch.cat(feats), torch.cat(labels), list(data.classes))
    if use_cache:
        save_tensors(path, {"features": fs.features, "labels": fs.labels})
    return fs


def _chain(steps: list) -> Callable | None:
    def run(x):
        for step in steps:
            x = step(x)
        return x
    return run if steps else None


@contextlib.contextmanager
def head_threads(device):
    """Run the small head with at most ``HEAD_THREADS`` CPU threads (the setting is restored afterwards)."""
    before = torch.get_num_threads()
    if torch.device(device or "cpu").type == "cpu":
        torch.set_num_threads(min(before, HEAD_THREADS))
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _HeadOnly(nn.Module):
    """The head of a pretrained classifier, fed with cached features."""

    def __init__(self, head: nn.Module):
        super().__init__()
        self.head = head

    def forward(self, x):
        return self.head(x)


def evaluate_frozen(model, data: ImageSet, batch_size: int = 1024, device=None, tta: bool = False,
                    amp_dtype=None) -> dict:
    """:func:`cnnlab.training.trainer.evaluate` for a pretrained model whose backbone is frozen, from cached
    backbone features: the same logits (the head runs on the very features the backbone gives, under the same
    precision), but the test images go through the backbone only once per machine, however many runs of the
    same data are evaluated (an experiment's seeds, a studio project's runs).

    Args:
        model: a pretrained classifier (``backbone`` + ``head``) with a frozen backbone.
        data: the images to score.
        batch_size: features per forward pass of the head.
        device, amp_dtype: where and in which precision (as for ``evaluate``).
        tta: average the image and its mirror image, as ``predict_logits`` does.

    Returns:
        ``{"accuracy", "loss", "predictions", "probabilities"}``, as ``evaluate`` returns them.
    """
    head = _HeadOnly(model.head)
    feats = [cached_features(model, data, None, 1, 0, device, amp_dtype, flip=flip).features
             for flip in ((False, True) if tta else (False,))]
    with head_threads(device):
        logits = [predict_logits(head, f, batch_size, device, False, amp_dtype) for f in feats]
    scores = logits[0] if not tta else (logits[0].log_softmax(1) + logits[1].log_softmax(1)) / 2
    labels = data.labels
    pred = scores.argmax(1)
    return {"accuracy": (pred == labels).float().mean().item() if len(labels) else float("nan"),
            "loss": F.cross_entropy(scores, labels).item() if len(labels) else float("nan"),
            "predictions": pred, "probabilities": scores.softmax(1)}


def fit_transfer(model, train: ImageSet, val: ImageSet | None, config: TrainConfig, fine_tune: int | None = None,
                 callbacks=(), on_event: Callable[[dict], None] | None = None, feature_cache: bool = True,
                 views: int = DEFAULT_VIEWS) -> TrainResult:
    """Train a new head on a frozen pretrained backbone (from cached features), then optionally fine-tune.

    Args:
        model: a pretrained classifier (``backbone`` + ``head``), e.g. ``create_model("efficientnet_lite0", ...)``.
        train, val: the images (val may be None).
        config: resolved training settings; ``epochs`` counts head and fine-tuning epochs together.
        fine_tune: after this many head epochs, unfreeze the last blocks for the remaining epochs (None: never).
        callbacks: trainer callbacks for both phases (history, events, NaN guard).
        on_event: receives stage events while features are computed.
        feature_cache: train the head from cached features (fast) instead of running the backbone every epoch.
        views: augmented views per image in the feature cache (with augmentation on).

    Returns:
        A :class:`TrainResult`; ``interrupted`` is True when either phase was stopped.
    """
    config = resolve_training(config, model.cnnlab_config.get("name"), len(train))
    device = pick_device(config.device)
    amp = autocast_dtype(device, config.precision)
    model = model.to(device)
    freeze_backbone(model)
    head_epochs = config.epochs if fine_tune is None else min(fine_tune, config.epochs)
    timings = {}
    history: list[dict] = []
    if head_epochs > 0:
        t0 = time.perf_counter()
        if feature_cache:
            ftrain = cached_features(model, train, config.augment, views, config.seed, device, amp, on_event)
            fval = cached_features(model, val, None, 1, config.seed, device, amp, on_event) if val else None
            timings["features_seconds"] = round(time.perf_counter() - t0, 2)
            head_cfg = replace(config, epochs=head_epochs, augment=None, channels_last=False, precision="fp32",
                               batch_size=min(config.batch_size, max(2, len(ftrain))))
            trainer = Trainer(_HeadOnly(model.head), ftrain, fval, head_cfg, callbacks=callbacks)
        else:  # recompute the frozen backbone every epoch (the slow way; kept for the benchmark)
            head_cfg = replace(config, epochs=head_epochs)
            trainer = Trainer(model, train, val, head_cfg, callbacks=[FrozenBatchNorm(), *callbacks])
        trainer.label = "head epoch"
        with head_threads(device) if feature_cache else contextlib.nullcontext():
            result = trainer.fit()
        history = result.history
        timings["head_seconds"] = round(time.perf_counter() - t0, 2)
        if result.interrupted:
            return TrainResult(model, history, config, device, amp, interrupted=True, timings=timings)
    if fine_tune is not None and config.epochs > head_epochs:
        t0 = time.perf_counter()
        tuned = unfreeze_last(model)
        groups = [{"params": list(model.head.parameters()), "lr_scale": 1.0},
                  {"params": tuned, "lr_scale": FINE_TUNE_LR_SCALE}]
        ft_cfg = replace(config, epochs=config.epochs - head_epochs, seed=config.seed + 1)
        trainer = Trainer(model, train, val, ft_cfg, callbacks=[FrozenBatchNorm(), *callbacks], param_groups=groups)
        trainer.label = "fine-tune epoch"
        trainer.history = [dict(h, phase="head") for h in history]
        trainer.epoch_offset = head_epochs
        result = trainer.fit()
        for h in result.history[len(history):]:
            h["phase"] = "fine-tune"
        history = result.history
        timings["fine_tune_seconds"] = round(time.perf_counter() - t0, 2)
        if result.interrupted:  # a half-fine-tuned model is never reported as finished
            return TrainResult(model, history, config, device, amp, interrupted=True, timings=timings)
    return TrainResult(model, history, config, device, amp, timings=timings)
