"""Raw sensor depth simulated from ground truth (real-world depth recovery paper).

Each step is a seeded function of its own, composable by hand; `simulate_raw_depth` chains
them in the order a real sensor produces them:

1. elastic misalignment: a smooth random displacement field (calibration and parallax error
   between the depth sensor and the RGB camera) warps the depth, nearest-neighbour so no
   depth is invented;
2. flying pixels (mixed foreground/background returns) and edge-following holes (no return)
   at depth discontinuities;
3. low-resolution capture (e.g. a 256x192 ToF), optionally upsampled back;
4. depth-dependent noise and quantisation (millimetres for ToF, disparity steps for stereo);
5. random rectangular holes and the sensor's range limit.

The misalignment mask (pixels moved by more than τ) is what the structure-uncertainty module
learns. 0 marks a missing value throughout.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import cv2
import numpy as np

from depth_core.processing import zero_missing


@dataclass
class RawDepthConfig:
    sensor: str = "tof"  # "tof" or "stereo"
    misalignment_px: float = 2.0  # RMS displacement of the elastic field, pixels
    smoothness_px: float = 16.0  # Gaussian σ that smooths the field: larger = smoother
    misalignment_tau_px: float = 1.0  # pixels moved further than τ are "misaligned"
    hole_fraction: float = 0.03  # image share covered by random rectangular holes
    edge_hole_probability: float = 0.5  # share of discontinuity pixels without a return
    flying_pixel_probability: float = 0.2  # share of discontinuity pixels that mix depths
    discontinuity: float = 0.05  # relative depth jump that counts as a discontinuity
    relative_noise: float = 0.01  # ToF: σ = relative_noise · depth
    disparity_noise_px: float = 0.1  # stereo: σ of the disparity
    disparity_step_px: float = 0.25  # stereo: sub-pixel quantisation step
    quantum_m: float = 0.001  # ToF: output resolution (mm)
    focal_px: float = 500.0  # stereo: focal length at the output size
    baseline_m: float = 0.05  # stereo baseline
    capture_size: tuple[int, int] | None = None  # (height, width) of the sensor, None = same
    upsample: bool = True  # nearest-upsample a low-resolution capture back to full size
    max_range_m: float = 6.0

    def __post_init__(self):
        if self.sensor not in ("tof", "stereo"):
            raise ValueError(f"sensor must be 'tof' or 'stereo', got {self.sensor!r}")


@dataclass
class SimulatedRaw:
    raw: np.ndarray  # float32 metres, 0 = missing
    misaligned: np.ndarray  # bool, at the ground truth's size: moved further than τ
    displacement: np.ndarray  # HxWx2 (dx, dy) pixels: raw(y, x) = gt(y + dy, x + dx)
    holes: np.ndarray  # bool: values removed by the simulation (not the GT's own holes)


def elastic_displacement(
    shape: tuple[int, int], rng: np.random.Generator, rms_px: float, smoothness_px: float
) -> np.ndarray:
    """Smoothed white noise, scaled so that the RMS displacement length is `rms_px`."""
    if rms_px <= 0:
        return np.zeros((*shape, 2), dtype=np.float32)
    field = rng.standard_normal((*shape, 2)).astype(np.float32)
    field = cv2.GaussianBlur(field, (0, 0), smoothness_px, borderType=cv2.BORDER_REFLECT)
    rms = np.sqrt(np.mean(np.sum(field * field, axis=2)))
    return field * np.float32(rms_px / max(rms, 1e-12))


def warp_nearest(depth: np.ndarray, displacement: np.ndarray) -> np.ndarray:
    """out(y, x) = depth(y + dy, x + dx), nearest neighbour; 0 outside the image."""
    height, width = depth.shape
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    return cv2.remap(
        depth,
        x + displacement[..., 0],
        y + displacement[..., 1],
        cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


def discontinuities(depth: np.ndarray, relative_jump: float) -> np.ndarray:
    """Pixels next to a relative depth jump larger than `relative_jump` (either side)."""
    valid = depth > 0
    lo = cv2.erode(np.where(valid, depth, np.inf).astype(np.float32), np.ones((3, 3), np.uint8))
    hi = cv2.dilate(depth, np.ones((3, 3), np.uint8))
    with np.errstate(invalid="ignore", divide="ignore"):
        return valid & np.isfinite(lo) & ((hi - lo) / lo > relative_jump)


def flying_pixels_and_edge_holes(
    depth: np.ndarray, rng: np.random.Generator, config: RawDepthConfig
) -> tuple[np.ndarray, np.ndarray]:
    """(depth with mixed returns at edges, edge holes mask)."""
    edges = discontinuities(depth, config.discontinuity)
    draw = rng.random(depth.shape)
    holes = edges & (draw < config.edge_hole_probability)
    flying = (
        edges & ~holes & (draw < config.edge_hole_probability + config.flying_pixel_probability)
    )
    out = depth.copy()
    if flying.any():
        kernel = np.ones((3, 3), np.uint8)
        near = cv2.erode(np.where(depth > 0, depth, np.inf).astype(np.float32), kernel)
        far = cv2.dilate(depth, kernel)
        mix = rng.random(int(flying.sum())).astype(np.float32)
        out[flying] = mix * near[flying] + (1 - mix) * far[flying]
    out[holes] = 0
    return out, holes


def rectangular_holes(
    shape: tuple[int, int], rng: np.random.Generator, fraction: float
) -> np.ndarray:
    """Random rectangles (each up to 1/8 of the image side) until `fraction` is covered."""
    height, width = shape
    mask = np.zeros(shape, dtype=bool)
    target = int(round(fraction * height * width))
    covered = 0
    while covered < target:
        h = int(rng.integers(2, max(3, height // 8)))
        w = int(rng.integers(2, max(3, width // 8)))
        y, x = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
        block = mask[y : y + h, x : x + w]
        covered += int((~block).sum())
        block[:] = True
    return mask


def sensor_noise(depth: np.ndarray, rng: np.random.Generator, config: RawDepthConfig) -> np.ndarray:
    """Depth-dependent noise then quantisation. ToF: σ ∝ depth, mm steps. Stereo: noise and
    sub-pixel steps in disparity f·B/z, so depth error grows with z²."""
    valid = depth > 0
    noise = rng.standard_normal(depth.shape).astype(np.float32)
    if config.sensor == "tof":
        noisy = depth * (1 + config.relative_noise * noise)
        if config.quantum_m > 0:
            noisy = np.round(noisy / config.quantum_m) * config.quantum_m
    else:
        fb = config.focal_px * config.baseline_m
        with np.errstate(divide="ignore"):
            disparity = np.where(valid, fb / depth, 0) + config.disparity_noise_px * noise
        if config.disparity_step_px > 0:
            disparity = np.round(disparity / config.disparity_step_px) * config.disparity_step_px
        with np.errstate(divide="ignore"):
            noisy = np.where(disparity > 0, fb / disparity, 0)
    return np.where(valid & (noisy > 0), noisy, 0).astype(np.float32)


def simulate_raw_depth(
    depth: np.ndarray, rng: np.random.Generator, config: RawDepthConfig | None = None
) -> SimulatedRaw:
    """Ground truth (metres, 0/NaN = unknown) -> simulated raw depth and its labels."""
    config = config or RawDepthConfig()
    gt = zero_missing(depth)
    shape = gt.shape
    displacement = elastic_displacement(shape, rng, config.misalignment_px, config.smoothness_px)
    misaligned = np.hypot(displacement[..., 0], displacement[..., 1]) > config.misalignment_tau_px
    raw = warp_nearest(gt, displacement)
    raw, holes = flying_pixels_and_edge_holes(raw, rng, config)
    if config.capture_size is not None:
        capture_h, capture_w = config.capture_size
        raw = cv2.resize(raw, (capture_w, capture_h), interpolation=cv2.INTER_NEAREST)
        holes = cv2.resize(
            holes.astype(np.uint8), (capture_w, capture_h), interpolation=cv2.INTER_NEAREST
        ).astype(bool)
    raw = sensor_noise(raw, rng, config)
    dropped = rectangular_holes(raw.shape, rng, config.hole_fraction)
    out_of_range = raw > config.max_range_m
    holes |= (dropped | out_of_range) & (raw > 0)
    raw[dropped | out_of_range] = 0
    if config.capture_size is not None and config.upsample:
        raw = cv2.resize(raw, shape[::-1], interpolation=cv2.INTER_NEAREST)
        holes = cv2.resize(
            holes.astype(np.uint8), shape[::-1], interpolation=cv2.INTER_NEAREST
        ).astype(bool)
    return SimulatedRaw(raw, misaligned, displacement, holes)


def simulate_tof(depth: np.ndarray, rng: np.random.Generator, downsample: int = 4) -> np.ndarray:
    """A registered, lower-resolution ToF frame (1/`downsample` of the size, same field of
    view) with the default artefacts: what the recovery node receives."""
    height, width = depth.shape
    config = RawDepthConfig(
        capture_size=(height // downsample, width // downsample), upsample=False
    )
    return simulate_raw_depth(depth, rng, config).raw


# The recovery benchmark's hole protocol (depth_core.recovery_benchmark), fixed.
HOLE_RECTANGLES = 6
HOLE_SIDE_RANGE = (0.05, 0.15)  # each side, as a share of the image side
HOLE_EDGE_GRADIENT_M = 0.05  # |∇d| per pixel that marks a depth discontinuity
HOLE_EDGE_DILATION = 5  # the band: discontinuities dilated by a 5x5 square


def _rectangles(
    shape: tuple[int, int], rng: np.random.Generator, count: int, side_range: tuple[float, float]
) -> np.ndarray:
    height, width = shape
    mask = np.zeros(shape, bool)
    for _ in range(count):
        h = max(1, round(rng.uniform(*side_range) * height))
        w = max(1, round(rng.uniform(*side_range) * width))
        top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
        mask[top : top + h, left : left + w] = True
    return mask


def _dilated(mask: np.ndarray, size: int) -> np.ndarray:
    return cv2.dilate(mask.astype(np.uint8), np.ones((size, size), np.uint8)).astype(bool)


def depth_discontinuities(
    depth: np.ndarray, gradient_m: float = HOLE_EDGE_GRADIENT_M
) -> np.ndarray:
    """Pixels where |∇d| (forward differences between valid neighbours, metres per pixel)
    exceeds `gradient_m`."""
    valid = depth > 0
    dx = np.zeros_like(depth)
    dy = np.zeros_like(depth)
    both_x = valid[:, 1:] & valid[:, :-1]
    both_y = valid[1:] & valid[:-1]
    dx[:, :-1] = np.where(both_x, depth[:, 1:] - depth[:, :-1], 0)
    dy[:-1] = np.where(both_y, depth[1:] - depth[:-1], 0)
    return valid & (np.hypot(dx, dy) > gradient_m)


def frame_seed(name: str) -> int:
    """A frame's fixed seed: from its name, so it does not depend on the order of a set."""
    return zlib.crc32(name.encode())


