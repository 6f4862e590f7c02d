"""From a :class:`~cnnlab.config.RunConfig` to a finished run folder: the function behind ``cnnlab.train``.

    train(config, out=...)  ->  out/model.safetensors, model.json, history.jsonl, report.md, figures

The folder is locked while the run writes it; a finished run is never replaced unless asked
(``overwrite=True``); an interrupted run (Ctrl-C, a cancelled job, a crash) is continued with
``resume=True`` using the configuration saved with it. Progress is reported as event dicts
(:mod:`cnnlab.training.events`) to a console printer and to ``on_event``.

>>> import tempfile
>>> from cnnlab.training.run import train
>>> meta = train(data="synthetic", epochs=2, out=tempfile.mkdtemp() + "/run", progress=False,
...              model_args={"widths": [8, 16], "hidden": 16})
>>> sorted(meta["metrics"])[:3]
['epochs_run', 'test_accuracy', 'test_accuracy_ci95']
"""

from __future__ import annotations

import contextlib
import platform
import time
from pathlib import Path
from typing import Callable

import numpy
import PIL
import torch

from cnnlab._version import __version__
from cnnlab.config import RUNTIME_OPTIONS, RunConfig, flat_key, resolve_training
from cnnlab.data.check import check_data, summary_notes
from cnnlab.data.imageset import ImageSet, merge_notes, merge_skipped
from cnnlab.data.sources import get_source
from cnnlab.data.splits import load_splits
from cnnlab.device import pick_device
from cnnlab.errors import CnnlabError, ConfigError, Interrupted
from cnnlab.files import clean_temporaries, read_json, write_json
from cnnlab.models.registry import ModelInfo, create_model, model_info
from cnnlab.training import distributed
from cnnlab.training.callbacks import Checkpoint, History, NonFiniteGuard
from cnnlab.training.estimate import emit_estimate
from cnnlab.training.events import Broadcast, ConsolePrinter, EventRelay
from cnnlab.training.lock import RunLock, drop_previous, prepare_out, restore_previous
from cnnlab.training.metrics import classification_metrics
from cnnlab.training.report import write_report
from cnnlab.training.rundir import load_resume, save_model
from cnnlab.training.trainer import Trainer, TrainResult, evaluate
from cnnlab.training.transfer import evaluate_frozen, fit_transfer

FEW_STEPS = 25  # fewer optimizer steps than this rarely trains a network from scratch: say so


def versions() -> dict:
    """Versions of cnnlab and the libraries that shape a run's numbers (saved in model.json)."""
    return {"cnnlab": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "pillow": PIL.__version__, "python": platform.python_version()}


