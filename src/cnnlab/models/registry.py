"""The model registry: builders by name, each with a :class:`ModelInfo` the rest of cnnlab reads.

Like timm, each architecture registers a builder under a name, together with what training and
prediction need to know about it (pretrained weights, input size, batch sizes, augmentation), so
nothing else in cnnlab decides by a model's name. ``timm:NAME`` is a *family*: any timm architecture,
built by the builder registered for the ``timm`` prefix. A created model carries ``cnnlab_config``
(its name and arguments) so a run directory can rebuild it without pickle.

>>> from cnnlab.models import create_model, model_info
>>> model = create_model("lecture_cnn", num_classes=10, in_channels=1, image_size=28)
>>> model.cnnlab_config["name"]
'lecture_cnn'
>>> model_info("efficientnet_lite0").input_size
224
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import typing
import warnings
from dataclasses import dataclass
from typing import Callable

import torch.nn as nn

from cnnlab.errors import ConfigError, ModelError
from cnnlab.models.args import coerce, kinds_of

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}  # name -> builder
_INFO: dict[str, ModelInfo] = {}  # name -> what the rest of cnnlab needs to know
_FAMILIES: dict[str, tuple[Callable[..., nn.Module], Callable[[str], ModelInfo]]] = {}  # prefix -> (builder, info)

# every model must have these (timm's interface): transfer learning and the figures rely on them
INTERFACE = ("forward_features", "forward_head", "reset_classifier")

# arguments training fills in from the data: a user setting them would break the model or its run
FILLED_IN = {
    "num_classes": "the number of classes is set from the data's class folders / labels",
    "in_channels": "the number of channels is set from the data (1 for gray, 3 for colour)",
    "image_size": "image_size is set from the data; for photo folders choose it with the image_size option "
                  "(--image-size)",
    "mean": "the normalization mean is computed from the training images",
    "std": "the normalization std is computed from the training images",
    "pretrained": "use the pretrained option (--pretrained) instead",
}


@dataclass(frozen=True)
class ModelInfo:
    """What training and prediction need to know about a registered model (its "pretrained configuration").

    Args:
        name: the registered name (``lecture_cnn``, ``timm:resnet18``).
        pretrained: where pretrained weights come from: "offline" (shipped, no internet needed), "online"
            (downloaded), or None (none: the model trains from scratch).
        input_size: the fixed size (pixels) the model resizes every image to, e.g. 224; None if it takes
            the data's size.
        channels: the channels the model works on (3 for ImageNet backbones, which also accept gray);
            None for the data's own channels.
        batch_size: suggested training batch size (smaller data sets get smaller ones).
        eval_batch_size: suggested batch size for evaluation and prediction.
        augment: default augmentation spec when training it ("flip" for scratch CNNs); None for none.
        folder_image_size: the size photos from a folder are decoded at for this model.
        about: one line saying what it is.
        arguments: the names of the builder's arguments (``"image_size" in info.arguments``).

    >>> info = ModelInfo("tiny", about="a tiny test model")
    >>> info.pretrained is None, info.augment, info.folder_image_size
    (True, 'flip', 64)
    """

    name: str
    pretrained: str | None = None
    input_size: int | None = None
    channels: int | None = None
    batch_size: int = 256
    eval_batch_size: int = 1024
    augment: str | None = "flip"
    folder_image_size: int = 64
    about: str = ""
    arguments: tuple[str, ...] = ()

    def __post_init__(self):
        if self.pretrained not in (None, "offline", "online"):
            raise ModelError(f"ModelInfo.pretrained for {self.name} must be 'offline', 'online' or None, "
                             f"got {self.pretrained!r}")


def register_model(fn: Callable[..., nn.Module] | None = None, *, info: ModelInfo | None = None, **fields):
    """Decorator: register a builder under its function name, with its :class:`ModelInfo`.

    Use it bare (``@register_model``) for a scratch model with the default info, or with ModelInfo
    fields (``@register_model(pretrained="offline", input_size=224, ...)``), or with ``info=ModelInfo(...)``.
    ``about`` defaults to the first line of the builder's docstring. Registering a name again replaces the
    old builder with a warning. The builder takes ``num_classes`` and ``in_channels`` and returns a module
    with ``forward_features``, ``forward_head`` and ``reset_classifier``.

    Args:
        fn: the builder (given when used bare).
        info: a complete ModelInfo (its name is replaced by the builder's).
        **fields: ModelInfo fields to set (``batch_size=32``...).

    Returns:
        The builder, unchanged (or a decorator when called with fields only).

    Raises:
        ModelError: an unknown ModelInfo field or a name with ":" (reserved for families like ``timm:``).

    >>> import torch.nn as nn
    >>> from cnnlab.models import Classifier, create_model, model_info, register_model
    >>> @register_model(batch_size=64)
    ... def tiny_linear(num_classes=10, in_channels=1, image_size=28, mean=None, std=None):
    ...     '''A single dense layer.'''
    ...     n = in_channels * image_size * image_size
    ...     return Classifier(nn.Identity(), nn.Flatten(), nn.Sequential(nn.Linear(n, num_classes)))
    >>> model_info("tiny_linear").batch_size, model_info("tiny_linear").about
    (64, 'A single dense layer.')
    >>> create_model("tiny_linear", num_classes=3, image_size=8).get_classifier()
    Linear(in_features=64, out_features=3, bias=True)
    """
    names = {f.name for f in dataclasses.fields(ModelInfo)} - {"name", "arguments"}
    unknown = sorted(set(fields) - names)
    if unknown:
        raise ModelError(f"register_model got unknown ModelInfo field(s) {unknown}; known: {sorted(names)}")

    def add(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        name = builder.__name__
        if ":" in name:
            raise ModelError(f"model names cannot contain ':' ({name!r}); it marks families like timm:NAME")
        if name in _REGISTRY:
            warnings.warn(f"model {name!r} is already registered; the new builder replaces the old one",
                          stacklevel=3)
        about = fields.get("about") or (info.about if info else "") or _first_line(builder.__doc__)
        base = info or ModelInfo(name)
        _INFO[name] = dataclasses.replace(base, name=name, about=about, arguments=tuple(_parameters(builder)),
                                          **{k: v for k, v in fields.items() if k != "about"})
        _REGISTRY[name] = builder
        return builder

    return add(fn) if fn is not None else add


def register_family(prefix: str, builder: Callable[..., nn.Module], info: Callable[[str], ModelInfo]) -> None:
    """Register a family of models named ``PREFIX:NAME`` (as ``timm:resnet18``).

    Args:
        prefix: the part before the colon (``timm``).
        builder: ``builder(NAME, num_classes=..., in_channels=..., **args)`` builds one member.
        info: ``info(NAME)`` returns its ModelInfo (raising ModelError for a name the family lacks).

    >>> from cnnlab.models import model_info
    >>> model_info("timm:resnet18").input_size   # the timm family, registered by cnnlab.models.pretrained
    224
    """
    if prefix in _FAMILIES:
        warnings.warn(f"model family {prefix!r} is already registered; the new one replaces it", stacklevel=2)
    _FAMILIES[prefix] = (builder, info)


def list_models() -> list[str]:
    """The registered model names, sorted (families such as ``timm:NAME`` are not listed).

    Returns:
        A list of names for :func:`create_model`.

    >>> from cnnlab.models import list_models
    >>> {"lecture_cnn", "mlp", "efficientnet_lite0"} <= set(list_models())
    True
    """
    return sorted(_REGISTRY)


def model_info(name: str) -> ModelInfo:
    """What cnnlab knows about a model: pretrained weights, input size, batch sizes, augmentation.

    Args:
        name: a registered name, or ``PREFIX:NAME`` for a family (``timm:resnet18``: its input size comes
            from timm's pretrained config, nothing is downloaded).

    Returns:
        The model's :class:`ModelInfo`.

    Raises:
        ModelError: the name is unknown (the message lists the known names and a close match).

    >>> from cnnlab.models import model_info
    >>> info = model_info("efficientnet_lite0")
    >>> info.pretrained, info.input_size, info.channels, info.batch_size, info.augment
    ('offline', 224, 3, 32, None)
    >>> model_info("lecture_cnn").folder_image_size
    64
    >>> model_info("lecture_cn")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
      ...
    cnnlab.errors.ModelError: unknown model 'lecture_cn'; did you mean 'lecture_cnn'? Known models: ...
    """
    if name in _INFO:
        return _INFO[name]
    prefix, sep, member = name.partition(":")
    if sep and prefix in _FAMILIES:
        return _FAMILIES[prefix][1](member)
    raise _unknown(name)


def create_model(name: str, num_classes: int = 10, in_channels: int = 1, **kwargs) -> nn.Module:
    """Build a registered model (or a family member such as ``timm:resnet18``).

    The model gets ``cnnlab_config``: its name and every argument, defaults included, so a saved run
    rebuilds the same architecture even if a default changes later.

    Args:
        name: a name from :func:`list_models`, or ``timm:NAME``.
        num_classes: outputs of the classifier.
        in_channels: channels of the input images (1 gray, 3 colour).
        **kwargs: the builder's other arguments (``widths=[16, 32]``, ``pretrained=True``...).

    Returns:
        An ``nn.Module`` taking uint8 images ``(N, C, H, W)`` and returning logits ``(N, num_classes)``.

    Raises:
        ModelError: unknown name or argument, or a builder whose model lacks forward_features /
            forward_head / reset_classifier.

    >>> from cnnlab.models import create_model
    >>> model = create_model("mlp", num_classes=3, in_channels=1, image_size=8, hidden=[16])
    >>> model.cnnlab_config
    {'name': 'mlp', 'num_classes': 3, 'in_channels': 1, 'image_size': 8, 'hidden': [16], 'dropout': 0.2}
    >>> create_model("mlp", hiden=[16])
    Traceback (most recent call last):
      ...
    cnnlab.errors.ModelError: mlp has no argument 'hiden'; did you mean 'hidden'? Its arguments: \
num_classes, in_channels, image_size, hidden, dropout, mean, std
    """
    builder, params, family_member = _builder(name)
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        for k in kwargs:
            if k not in params:
                raise ModelError(f"{name} has no argument {k!r}; {_did_you_mean(k, params)}"
                                 f"Its arguments: {', '.join(params)}")
    args = dict(num_classes=num_classes, in_channels=in_channels, **kwargs)
    model = builder(family_member, **args) if family_member is not None else builder(**args)
    missing = [m for m in INTERFACE if not callable(getattr(model, m, None))]
    if missing:
        raise ModelError(f"the builder of {name} returned a {type(model).__name__} without {', '.join(missing)}; "
                         "every model needs forward_features, forward_head and reset_classifier "
                         "(cnnlab.models.Classifier provides them)")
    config = {"name": name}
    if family_member is None:  # every argument, defaults included: a saved run keeps its architecture
        for k, prm in params.items():  # even if a default changes
            if prm.default is not inspect.Parameter.empty and k not in ("mean", "std", "pretrained"):
                config[k] = list(prm.default) if isinstance(prm.default, tuple) else prm.default
    config.update(num_classes=num_classes, in_channels=in_channels)
    config.update({k: v for k, v in kwargs.items() if k != "pretrained"})
    model.cnnlab_config = config
    return model


def model_from_config(config: dict) -> nn.Module:
    """Rebuild a model from its saved ``cnnlab_config`` (the ``architecture`` of a run's model.json).

    An argument added after a run was saved is missing from its config; the builder's
    ``legacy_defaults`` say what such old runs used (not the current default), so they still load.

    Args:
        config: ``{"name": ..., **arguments}`` as :func:`create_model` recorded it.

    Returns:
        The model with fresh weights (the caller loads the saved ones).

    Raises:
        ModelError: the name or an argument is unknown.

    >>> from cnnlab.models import create_model, model_from_config
    >>> old = {"name": "lecture_cnn", "widths": [8], "hidden": 16, "image_size": 8}   # saved before pool_first
    >>> model_from_config(old).cnnlab_config["pool_first"]   # such runs used the slide's order
    False
    """
    arch = dict(config)
    name = arch.pop("name")
    for k, v in getattr(_REGISTRY.get(name), "legacy_defaults", {}).items():
        arch.setdefault(k, v)
    return create_model(name, **arch)


def check_model_args(name: str, args: dict) -> dict:
    """Check and convert a model's arguments (``--model-arg KEY=VALUE``) against its builder.

    Types come from the builder's annotations (or defaults): true/false/1/0 for on/off switches, whole
    numbers, numbers, lists of whole numbers (``[32,64]`` or ``32,64``); counts and sizes must be at least 1,
    dropout rates from 0 up to 1. Values may be parsed already (JSON, Python) or text. Arguments that
    training fills in itself (num_classes, in_channels, image_size, mean, std, pretrained) are refused.

    Args:
        name: the model (a registered name or ``timm:NAME``).
        args: argument name -> value.

    Returns:
        A new dict with converted values (lists, never tuples: it is saved as JSON).

    Raises:
        ModelError: the model is unknown.
        ConfigError: with key ``model_args.KEY`` for an unknown, refused or malformed argument.

    >>> from cnnlab.models import check_model_args
    >>> check_model_args("lecture_cnn", {"widths": "[32,64]", "pool_first": "false", "dropout": "0.5"})
    {'widths': [32, 64], 'pool_first': False, 'dropout': 0.5}
    >>> check_model_args("lecture_cnn", {"pool_first": "maybe"})
    Traceback (most recent call last):
      ...
    cnnlab.errors.ConfigError: model_args.pool_first='maybe': expected true or false (or 1 or 0)
    >>> check_model_args("lecture_cnn", {"widht": 3})
    Traceback (most recent call last):
      ...
    cnnlab.errors.ConfigError: model_args.widht=3: expected an argument of lecture_cnn: widths, convs_per_block, \
hidden, batch_norm, dropout, pool_first; did you mean 'widths'?
    """
    model_info(name)  # unknown model -> ModelError
    builder, params, family_member = _builder(name)
    hints = _type_hints(builder)
    open_ended = any(p.kind is p.VAR_KEYWORD for p in params.values())
    settable = [k for k, p in params.items() if k not in FILLED_IN and p.kind is not p.VAR_KEYWORD]
    out = {}
    for k, v in args.items():
        key = f"model_args.{k}"
        if k in FILLED_IN:
            raise ConfigError(key, v, "an argument that training does not fill in itself", hint=FILLED_IN[k])
        if k not in params:
            if open_ended:
                out[k] = v
                continue
            expected = f"an argument of {name}: {', '.join(settable)}" if settable else f"no argument ({name} has none)"
            raise ConfigError(key, v, expected, hint=_did_you_mean(k, settable).rstrip(" ."))
        default = params[k].default
        default = None if default is inspect.Parameter.empty else default
        out[k] = coerce(key, v, kinds_of(hints.get(k), default), default)
    return out


# ---------------------------------------------------------------- helpers


def _builder(name: str) -> tuple[Callable[..., nn.Module], dict[str, inspect.Parameter], str | None]:
    """(builder, its keyword parameters, family member name or None) for ``name``."""
    if name in _REGISTRY:
        return _REGISTRY[name], _parameters(_REGISTRY[name]), None
    prefix, sep, member = name.partition(":")
    if sep and prefix in _FAMILIES:
        _FAMILIES[prefix][1](member)  # unknown member -> ModelError
        builder = _FAMILIES[prefix][0]
        return builder, dict(list(_parameters(builder).items())[1:]), member  # without the member-name argument
    raise _unknown(name)


def _parameters(builder: Callable) -> dict[str, inspect.Parameter]:
    return dict(inspect.signature(builder).parameters)


def _type_hints(builder: Callable) -> dict:
    try:
        return typing.get_type_hints(builder)
    except Exception:  # an annotation that does not resolve: fall back to the defaults' types
        return {}


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().split("\n")[0].strip()


def _did_you_mean(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def _unknown(name: str) -> ModelError:
    families = "".join(f", or {p}:NAME for any {p} architecture" for p in sorted(_FAMILIES))
    return ModelError(f"unknown model {name!r}; {_did_you_mean(name, _REGISTRY)}"
                      f"Known models: {', '.join(list_models())}{families}")
