"""The one definition of pre- and post-processing. Every backend (torch, ONNX Runtime,
TensorRT) calls these functions; none resizes or normalises on its own.

NumPy + OpenCV only, so the ONNX Runtime path needs no torch.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from depth_core.geometry import Intrinsics
from depth_core.metadata import ModelMetadata

# How the model's log σ channel becomes a standard deviation in metres.
UNCERTAINTY_TO_STD = {
    "laplace_log_b": math.sqrt(2.0),  # Laplace scale b: std = √2·b
    "gaussian_log_sigma": 1.0,
}


def resize_colour(rgb: np.ndarray, width: int, height: int = 0) -> np.ndarray:
    """A colour image at width x height (height 0 keeps the aspect ratio): area averaging when
    shrinking (no aliasing), bilinear when enlarging."""
    height = height or round(rgb.shape[0] * width / rgb.shape[1])
    shrinking = rgb.shape[0] > height or rgb.shape[1] > width
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(rgb, (width, height), interpolation=interpolation)


def preprocess_rgb(
    rgb: np.ndarray, input_size: tuple[int, int], mean: tuple[float, ...], std: tuple[float, ...]
) -> np.ndarray:
    """HxWx3 uint8 RGB -> 1x3xhxw float32, resized to input_size (h, w) and normalised."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"rgb must be HxWx3 uint8, got shape {rgb.shape} dtype {rgb.dtype}")
    height, width = input_size
    scaled = resize_colour(rgb, width, height).astype(np.float32) * np.float32(1 / 255)
    scaled -= np.asarray(mean, dtype=np.float32)
    scaled /= np.asarray(std, dtype=np.float32)
    return np.ascontiguousarray(scaled.transpose(2, 0, 1)[None])


def zero_missing(depth: np.ndarray) -> np.ndarray:
    """Depth as float32 metres with 0 wherever there is no value (NaN, ±inf, 0, negative):
    the convention of raw depth and ground truth throughout."""
    depth = np.asarray(depth)
    return np.where(np.isfinite(depth) & (depth > 0), depth, 0).astype(np.float32)


def preprocess_raw_depth(raw_depth: np.ndarray, input_size: tuple[int, int]) -> np.ndarray:
    """HxW metres (0 / NaN / inf / negative = missing) -> 1x1xhxw float32, 0 = missing.

    Nearest-neighbour resampling: every value is a real measurement, none is invented
    by blending a foreground and a background depth."""
    if raw_depth.ndim != 2:
        raise ValueError(f"raw depth must be HxW, got shape {raw_depth.shape}")
    clean = zero_missing(raw_depth)
    height, width = input_size
    resized = cv2.resize(clean, (width, height), interpolation=cv2.INTER_NEAREST)
    return resized[None, None]


def focal_scale(
    intrinsics: Intrinsics | None, input_size: tuple[int, int], canonical_focal_px: float | None
) -> float:
    """Factor from canonical-camera depth to this camera's depth: f_input / f_canonical,
    where f_input is the camera's focal length at the model's input resolution (Metric3D's
    canonical camera). 1 when the model has no canonical camera or no intrinsics are given."""
    if canonical_focal_px is None or intrinsics is None:
        return 1.0
    scaled = intrinsics.resized(input_size[1], input_size[0])
    return float(np.sqrt(scaled.fx * scaled.fy)) / canonical_focal_px


def model_inputs(
    rgb: np.ndarray, raw_depth: np.ndarray | None, metadata: ModelMetadata, depth_scale: float = 1.0
) -> dict[str, np.ndarray]:
    """One frame as the network's named inputs. raw_depth (recovery models): metres, any
    resolution with the RGB's field of view, divided by `depth_scale` (focal_scale) into the
    canonical camera the network works in, as in training."""
    inputs = {"rgb": preprocess_rgb(rgb, metadata.input_size, metadata.mean, metadata.std)}
    if "raw_depth" in metadata.inputs:
        if raw_depth is None:
            raise ValueError(f"{metadata.model_name} needs raw_depth")
        # Divided after the (nearest) resampling: no copy of the full-size frame.
        inputs["raw_depth"] = preprocess_raw_depth(raw_depth, metadata.input_size) / np.float32(
            depth_scale
        )
    return inputs


