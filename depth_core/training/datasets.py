"""Torch datasets over `DepthSample`s: generated scenes (with simulated raw depth) and any
loader's frames, resized to the network input and put in the canonical camera."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset

from depth_core.data.sample import DepthSample
from depth_core.data.scenes import scene_frame_seed, scene_frames
from depth_core.data.simulation import (
    RawDepthConfig,
    benchmark_holes,
    elastic_displacement,
    frame_seed,
    simulate_raw_depth,
    training_holes,
    warp_nearest,
)
from depth_core.models.recovery import misalignment_target
from depth_core.processing import focal_scale, preprocess_raw_depth, preprocess_rgb

MISALIGNED_RELATIVE_ERROR = 0.03


@dataclass
class SampleSpec:
    """How samples become tensors: network input size (height, width), the encoder's
    normalisation, the canonical focal length (None: depth stays in metres) and, for recovery
    models, the raw-depth simulation (None: use the sample's own raw depth)."""

    input_size: tuple[int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    canonical_focal_px: float | None = None
    raw: RawDepthConfig | None = None
    needs_raw: bool = False
    flip: bool = False  # random horizontal flips (training)
    crop: tuple[int, int] | None = None  # random (height, width) crops at the input scale
    # Random zoom (training): the frame is enlarged by up to this factor before the crop, and
    # its focal length with it, so the canonical-camera target follows (Metric3D).
    zoom_max: float = 1.0
    # Random sharpness (training): half the samples blurred (Gaussian σ up to `blur_max_px`
    # input pixels), half sharpened (unsharp mask, amount up to `sharpen_max`). Real cameras
    # differ in focus, motion blur and processing; without this a network can read the
    # sharpness of a whole frame as its scale.
    blur_max_px: float = 0.0
    sharpen_max: float = 0.0
    # Self-supervised completion on a real sensor's own depth (recovery): None, "training"
    # (random realistic holes and the raw simulation's elastic misalignment) or "benchmark"
    # (the recovery benchmark's fixed holes, for validation).
    holes: str | None = None


def to_tensors(sample: DepthSample, spec: SampleSpec, rng: np.random.Generator) -> dict:
    """One sample -> dict of CHW float tensors at the input size.

    depth is divided by focal_scale (f_input / f_canonical), so a network trained on it
    predicts canonical-camera depth that the runtime multiplies back (processing.focal_scale)."""
    height, width = spec.input_size
    zoom = rng.uniform(1.0, spec.zoom_max) if spec.zoom_max > 1.0 else 1.0
    zoomed = (round(height * zoom), round(width * zoom))
    if sample.rgb.shape[:2] != zoomed:
        sample = sample.resized(zoomed[1], zoomed[0])
    # The focal length at the size the network sees pixels at: the zoomed one.
    scale = focal_scale(sample.intrinsics, zoomed, spec.canonical_focal_px)
    item = {
        "rgb": torch.from_numpy(preprocess_rgb(sample.rgb, zoomed, spec.mean, spec.std)[0]),
        "depth": torch.from_numpy(sample.depth / np.float32(scale))[None],
        "valid": torch.from_numpy(sample.valid & (sample.depth > 0))[None],
        "focal_scale": torch.tensor(scale, dtype=torch.float32),
        "scale_invariant": torch.tensor(False),
    }
    if spec.needs_raw and spec.holes is not None:
        raw, misaligned, removed = _self_supervised_raw(sample, spec, rng)
        # The loss sees only what the input does not already hold: removed and moved pixels.
        item["valid"] = item["valid"] & torch.from_numpy(removed | misaligned)[None]
        item["raw_depth"] = torch.from_numpy(raw / np.float32(scale))[None]
        item["misaligned"] = torch.from_numpy(misaligned)[None]
    elif spec.needs_raw:
        if spec.raw is not None:
            simulated = simulate_raw_depth(sample.depth, rng, spec.raw)
            raw = simulated.raw
            # The structure label: raw pixels the simulation moved beyond τ *and* whose depth
            # the move changed (> 3%). A pixel shifted within a flat surface still measures
            # the right depth; flagging it would throw good raw depth away.
            gt = sample.depth
            with np.errstate(divide="ignore", invalid="ignore"):
                wrong = np.abs(raw - gt) > MISALIGNED_RELATIVE_ERROR * gt
            misaligned = simulated.misaligned & wrong & (raw > 0) & (gt > 0)
        elif sample.raw_depth is not None:
            # A real sensor: the recovery paper's structure label (models.recovery).
            raw = preprocess_raw_depth(sample.raw_depth, spec.input_size)[0, 0]
            gt = torch.from_numpy(sample.depth)[None, None]
            target, _ = misalignment_target(torch.from_numpy(raw)[None, None], gt, gt > 0)
            misaligned = target[0, 0].bool().numpy()
        else:
            raise ValueError(f"{sample.name}: a recovery model needs raw depth or a simulation")
        item["raw_depth"] = torch.from_numpy(raw.astype(np.float32) / np.float32(scale))[None]
        item["misaligned"] = torch.from_numpy(misaligned)[None]
    if spec.crop is not None or zoomed != (height, width):
        # A crop keeps the pixel scale, so the canonical focal length still holds; the
        # network is fully convolutional and sees full frames at inference.
        crop_h, crop_w = spec.crop or (height, width)
        top = int(rng.integers(0, zoomed[0] - crop_h + 1))
        left = int(rng.integers(0, zoomed[1] - crop_w + 1))
        item = {
            key: value[..., top : top + crop_h, left : left + crop_w] if value.ndim == 3 else value
            for key, value in item.items()
        }
    if spec.flip and rng.random() < 0.5:
        item = {key: value.flip(-1) if value.ndim == 3 else value for key, value in item.items()}
    if spec.blur_max_px > 0 or spec.sharpen_max > 0:
        # Drawn last, so that the draws above (crops, raw simulation) stay as they were.
        item["rgb"] = torch.from_numpy(
            jitter_sharpness(item["rgb"].numpy(), rng, spec.blur_max_px, spec.sharpen_max)
        )
    return item


def _self_supervised_raw(
    sample: DepthSample, spec: SampleSpec, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(raw input, misaligned, removed) made from the sensor's own depth: the target stays
    the sensor's measurement, so real frames teach completion without ground truth."""
    sensor = np.where(sample.valid, sample.depth, 0).astype(np.float32)
    if spec.holes == "benchmark":
        removed = benchmark_holes(sensor, frame_seed(sample.name))
        return np.where(removed, 0, sensor).astype(np.float32), np.zeros_like(removed), removed
    if spec.holes != "training":
        raise ValueError(f"holes must be 'training' or 'benchmark', got {spec.holes!r}")
    removed = training_holes(sensor, sample.rgb, rng)
    rms = spec.raw.misalignment_px if spec.raw is not None else 0.0
    smooth = spec.raw.smoothness_px if spec.raw is not None else 16.0
    raw = warp_nearest(
        np.where(removed, 0, sensor), elastic_displacement(sensor.shape, rng, rms, smooth)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        misaligned = (
            (raw > 0) & (sensor > 0) & (np.abs(raw - sensor) > MISALIGNED_RELATIVE_ERROR * sensor)
        )
    # Removed is what the warped input lacks: a hole the warp filled from a neighbour holds
    # a value, and an emptied pixel is a hole.
    return raw.astype(np.float32), misaligned, (raw == 0) & (sensor > 0)


def jitter_sharpness(
    chw: np.ndarray, rng: np.random.Generator, blur_max_px: float, sharpen_max: float
) -> np.ndarray:
    """A C x H x W image blurred or sharpened by a random amount (see SampleSpec)."""
    image = np.ascontiguousarray(chw.transpose(1, 2, 0))
    if rng.random() < 0.5:
        result = change_sharpness(image, blur_sigma=rng.uniform(0.0, blur_max_px))
    else:
        result = change_sharpness(image, sharpen=rng.uniform(0.0, sharpen_max))
    return np.ascontiguousarray(result.transpose(2, 0, 1), dtype=np.float32)


def change_sharpness(
    image: np.ndarray, blur_sigma: float = 0.0, sharpen: float = 0.0
) -> np.ndarray:
    """An H x W x C float image blurred (Gaussian σ in pixels) or sharpened (unsharp mask of
    σ 1 px with weight `sharpen`). Both are linear with unit gain, so they commute with a
    per-channel normalisation."""
    result = image
    if blur_sigma > 0.05:
        result = cv2.GaussianBlur(result, (0, 0), blur_sigma)
    if sharpen > 0:
        result = result + sharpen * (result - cv2.GaussianBlur(result, (0, 0), 1.0))
    return result.reshape(image.shape)  # cv2 drops a single channel's axis


class SceneDataset(Dataset):
    """`count` generated frames; index i is always the same scene (seed, i): reproducible,
    and shardable by DistributedSampler. device "cuda" (or "cuda:N") renders each batch the
    DataLoader asks for together on the GPU (`scene_render.render_batch`)."""

    def __init__(self, count: int, seed: int, spec: SampleSpec, device: str = "cpu"):
        self.count, self.seed, self.spec, self.device = count, seed, spec, device

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> dict:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[dict]:
        # torch's DataLoader fetches a whole batch through this when the dataset has it.
        height, width = self.spec.input_size
        items = []
        for sample, index in zip(
            scene_frames(self.seed, indices, width, height, self.device), indices, strict=True
        ):
            rng = np.random.default_rng(scene_frame_seed(self.seed, index))
            items.append(to_tensors(sample, self.spec, rng))
        return items


class SampleDataset(Dataset):
    """Frames from a loader (any indexable sequence of DepthSample, e.g. LazySamples).

    `repeat` > 1 lists every frame that many times, each copy with its own crop, flip and
    raw-depth simulation: a few frames mixed into a large generated set. `scale_invariant`
    marks the items so that the monocular objective learns only their structure (one real
    room's depth range must not become every scene's)."""

    def __init__(
        self,
        samples: Sequence[DepthSample],
        spec: SampleSpec,
        seed: int = 0,
        repeat: int = 1,
        scale_invariant: bool = False,
    ):
        if repeat < 1:
            raise ValueError(f"repeat must be ≥ 1, got {repeat}")
        self.samples, self.spec, self.seed, self.repeat = samples, spec, seed, repeat
        self.scale_invariant = scale_invariant

    def __len__(self) -> int:
        return len(self.samples) * self.repeat

    def __getitem__(self, index: int) -> dict:
        item = to_tensors(
            self.samples[index % len(self.samples)],
            self.spec,
            np.random.default_rng(self.seed * 7919 + index),
        )
        item["scale_invariant"] = torch.tensor(self.scale_invariant)
        return item


class MixDataset(ConcatDataset):
    """ConcatDataset that fetches a batch part by part: each part gets its indices in one
    call (`__getitems__` where it has one), so generated scenes in a mix still render a batch
    at a time on the GPU. Items come back in the order asked for."""

    def __getitems__(self, indices: Sequence[int]) -> list:
        by_part: dict[int, list[tuple[int, int]]] = {}
        for position, index in enumerate(indices):
            part = bisect.bisect_right(self.cumulative_sizes, index)
            start = self.cumulative_sizes[part - 1] if part else 0
            by_part.setdefault(part, []).append((position, index - start))
        items: list = [None] * len(indices)
        for part, wanted in by_part.items():
            dataset = self.datasets[part]
            local = [index for _, index in wanted]
            fetch = getattr(dataset, "__getitems__", None)
            fetched = fetch(local) if fetch else [dataset[index] for index in local]
            for (position, _), item in zip(wanted, fetched, strict=True):
                items[position] = item
        return items
