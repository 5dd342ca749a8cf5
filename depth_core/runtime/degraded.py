"""Recovery without raw depth (degraded mode), free of ROS: RGB-only frames keep the metric
scale of the last output that had raw depth, and their σ is widened."""

from __future__ import annotations

import math
import threading

import numpy as np

from depth_core.runtime.estimator import DepthResult


def median_ratio(reference: np.ndarray | None, estimate: np.ndarray) -> float:
    """median(reference / estimate) over pixels valid in both; 1 when there is nothing to
    compare (no reference, another size, no common valid pixel)."""
    if reference is None or reference.shape != estimate.shape:
        return 1.0
    valid = np.isfinite(reference) & np.isfinite(estimate) & (estimate > 0) & (reference > 0)
    return float(np.median(reference[valid] / estimate[valid])) if valid.any() else 1.0


class ScaleCarryOver:
    """The scale of RGB-only frames: the last paired output against the first RGB-only one,
    held until raw depth returns. Safe to share between inference workers, which may finish
    frames out of order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scale: float | None = None  # set on the first RGB-only frame
        self._last_paired_depth: np.ndarray | None = None
        self._last_paired_stamp = -math.inf

    def paired(self, stamp: float, depth: np.ndarray) -> None:
        """An output made with raw depth; an older stamp than the last one is ignored."""
        with self._lock:
            if stamp >= self._last_paired_stamp:
                self._last_paired_depth, self._last_paired_stamp = depth, stamp
                self._scale = None

    def unpaired(self, result: DepthResult, sigma_scale: float) -> DepthResult:
        """An RGB-only output, scaled in place (depth and σ) and its σ widened by
        `sigma_scale`."""
        with self._lock:
            if self._scale is None:
                self._scale = median_ratio(self._last_paired_depth, result.depth)
            factor = np.float32(self._scale)
        result.depth *= factor
        result.sigma *= factor * np.float32(sigma_scale)
        return result
