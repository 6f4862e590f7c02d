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
import os
import tempfile
from pathlib import Path
from typing import Callable

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

MAX_HEADER = 100_000_000  # safetensors' own limit on the JSON header


class RunError(RuntimeError):
    """A run directory is missing, incomplete or unreadable; the message says what to do."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, data: bytes | str | Callable[[object], None]) -> None:
    """Write ``data`` (bytes, text, or a function writing to a binary file) to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a normal file respects the umask
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def clean_temporaries(run_dir: str | os.PathLike) -> list[Path]:
    """Remove temporary files a killed writer left behind; returns what was removed."""
    removed = []
    for p in Path(run_dir).glob(".*.tmp"):
        p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def save_tensors(path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    for k, v in tensors.items():
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise RunError(f"refusing to save {Path(path).name}: tensor {k} holds NaN/Inf values")
    atomic_write(path, st_save(tensors, metadata=metadata))


def load_tensors(path) -> dict[str, torch.Tensor]:
    """Load a safetensors file, refusing broken ones cleanly (never unpickles)."""
    path = Path(path)
    if path.suffix in (".pt", ".pth", ".pkl", ".ckpt", ".bin"):
        raise RunError(f"{path}: refusing to load a pickle-based file; cnnlab only loads .safetensors")
    if not path.is_file():
        raise RunError(f"{path}: no such file")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
    if len(head) < 8:
        raise RunError(f"{path}: not a safetensors file (only {size} bytes)")
    n = int.from_bytes(head, "little")
    if n > MAX_HEADER or 8 + n > size:
        raise RunError(f"{path}: corrupt safetensors file (header of {n:,} bytes in a {size:,}-byte file); "
                       "it was probably truncated — retrain or restore it")
    try:
        return st_load(path.read_bytes())
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise RunError(f"{path}: corrupt safetensors file ({e})") from None


def write_json(path, obj) -> None:
    atomic_write(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(o):
    if isinstance(o, (tuple, set)):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    if torch.is_tensor(o):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def read_json(path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise RunError(f"{path}: missing") from None
    except json.JSONDecodeError as e:
        raise RunError(f"{path}: not valid JSON ({e})") from None


def state_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    # clone: tied/shared storage would otherwise be rejected by safetensors
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


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
    from cnnlab.models.registry import model_from_config

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
