"""How steady the depth is over time, with the temporal filter on and off, through the runtime
the nodes use (`DepthEstimator`, then `TemporalFilter` in stamp order, as the nodes apply it).

- static flicker: one real frame held still for a number of frames, each with fresh sensor
  noise (Gaussian, in grey levels), an exposure step every `exposure_period` frames and a
  JPEG round trip; the per-pixel temporal standard deviation over the mean, its median and
  90th percentile over the pixels;
- a moving camera (frames with true depth and poses; a recovery model gets the sensor depth
  with fresh noise as raw input): accuracy (AbsRel), σ honesty (safe2: d − 2σ ≤ truth) and
  temporal consistency, TAE: frame t's prediction carried into frame
  t+1 (its pixels moved by the true depth and poses, its depth by the prediction) against
  the prediction at t+1, AbsRel, both directions averaged;
- proximity state changes: a still frame held for a minute with fresh noise, one image zone,
  its warning threshold `margin_m` nearer than the zone's conservative distance on the clean
  frame; how often the zone's state changes (`depth_core.proximity`, default k, percentile,
  hysteresis);
- the filter's own time per frame: `TemporalFilter.update` on a still scene's published
  depth and σ brought to a given size, fresh noise per frame, on one core.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from depth_core.data.sample import DepthSample
from depth_core.metrics import depth_metrics, evaluation_mask
from depth_core.proximity import Zone, ZoneMask, ZoneState, zone_reading
from depth_core.runtime.motion import pose_matrix, relative_motion
from depth_core.runtime.temporal import (
    CameraMotion,
    TemporalFilter,
    TemporalSettings,
    TemporalStage,
    for_frame,
)

FRAME_PERIOD_S = 1 / 30


@dataclass(frozen=True)
class FlickerSettings:
    frames: int = 60
    noise_grey_levels: float = 2.0
    exposure_step: float = 0.0  # relative gain change every exposure_period frames
    exposure_period: int = 15
    jpeg_quality: int = 0  # 0: no JPEG round trip
    # Recovery models: the still frame's sensor depth as raw input, with this fresh relative
    # noise per frame (a ToF's 1%); invalid sensor pixels stay holes.
    raw_noise_relative: float = 0.01


def perturbed(
    rgb: np.ndarray, index: int, settings: FlickerSettings, rng: np.random.Generator
) -> np.ndarray:
    """Frame `index` of a still camera: the same image with this frame's noise, exposure and
    compression."""
    image = rgb.astype(np.float32)
    if settings.exposure_step and (index // settings.exposure_period) % 2:
        image = image * (1.0 + settings.exposure_step)
    image = image + rng.normal(0.0, settings.noise_grey_levels, image.shape)
    image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    if settings.jpeg_quality:
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, settings.jpeg_quality])
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if ok else image
    return image


def _sensor_raw(estimator, sample: DepthSample) -> np.ndarray | None:
    """The frame's sensor depth as raw input (holes where invalid), for models that take it."""
    if "raw_depth" not in estimator.metadata.inputs:
        return None
    return np.where(sample.valid, sample.depth, 0).astype(np.float32)


def _published(stage, temporal, result, rgb, intrinsics, index: int, odometry=None):
    """Frame `index`'s (depth, σ) as a node publishes them (`TemporalStage.filter_frame`; the
    filter off when `temporal` is None)."""
    stamp = index * FRAME_PERIOD_S
    return stage.filter_frame(result, rgb, intrinsics, stamp, temporal, odometry)


def _still_outputs(
    estimator, sample: DepthSample, settings, temporal, frames: int, motion_known: bool
):
    """(depth, σ) published for each frame of the still camera: fresh image noise (and fresh
    relative noise on the raw input), then the temporal filter when `temporal` is given, told
    by odometry that the camera is still when `motion_known`."""
    rng = np.random.default_rng(0)
    stage = TemporalStage()
    sensor = _sensor_raw(estimator, sample)
    for index in range(frames):
        raw = None
        if sensor is not None:
            noise = rng.normal(0.0, settings.raw_noise_relative, sensor.shape)
            raw = (sensor * (1.0 + noise)).astype(np.float32)
        rgb = perturbed(sample.rgb, index, settings, rng)
        result = estimator.predict(rgb, raw, sample.intrinsics, sample.depth.shape)
        odometry = np.eye(4) if motion_known and index else None
        yield _published(stage, temporal, result, rgb, sample.intrinsics, index, odometry)