def train(config: RunConfig | dict | str | Path | None = None, *, out: str | Path = "runs/run", resume: bool = False,
          overwrite: bool = False, progress: bool = True, on_event: Callable[[dict], None] | None = None,
          feature_cache: bool = True, **options) -> dict:
    """Train a model and write a complete run folder.

    Args:
        config: a :class:`RunConfig`, a dict, or the path of a JSON file (None: the defaults).
        out: the run folder to write.
        resume: continue the interrupted run in ``out`` with its saved configuration.
        overwrite: replace a finished or interrupted run in ``out``.
        progress: print progress (bars only on a terminal, one line per epoch).
        on_event: also send every event dict (see :mod:`cnnlab.training.events`) to this function.
        feature_cache: transfer runs train the head from cached backbone features.
        **options: flat options on top of ``config`` (``data="digits", epochs=3, batch_size=64``...).

    Returns:
        The run's model.json as a dict (``meta["metrics"]["test_accuracy"]``...).

    Raises:
        ConfigError: a bad option, or an option that conflicts with the saved run when resuming.
        RunError: the folder is in use, holds a finished run (without overwrite) or other files.
        Interrupted: the run was stopped; the message says how to continue it.
    """
    out = Path(out)
    world = _join_world(config, options)
    if distributed.restart_count() > 0:  # torchrun restarted us after a process died
        resume = distributed.broadcast_json((out / "resume.json").is_file() if world.main else None) or resume
        overwrite = overwrite and not resume  # never replace the checkpoint we are about to continue from
    emit = Broadcast(ConsolePrinter() if progress else None, on_event) if world.main else Broadcast()
    with RunLock(out) if world.main else contextlib.nullcontext():  # only rank 0 writes the folder
        state = prepare_out(out, resume, overwrite) if world.main else "worker"
        try:
            cfg = resumed_config(out, config, options) if resume and world.main else RunConfig.build(config, **options)
            cfg.validate()
            if world.active:
                cfg = RunConfig.from_dict(distributed.broadcast_json(cfg.to_dict() if world.main else None))
                distributed.check_supported(cfg.model.freeze)
            saved = {}
            if world.main:
                clean_temporaries(out)
                saved = read_json(out / "resume.json") if resume else {}
                if not resume:  # from now on an interruption at any moment leaves a resumable run
                    write_json(out / "resume.json", {"config": cfg.to_dict(), "train_seconds": 0.0})
            emit({"event": "started", "run": str(out), "config": cfg.to_dict(), "resume": resume,
                  "processes": world.size})
            meta = _run(cfg, out, emit, float(saved.get("train_seconds", 0.0)), feature_cache, resume)
        except KeyboardInterrupt:
            message = (f"interrupted before training finished; nothing was lost. Continue with: "
                       f"cnnlab train --out {out} --resume")
            emit({"event": "interrupted", "run": str(out), "message": message, "resume": True})
            raise Interrupted(message) from None
        except Interrupted as e:
            emit({"event": "interrupted", "run": str(out), "message": str(e), "resume": True})
            raise
        except Exception as e:
            kind = "user" if isinstance(e, CnnlabError) else "bug"
            emit({"event": "failed", "run": str(out), "message": str(e), "kind": kind})
            if distributed.is_peer_failure(e) and distributed.restarts_left() > 0:
                raise  # torchrun starts every process again: they continue from the checkpoint kept here
            if overwrite:
                restore_previous(out)  # a failed replacement gives the old run back, untouched
            elif state == "new" and not (out / "resume.safetensors").exists():
                (out / "resume.json").unlink(missing_ok=True)  # nothing to resume: leave the folder as it was
            raise
        if world.main:
            drop_previous(out)
        emit({"event": "finished", "run": str(out), "metrics": meta["metrics"], "result": meta})
    distributed.barrier()  # no rank leaves before rank 0 has written everything
    distributed.close()
    return meta


def _join_world(config, options: dict) -> distributed.World:
    """Join the process group when torchrun started this process (gloo on CPU, nccl on CUDA)."""
    if not distributed.env_world().active:
        return distributed.World()
    device = RunConfig.build(config, **options).training.device
    return distributed.init(pick_device(device))


def resumed_config(out: str | Path, config, options: dict) -> RunConfig:
    """The interrupted run's saved configuration; options given again must agree with it (runtime options may change).

    Raises:
        ConfigError: an option given again that differs from the saved one.
    """
    saved = read_json(Path(out) / "resume.json")
    # cnnlab 0.1 saved flat "params"; later versions the nested config
    cfg = RunConfig.from_dict(saved["config"] if "config" in saved else saved.get("params", {}))
    given = RunConfig.build(config).flat() if config is not None else {}
    given.update({flat_key(k): v for k, v in options.items()})
    saved_flat = cfg.flat()
    for key, value in sorted(given.items()):
        if key in RUNTIME_OPTIONS:
            cfg = cfg.merge({key: value})
        elif value != saved_flat[key]:
            raise ConfigError(key, value, f"the interrupted run's own value {saved_flat[key]!r}",
                              hint="a resumed run keeps its settings: leave this option out, or train a new run "
                                   "into another folder")
    return cfg


