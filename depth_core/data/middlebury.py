"""Middlebury stereo: the 2014 "Motorcycle" pair that scikit-image ships."""

from __future__ import annotations

import numpy as np

from depth_core.data.sample import DepthSample
from depth_core.geometry import Intrinsics, disparity_to_depth

# Calibration of the scikit-image copy (741x500), from the data set's calib.txt scaled to it.
MOTORCYCLE_FOCAL_PX = 994.978
MOTORCYCLE_CX = 311.193
MOTORCYCLE_CY = 254.877
MOTORCYCLE_DOFFS_PX = 31.086
MOTORCYCLE_BASELINE_M = 0.193001


def load_motorcycle() -> DepthSample:
    """The left image with metric ground-truth depth from its disparity (inf = invalid)."""
    from skimage.data import stereo_motorcycle  # scikit-image is a training-side dependency

    left, _right, disparity = stereo_motorcycle()
    depth = disparity_to_depth(
        disparity, MOTORCYCLE_FOCAL_PX, MOTORCYCLE_BASELINE_M, MOTORCYCLE_DOFFS_PX
    )
    valid = np.isfinite(depth)
    height, width = depth.shape
    intrinsics = Intrinsics(
        MOTORCYCLE_FOCAL_PX, MOTORCYCLE_FOCAL_PX, MOTORCYCLE_CX, MOTORCYCLE_CY, width, height
    )
    return DepthSample(
        rgb=np.ascontiguousarray(left[..., :3]),
        depth=np.where(valid, depth, 0.0).astype(np.float32),
        valid=valid,
        intrinsics=intrinsics,
        name="middlebury2014/motorcycle",
    )