def benchmark_holes(depth: np.ndarray, seed: int) -> np.ndarray:
    """The removed pixels of the hole protocol (bool, HxW): HOLE_RECTANGLES rectangles, each
    side drawn uniformly within HOLE_SIDE_RANGE of the image side and placed uniformly, plus
    a band along depth discontinuities dilated HOLE_EDGE_DILATION x HOLE_EDGE_DILATION;
    only where the sensor's depth is valid."""
    rng = np.random.default_rng(seed)
    removed = _rectangles(depth.shape, rng, HOLE_RECTANGLES, HOLE_SIDE_RANGE)
    band = _dilated(depth_discontinuities(depth), HOLE_EDGE_DILATION)
    return (removed | band) & (depth > 0)


def training_holes(depth: np.ndarray, rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Holes a real sensor leaves, drawn at random for self-supervised completion (bool,
    HxW, only where `depth` is valid): rectangles; bands along depth edges; dark or
    saturated (specular) regions of `rgb`; far-range dropout; and the blocks of a
    low-resolution capture. Each kind appears in a random share of frames."""
    height, width = depth.shape
    valid = depth > 0
    removed = _rectangles(depth.shape, rng, int(rng.integers(1, 9)), (0.03, 0.2))
    if rng.random() < 0.7:
        removed |= _dilated(depth_discontinuities(depth), int(rng.choice([1, 3, 5, 7])))
    if rng.random() < 0.5:
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        dark = int(rng.integers(10, 40))
        bright = int(rng.integers(235, 255))
        removed |= _dilated((grey < dark) | (grey > bright), 3)
    if rng.random() < 0.3 and valid.any():
        removed |= depth > np.quantile(depth[valid], rng.uniform(0.7, 0.97))
    if rng.random() < 0.2:
        # A capture at a quarter or a sixth of the size misses whole blocks at once.
        factor = int(rng.choice([4, 6]))
        blocks = rng.random((height // factor + 1, width // factor + 1)) < 0.15
        removed |= np.kron(blocks, np.ones((factor, factor), bool))[:height, :width]
    return removed & valid
