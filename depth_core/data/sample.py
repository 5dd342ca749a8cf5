"""The one record every loader returns."""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from depth_core.geometry import Intrinsics
from depth_core.processing import resize_colour


@dataclass
class DepthSample:
    """One RGB-D frame.

    rgb: HxWx3 uint8 in RGB order. depth: HxW float32 metres, 0 where invalid.
    valid: HxW bool. raw_depth: the sensor's own (noisy, holey) depth in metres, when the
    data set has one besides the reference. pose: 4x4 camera-to-world (optical frame), when
    the data set has one.
    """

    rgb: np.ndarray
    depth: np.ndarray
    valid: np.ndarray
    intrinsics: Intrinsics
    raw_depth: np.ndarray | None = None
    name: str = ""
    pose: np.ndarray | None = None

    def resized(self, width: int, height: int = 0) -> DepthSample:
        """This frame at width x height (height 0 keeps the aspect ratio). Colour is averaged
        (area) when shrinking; depth and masks are resampled nearest-neighbour, so no depth is
        invented between a foreground and a background."""
        rgb = resize_colour(self.rgb, width, height)
        height = rgb.shape[0]

        def nearest(array: np.ndarray) -> np.ndarray:
            return cv2.resize(array, (width, height), interpolation=cv2.INTER_NEAREST)

        return replace(
            self,
            rgb=rgb,
            depth=nearest(self.depth),
            valid=nearest(self.valid.astype(np.uint8)).astype(bool),
            raw_depth=None if self.raw_depth is None else nearest(self.raw_depth),
            intrinsics=self.intrinsics.resized(width, height),
        )
