"""Models: a registry of architectures, each taking uint8 images (N, C, H, W) and returning logits.

The modules that define models import the registry and register there; the registry never imports
them. Importing this package imports them all, so every built-in model is registered as soon as
``cnnlab.models`` (or any module inside it) is imported.

>>> from cnnlab.models import create_model, list_models, model_info
>>> "lecture_cnn" in list_models(), model_info("lecture_cnn").augment
(True, 'flip')
"""

from cnnlab.models.layers import Normalize
from cnnlab.models.lecture import Classifier, lecture_cnn, mlp
from cnnlab.models.pretrained import PretrainedClassifier, efficientnet_lite0, timm_model
from cnnlab.models.registry import (
    ModelInfo,
    check_model_args,
    create_model,
    list_models,
    model_from_config,
    model_info,
    register_family,
    register_model,
)
from cnnlab.models.resnet import resnet_small
from cnnlab.models.stack import stack
from cnnlab.models.summary import layer_table, summary

__all__ = ["Classifier", "ModelInfo", "Normalize", "PretrainedClassifier", "check_model_args", "create_model",
           "efficientnet_lite0", "layer_table", "lecture_cnn", "list_models", "mlp", "model_from_config",
           "model_info", "register_family", "register_model", "resnet_small", "stack", "summary", "timm_model"]
