"""`depth_recovery`: RGB plus ToF depth or stereo disparity in; recovered depth and σ out."""

from __future__ import annotations

import math
import time

import numpy as np
from sensor_msgs.msg import Image
from stereo_msgs.msg import DisparityImage

from depth_core.runtime import DepthEstimator
from depth_core.runtime.degraded import ScaleCarryOver
from depth_core.runtime.realtime import StampPairer
from depth_ros.conversions import (
    ImageFormatError,
    disparity_message_to_depth,
    image_to_array,
    to_depth_metres,
)
from depth_ros.depth_node import DepthNode, Frame
from depth_ros.node_support import ParameterError, input_qos, run_node, stamp_seconds

# Raw depth must cover the RGB field of view: aspect ratios within this share.
ASPECT_TOLERANCE = 0.01


class DepthRecoveryNode(DepthNode):
    """RGB + ToF depth or stereo disparity -> recovered depth. Without raw depth for
    `raw_timeout` seconds it keeps publishing from RGB alone (degraded mode), scaled to the last
    paired output and with σ raised, and says so in /diagnostics."""

    output_prefix = "depth/recovered"

    def __init__(self, **kwargs):
        super().__init__("depth_recovery", **kwargs)

    def check_model(self, estimator: DepthEstimator) -> None:
        if "raw_depth" not in estimator.metadata.inputs:
            raise ParameterError(
                f"{self.get_name()}: {self.model_path} is a "
                f"{estimator.metadata.model_name} model without raw depth "
                f"input"
            )

    def create_inputs(self) -> list:
        """RGB and camera_info, and the raw depth; pairing and scale state start afresh."""
        self.pairer: StampPairer[np.ndarray] = StampPairer(self.params["sync_slop"])
        self._last_raw_arrival = -math.inf
        self.scale_carry_over = ScaleCarryOver()  # shared by the workers (`workers` > 1)
        qos = input_qos(self.params["raw_reliability"], self.params["raw_queue_depth"])
        if self.params["raw_source"] == "tof":
            raw = self.create_subscription(Image, "tof/depth/image_raw", self._on_raw_depth, qos)
        else:
            raw = self.create_subscription(
                DisparityImage, "stereo/disparity", self._on_disparity, qos
            )
        return [*super().create_inputs(), raw]

    def _on_raw_depth(self, msg: Image) -> None:
        try:
            depth = to_depth_metres(msg)
        except ImageFormatError as error:
            self.reject(error.reason, f"raw depth rejected: {error}")
            return
        self._store_raw(msg, depth, msg.encoding == "32FC1" and _has_inf_or_negative(msg))

    def _on_disparity(self, msg: DisparityImage) -> None:
        try:
            depth = disparity_message_to_depth(msg)
        except ImageFormatError as error:
            self.reject(error.reason, f"disparity rejected: {error}")
            return
        self._store_raw(msg, depth, False)

    def _store_raw(self, msg, depth: np.ndarray, had_invalid_values: bool) -> None:
        if had_invalid_values:
            self.reject(
                "raw_invalid_values",
                "raw depth holds inf or negative values; they are treated as missing",
            )
        self._last_raw_arrival = time.monotonic()
        self.pairer.slop = self.params["sync_slop"]
        pair, dropped = self.pairer.add_secondary(stamp_seconds(msg), depth)
        self._submit_pair(pair, dropped)

    def raw_timed_out(self) -> bool:
        return time.monotonic() - self._last_raw_arrival > self.params["raw_timeout"]

    def mode(self) -> str:
        return "degraded" if self.raw_timed_out() else "normal"

    def submit(self, frame: Frame) -> None:
        if self.raw_timed_out():  # degraded mode: RGB alone, nothing to wait for
            for _ in self.pairer.take_unpaired():
                self.dropped.add("unpaired")
            super().submit(frame)
            return
        self.pairer.slop = self.params["sync_slop"]
        pair, dropped = self.pairer.add_primary(stamp_seconds(frame.rgb_msg), frame)
        self._submit_pair(pair, dropped)

    def _submit_pair(self, pair: tuple[Frame, np.ndarray] | None, dropped: int) -> None:
        for _ in range(dropped):
            self.dropped.add("unpaired")
        if pair is None:
            return
        frame, raw = pair
        rgb_h, rgb_w = frame.rgb.shape[:2]
        if abs(raw.shape[1] / raw.shape[0] - rgb_w / rgb_h) > ASPECT_TOLERANCE * rgb_w / rgb_h:
            self.reject(
                "raw_aspect_mismatch",
                f"raw depth {raw.shape[1]}x{raw.shape[0]} does "
                f"not cover the RGB {rgb_w}x{rgb_h} field of view (aspect ratio "
                f"differs); frame dropped",
            )
            return
        frame.raw = raw
        super().submit(frame)

    def predict(self, frame: Frame, output_size: tuple[int, int], estimator: DepthEstimator):
        if frame.raw is not None:
            result = super().predict(frame, output_size, estimator)
            self.scale_carry_over.paired(stamp_seconds(frame.rgb_msg), result.depth)
            return result
        frame.raw = np.zeros(frame.rgb.shape[:2], np.float32)  # no measurement anywhere
        result = super().predict(frame, output_size, estimator)
        return self.scale_carry_over.unpaired(result, self.params["degraded_sigma_scale"])


def _has_inf_or_negative(msg: Image) -> bool:
    """32FC1 depth may hold NaN for "no return" (REP-118); inf or negative is bad input."""
    values = image_to_array(msg)
    return bool(np.any(np.isinf(values) | (values < 0)))


def _has_inf_or_negative(msg: Image) -> bool:
    """32FC1 depth may hold NaN for "no return" (REP-118); inf or negative is bad input."""
    values = image_to_array(msg)
    return bool(np.any(np.isinf(values) | (values < 0)))


def main() -> None:
    run_node(DepthRecoveryNode)
