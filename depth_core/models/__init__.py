"""Depth models. Build any of them by name through the registry."""

from depth_core.models.blocks import DepthPrediction
from depth_core.models.registry import build_model, build_model_from_config, registered_models

__all__ = ["DepthPrediction", "build_model", "build_model_from_config", "registered_models"]
