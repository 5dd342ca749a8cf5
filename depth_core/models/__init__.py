"""Depth models. Build any of them by name through the registry; importing this package
imports every model module, which registers it."""

from depth_core.models import depth_anything, latent, recovery, transfer  # noqa: F401
from depth_core.models.blocks import DepthPrediction
from depth_core.models.registry import build_model, build_model_from_config, registered_models

__all__ = ["DepthPrediction", "build_model", "build_model_from_config", "registered_models"]
