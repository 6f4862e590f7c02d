"""The model registry: ``create_model(name, num_classes=..., in_channels=..., ...)``.

Like timm, each architecture registers a builder under a name. The created model carries
``cnnlab_config`` (its name and arguments) so a run directory can rebuild it without pickle.

>>> from cnnlab.models import create_model
>>> model = create_model("lecture_cnn", num_classes=10, in_channels=1, image_size=28)
>>> model.cnnlab_config["name"]
'lecture_cnn'
"""

from __future__ import annotations

import inspect
from typing import Callable

import torch.nn as nn

from cnnlab.errors import ModelError

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Decorator: register ``fn`` under its function name."""
    _REGISTRY[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def create_model(name: str, num_classes: int = 10, in_channels: int = 1, **kwargs) -> nn.Module:
    """Build a registered model. Unknown names fail with the list of known ones.

    ``timm:NAME`` builds any timm architecture (with its own pretrained download when online).
    """
    _load_builtin()
    if name.startswith("timm:"):
        from cnnlab.models.pretrained import timm_model
        model = timm_model(name[5:], num_classes=num_classes, in_channels=in_channels, **kwargs)
    elif name in _REGISTRY:
        model = _REGISTRY[name](num_classes=num_classes, in_channels=in_channels, **kwargs)
    else:
        raise ModelError(f"unknown model {name!r}; known models: {', '.join(list_models())} "
                         "(or timm:NAME for any timm architecture)")
    config = {"name": name}
    if name in _REGISTRY:  # every argument, defaults included: a saved run keeps its architecture
        for k, prm in inspect.signature(_REGISTRY[name]).parameters.items():  # even if a default changes
            if prm.default is not inspect.Parameter.empty and k not in ("mean", "std", "pretrained"):
                config[k] = list(prm.default) if isinstance(prm.default, tuple) else prm.default
    config.update(num_classes=num_classes, in_channels=in_channels)
    config.update({k: v for k, v in kwargs.items() if k != "pretrained"})
    model.cnnlab_config = config
    return model


def model_from_config(config: dict) -> nn.Module:
    """Rebuild a model from its saved ``cnnlab_config``.

    An argument added after a run was saved is missing from its config; the builder's
    ``legacy_defaults`` say what such old runs used (not the current default), so they still load.
    """
    _load_builtin()
    arch = dict(config)
    name = arch.pop("name")
    for k, v in getattr(_REGISTRY.get(name), "legacy_defaults", {}).items():
        arch.setdefault(k, v)
    return create_model(name, **arch)


def _load_builtin() -> None:
    # importing the modules runs their @register_model decorators
    from cnnlab.models import lecture, pretrained  # noqa: F401
