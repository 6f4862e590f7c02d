"""Device and precision: chosen once, ``cuda`` > ``mps`` > ``cpu``."""

from __future__ import annotations

import contextlib
import functools

import torch

from cnnlab.errors import ConfigError


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; a named device must exist."""
    if name in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device", name, "a device this machine has", hint="no CUDA GPU is available here; use cpu")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("device", name, "a device this machine has", hint="Apple MPS is not available here; use cpu")
    return dev


@functools.cache
def cpu_has_bf16() -> bool:
    """True on CPUs with native bfloat16 dot products (AVX512-BF16 or AMX), where bf16 autocast pays."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def autocast_dtype(device: torch.device, precision: str = "auto"):
    """The autocast dtype for ``precision`` on ``device``, or None for plain float32."""
    if precision == "fp32":
        return None
    if precision not in ("auto", "bf16"):
        raise ConfigError("precision", precision, "auto, fp32 or bf16")
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    if device.type == "cpu":
        return torch.bfloat16 if (precision == "bf16" or cpu_has_bf16()) else None
    return None


def inference_autocast(device: torch.device, precision: str = "auto"):
    """A context manager for fast inference: bf16 autocast where it pays (see autocast_dtype), else nothing."""
    dtype = autocast_dtype(device, precision)
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()
