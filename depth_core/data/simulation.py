"""Raw sensor depth simulated from ground truth: what a ToF camera under the RGB camera gives."""

from __future__ import annotations

import cv2
import numpy as np


def simulate_tof(
    depth: np.ndarray,
    rng: np.random.Generator,
    downsample: int = 4,
    relative_noise: float = 0.01,
    dropout: float = 0.03,
    max_range: float = 6.0,
) -> np.ndarray:
    """Ground-truth depth (metres, 0/NaN = unknown) -> lower-resolution raw ToF depth with
    range-proportional noise, random dropouts, no return beyond `max_range` and none where the
    ground truth is unknown. Same field of view as the input; 0 marks a missing value."""
    clean = np.where(np.isfinite(depth) & (depth > 0), depth, 0).astype(np.float32)
    height, width = clean.shape
    small = cv2.resize(clean, (width // downsample, height // downsample),
                       interpolation=cv2.INTER_NEAREST)  # fmt: skip
    noisy = small * (1 + relative_noise * rng.standard_normal(small.shape).astype(np.float32))
    missing = (small <= 0) | (small > max_range) | (rng.random(small.shape) < dropout)
    return np.where(missing, 0, noisy).astype(np.float32)
