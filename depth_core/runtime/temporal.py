"""Steady depth over time: a per-pixel, σ-aware temporal filter for a stream of depth images.

Where the scene has not changed, the new estimate is fused with the filter's history, weighted
by their variances and by how many frames the history holds (a running mean of a still
scene, capped by `strength` so that the filter keeps following the sensor). Where the new
depth disagrees with the history beyond `motion_sigmas` times its expected spread, the
pixel lets go at once and restarts from the new frame. A stamp that goes backwards or jumps
by more than `max_gap_s` (a dropped stream, a replay restart) resets every pixel.

σ of the fused depth: a network's errors on consecutive frames of one scene are correlated,
so averaging frames does not shrink them as it would shrink independent noise. The fused σ is
the weighted mean of the two σs, the value for fully correlated errors: the largest the two
can give together, and so never below what the evidence allows, whatever their correlation.

The expected spread of the disagreement is the combined σ or, where smaller, the combined
frame-to-frame noise. σ measures the error against the truth, and consecutive frames share
most of it, so a still pixel moves far less than σ between frames: a gate on a wide σ alone
(a monocular σ) would hold back a person walking at the camera. The noise is measured on
every frame: a robust scale of the relative disagreement over the image, times the depth,
taken for the history and the new frame alike (an upper bound: the history is the steadier
of the two). While most of the image is still, it stays that of the still part; when most
of the image moves, it grows and the combined σ decides.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_TINY = np.float32(1e-30)
_MAD_TO_SIGMA = 1.4826  # median(|x|) of a zero-mean normal, in its standard deviations
_NOISE_SAMPLES_PER_SIDE = 60  # pixels per image side sampled for the noise scale


@dataclass(frozen=True)
class TemporalSettings:
    strength: float = 0.85  # largest weight of the history: at most 1 / (1 − strength) frames
    motion_sigmas: float = 2.5  # disagreement (in expected spreads) beyond which a pixel restarts
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


class _Buffers:
    """The filter's state and its work arrays, allocated once per image size: fresh arrays on
    every frame would cost more in page faults than the arithmetic itself."""

    def __init__(self, shape: tuple[int, ...]):
        def empty(dtype=np.float32) -> np.ndarray:
            return np.empty(shape, dtype)

        self.depth, self.sigma, self.count = empty(), empty(), empty()  # the history
        self.limit, self.change, self.weight, self.work = empty(), empty(), empty(), empty()
        self.valid, self.invalid, self.still, self.mask = (empty(bool) for _ in range(4))


class TemporalFilter:
    """Call `update` with each frame in stamp order; it returns the filtered depth and σ."""

    def __init__(self, settings: TemporalSettings | None = None):
        self.settings = settings or TemporalSettings()
        self.resets = 0
        self._buffers: _Buffers | None = None
        self._stamp: float | None = None

    def reset(self) -> None:
        self._buffers = None
        self._stamp = None

    def update(
        self, depth: np.ndarray, sigma: np.ndarray, stamp: float
    ) -> tuple[np.ndarray, np.ndarray, TemporalStats]:
        """depth, σ: HxW metres (0/NaN depth = no estimate); stamp: seconds. The returned
        arrays are new; the filter keeps no reference to them."""
        s = self.settings
        depth = np.asarray(depth, np.float32)
        sigma = np.asarray(sigma, np.float32)
        b = self._buffers
        if b is None or b.depth.shape != depth.shape:
            b = self._buffers = _Buffers(depth.shape)
            self._stamp = None
        valid, invalid, still, mask = b.valid, b.invalid, b.still, b.mask
        np.greater(depth, 0, out=valid)
        np.less(depth, np.inf, out=mask)
        valid &= mask
        np.isfinite(sigma, out=mask)
        valid &= mask
        np.logical_not(valid, out=invalid)
        gap_ok = self._stamp is not None and 0.0 <= stamp - self._stamp <= s.max_gap_s
        self._stamp = stamp
        if not gap_ok:
            self._start(depth, sigma)
            self.resets += 1
            return depth.copy(), sigma.copy(), TemporalStats(0.0, True)
        # OpenCV's element-wise kernels write into the preallocated arrays in one pass each.
        cv2.absdiff(depth, b.depth, b.change)
        np.greater(b.count, 0, out=mask)
        mask &= valid  # pixels with a history and a new estimate
        noise = _relative_noise(b.change, depth, mask)
        cv2.magnitude(b.sigma, sigma, b.limit)  # the combined σ
        np.multiply(depth, np.float32(np.sqrt(2.0)) * noise, out=b.work)
        np.minimum(b.limit, b.work, out=b.limit)
        np.multiply(b.limit, np.float32(s.motion_sigmas), out=b.limit)
        np.less_equal(b.change, b.limit, out=still)
        still &= mask
        # History weight: its frame count against the new frame, in proportion to their
        # variances (a running mean when the σs are equal), capped by strength; 0 where the
        # pixel is not still. The tiny term keeps 0 / 0 (σ = 0 on both sides) at weight 0.
        weight, work = b.weight, b.work
        cv2.multiply(sigma, sigma, weight)
        cv2.multiply(weight, b.count, weight)
        cv2.multiply(b.sigma, b.sigma, work)
        work += weight
        work += _TINY
        cv2.divide(weight, work, weight)
        np.minimum(weight, np.float32(s.strength), out=weight)
        np.multiply(weight, still, out=weight)
        held = np.count_nonzero(still) / max(np.count_nonzero(valid), 1)
        out_depth = self._fuse(depth, b.depth, weight, valid, invalid)
        out_sigma = self._fuse(sigma, b.sigma, weight, valid, invalid)
        np.multiply(b.count, still, out=b.count, where=valid)
        np.add(b.count, np.float32(1), out=b.count, where=valid)
        return out_depth, out_sigma, TemporalStats(float(held), False)

    @staticmethod
    def _fuse(new, history, weight, valid, invalid) -> np.ndarray:
        """new + weight·(history − new) where valid, the new value elsewhere; the history
        takes the fused value where valid."""
        fused = np.subtract(history, new)
        with np.errstate(invalid="ignore"):  # ±inf input gives NaN here; replaced just below
            np.multiply(fused, weight, out=fused)
        np.add(fused, new, out=fused)
        np.copyto(fused, new, where=invalid)
        np.copyto(history, fused, where=valid)
        return fused

    def _start(self, depth, sigma) -> None:
        b = self._buffers
        np.copyto(b.depth, depth)
        np.copyto(b.sigma, sigma)
        b.depth[b.invalid] = 0
        b.sigma[b.invalid] = 0
        np.copyto(b.count, b.valid)


def _relative_noise(change: np.ndarray, depth: np.ndarray, mask: np.ndarray) -> np.float32:
    """Robust standard deviation of change / depth over the masked pixels, from a regular
    subsample (inf when no pixel is masked)."""
    step = max(1, min(depth.shape) // _NOISE_SAMPLES_PER_SIDE)
    sampled = mask[::step, ::step]
    if not sampled.any():
        return np.float32(np.inf)
    relative = change[::step, ::step][sampled] / depth[::step, ::step][sampled]
    return np.float32(_MAD_TO_SIGMA * np.median(relative))


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
