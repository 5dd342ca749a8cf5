"""Steady depth over time: a per-pixel, σ-aware temporal filter for a stream of depth images.

Where the scene has not changed, the new estimate is fused with the filter's history, weighted
by their variances and by how many frames the history holds (a running mean of a still
scene, capped by `strength` so that the filter keeps following the sensor). Where the new
depth disagrees with the history beyond `motion_sigmas` combined σ, the pixel lets go at once
and restarts from the new frame. A stamp that goes backwards or jumps by more than
`max_gap_s` (a dropped stream, a replay restart) resets every pixel.

σ of the fused depth: a network's errors on consecutive frames of one scene are correlated,
so averaging frames does not shrink them as it would shrink independent noise. The fused σ is
the weighted mean of the two σs, the value for fully correlated errors: the largest the two
can give together, and so never below what the evidence allows, whatever their correlation.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_TINY = np.float32(1e-30)


@dataclass(frozen=True)
class TemporalSettings:
    strength: float = 0.85  # largest weight of the history: at most 1 / (1 − strength) frames
    motion_sigmas: float = 2.5  # disagreement (in combined σ) beyond which a pixel restarts
    max_gap_s: float = 0.5  # a larger gap between stamps (or one backwards) resets the image

    def __post_init__(self):
        if not 0.0 <= self.strength < 1.0:
            raise ValueError(f"strength must be in [0, 1), got {self.strength}")
        if self.motion_sigmas <= 0 or self.max_gap_s <= 0:
            raise ValueError("motion_sigmas and max_gap_s must be > 0")


@dataclass(frozen=True)
class TemporalStats:
    held_share: float  # of the valid pixels, those fused with their history
    reset: bool  # the whole image restarted (first frame, stamp jump, new size)


class TemporalFilter:
    """Call `update` with each frame in stamp order; it returns the filtered depth and σ."""

    def __init__(self, settings: TemporalSettings | None = None):
        self.settings = settings or TemporalSettings()
        self.resets = 0
        self._depth: np.ndarray | None = None
        self._sigma: np.ndarray | None = None
        self._count: np.ndarray | None = None  # frames each pixel's history holds
        self._stamp: float | None = None

    def reset(self) -> None:
        self._depth = self._sigma = self._count = None
        self._stamp = None

    def update(
        self, depth: np.ndarray, sigma: np.ndarray, stamp: float
    ) -> tuple[np.ndarray, np.ndarray, TemporalStats]:
        """depth, σ: HxW metres (0/NaN depth = no estimate); stamp: seconds."""
        s = self.settings
        depth = np.asarray(depth, np.float32)
        sigma = np.asarray(sigma, np.float32)
        valid = (depth > 0) & (depth < np.inf) & np.isfinite(sigma)
        gap_ok = self._stamp is not None and 0.0 <= stamp - self._stamp <= s.max_gap_s
        if self._depth is None or self._depth.shape != depth.shape or not gap_ok:
            self._start(depth, sigma, valid, stamp)
            self.resets += 1
            return depth, sigma, TemporalStats(0.0, True)
        self._stamp = stamp
        prior_depth, prior_sigma, count = self._depth, self._sigma, self._count
        # OpenCV's element-wise kernels: one pass each, without numpy's temporaries.
        combined = cv2.magnitude(prior_sigma, sigma)
        still = (
            valid & (count > 0) & (cv2.absdiff(depth, prior_depth) <= s.motion_sigmas * combined)
        )
        # History weight: its frame count against the new frame, in proportion to their
        # variances (a running mean when the σs are equal), capped by strength; 0 where the
        # pixel is not still. The tiny term keeps 0 / 0 (σ = 0 on both sides) at weight 0.
        history = cv2.multiply(count, cv2.multiply(sigma, sigma))
        weight = cv2.divide(history, history + cv2.multiply(prior_sigma, prior_sigma) + _TINY)
        weight = np.minimum(weight, np.float32(s.strength))
        weight *= still
        fused_depth = depth + weight * (prior_depth - depth)
        fused_sigma = sigma + weight * (prior_sigma - sigma)
        np.copyto(prior_depth, fused_depth, where=valid)
        np.copyto(prior_sigma, fused_sigma, where=valid)
        np.copyto(count, count * still + np.float32(1), where=valid)
        held = np.count_nonzero(still) / max(np.count_nonzero(valid), 1)
        out_depth = np.where(valid, fused_depth, depth)
        out_sigma = np.where(valid, fused_sigma, sigma)
        return out_depth, out_sigma, TemporalStats(float(held), False)

    def _start(self, depth, sigma, valid, stamp) -> None:
        self._depth = np.where(valid, depth, 0).astype(np.float32)
        self._sigma = np.where(valid, sigma, 0).astype(np.float32)
        self._count = valid.astype(np.float32)
        self._stamp = stamp


class TemporalStage:
    """The filter as a node runs it: switched on and off and re-tuned while running. New
    settings keep the history; switching off drops it, so switching on starts afresh."""

    def __init__(self):
        self._filter: TemporalFilter | None = None
        self._stats = TemporalStats(0.0, True)

    def apply(
        self, depth: np.ndarray, sigma: np.ndarray, stamp: float, settings: TemporalSettings | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The filtered (depth, σ), or the input unchanged when `settings` is None (off)."""
        if settings is None:
            self._filter = None
            return depth, sigma
        if self._filter is None:
            self._filter = TemporalFilter(settings)
        self._filter.settings = settings
        depth, sigma, self._stats = self._filter.update(depth, sigma, stamp)
        return depth, sigma

    def diagnostics(self) -> dict[str, str]:
        """Share of pixels held by the last frame and resets so far; empty when off."""
        running = self._filter  # another thread may switch it off meanwhile
        if running is None:
            return {}
        return {
            "temporal_held_share": f"{self._stats.held_share:.3f}",
            "temporal_resets": str(running.resets),
        }
