"""Test helpers for real rclpy over Fast DDS: a probe node that publishes camera frames and
records every output, models the nodes can load, and waiting without sleeping blindly."""

from __future__ import annotations

import struct
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from diagnostic_msgs.msg import DiagnosticArray
from nav_msgs.msg import Odometry
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from stereo_msgs.msg import DisparityImage

from depth_core.checkpoint import describe
from depth_core.data.middlebury import load_motorcycle
from depth_core.data.simulation import simulate_tof
from depth_core.export.onnx import save_and_export
from depth_core.models import build_model
from depth_core.models.encoders import encoder_normalisation
from depth_core.processing import preprocess_raw_depth, preprocess_rgb
from depth_ros.conversions import array_to_image, intrinsics_to_camera_info

MODEL_INPUT = (120, 176)  # the Middlebury aspect ratio (741 x 500), small for CPU tests
CAMERA_WIDTH = 640


def camera_frame(width: int = CAMERA_WIDTH):
    """The Middlebury RGB at camera size, its ground truth and intrinsics there."""
    sample = load_motorcycle().resized(width)
    return sample.rgb, sample.depth, sample.intrinsics


def make_models(folder: Path, fit_steps: int = 120) -> dict[str, Path]:
    """ONNX models for the nodes: an untrained monocular one (the plumbing tests need no
    accuracy) and a recovery model (correction of the raw input) fitted for `fit_steps` on
    the Middlebury scene, so that "recovered follows raw" is testable before shipped models."""
    torch.manual_seed(0)
    monocular = build_model("transfer_monocular").eval()
    # residual_from_raw, as the shipped model: the output follows the raw input by
    # construction, so the tests catch a raw conversion that goes wrong (a model that had
    # memorised the scene would not).
    recovery = build_model("depth_recovery", drop_path_rate=0.0, residual_from_raw=True)
    sample, rng = load_motorcycle(), np.random.default_rng(0)
    mean, std = encoder_normalisation("tf_efficientnet_lite0")
    rgb = torch.from_numpy(preprocess_rgb(sample.rgb, MODEL_INPUT, mean, std))
    target = torch.from_numpy(preprocess_raw_depth(sample.depth, MODEL_INPUT))
    optimiser = torch.optim.Adam(recovery.parameters(), 1e-3)
    for _ in range(fit_steps):
        raw = preprocess_raw_depth(simulate_tof(sample.depth, rng), MODEL_INPUT)
        prediction = recovery(rgb, torch.from_numpy(raw))
        loss = (prediction.depth - target)[target > 0].abs().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    recovery.eval()
    fitted = describe(recovery, MODEL_INPUT, training_data="fitted to Middlebury (test)")
    # Exported after the fit: the ONNX export draws from torch's generator (measured), and the
    # fit's initialisation must stay as it was.
    return {
        "mono": save_and_export(monocular, folder / "mono.pt", describe(monocular, MODEL_INPUT)),
        "recovery": save_and_export(recovery, folder / "recovery.pt", fitted),
    }


@dataclass
class HeaderOnly:
    header: Header

    @classmethod
    def from_cdr(cls, data: bytes) -> HeaderOnly:
        """The stamp of a serialized message that starts with a Header: after the 4-byte CDR
        encapsulation come int32 sec and uint32 nanosec (little-endian here)."""
        header = Header()
        header.stamp.sec, header.stamp.nanosec = struct.unpack_from("<iI", data, 4)
        return cls(header)


class Probe(Node):
    """Publishes camera-like inputs; records every message on the outputs it watches."""

    def __init__(self, name: str = "probe", outputs: tuple[str, ...] = (), keep: bool = True):
        """keep=False records only each output's stamp, read from the serialized message
        without deserialising it (long runs: bounded memory, little CPU taken from the node)."""
        super().__init__(name)
        self.keep = keep
        qos = qos_profile_sensor_data
        self.rgb_pub = self.create_publisher(Image, "camera/color/image_raw", qos)
        self.info_pub = self.create_publisher(CameraInfo, "camera/color/camera_info", qos)
        self.raw_pub = self.create_publisher(Image, "tof/depth/image_raw", qos)
        self.disparity_pub = self.create_publisher(DisparityImage, "stereo/disparity", qos)
        self.odom_pub = self.create_publisher(Odometry, "odom", 50)  # reliable, as robots do
        self.received: dict[str, list] = defaultdict(list)
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()
        for topic in outputs:
            kind = CameraInfo if topic.endswith("camera_info") else Image
            self.create_subscription(kind, topic, self._recorder(topic), 10, raw=not keep)
        self.create_subscription(DiagnosticArray, "/diagnostics", self._recorder("diag"), 50)

    def _recorder(self, topic: str):
        def record(msg) -> None:
            with self._lock:
                keep = self.keep or topic == "diag"
                self.received[topic].append(msg if keep else HeaderOnly.from_cdr(msg))
                self.arrivals[topic].append(time.monotonic())

        return record

    def header(self, stamp: float, frame_id: str = "camera_color_optical_frame") -> Header:
        header = Header(frame_id=frame_id)
        header.stamp.sec, header.stamp.nanosec = int(stamp), int(round(stamp % 1 * 1e9))
        return header

    def publish_frame(
        self,
        rgb,
        intrinsics,
        stamp: float,
        raw=None,
        raw_encoding="16UC1",
        frame_id="camera_color_optical_frame",
    ) -> Header:
        header = self.header(stamp, frame_id)
        self.info_pub.publish(intrinsics_to_camera_info(intrinsics, header))
        self.rgb_pub.publish(array_to_image(rgb, "rgb8", header))
        if raw is not None:
            if raw_encoding == "16UC1":
                raw = np.clip(np.nan_to_num(raw) * 1000, 0, 65535).astype(np.uint16)
            self.raw_pub.publish(array_to_image(raw, raw_encoding, header))
        return header

    def publish_odometry(self, stamp: float, x: float = 0.0) -> None:
        """base_link at (x, 0, 0) in odom, facing +x."""
        msg = Odometry(header=self.header(stamp, "odom"), child_frame_id="base_link")
        msg.pose.pose.position.x = x
        msg.pose.pose.orientation.w = 1.0
        self.odom_pub.publish(msg)

    def diagnostics(self, node_name: str) -> list[dict[str, str]]:
        """Every status the named node published, as dicts (with 'level' and 'message')."""
        with self._lock:
            arrays = list(self.received["diag"])
        found = []
        for array in arrays:
            for status in array.status:
                if status.name.startswith(f"/{node_name}:"):
                    values = {kv.key: kv.value for kv in status.values}
                    found.append(
                        {
                            **values,
                            "level": int.from_bytes(bytes(status.level), "little")
                            if isinstance(status.level, bytes)
                            else int(status.level),
                            "message": status.message,
                        }
                    )
        return found


class Spinner:
    """One executor spinning the given nodes in a background thread."""

    def __init__(self, *nodes: Node):
        self.executor = SingleThreadedExecutor()  # as depth-ros-pipeline (depth_ros.pipeline)
        self.nodes = list(nodes)
        for node in nodes:
            self.executor.add_node(node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=5)
        self.thread.join(timeout=5)
        for node in self.nodes:
            node.destroy_node()


def wait_until(predicate, timeout: float = 20.0, period: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(period)
    return bool(predicate())