# Without a structure-uncertainty output (older recovery models), a raw measurement within
# this many σ of the recovered depth is trusted.
RAW_AGREEMENT_SIGMAS = 2.0
# A raw pixel whose probability of being misaligned (structure uncertainty) is at most this
# is trusted and passes through as measured.
TRUST_PROBABILITY = 0.5
# Colour similarity scale of the edge-aware upsampling, on 0-1 intensities: neighbours across
# a visible edge get almost no weight.
GUIDE_SIGMA = 0.05
# Sensor noise of passed-through raw depth as a share of depth (σ of those pixels).
RAW_RELATIVE_SIGMA = 0.01


def with_scale_uncertainty(
    sigma: np.ndarray, depth: np.ndarray, relative_sigma: float
) -> np.ndarray:
    """σ plus, in quadrature, a global scale error of relative_sigma·depth: a monocular
    model's metric scale is uncertain for the whole image at once, so that part of its error
    grows with depth, which the per-pixel σ does not learn from one scene at a time."""
    if relative_sigma == 0.0:
        return sigma
    return np.sqrt(sigma * sigma + np.square(np.float32(relative_sigma) * depth))


def _neighbour_grid(size_out: int, size_in: int) -> tuple[np.ndarray, np.ndarray]:
    """Per output index, the lower of its two input neighbours (pixel centres aligned) and the
    bilinear weight of the upper one."""
    position = (np.arange(size_out, dtype=np.float32) + 0.5) * (size_in / size_out) - 0.5
    lower = np.clip(np.floor(position), 0, max(size_in - 2, 0)).astype(np.intp)
    weight = np.clip(position - lower, 0.0, 1.0).astype(np.float32)
    return lower, weight


def edge_aware_upsample(
    low: list[np.ndarray],
    guide: np.ndarray,
    where: np.ndarray | None = None,
    sigma: float = GUIDE_SIGMA,
) -> list[np.ndarray]:
    """Joint bilateral upsampling (Kopf et al.) of `low`, a list of hxw float32 images, to the
    size of `guide` (HxWx3 uint8 RGB): each output pixel blends its 2x2 low-resolution
    neighbours with bilinear weights times how alike the guide's colour at the pixel is to
    the (area-averaged) colour at each neighbour. A depth edge that follows a colour edge
    stays sharp, where plain bilinear resizing would put a ramp of invented depths across it;
    on a uniform colour the result is bilinear.

    where (HxW bool): the pixels to upsample so; the rest are bilinear, which is the same
    wherever the neighbours agree, and much cheaper."""
    height, width = guide.shape[:2]
    low_h, low_w = low[0].shape
    bilinear = [
        cv2.resize(
            image.astype(np.float32, copy=False), (width, height), interpolation=cv2.INTER_LINEAR
        )
        for image in low
    ]
    if (low_h, low_w) == (height, width):
        return bilinear
    pixel_rows, pixel_columns = np.nonzero(
        np.ones((height, width), bool) if where is None else where
    )
    if pixel_rows.size == 0:
        return bilinear
    rows, row_w = _neighbour_grid(height, low_h)
    columns, column_w = _neighbour_grid(width, low_w)
    r0, wr = rows[pixel_rows], row_w[pixel_rows]
    c0, wc = columns[pixel_columns], column_w[pixel_columns]
    r1, c1 = np.minimum(r0 + 1, low_h - 1), np.minimum(c0 + 1, low_w - 1)
    scale = np.float32(1 / 255)
    fine = guide[pixel_rows, pixel_columns].astype(np.float32) * scale
    coarse = resize_colour(guide, low_w, low_h).astype(np.float32) * scale
    inverse = np.float32(-0.5 / (sigma * sigma))
    weights, picks = [], []
    for r, row_weight in ((r0, 1 - wr), (r1, wr)):
        for c, column_weight in ((c0, 1 - wc), (c1, wc)):
            difference = fine - coarse[r, c]
            distance = np.einsum("ij,ij->i", difference, difference)
            # A small share of the bilinear weight always stays, so that no pixel is left
            # without weight when no neighbour looks like it.
            weights.append(
                row_weight * column_weight * (np.exp(distance * inverse) + np.float32(1e-4))
            )
            picks.append((r, c))
    total = np.float32(1) / sum(weights)
    for image, out in zip(low, bilinear, strict=True):
        out[pixel_rows, pixel_columns] = (
            sum(w * image[pick] for w, pick in zip(weights, picks, strict=True)) * total
        )
    return bilinear


# Neighbouring network depths further apart than this share are a depth edge, where the
# upsampling follows the RGB.
EDGE_RELATIVE_SPREAD = 0.02


