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
To it is added, in quadrature, the spread of the mixture of the two estimates,
w·(1 − w)·(history − new)² for a history weight w: a lag or a smear that the gate lets
through widens σ where it happens.

The expected spread of the disagreement is the combined σ or, where smaller, the combined
frame-to-frame noise. σ measures the error against the truth, and consecutive frames share
most of it, so a still pixel moves far less than σ between frames: a gate on a wide σ alone
(a monocular σ) would hold back a person walking at the camera. The noise is measured on
every frame: a robust scale of the relative disagreement over the image, times the depth,
taken for the history and the new frame alike (an upper bound: the history is the steadier
of the two). While most of the image is still, it stays that of the still part; when most
of the image moves, it grows and the combined σ decides.

Aligning the history (`align_history`, for depth whose scale is measured on every frame: a
sensor's raw depth, a support plane): before the gate, the history
is brought to the new frame by the affine map of depth, d ↦ a·d + b, that fits the two
best (least squares over a subsample of the pixels, with outliers trimmed). A moving camera
changes the depth of the whole image at once: moving ahead by t changes a fronto-parallel
surface by −t and scales a plane by a ratio, and each pixel alone would stay inside its gate
and lag. Fitted on thousands of pixels, the map removes that common change at almost no cost
in noise; a person walking in a still scene is a minority the trimming leaves out. It is
off for a monocular model's learned scale: there a change of the whole image's depth is
mostly the model's own per-image scale jitter, which the filter is there to smooth, and from
the depth alone the two look the same; such frames are filtered only where the camera's
motion is known (`for_frame`).

Carrying the history with the camera (`motion`, where the camera's motion between frames is
known: a robot's odometry, or a still camera seen in the images): before anything else,
the history is forward-warped into the new view by its own depth, the intrinsics and the
motion, so that each pixel's history is the same surface point seen from the new pose.
Then a camera closing in, turning or sliding no longer looks like the scene changing, for a
monocular model too: what is left between history and new frame is noise and the model's
own jitter, which the filter is there to smooth. Pixels that nothing lands on (newly
uncovered, or between splats) restart.

The per-pixel work is one compiled pass (numba, `temporal_kernels`) over the image; only the
image-wide statistics (noise, alignment) are taken in numpy, on a subsample.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from depth_core.geometry import Intrinsics
from depth_core.runtime.motion import MotionSource

_MAD_TO_SIGMA = 1.4826  # median(|x|) of a zero-mean normal, in its standard deviations
_SAMPLES_PER_SIDE = 60  # pixels per image side sampled for image-wide statistics
_MIN_FIT_PIXELS = 20  # sampled pixels the history's alignment needs
_MIN_FIT_RELATIVE_SPREAD = 0.05  # std / mean of the history's depths an affine fit needs


def _kernels():
    """The compiled per-pixel kernels (`temporal_kernels`), imported on first use: numba and
    its compiler cost tens of MB, which a node whose filter stays off never loads."""
    from depth_core.runtime import temporal_kernels

    return temporal_kernels


@dataclass(frozen=True)
class TemporalSettings:
    strength: float = 0.85  # largest weight of the history: at most 1 / (1 − strength) frames
    # The same while the camera moves and its motion is unknown (the history not carried): a
    # moving view slides neighbours' depth into a pixel's history, so it is trusted less.
    moving_strength: float = 0.7
    motion_sigmas: float = 2.5  # disagreement (in expected spreads) beyond which a pixel restarts
    max_gap_s: float = 0.5  # a larger gap between stamps (or one backwards) resets the image
    align_history: bool = False  # bring the history to each frame by an affine map first
    # Without odometry, take a frame whose image shows a still camera as not moved
    # (`motion.StillCamera`).
    detect_still: bool = True

    def __post_init__(self):
        for name in ("strength", "moving_strength"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.motion_sigmas <= 0 or self.max_gap_s <= 0:
            raise ValueError("motion_sigmas and max_gap_s must be > 0")


# Scale sources (`DepthResult.scale_source`) measured on every frame: a sensor's raw depth, a
# support plane. Their depth is metric frame by frame, so the filter aligns its history to it.
MEASURED_SCALE_SOURCES = ("raw", "plane")


def for_frame(
    settings: TemporalSettings, scale_source: str, motion_known: bool
) -> TemporalSettings | None:
    """`settings` as the nodes apply them to a frame whose scale came from `scale_source`:
    `align_history` on where that scale is measured on every frame. None (the frame passes
    unfiltered and the history is dropped) for a learned scale while the camera's motion is
    unknown: from the depth alone, a camera closing in looks like the model's own per-image
    scale jitter, and the filter would follow it late."""
    measured = scale_source in MEASURED_SCALE_SOURCES
    if not (measured or motion_known):
        return None
    return replace(settings, align_history=measured)


@dataclass(frozen=True)
class TemporalStats:
    held_share: float  # of the valid pixels, those fused with their history
    reset: bool  # the whole image restarted (first frame, stamp jump, new size)
    # The history's alignment to this frame: depth ↦ scale · depth + offset_m.
    scale: float = 1.0
    offset_m: float = 0.0


@dataclass(frozen=True)
class CameraMotion:
    """How the camera moved since the previous frame: `new_from_previous` (4x4) takes a point
    in the previous camera's optical frame to the new one's (x right, y down, z forward,
    metres); `intrinsics` are the camera's, at any resolution with the depth's field of view."""

    new_from_previous: np.ndarray
    intrinsics: Intrinsics


class TemporalFilter:
    """Call `update` with each frame in stamp order; it returns the filtered depth and σ."""

    def __init__(self, settings: TemporalSettings | None = None):
        self.settings = settings or TemporalSettings()
        self.resets = 0
        # The history: depth, σ and frame count per pixel (count 0: none).
        self._history: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._stamp: float | None = None
        self._warped: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # warp target

    def reset(self) -> None:
        self._history = None
        self._stamp = None

    def update(
        self,
        depth: np.ndarray,
        sigma: np.ndarray,
        stamp: float,
        motion: CameraMotion | None = None,
    ) -> tuple[np.ndarray, np.ndarray, TemporalStats]:
        """depth, σ: HxW metres (0/NaN depth = no estimate); stamp: seconds; motion: the
        camera's since the previous frame, when known (the history is carried with it). The
        returned arrays are new; the filter keeps no reference to them."""
        s = self.settings
        depth = np.ascontiguousarray(depth, np.float32)
        sigma = np.ascontiguousarray(sigma, np.float32)
        if sigma.shape != depth.shape:
            raise ValueError(f"σ is {sigma.shape}, depth {depth.shape}")
        gap_ok = self._stamp is not None and 0.0 <= stamp - self._stamp <= s.max_gap_s
        self._stamp = stamp
        history = self._history
        resized = history is None or history[0].shape != depth.shape
        if resized or not gap_ok:
            if resized:  # kept from frame to frame: fresh arrays cost more in page faults
                history = self._history = tuple(np.empty(depth.shape, np.float32) for _ in range(3))
            _kernels().restart(depth.ravel(), sigma.ravel(), *(h.ravel() for h in history))
            self.resets += 1
            return depth.copy(), sigma.copy(), TemporalStats(0.0, True)
        if motion is not None:
            history = self._carry(history, motion)
        history_depth, history_sigma, count = history
        sampled_depth, sampled_history, sampled_sigma, sampled_count = _subsample(
            depth, history_depth, sigma, count
        )
        both = (  # sampled pixels with a history and a new estimate
            (sampled_depth > 0)
            & (sampled_depth < np.inf)
            & np.isfinite(sampled_sigma)
            & (sampled_count > 0)
        )
        history_sampled, new_sampled = sampled_history[both], sampled_depth[both]
        scale, offset = 1.0, 0.0
        if s.align_history:
            scale, offset = _affine_fit(history_sampled, new_sampled)
        noise = np.inf
        if new_sampled.size:
            change = np.abs(new_sampled - (scale * history_sampled + offset))
            noise = _MAD_TO_SIGMA * float(np.median(change / new_sampled))
        out_depth, out_sigma = np.empty_like(depth), np.empty_like(sigma)
        held, valid = _kernels().fuse(
            depth.ravel(),
            sigma.ravel(),
            history_depth.ravel(),
            history_sigma.ravel(),
            count.ravel(),
            np.float32(scale),
            np.float32(offset),
            np.float32(np.sqrt(2.0) * noise),
            np.float32(s.motion_sigmas),
            np.float32(s.strength),
            out_depth.ravel(),
            out_sigma.ravel(),
        )
        return out_depth, out_sigma, TemporalStats(held / max(valid, 1), False, scale, offset)

    def _carry(
        self, history: tuple[np.ndarray, np.ndarray, np.ndarray], motion: CameraMotion
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The history warped into the new view (the same arrays for a still camera); it
        becomes the filter's history, the old arrays the next warp's target."""
        transform = np.asarray(motion.new_from_previous, np.float64)
        if transform.shape != (4, 4) or not np.all(np.isfinite(transform)):
            raise ValueError(f"motion must be a finite 4x4 transform, got {transform.shape}")
        if np.array_equal(transform, np.eye(4)):  # a still camera: every pixel stays put
            return history
        height, width = history[0].shape
        k = motion.intrinsics
        if (k.width, k.height) != (width, height):
            k = k.resized(width, height)
        target = self._warped
        if target is None or target[0].shape != history[0].shape:
            target = tuple(np.empty_like(h) for h in history)
        _kernels().warp(
            *history,
            np.ascontiguousarray(transform[:3, :3], np.float32),
            np.ascontiguousarray(transform[:3, 3], np.float32),
            np.float32(k.fx),
            np.float32(k.fy),
            np.float32(k.cx),
            np.float32(k.cy),
            *target,
        )
        self._warped, self._history = history, target
        return target


def _subsample(*images: np.ndarray) -> list[np.ndarray]:
    """Each image on a regular subsample of about `_SAMPLES_PER_SIDE` pixels per side:
    image-wide statistics at a small cost."""
    step = max(1, min(images[0].shape) // _SAMPLES_PER_SIDE)
    return [image[::step, ::step] for image in images]


def _affine_fit(history: np.ndarray, depth: np.ndarray) -> tuple[float, float]:
    """(a, b) of depth ≈ a·history + b over paired samples: least squares, refitted twice
    without the pixels whose relative residual is beyond 3 robust standard deviations. A
    ratio alone (b = 0) where the history's depths are all alike, and (1, 0) with too few
    pixels."""
    x, y = history.astype(np.float64), depth.astype(np.float64)
    if x.size < _MIN_FIT_PIXELS:
        return 1.0, 0.0
    kept = np.ones_like(x)  # 1 where the pixel takes part in the fit
    for fit in range(3):
        n, sx, sy, sxx, sxy = kept.sum(), kept @ x, kept @ y, kept @ (x * x), kept @ (x * y)
        spread = n * sxx - sx * sx  # n² times the variance of x
        # Over a narrow range of depths (a wall facing the camera) the slope would follow the
        # noise rather than the scene: a ratio alone is the better fit there.
        if spread <= (_MIN_FIT_RELATIVE_SPREAD * sx) ** 2:
            a, b = sy / sx, 0.0
        else:
            a = (n * sxy - sx * sy) / spread
            b = (sy - a * sx) / n
        if fit == 2:
            break
        residual = np.abs(y - a * x - b) / y
        trimmed = (residual <= 3 * _MAD_TO_SIGMA * np.median(residual)).astype(np.float64)
        if trimmed.sum() < _MIN_FIT_PIXELS:
            break
        kept = trimmed
    a, b = float(a), float(b)
    return (a, b) if a > 0 else (1.0, 0.0)  # not a NaN or a flipped depth order


WAITING_FOR_MOTION = "waiting for camera motion (odometry, or a still camera)"


class TemporalStage:
    """The filter as a node runs it: switched on and off and re-tuned while running. New
    settings keep the history; switching off drops it, so switching on starts afresh."""

    def __init__(self, warm: bool = False):
        """warm: compile (or load) the kernels now, not on the first frame filtered; left
        cold, a stage that is never switched on does not load them (tens of MB)."""
        self._filter: TemporalFilter | None = None
        self._stats = TemporalStats(0.0, True)
        self._carried = False  # whether the last frame's history was carried by the motion
        self._state = "off"
        self._motion = MotionSource()
        if warm:
            filter_ = TemporalFilter()
            tiny = np.ones((2, 2), np.float32)
            for stamp in (0.0, 0.01):
                filter_.update(tiny, tiny, stamp)

    def filter_frame(
        self,
        result,
        rgb: np.ndarray,
        intrinsics: Intrinsics,
        stamp: float,
        settings: TemporalSettings | None,
        odometry: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """A node's frame (a `DepthResult` and its RGB) through the stage, as `apply` does,
        told the camera's motion as the nodes know it: `odometry`'s (new_from_previous, 4x4)
        where given, else none for a still camera seen in `rgb` (`settings.detect_still`);
        the settings for the frame's scale source (`for_frame`). None settings: off."""
        if settings is None:
            self._motion = MotionSource()  # switched on again, it starts afresh
            return self.apply(result.depth, result.sigma, stamp, None)
        self._motion.detect_still = settings.detect_still
        motion = self._motion.motion(rgb, odometry)
        frame_settings = for_frame(settings, result.scale_source, motion is not None)
        if frame_settings is not None and motion is None:
            strength = min(settings.strength, settings.moving_strength)
            frame_settings = replace(frame_settings, strength=strength)
        camera = None if motion is None else CameraMotion(motion, intrinsics)
        depth, sigma = self.apply(result.depth, result.sigma, stamp, frame_settings, camera)
        if frame_settings is None:
            self._state = WAITING_FOR_MOTION
        return depth, sigma

    def apply(
        self,
        depth: np.ndarray,
        sigma: np.ndarray,
        stamp: float,
        settings: TemporalSettings | None,
        motion: CameraMotion | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The filtered (depth, σ), or the input unchanged when `settings` is None (off);
        `motion`: the camera's since the previous frame applied, when known."""
        if settings is None:
            self._filter = None
            self._state = "off"
            return depth, sigma
        if self._filter is None:
            self._filter = TemporalFilter(settings)
        self._filter.settings = settings
        depth, sigma, self._stats = self._filter.update(depth, sigma, stamp, motion)
        self._carried = motion is not None and not self._stats.reset
        self._state = "filtering"
        return depth, sigma

    def diagnostics(self) -> dict[str, str]:
        """The stage's state (off, filtering, or waiting for the camera's motion) and, while
        filtering, the share of pixels held by the last frame, whether its history was
        carried with the camera's motion, its alignment (scale 1 and offset 0 when not
        aligning) and resets so far."""
        running = self._filter  # another thread may switch it off meanwhile
        values = {"temporal_state": self._state}
        if running is None:
            return values
        return {
            **values,
            "temporal_held_share": f"{self._stats.held_share:.3f}",
            "temporal_carried": str(self._carried).lower(),
            "temporal_scale": f"{self._stats.scale:.4f}",
            "temporal_offset_m": f"{self._stats.offset_m:.4f}",
            "temporal_resets": str(running.resets),
        }
