"""Depth losses. Every loss takes a validity mask and ignores invalid ground truth."""

from depth_core.losses.metric_depth import MetricDepthConfig, MetricDepthLoss, classify_pairs
from depth_core.losses.pixel import (
    edge_loss,
    gaussian_nll,
    gradient_loss,
    laplace_nll,
    latent_loss,
    log_scale_alignment,
    mae_loss,
    masked_mean,
    multiscale_gradient_loss,
    recovery_loss,
    relative_loss,
    silog_loss,
    ssim,
    ssim_loss,
    weighted_loss,
)

__all__ = [
    "MetricDepthConfig",
    "MetricDepthLoss",
    "classify_pairs",
    "edge_loss",
    "gaussian_nll",
    "gradient_loss",
    "laplace_nll",
    "latent_loss",
    "log_scale_alignment",
    "mae_loss",
    "masked_mean",
    "multiscale_gradient_loss",
    "recovery_loss",
    "relative_loss",
    "silog_loss",
    "ssim",
    "ssim_loss",
    "weighted_loss",
]
