"""From a data spec to a finished run directory: the function behind ``cnnlab train``.

>>> from cnnlab.training.run import train_run
>>> result = train_run("digits", "lecture_cnn", epochs=2, out="runs/digits",
...                    model_args={"widths": (16, 32)}, progress=False)   # doctest: +SKIP
>>> result["metrics"]["test_accuracy"] > 0.8                              # doctest: +SKIP
True
"""

from __future__ import annotations

import inspect
import platform
import time
from pathlib import Path

import torch

from cnnlab import __version__
from cnnlab.data.imageset import ImageSet
from cnnlab.data.sources import load_dataset
from cnnlab.errors import ConfigError, RunError
from cnnlab.files import clean_temporaries, read_json
from cnnlab.models import create_model
from cnnlab.models.registry import _REGISTRY, list_models
from cnnlab.training.callbacks import Checkpoint, History, NonFiniteGuard, ProgressBar
from cnnlab.training.rundir import load_resume, save_model
from cnnlab.training.trainer import TrainConfig, Trainer, evaluate

DEFAULT_AUGMENT = "flip"  # the scratch recipe's augmentation, chosen by time-to-accuracy (bench/train_speed.py)
FOLDER_IMAGE_SIZE = 64  # photos are decoded at this size for models trained from scratch


def versions() -> dict:
    import numpy
    import PIL

    return {"cnnlab": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "pillow": PIL.__version__, "python": platform.python_version()}


def is_pretrained_arch(name: str) -> bool:
    return name.startswith("timm:") or name in ("efficientnet_lite0",)


def build_model(name: str, train: ImageSet, model_args: dict | None = None, pretrained: bool = False):
    """create_model with what the data implies: classes, channels, image size, normalization stats."""
    list_models()  # load the registry
    args = dict(model_args or {})
    builder = _REGISTRY.get(name)
    accepted = inspect.signature(builder).parameters if builder else {}
    if "image_size" in accepted:
        args.setdefault("image_size", list(train.image_size))
    if "mean" in accepted and "mean" not in args:
        args["mean"], args["std"] = train.mean_std()
    if pretrained:
        args["pretrained"] = True
    in_channels = 3 if is_pretrained_arch(name) else train.channels
    return create_model(name, num_classes=len(train.classes), in_channels=in_channels, **args)


def load_data(spec: str, model: str, image_size: int | None = None, progress: bool = True):
    options = {}
    if spec.startswith("folder:"):
        size = image_size or (224 if is_pretrained_arch(model) else FOLDER_IMAGE_SIZE)
        options = {"image_size": size, "progress": progress}
    train = load_dataset(spec, "train", **options)
    test = load_dataset(spec, "test", **options)
    return train, test


