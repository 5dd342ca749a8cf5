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


def model_inputs(rgb: np.ndarray, raw_depth: np.ndarray | None, metadata: ModelMetadata,
                 depth_scale: float = 1.0) -> dict[str, np.ndarray]:  # fmt: skip
    """One frame as the network's named inputs. raw_depth (recovery models): metres, any
    resolution with the RGB's field of view, divided by `depth_scale` (focal_scale) into the
    canonical camera the network works in, as in training."""
    inputs = {"rgb": preprocess_rgb(rgb, metadata.input_size, metadata.mean, metadata.std)}
    if "raw_depth" in metadata.inputs:
        if raw_depth is None:
            raise ValueError(f"{metadata.model_name} needs raw_depth")
        # Divided after the (nearest) resampling: no copy of the full-size frame.
        inputs["raw_depth"] = (preprocess_raw_depth(raw_depth, metadata.input_size)
                               / np.float32(depth_scale))  # fmt: skip
    return inputs


# A raw measurement within this many σ of the recovered depth is kept as measured.
RAW_AGREEMENT_SIGMAS = 2.0


def with_scale_uncertainty(sigma: np.ndarray, depth: np.ndarray,
                           relative_sigma: float) -> np.ndarray:  # fmt: skip
    """σ plus, in quadrature, a global scale error of relative_sigma·depth: a monocular
    model's metric scale is uncertain for the whole image at once, so that part of its error
    grows with depth, which the per-pixel σ does not learn from one scene at a time."""
    if relative_sigma == 0.0:
        return sigma
    return np.sqrt(sigma * sigma + np.square(np.float32(relative_sigma) * depth))


def postprocess(
    depth: np.ndarray,
    log_sigma: np.ndarray,
    output_size: tuple[int, int],
    uncertainty_kind: str,
    depth_scale: float = 1.0,
    sigma_scale: float = 1.0,
    raw_depth: np.ndarray | None = None,
    relative_sigma: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Model outputs (1x1xhxw) -> (depth, σ) as HxW float32 metres at output_size (H, W).

    σ is a standard deviation in metres, times `sigma_scale` (the calibration temperature in
    the model metadata), with the scale term `relative_sigma`·depth added in quadrature
    (with_scale_uncertainty); depth and σ both scale with `depth_scale`.

    raw_depth (recovery models; metres, 0/NaN = missing, any resolution with the same field of
    view): where a raw measurement agrees with the recovered depth within
    RAW_AGREEMENT_SIGMAS·σ, the output keeps the measurement. The model runs at its input
    size; this keeps the raw sensor's detail at the output size where the model confirms it,
    and leaves holes and flagged (misaligned) raw depth to the model."""
    if uncertainty_kind not in UNCERTAINTY_TO_STD:
        raise ValueError(f"unknown uncertainty kind {uncertainty_kind!r}")
    height, width = output_size
    sigma = np.exp(np.clip(log_sigma[0, 0], -20.0, 20.0)) * (
        UNCERTAINTY_TO_STD[uncertainty_kind] * sigma_scale
    )
    scale = np.float32(depth_scale)
    depth_out = cv2.resize(depth[0, 0], (width, height), interpolation=cv2.INTER_LINEAR) * scale
    sigma_out = cv2.resize(sigma.astype(np.float32), (width, height),
                           interpolation=cv2.INTER_LINEAR) * scale  # fmt: skip
    sigma_out = with_scale_uncertainty(sigma_out, depth_out, relative_sigma)
    if raw_depth is not None:
        raw = preprocess_raw_depth(raw_depth, output_size)[0, 0]
        agrees = (raw > 0) & (np.abs(depth_out - raw) <= RAW_AGREEMENT_SIGMAS * sigma_out)
        depth_out = np.where(agrees, raw, depth_out)
    return depth_out, sigma_out
