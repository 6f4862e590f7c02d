"""Safe files: atomic writes, pickle-free tensors (safetensors) and JSON.

Every file is written to a temporary file in the same directory, flushed to disk, then renamed
over the old one: a killed process leaves either the old or the new file, never half of one.
Nothing here unpickles.

>>> import tempfile, torch
>>> from cnnlab.files import load_tensors, save_tensors
>>> path = tempfile.mkdtemp() + "/w.safetensors"
>>> save_tensors(path, {"w": torch.ones(2)})
>>> load_tensors(path)["w"].tolist()
[1.0, 1.0]
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Callable

from cnnlab.errors import RunError

# torch and safetensors are imported inside the tensor functions: everything else here (atomic writes, JSON)
# also serves the torch-free install (pip install "cnnlab[deploy]": prediction with onnxruntime only).

MAX_HEADER = 100_000_000  # safetensors' own limit on the JSON header


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


def save_tensors(path, tensors: dict, metadata: dict[str, str] | None = None) -> None:
    """Write tensors as a safetensors file, atomically; refuses NaN/Inf values (a broken model is never saved).

    Raises:
        RunError: a tensor holds NaN or Inf.
    """
    import torch  # deferred: torch is optional (the deploy install has none)
    from safetensors.torch import save as st_save  # deferred: needs torch

    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    for k, v in tensors.items():
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise RunError(f"refusing to save {Path(path).name}: tensor {k} holds NaN/Inf values")
    atomic_write(path, st_save(tensors, metadata=metadata))


def load_tensors(path) -> dict:
    """Load a safetensors file, refusing broken ones cleanly (never unpickles)."""
    from safetensors import SafetensorError  # deferred: safetensors.torch needs torch (optional)
    from safetensors.torch import load as st_load  # deferred: needs torch

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
    """Write ``obj`` as indented JSON, atomically (tuples, paths and tensors become lists and strings)."""
    atomic_write(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(o):
    if isinstance(o, (tuple, set)):
        return list(o)
    if isinstance(o, Path):
        return str(o)
    if hasattr(o, "tolist"):  # tensors and numpy arrays
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def read_json(path) -> dict:
    """Read a JSON file.

    Raises:
        RunError: the file is missing or not valid JSON.
    """
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise RunError(f"{path}: missing") from None
    except json.JSONDecodeError as e:
        raise RunError(f"{path}: not valid JSON ({e})") from None


def state_tensors(model) -> dict:
    """A model's state dict as detached copies (safetensors refuses shared storage)."""
    # clone: tied/shared storage would otherwise be rejected by safetensors
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