def train_run(data: str = "fashion-mnist", model: str = "lecture_cnn", epochs: int = 8, out: str = "runs/run",
              seed: int = 0, per_class: int | None = None, batch_size: int | None = None, lr: float | None = None,
              augment: str | None = "auto", val_fraction: float = 0.1, device: str = "auto",
              precision: str = "auto", image_size: int | None = None, model_args: dict | None = None,
              pretrained: bool = False, freeze: bool = False, fine_tune: int | None = None,
              compile: bool = False, tta: bool | None = None, resume: bool = False, progress: bool = True,
              feature_cache: bool = True) -> dict:
    """Train ``model`` on ``data`` and write a complete run directory to ``out``; returns model.json."""
    out = Path(out)
    params = dict(data=data, model=model, epochs=epochs, seed=seed, per_class=per_class, batch_size=batch_size,
                  lr=lr, augment=augment, val_fraction=val_fraction, image_size=image_size,
                  model_args=model_args or {}, pretrained=pretrained, freeze=freeze, fine_tune=fine_tune,
                  tta=tta, precision=precision)
    if resume:
        if not (out / "resume.json").is_file():
            raise RunError(f"nothing to resume in {out} (no resume.json); start a new run without --resume")
        saved = read_json(out / "resume.json")["params"]
        saved["epochs"] = epochs if epochs is not None else saved["epochs"]
        params = saved
    elif (out / "resume.json").is_file():
        raise RunError(f"{out} holds an interrupted run; continue it with --resume, "
                       "or choose another --out directory")
    if params["epochs"] is None:
        params["epochs"] = 8
    check_options(params)
    out.mkdir(parents=True, exist_ok=True)
    clean_temporaries(out)
    p = params
    train, test = load_data(p["data"], p["model"], p["image_size"], progress)
    if p["per_class"]:
        train = train.per_class(p["per_class"], seed=p["seed"])
    val = None
    if p["val_fraction"] and len(train) >= 4 * len(train.classes):
        train, val = train.split(p["val_fraction"], seed=p["seed"])
    torch.manual_seed(p["seed"])  # the initial weights come from the seed too
    net = build_model(p["model"], train, p["model_args"], p["pretrained"])
    aug = p["augment"]
    if aug == "auto":
        aug = None if is_pretrained_arch(p["model"]) else DEFAULT_AUGMENT
    # flip test-time augmentation pays only when the model was trained on mirrored images
    tta = p["tta"] if p["tta"] is not None else bool(aug and "flip" in aug)
    config = TrainConfig(epochs=p["epochs"], seed=p["seed"], augment=aug, device=device,
                         precision=p["precision"], compile=compile, tta=tta)
    if is_pretrained_arch(p["model"]):
        config.batch_size, config.eval_batch_size = 32, 64  # 224x224 images: smaller batches
    if p["batch_size"]:
        config.batch_size = p["batch_size"]
    if p["lr"]:
        config.lr = p["lr"]
    config.batch_size = min(config.batch_size, max(2, len(train)))

    t0 = time.perf_counter()
    if p["freeze"] and is_pretrained_arch(p["model"]):
        from cnnlab.training.transfer import fit_transfer

        # no resume files: the features are cached on disk, so a restarted transfer run redoes only the head
        trainer = fit_transfer(net, train, val, config, fine_tune=p["fine_tune"], run_dir=out,
                               progress=progress, feature_cache=feature_cache)
    else:
        trainer = Trainer(net, train, val, config, callbacks=[
            NonFiniteGuard(), ProgressBar(progress), History(out), Checkpoint(out, {"params": params})])
        if resume:
            load_resume(out, trainer)
            print(f"resuming {out} at epoch {trainer.epoch + 1}, batch {trainer.batch}", flush=True)
        trainer.fit()
    seconds = time.perf_counter() - t0
    if trainer.interrupted:
        raise KeyboardInterrupt
    return finish_run(out, trainer, train, val, test, params, seconds)


def check_options(p: dict) -> None:
    """Refuse option combinations that would silently do something else than asked."""
    pretrained_arch = is_pretrained_arch(p["model"])
    if p["pretrained"] and not pretrained_arch:
        raise ConfigError("pretrained", True, f"a model with pretrained weights: {p['model']} has no pretrained weights; "
                         "use --model efficientnet_lite0 (offline) or timm:NAME (online)")
    if p["freeze"] and not p["pretrained"]:
        raise ConfigError("freeze", True, "--pretrained too: --freeze keeps a pretrained feature extractor fixed: add --pretrained")
    if p["fine_tune"] is not None and not p["freeze"]:
        raise ConfigError("fine_tune", p["fine_tune"], "--pretrained --freeze too: --fine-tune N starts from a frozen extractor: add --pretrained --freeze")
    if p["fine_tune"] is not None and not 0 <= p["fine_tune"] <= p["epochs"]:
        raise ConfigError("fine_tune", p["fine_tune"], f"a number between 0 and --epochs ({p['epochs']})")


