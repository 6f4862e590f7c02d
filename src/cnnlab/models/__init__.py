"""Models: a registry of architectures, each taking uint8 images (N, C, H, W) and returning logits."""

from cnnlab.models.registry import create_model, list_models, register_model
from cnnlab.models.summary import summary

__all__ = ["create_model", "list_models", "register_model", "summary"]
