"""The run directory: safe, atomic, pickle-free persistence.

    RUN_DIR/
      model.safetensors    weights (and normalization buffers)
      model.json           architecture name + arguments, classes, input shape, metrics, versions
      history.jsonl        one line per epoch
      resume.safetensors   model + optimizer state + RNG, for --resume (removed when a run finishes)
      resume.json          where the run stopped and with which settings
      report.md, *.png     the report

Every file is written to a temporary file in the same directory, flushed to disk, then renamed
over the old one: a killed process leaves either the old or the new file, never half of one.
Nothing here unpickles: weights are safetensors, the rest is JSON.
"""

from __future__ import annotations

from pathlib import Path

import torch

from cnnlab.errors import RunError
from cnnlab.files import (
    load_tensors,
    read_json,
    save_tensors,
    state_tensors,
    write_json,
)
from cnnlab.models.registry import model_from_config


def save_model(run_dir, model: torch.nn.Module, meta: dict) -> None:
    """Write model.safetensors then model.json (the JSON names the weights, so it goes last)."""
    run_dir = Path(run_dir)
    for k, v in model.state_dict().items():
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise RunError(f"refusing to save: parameter {k} holds NaN/Inf; the last good model is kept")
    save_tensors(run_dir / "model.safetensors", state_tensors(model))
    write_json(run_dir / "model.json", meta)


def load_model(run_dir, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict]:
    """Rebuild the model from model.json and load model.safetensors. No pickle involved."""
    run_dir = Path(run_dir)
    if not (run_dir / "model.json").is_file():
        raise RunError(f"{run_dir} holds no trained model (model.json missing); "
                       f"train one with: cnnlab train --out {run_dir}")
    meta = read_json(run_dir / "model.json")
    model = model_from_config(meta["architecture"])
    state = load_tensors(run_dir / "model.safetensors")
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise RunError(f"{run_dir}: weights do not fit the architecture (missing {missing[:3]}, "
                       f"unexpected {unexpected[:3]})")
    return model.to(device).to(memory_format=torch.channels_last).eval(), meta


# ---------------------------------------------------------------- resumable training state

def save_resume(run_dir, trainer, extra: dict) -> None:
    """Everything needed to continue ``trainer`` bit-exactly: weights, optimizer, position, history."""
    run_dir = Path(run_dir)
    tensors = {f"model.{k}": v for k, v in state_tensors(trainer.model).items()}
    opt = trainer.optimizer.state_dict()
    scalars: dict[str, dict] = {}
    for idx, st in opt["state"].items():
        for name, v in st.items():
            if torch.is_tensor(v):
                tensors[f"optimizer.{idx}.{name}"] = v
            else:
                scalars.setdefault(str(idx), {})[name] = v
    save_tensors(run_dir / "resume.safetensors", tensors)
    write_json(run_dir / "resume.json", {
        "epoch": trainer.epoch, "batch": trainer.batch, "step": trainer.step,
        "history": trainer.history, "config": trainer.config.to_dict(),
        "param_groups": opt["param_groups"], "optimizer_scalars": scalars, **extra})


def load_resume(run_dir, trainer) -> dict:
    """Restore a trainer from resume.safetensors/resume.json; returns the JSON."""
    run_dir = Path(run_dir)
    meta = read_json(run_dir / "resume.json")
    tensors = load_tensors(run_dir / "resume.safetensors")
    model_state = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    trainer.model.load_state_dict(model_state)
    state: dict[int, dict] = {}
    for k, v in tensors.items():
        if k.startswith("optimizer."):
            _, idx, name = k.split(".", 2)
            state.setdefault(int(idx), {})[name] = v
    for idx, d in meta["optimizer_scalars"].items():
        state.setdefault(int(idx), {}).update(d)
    trainer.optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    trainer.epoch, trainer.batch, trainer.step = meta["epoch"], meta["batch"], meta["step"]
    trainer.history = list(meta["history"])
    return meta