def _run(cfg: RunConfig, out: Path, emit, seconds_before: float, feature_cache: bool, resume: bool) -> dict:
    info = model_info(cfg.model.name)
    image_size = cfg.data.image_size or cfg.model.args.get("input_size") or info.folder_image_size
    train_set, val_set, test_set = load_splits(
        cfg.data.source, val_fraction=cfg.data.val_fraction, per_class=cfg.data.per_class, seed=cfg.training.seed,
        image_size=image_size, fit=cfg.data.fit, on_event=emit)
    for text in merge_notes(*(s for s in (train_set, val_set, test_set) if s is not None)):
        emit({"event": "note", "text": text})
    if cfg.data.source.startswith("folder:"):  # a short data check first (the full one: cnnlab check)
        decoded = {"fit": cfg.data.fit, **({"image_size": image_size} if image_size else {})}  # as load_splits
        report = check_data(cfg.data.source, cfg.training.seed, cfg.data.val_fraction, cfg.data.per_class,
                            cache=decoded)  # the facts come from the decoding that just filled the cache
        for text in summary_notes(report):
            emit({"event": "note", "text": text})
    torch.manual_seed(cfg.training.seed)  # the initial weights come from the seed too
    net = build_model(cfg, train_set, info)
    source, _ = get_source(cfg.data.source)
    tcfg = resolve_training(cfg.training, cfg.model.name, len(train_set), mirror_safe=source.mirror_safe)
    if cfg.training.augment == "auto" and tcfg.augment != info.augment:  # the model's default lost its flips
        emit({"event": "note", "text": f"no mirroring for {source.name}: a mirrored image would show another "
                                       "class (set augment yourself to change this)"})
    steps = int(tcfg.epochs * max(1, len(train_set) // tcfg.batch_size))
    if steps < FEW_STEPS and not cfg.model.freeze:
        emit({"event": "note", "text": f"only {steps} training steps ({len(train_set)} images, batch "
                                       f"{tcfg.batch_size}, {tcfg.epochs:g} epochs): a network trained from scratch "
                                       "learns little in so few steps; train for more epochs or use more images"})
    emit_estimate(cfg, net, (train_set, val_set, test_set), tcfg, emit, feature_cache)  # before the clock starts
    t0 = time.perf_counter()

    def extra() -> dict:
        return {"config": cfg.to_dict(), "train_seconds": seconds_before + time.perf_counter() - t0}

    main = distributed.current().main
    callbacks = [NonFiniteGuard(), EventRelay(emit), History(out)] if main else [NonFiniteGuard()]
    if cfg.model.freeze:
        # no mid-run checkpoints: features are cached on disk, so a resumed transfer run starts again in seconds
        result = fit_transfer(net, train_set, val_set, tcfg, fine_tune=cfg.model.fine_tune, callbacks=callbacks,
                              on_event=emit, feature_cache=feature_cache)
        how = "a transfer run starts again from its cached features"
    else:
        trainer = Trainer(net, train_set, val_set, tcfg, callbacks=[*callbacks, *([Checkpoint(out, extra)] * main)])
        has_checkpoint = (out / "resume.safetensors").is_file() if main else None
        if trainer.world.active:  # rank 0 sees the folder; the others may run on other machines
            has_checkpoint = distributed.broadcast_json(has_checkpoint)
        if resume and has_checkpoint:
            load_resume(out, trainer)
            emit({"event": "note", "text": f"resuming {out} at epoch {trainer.epoch + 1}, batch {trainer.batch}"})
        result = trainer.fit()
        how = "it continues from the last checkpoint"
    if result.interrupted:
        if main:
            write_json(out / "resume.json", dict(read_json(out / "resume.json"), **extra()))
        raise Interrupted(f"interrupted; continue with: cnnlab train --out {out} --resume ({how})")
    frozen = cfg.model.freeze and feature_cache and "fine_tune_seconds" not in (result.timings or {})
    return finish_run(out, result, cfg, train_set, val_set, test_set, extra()["train_seconds"], frozen)


def build_model(cfg: RunConfig, train_set: ImageSet, info: ModelInfo | None = None) -> torch.nn.Module:
    """``create_model`` with what the data implies: classes, channels, image size, normalization statistics.

    Args:
        cfg: the run configuration (model name, arguments, pretrained).
        train_set: the training images.
        info: the model's registry entry (looked up when None).

    Returns:
        The new model (random or pretrained weights, a new head for the data's classes).
    """
    info = info or model_info(cfg.model.name)
    args = dict(cfg.model.args)
    if info.input_size is None:  # a scratch network built for the data's size and statistics
        args.setdefault("image_size", list(train_set.image_size))
        if "mean" not in args:
            args["mean"], args["std"] = train_set.mean_std()
    if cfg.model.pretrained:
        args["pretrained"] = True
    in_channels = info.channels or train_set.channels
    return create_model(cfg.model.name, num_classes=len(train_set.classes), in_channels=in_channels, **args)


def finish_run(out: Path, result: TrainResult, cfg: RunConfig, train_set, val_set, test_set, seconds: float,
               frozen_features: bool = False) -> dict:
    """Evaluate on the test split, save model + model.json, write the report, drop the resume files.

    ``frozen_features``: the backbone stayed frozen, so the test split is scored from its cached backbone
    features (:func:`cnnlab.training.transfer.evaluate_frozen`: the same logits, the backbone run once per data
    set instead of once per run).
    """
    net, tcfg = result.model, result.config
    score = evaluate_frozen if frozen_features else evaluate
    scores = score(net, test_set, tcfg.eval_batch_size, result.device, tta=tcfg.tta, amp_dtype=result.amp_dtype)
    test_metrics = classification_metrics(test_set.labels, scores["predictions"], test_set.classes)
    metrics = {"test_accuracy": scores["accuracy"], "test_accuracy_ci95": test_metrics["accuracy_ci95"],
               "test_loss": scores["loss"], "train_seconds": round(seconds, 2), "epochs_run": len(result.history)}
    if result.history and "val_accuracy" in result.history[-1]:
        metrics["val_accuracy"] = result.history[-1]["val_accuracy"]
    skipped = dict(merge_skipped(*(s for s in (train_set, val_set, test_set) if s is not None)))
    meta = {
        "format": "cnnlab-run/2",
        "architecture": net.cnnlab_config,
        "classes": list(train_set.classes),
        "input": {"channels": train_set.channels, "size": list(train_set.image_size), "fit": cfg.data.fit},
        "normalization": _normalization(net),
        "pretrained_cfg": getattr(net, "pretrained_cfg", None),
        "data": cfg.data.source,
        "augment": tcfg.augment,
        "sizes": {"train": len(train_set), "val": len(val_set) if val_set is not None else 0, "test": len(test_set)},
        "class_counts": {"train": train_set.class_counts(),
                         "val": val_set.class_counts() if val_set is not None else [],
                         "test": test_set.class_counts()},
        "test_metrics": {k: test_metrics[k] for k in ("per_class", "macro", "confusions")},
        "skipped_files": [[p, why] for p, why in sorted(skipped.items())],
        "parameters": sum(q.numel() for q in net.parameters()),
        "config": cfg.to_dict(),
        "training": tcfg.to_dict(),
        "device": str(result.device),
        "precision": str(result.amp_dtype or torch.float32).replace("torch.", ""),
        "metrics": metrics,
        "timings": result.timings,
        "distributed": result.distributed,
        "versions": versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if not distributed.current().main:  # only rank 0 writes the run folder
        return meta
    net_cpu = net.to("cpu").to(memory_format=torch.contiguous_format)
    save_model(out, net_cpu, meta)
    write_report(out, meta, result.history, test_set, scores, test_metrics)
    for name in ("resume.json", "resume.safetensors"):
        (out / name).unlink(missing_ok=True)
    return meta


def _normalization(net) -> dict:
    norm = getattr(net, "normalize", None)
    if norm is None:
        return {}
    return {"mean": (norm.mean.flatten()).tolist(), "std": (1.0 / norm.inv_std.flatten()).tolist(),
            "units": "pixel values 0..255"}


__all__ = ["build_model", "resumed_config", "train", "versions"]