def finish_run(out: Path, trainer, train, val, test, params: dict, seconds: float) -> dict:
    """Evaluate on the test split, save model + model.json, write the report, drop the resume files."""
    from cnnlab.training.report import write_report

    net = trainer.model
    result = evaluate(net, test, trainer.config.eval_batch_size, trainer.device, tta=trainer.config.tta,
                      amp_dtype=trainer.amp_dtype)
    metrics = {"test_accuracy": result["accuracy"], "test_loss": result["loss"], "train_seconds": round(seconds, 2),
               "epochs_run": len(trainer.history)}
    if trainer.history and "val_accuracy" in trainer.history[-1]:
        metrics["val_accuracy"] = trainer.history[-1]["val_accuracy"]
    meta = {
        "format": "cnnlab-run/1",
        "architecture": net.cnnlab_config,
        "classes": list(train.classes),
        "input": {"channels": train.channels, "size": list(train.image_size)},
        "normalization": _normalization(net),
        "pretrained_cfg": getattr(net, "pretrained_cfg", None),
        "data": params["data"],
        "augment": trainer.config.augment,
        "sizes": {"train": len(train), "val": len(val) if val is not None else 0, "test": len(test)},
        "skipped_files": [s[0] for s in test.skipped],
        "parameters": sum(q.numel() for q in net.parameters()),
        "training": trainer.config.to_dict(),
        "params": params,
        "device": str(trainer.device),
        "precision": str(trainer.amp_dtype or torch.float32).replace("torch.", ""),
        "metrics": metrics,
        "versions": versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    net_cpu = net.to("cpu").to(memory_format=torch.contiguous_format)
    save_model(out, net_cpu, meta)
    write_report(out, meta, trainer.history, test, result)
    for name in ("resume.json", "resume.safetensors"):
        (out / name).unlink(missing_ok=True)
    return meta


def _normalization(net) -> dict:
    norm = getattr(net, "normalize", None)
    if norm is None:
        return {}
    return {"mean": (norm.mean.flatten()).tolist(), "std": (1.0 / norm.inv_std.flatten()).tolist(),
            "units": "pixel values 0..255"}


def evaluate_run(run_dir, data: str | None = None, device: str = "auto") -> dict:
    """Test accuracy of a saved run on its own test split or on ``data``."""
    from cnnlab.device import pick_device
    from cnnlab.training.rundir import load_model

    dev = pick_device(device)
    net, meta = load_model(run_dir, dev)
    spec = data or meta["data"]
    size = meta["input"]["size"][0] if spec.startswith("folder:") else None
    _, test = load_data(spec, meta["architecture"]["name"], size, progress=False)
    test = match_channels(test, meta["input"]["channels"])
    if test.classes != meta["classes"]:
        raise RunError(f"the classes of {spec} ({', '.join(test.classes[:5])}...) differ from the model's "
                       f"({', '.join(meta['classes'][:5])}...)")
    from cnnlab.device import autocast_dtype

    # the same test-time augmentation as the run's own test score (flip TTA when it trained on flips)
    tta = meta.get("training", {}).get("tta", False)
    r = evaluate(net, test, device=dev, tta=tta, amp_dtype=autocast_dtype(dev, "auto"))
    return {"run": str(run_dir), "data": spec, "test_accuracy": r["accuracy"], "test_loss": r["loss"],
            "images": len(test)}


def match_channels(data: ImageSet, channels: int) -> ImageSet:
    """Convert an ImageSet's images to the model's channel count (gray <-> RGB)."""
    if data.channels == channels:
        return data
    x = data.images
    if channels == 3 and x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1).contiguous()
    elif channels == 1 and x.shape[1] == 3:
        w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        x = (x.float() * w).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    else:
        raise RunError(f"cannot convert {x.shape[1]}-channel images to {channels} channels")
    return ImageSet(x, data.labels, data.classes, data.source, data.skipped)


__all__ = ["train_run", "evaluate_run", "build_model"]
