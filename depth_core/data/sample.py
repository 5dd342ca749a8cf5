"""The one record every loader returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from depth_core.geometry import Intrinsics


@dataclass
class DepthSample:
    """One RGB-D frame.

    rgb: HxWx3 uint8 in RGB order. depth: HxW float32 metres, 0 where invalid.
    valid: HxW bool. raw_depth: the sensor's own (noisy, holey) depth in metres, when the
    data set has one besides the reference.
    """

    rgb: np.ndarray
    depth: np.ndarray
    valid: np.ndarray
    intrinsics: Intrinsics
    raw_depth: np.ndarray | None = None
    name: str = ""