def static_flicker(
    estimator,
    sample: DepthSample,
    settings: FlickerSettings,
    temporal: TemporalSettings | None,
    motion_known: bool = False,
) -> dict[str, float]:
    """Median and p90 over the valid pixels of the temporal std / mean of the published
    depth, for one still frame (`temporal` None: the filter off; `motion_known`: the filter
    is told the camera is still). A recovery model also gets the frame's sensor depth with
    fresh noise (`raw_noise_relative`)."""
    outputs = _still_outputs(estimator, sample, settings, temporal, settings.frames, motion_known)
    depths = [depth for depth, _ in outputs]
    stack = np.stack(depths[settings.frames // 4 :])  # after the filter has settled
    ratio = stack.std(axis=0) / np.maximum(stack.mean(axis=0), 1e-6)
    return {"median": float(np.median(ratio)), "p90": float(np.percentile(ratio, 90))}


def _carried(
    depth_t: np.ndarray,
    truth_t: np.ndarray,
    pose_t: np.ndarray,
    pose_next: np.ndarray,
    intrinsics,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixels of frame t moved into frame t+1 by the true depth and the poses, and frame t's
    predicted depth carried along: (rows, columns in t+1, carried depth)."""
    rows, columns = np.nonzero((truth_t > 0) & (depth_t > 0))
    next_from_t = relative_motion(pose_t, pose_next)

    def moved(z: np.ndarray) -> np.ndarray:
        points = intrinsics.back_project(rows, columns, z)
        return next_from_t[:3, :3] @ points + next_from_t[:3, 3:4]

    keep, next_rows, next_columns = intrinsics.project(moved(truth_t[rows, columns]), 1e-3)
    return next_rows, next_columns, moved(depth_t[rows, columns])[2, keep]


def temporal_abs_rel(depths: list[np.ndarray], samples: Sequence[DepthSample]) -> float:
    """TAE: mean over consecutive pairs, both directions, of the AbsRel between the earlier
    prediction carried into the later frame and the later prediction."""
    errors = []
    for t in range(len(samples) - 1):
        for a, b in ((t, t + 1), (t + 1, t)):
            rows, columns, carried = _carried(
                depths[a], samples[a].depth, samples[a].pose, samples[b].pose, samples[a].intrinsics
            )
            target = depths[b][rows, columns]
            keep = target > 0
            if keep.any():
                errors.append(float(np.mean(np.abs(carried[keep] - target[keep]) / target[keep])))
    return float(np.mean(errors))


def moving_camera(
    estimator,
    samples: Sequence[DepthSample],
    temporal: TemporalSettings | None,
    raw_noise_relative: float = FlickerSettings.raw_noise_relative,
    motion_known: bool = False,
) -> dict[str, float]:
    """AbsRel, the median of (d − truth) / truth, safe2 and TAE over a posed sequence, the
    filter on (settings) or off (None); with `motion_known`, the filter is told the camera's
    motion from the true poses, as odometry would tell it (otherwise the nodes' still-camera
    test on the images decides). A recovery model gets each frame's sensor depth with fresh
    relative noise as raw input."""
    rng = np.random.default_rng(0)
    stage = TemporalStage()
    depths, abs_rel, errors, safe, count = [], [], [], 0, 0
    for index, sample in enumerate(samples):
        raw = _sensor_raw(estimator, sample)
        if raw is not None:
            raw = (raw * (1.0 + rng.normal(0.0, raw_noise_relative, raw.shape))).astype(np.float32)
        result = estimator.predict(sample.rgb, raw, sample.intrinsics, sample.depth.shape)
        odometry = None
        if motion_known and index:
            odometry = relative_motion(samples[index - 1].pose, sample.pose)
        depth, sigma = _published(
            stage, temporal, result, sample.rgb, sample.intrinsics, index, odometry
        )
        depths.append(depth)
        mask = evaluation_mask(sample.depth, sample.valid)
        abs_rel.append(depth_metrics(depth, sample.depth, sample.valid)["abs_rel"])
        errors.append(depth[mask] / sample.depth[mask] - 1)
        safe += int(np.sum(depth[mask] - 2 * sigma[mask] <= sample.depth[mask]))
        count += int(mask.sum())
    return {
        "abs_rel": float(np.mean(abs_rel)),
        "median_error": float(np.median(np.concatenate(errors))),
        "safe2": safe / max(count, 1),
        "tae": temporal_abs_rel(depths, samples),
    }


def proximity_state_changes(
    estimator,
    sample: DepthSample,
    temporal: TemporalSettings | None,
    frames: int = 1800,
    margin_m: float = 0.05,
    noise: FlickerSettings | None = None,
    motion_known: bool = False,
) -> dict[str, float]:
    """State changes of the centre image zone (the middle half of the image) over `frames`
    still frames (`motion_known`: the filter is told the camera is still), its warning
    threshold `margin_m` nearer than the clean frame's conservative distance (the stop
    threshold at half of it). ValueError when that distance leaves no room for a threshold
    (σ so wide that d − kσ ≤ margin)."""
    noise = noise or FlickerSettings()
    mask = ZoneMask(Zone("centre", "image", (0.25, 0.25, 0.75, 0.75)), sample.intrinsics)
    raw = _sensor_raw(estimator, sample)
    clean = estimator.predict(sample.rgb, raw, sample.intrinsics, sample.depth.shape)
    warning_m = zone_reading(clean.depth, clean.sigma, mask).conservative - margin_m
    if not warning_m > 0:
        raise ValueError(
            f"{sample.name}: the zone's conservative distance on the clean frame is "
            f"{warning_m + margin_m:.3f} m, no room for a threshold {margin_m} m nearer"
        )
    state = ZoneState(warning_m, warning_m / 2)
    changes, previous = 0, None
    for depth, sigma in _still_outputs(estimator, sample, noise, temporal, frames, motion_known):
        current = state.update(zone_reading(depth, sigma, mask))
        changes += previous is not None and current != previous
        previous = current
    return {"changes": int(changes), "warning_m": float(warning_m)}


def filter_time_ms(
    estimator,
    sample: DepthSample,
    temporal: TemporalSettings,
    size: tuple[int, int] = (640, 480),
    calls: int = 100,
    warmup: int = 5,
    motion_known: bool = False,
) -> dict[str, float]:
    """p50 and p99 of `TemporalFilter.update` (ms) on the still frame's published depth and
    σ resized to `size` (width, height), with 2% fresh relative noise per frame, this process
    held to one core and OpenCV to one thread while it runs; with `motion_known`, the history
    is carried with a camera moving 1 cm ahead and turning 0.2° per frame (a still camera's
    identity costs nothing: the history stays put)."""
    result = estimator.predict(sample.rgb, _sensor_raw(estimator, sample), sample.intrinsics)
    depth = cv2.resize(result.depth, size, interpolation=cv2.INTER_NEAREST)
    sigma = cv2.resize(result.sigma, size, interpolation=cv2.INTER_NEAREST)
    rng = np.random.default_rng(0)
    frames = [(depth * (1 + rng.normal(0, 0.02, depth.shape))).astype(np.float32) for _ in range(8)]
    affinity, threads = os.sched_getaffinity(0), cv2.getNumThreads()
    os.sched_setaffinity(0, {min(affinity)})
    cv2.setNumThreads(1)
    try:
        settings = for_frame(temporal, result.scale_source, motion_known=True)
        filter_, times = TemporalFilter(settings), []
        moving = None
        if motion_known:  # 1 cm ahead (the scene 1 cm nearer), turning 0.2° about y
            half_turn = np.deg2rad(0.2) / 2
            step = pose_matrix((0.0, 0.0, -0.01), (0.0, np.sin(half_turn), 0.0, np.cos(half_turn)))
            moving = CameraMotion(step, sample.intrinsics)
        for index in range(warmup + calls):
            start = time.perf_counter()
            filter_.update(frames[index % len(frames)], sigma, index * FRAME_PERIOD_S, moving)
            times.append(time.perf_counter() - start)
    finally:
        os.sched_setaffinity(0, affinity)
        cv2.setNumThreads(threads)
    measured = np.array(times[warmup:]) * 1000
    return {"p50": float(np.median(measured)), "p99": float(np.percentile(measured, 99))}


def approaching_camera(
    estimator,
    sample: DepthSample,
    temporal: TemporalSettings | None,
    step: float = 0.017,
    frames: int = 60,
    noise: FlickerSettings | None = None,
) -> dict[str, float]:
    """A recovery model fed a camera closing in on a still scene: frame i's raw input is the
    sensor depth times (1 − step)^i with fresh relative noise (the truth: the same without
    noise). Over the frames after the first quarter: the median of (published − truth) /
    truth on the truth's valid pixels, and safe2 (d − 2σ ≤ truth)."""
    noise = noise or FlickerSettings()
    sensor = _sensor_raw(estimator, sample)
    if sensor is None:
        raise ValueError("approaching_camera needs a model that takes raw depth")
    rng = np.random.default_rng(0)
    stage = TemporalStage()
    errors, safe, count = [], 0, 0
    for index in range(frames):
        truth = sensor * np.float32((1.0 - step) ** index)
        raw = (truth * (1.0 + rng.normal(0.0, noise.raw_noise_relative, truth.shape))).astype(
            np.float32
        )
        rgb = perturbed(sample.rgb, index, noise, rng)
        result = estimator.predict(rgb, raw, sample.intrinsics, sample.depth.shape)
        depth, sigma = _published(stage, temporal, result, rgb, sample.intrinsics, index)
        if index >= frames // 4:
            mask = evaluation_mask(truth, sample.valid)
            errors.append((depth[mask] - truth[mask]) / truth[mask])
            safe += int(np.sum(depth[mask] - 2 * sigma[mask] <= truth[mask]))
            count += int(mask.sum())
    return {"median_error": float(np.median(np.concatenate(errors))), "safe2": safe / max(count, 1)}
