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

import json
from pathlib import Path

import torch

from cnnlab.errors import ModelError, RunError
from cnnlab.files import (
    load_tensors,
    read_json,
    save_tensors,
    state_tensors,
    write_json,
)
from cnnlab.models.registry import model_from_config
from cnnlab.training import distributed


def save_model(run_dir, model: torch.nn.Module, meta: dict) -> None:
    """Write model.safetensors then model.json (the JSON names the weights, so it goes last)."""
    run_dir = Path(run_dir)
    for k, v in model.state_dict().items():
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise RunError(f"refusing to save: parameter {k} holds NaN/Inf; the last good model is kept")
    save_tensors(run_dir / "model.safetensors", state_tensors(model))
    write_json(run_dir / "model.json", meta)


def load_model(run_dir, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict]:
    """Rebuild a finished run's model from model.json and model.safetensors (no pickle), checked before use.

    Everything is checked here, once, so that no later step (predict, evaluate, explain) fails
    obscurely: the folder is a finished run, the weights fit the architecture, the model takes the
    images model.json describes (channels and size) and gives one output per class it lists.

    Args:
        run_dir: the run folder (made by ``cnnlab train --out DIR``).
        device: where to put the model.

    Returns:
        ``(model, meta)``: the model in eval mode and the contents of model.json.

    Raises:
        RunError: not a run folder, an interrupted run, or files that do not fit together; the message
            says how to fix it.

    >>> import tempfile
    >>> from cnnlab.models import create_model
    >>> run = tempfile.mkdtemp()
    >>> net = create_model("mlp", num_classes=2, in_channels=1, image_size=8)
    >>> save_model(run, net, {"architecture": net.cnnlab_config, "classes": ["cat", "dog"],
    ...                       "input": {"channels": 1, "size": [8, 8]}})
    >>> model, meta = load_model(run)
    >>> meta["classes"]
    ['cat', 'dog']
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        what = "is a file, not a run folder" if run_dir.exists() else "does not exist, so there is no trained model"
        raise RunError(f"{run_dir} {what}; a run folder is made by: cnnlab train --out DIR")
    if not (run_dir / "model.json").is_file():
        if (run_dir / "resume.json").is_file():
            raise RunError(f"{run_dir}: this run was interrupted, so it has no finished model yet; "
                           f"finish it with: cnnlab train --out {run_dir} --resume")
        raise RunError(f"{run_dir} holds no trained model (no model.json); a run folder is made by: "
                       "cnnlab train --out DIR")
    meta = read_json(run_dir / "model.json")
    lacking = [k for k in ("architecture", "classes", "input") if k not in meta]
    if lacking:
        raise RunError(f"{run_dir}/model.json has no {', '.join(lacking)}: it is damaged or was not written by "
                       "cnnlab train; train the run again")
    model = model_from_config(meta["architecture"])
    state = load_tensors(run_dir / "model.safetensors")
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError as e:  # a tensor of another shape than the architecture's
        raise RunError(f"{run_dir}: model.safetensors does not fit the architecture in model.json "
                       f"({_first_line(e)}); the two files come from different runs: train the run again") from None
    if missing or unexpected:
        raise RunError(f"{run_dir}: weights do not fit the architecture (missing {missing[:3]}, "
                       f"unexpected {unexpected[:3]})")
    _check_input_and_classes(run_dir, model.eval(), meta)
    return model.to(device).to(memory_format=torch.channels_last).eval(), meta


def _first_line(e: Exception) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return " ".join(lines[:2])[:300]


def _check_input_and_classes(run_dir: Path, model: torch.nn.Module, meta: dict) -> None:
    """One forward pass of a blank image of the size model.json gives: it must work and give one score per class."""
    inp, classes = meta["input"], meta["classes"]
    try:
        c, (h, w) = int(inp["channels"]), (int(v) for v in inp["size"])
    except (KeyError, TypeError, ValueError):
        raise RunError(f"{run_dir}/model.json: 'input' should hold channels and size [H, W], "
                       f"not {inp!r}; the file is damaged: train the run again") from None
    probe = torch.zeros(1, c, h, w, dtype=torch.uint8)  # (N, C, H, W)
    try:
        with torch.inference_mode():
            outputs = model(probe).shape[-1]
    except (ModelError, RuntimeError) as e:
        raise RunError(f"{run_dir}: model.json says the model takes {c}-channel {w}x{h} images, but its first "
                       f"layers do not accept them ({_first_line(e)}); the files do not belong together: "
                       "train the run again") from None
    if outputs != len(classes):
        raise RunError(f"{run_dir}: model.json lists {len(classes)} classes but the model gives {outputs} scores "
                       "per image; the files do not belong together (copied from different runs?): "
                       "train the run again, or put back its own model.json")


# ---------------------------------------------------------------- resumable training state

def save_resume(run_dir, trainer, extra: dict) -> None:
    """Everything needed to continue ``trainer`` bit-exactly: weights, optimizer, position, history.

    The position and history are also stored inside resume.safetensors (its metadata), so the one file that
    holds the weights always agrees with them, even when a process is killed between two writes.
    """
    run_dir = Path(run_dir)
    tensors = {f"model.{k}": v for k, v in state_tensors(trainer.model).items()}
    tensors.update({f"average.{k}": v for k, v in getattr(trainer, "averaged", {}).items()})
    opt = trainer.optimizer.state_dict()
    scalars: dict[str, dict] = {}
    for idx, st in opt["state"].items():
        for name, v in st.items():
            if torch.is_tensor(v):
                tensors[f"optimizer.{idx}.{name}"] = v
            else:
                scalars.setdefault(str(idx), {})[name] = v
    meta = {"epoch": trainer.epoch, "batch": trainer.batch, "step": trainer.step,
            "history": trainer.history, "config": trainer.config.to_dict(),
            "param_groups": opt["param_groups"], "optimizer_scalars": scalars,
            "averaged_count": getattr(trainer, "averaged_count", 0), **extra}
    save_tensors(run_dir / "resume.safetensors", tensors, metadata={RESUME_KEY: json.dumps(meta)})
    write_json(run_dir / "resume.json", meta)


RESUME_KEY = "cnnlab-resume"


def _resume_meta(data: bytes) -> dict | None:
    """The position saved inside a resume.safetensors file's header (None in files older than that)."""
    n = int.from_bytes(data[:8], "little")
    text = json.loads(data[8:8 + n]).get("__metadata__", {}).get(RESUME_KEY)
    return json.loads(text) if text else None


def load_resume(run_dir, trainer) -> dict:
    """Restore a trainer from resume.safetensors (and resume.json); returns the saved position as a dict.

    Under several processes every rank calls this: rank 0 reads the checkpoint and sends it to the others,
    so machines without the run folder get it too.
    """
    run_dir = Path(run_dir)
    world = distributed.current()
    data = None
    if world.main:
        load_tensors(run_dir / "resume.safetensors")  # a clear error for a missing, truncated or corrupt file
        data = (run_dir / "resume.safetensors").read_bytes()
    data = distributed.broadcast_bytes(data)
    tensors = distributed.tensors_from_bytes(data)
    meta = _resume_meta(data)
    if meta is None:  # a checkpoint from before the position lived inside it
        meta = distributed.broadcast_json(read_json(run_dir / "resume.json") if world.main else None)
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
    trainer.averaged = {k[8:]: v for k, v in tensors.items() if k.startswith("average.")}
    trainer.averaged_count = meta.get("averaged_count", 0)
    return meta