def fuse_recovery(
    depth: np.ndarray,
    sigma: np.ndarray,
    raw: np.ndarray,
    rgb: np.ndarray,
    misaligned: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A recovery model's low-resolution depth and σ (hxw metres) with the raw depth at the
    output resolution (HxW metres, 0 = missing) -> (depth, σ) at HxW.

    Trusted raw pixels pass through as measured, bit for bit, with σ = the sensor noise
    (RAW_RELATIVE_SIGMA·depth). Trust comes from the structure-uncertainty output
    (`misaligned`: hxw probability that a raw pixel is misaligned, ≤ TRUST_PROBABILITY
    trusts it); without one, from agreement with the network within RAW_AGREEMENT_SIGMAS·σ.
    Every other pixel takes the network's depth and σ, upsampled edge-aware with the RGB as
    the guide (edge_aware_upsample) where the network's depth has an edge."""
    height, width = raw.shape
    guide = rgb if rgb.shape[:2] == raw.shape else resize_colour(rgb, width, height)
    kernel = np.ones((3, 3), np.uint8)
    spread = (cv2.dilate(depth, kernel) - cv2.erode(depth, kernel)) > (
        np.float32(EDGE_RELATIVE_SPREAD) * depth
    )
    edges = cv2.resize(
        spread.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST
    ).astype(bool)
    if misaligned is None:
        depth_up, sigma_up = (
            cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
            for image in (depth, sigma)
        )
        trusted = (raw > 0) & (np.abs(depth_up - raw) <= RAW_AGREEMENT_SIGMAS * sigma_up)
    else:
        probability = cv2.resize(
            misaligned.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR
        )
        trusted = (raw > 0) & (probability <= TRUST_PROBABILITY)
    depth_up, sigma_up = edge_aware_upsample([depth, sigma], guide, edges & ~trusted)
    depth_out = np.where(trusted, raw, depth_up)
    sigma_out = np.where(trusted, np.float32(RAW_RELATIVE_SIGMA) * raw, sigma_up)
    return depth_out, sigma_out.astype(np.float32)


def postprocess(
    depth: np.ndarray,
    log_sigma: np.ndarray,
    output_size: tuple[int, int],
    uncertainty_kind: str,
    depth_scale: float = 1.0,
    sigma_scale: float = 1.0,
    raw_depth: np.ndarray | None = None,
    relative_sigma: float = 0.0,
    rgb: np.ndarray | None = None,
    misalignment_logit: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Model outputs (1x1xhxw) -> (depth, σ) as HxW float32 metres at output_size (H, W).

    σ is a standard deviation in metres, times `sigma_scale` (the calibration temperature in
    the model metadata), with the scale term `relative_sigma`·depth added in quadrature
    (with_scale_uncertainty); depth and σ both scale with `depth_scale`.

    raw_depth (recovery models; metres, 0/NaN = missing, any resolution with the same field of
    view) needs `rgb`: the output is fuse_recovery's, at full resolution, with trust from
    `misalignment_logit` (the model's structure-uncertainty output) where the model has it.
    Without raw depth the network's output is resized bilinearly."""
    if uncertainty_kind not in UNCERTAINTY_TO_STD:
        raise ValueError(f"unknown uncertainty kind {uncertainty_kind!r}")
    height, width = output_size
    scale = np.float32(depth_scale)
    sigma = np.exp(np.clip(log_sigma[0, 0], -20.0, 20.0)).astype(np.float32) * np.float32(
        UNCERTAINTY_TO_STD[uncertainty_kind] * sigma_scale * depth_scale
    )
    depth = depth[0, 0] * scale
    sigma = with_scale_uncertainty(sigma, depth, relative_sigma)
    if raw_depth is not None:
        if rgb is None:
            raise ValueError("fusing raw depth needs the RGB image as the guide")
        raw = preprocess_raw_depth(raw_depth, output_size)[0, 0]
        misaligned = None
        if misalignment_logit is not None:
            misaligned = 1.0 / (1.0 + np.exp(-np.clip(misalignment_logit[0, 0], -30.0, 30.0)))
        return fuse_recovery(depth, sigma, raw, rgb, misaligned)
    depth_out = cv2.resize(depth, (width, height), interpolation=cv2.INTER_LINEAR)
    sigma_out = cv2.resize(sigma, (width, height), interpolation=cv2.INTER_LINEAR)
    return depth_out, sigma_out
