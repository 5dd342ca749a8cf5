"""Calibration inputs for INT8 (ONNX Runtime static quantization, TensorRT entropy
calibration): preprocessed exactly as at run time, by `depth_core.processing`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from depth_core.metadata import ModelMetadata
from depth_core.processing import focal_scale, model_inputs

Batch = dict[str, np.ndarray]


def calibration_batches(metadata: ModelMetadata, folder: str | Path) -> list[Batch]:
    """Each RGB image in `folder`, plus `<stem>.depth.png` (16-bit millimetres) beside it for
    models that take raw depth. Use frames from the camera the model will see."""
    from depth_core.data.loaders import read_depth_png, read_image_rgb

    folder = Path(folder)
    images = sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() in (".png", ".jpg", ".jpeg") and not p.name.endswith(".depth.png")
    )
    if not images:
        raise ValueError(f"{folder}: no calibration images (.png/.jpg)")
    batches = []
    for image in images:
        raw = None
        if "raw_depth" in metadata.inputs:
            depth_file = image.with_name(image.stem + ".depth.png")
            try:
                raw = read_depth_png(depth_file) / 1000.0
            except ValueError as error:
                raise ValueError(
                    f"{error}; 16-bit depth in millimetres needed for "
                    f"{metadata.model_name} calibration"
                ) from None
        # No intrinsics with a folder: the canonical camera, as the estimator assumes then.
        batches.append(model_inputs(read_image_rgb(image), raw, metadata))
    return batches


# Generated calibration frames: a seed used by no training, validation or evaluation set.
CALIBRATION_SCENE_SEED = 97


def scene_calibration_batches(
    metadata: ModelMetadata, count: int, seed: int = CALIBRATION_SCENE_SEED
) -> list[Batch]:
    """`count` generated frames (raw depth: a simulated ToF frame, as in evaluation)."""
    from depth_core.data.scenes import scene_frame
    from depth_core.data.simulation import simulate_tof

    rng = np.random.default_rng(seed)
    batches = []
    for index in range(count):
        frame = scene_frame(seed, index)
        raw = simulate_tof(frame.depth, rng) if "raw_depth" in metadata.inputs else None
        scale = focal_scale(frame.intrinsics, metadata.input_size, metadata.canonical_focal_px)
        batches.append(model_inputs(frame.rgb, raw, metadata, scale))
    return batches
