"""`replay`: publishes RGB, raw depth and camera_info at a set rate, as a camera would.

Sources: a camera moving through a generated room (depth_core.data.scenes) with simulated
ToF; the Middlebury pair from scikit-image with ToF-like raw depth simulated from its
stereo ground truth; a folder of frames (`rgb/*.png` + `depth/*.png`, the TUM layout of
../shared/data, with `depth_scale` units per metre); or a rosbag2 recording (MCAP or sqlite3,
read with `rosbags`, no ROS install needed). Frames are restamped on publication, so a loop
never goes back in time."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from stereo_msgs.msg import DisparityImage

from depth_core.geometry import Intrinsics
from depth_core.processing import resize_colour
from depth_ros.conversions import array_to_image, intrinsics_to_camera_info
from depth_ros.node_support import ParameterError, declare_parameters, run_node
from depth_ros.parameters import NODE_PARAMETERS

STEREO_BASELINE_M = 0.05  # the baseline a simulated stereo camera would have


@dataclass
class ReplayFrame:
    rgb: np.ndarray  # HxWx3 uint8 RGB
    raw_depth: np.ndarray  # hxw float32 metres, 0 = missing (same field of view)
    intrinsics: Intrinsics

    def resized(self, width: int, height: int = 0) -> ReplayFrame:
        """The RGB at the published size; raw depth keeps its own (registered) resolution."""
        rgb = resize_colour(self.rgb, width, height)
        intrinsics = self.intrinsics.resized(rgb.shape[1], rgb.shape[0])
        return ReplayFrame(rgb, self.raw_depth, intrinsics)


def middlebury_frames(width: int, height: int = 0) -> list[ReplayFrame]:
    from depth_core.data.middlebury import load_motorcycle
    from depth_core.data.simulation import simulate_tof

    sample = load_motorcycle().resized(width, height)
    rng = np.random.default_rng(0)
    return [
        ReplayFrame(sample.rgb, simulate_tof(sample.depth, rng), sample.intrinsics)
        for _ in range(8)
    ]


def folder_frames(
    folder: Path, width: int, height: int, depth_scale: float, fx_fy_cx_cy: list[float]
) -> list[ReplayFrame]:
    """A folder of rgb/ + depth/ frames (the generic loader of depth_core): the recorded depth
    is what the ToF topic publishes."""
    from depth_core.data.loaders import folder_pairs

    if min(abs(v) for v in fx_fy_cx_cy[:2]) <= 0:
        raise ParameterError("replay: parameter intrinsics (fx fy cx cy) is needed for a folder")
    samples = folder_pairs(folder, depth_scale, fx_fy_cx_cy)
    if len(samples) == 0:
        raise ParameterError(f"replay: {folder} needs rgb/ and depth/ frames with matching names")
    frames = []
    for index in range(len(samples)):
        try:
            sample = samples[index]
        except ValueError as error:
            raise ParameterError(f"replay: {error}") from None
        frames.append(
            ReplayFrame(sample.rgb, sample.depth, sample.intrinsics).resized(width, height)
        )
    return frames


def scene_frames(width: int, height: int, count: int = 24, seed: int = 7) -> list[ReplayFrame]:
    """A camera moving through a generated room (depth_core.data.scenes), rendered at half
    the published size (rendering is the start-up cost) with a registered quarter-resolution
    ToF simulated from the exact depth."""
    from depth_core.data.scenes import random_scene
    from depth_core.data.simulation import simulate_tof

    height = height or round(width * 3 / 4)
    scene = random_scene(seed, width // 2, height // 2, frames=count, layout="room")
    rng = np.random.default_rng(seed)
    return [
        ReplayFrame(
            sample.rgb, simulate_tof(sample.depth, rng, downsample=2), sample.intrinsics
        ).resized(width, height)
        for sample in scene.frames()
    ]


def bag_frames(
    bag: Path, width: int, height: int, topics: list[str], max_frames: int = 300
) -> list[ReplayFrame]:
    """RGB frames of a rosbag2 recording with the nearest raw depth and the latest camera_info
    (topics: RGB, camera_info, depth)."""
    from rclpy.serialization import deserialize_message
    from rosbags.rosbag2 import Reader

    from depth_ros.conversions import ImageFormatError, camera_info_to_intrinsics
    from depth_ros.conversions import to_depth_metres as depth_of
    from depth_ros.conversions import to_rgb8 as rgb_of

    rgb_topic, info_topic, depth_topic = topics
    rgbs, depths, info = [], [], None
    try:
        with Reader(bag) as reader:
            wanted = [c for c in reader.connections if c.topic in topics]
            missing = set(topics) - {c.topic for c in wanted}
            if missing:
                raise ParameterError(
                    f"replay: {bag} has no topic {sorted(missing)}; it has "
                    f"{sorted(c.topic for c in reader.connections)}"
                )
            for connection, stamp, data in reader.messages(connections=wanted):
                if connection.topic == info_topic:
                    info = camera_info_to_intrinsics(deserialize_message(data, CameraInfo))
                elif connection.topic == depth_topic:
                    depths.append((stamp, depth_of(deserialize_message(data, Image))))
                elif info is not None and len(rgbs) < max_frames:
                    rgbs.append((stamp, rgb_of(deserialize_message(data, Image)), info))
    except (ImageFormatError, OSError) as error:
        raise ParameterError(f"replay: cannot read {bag}: {error}") from None
    except Exception as error:  # rosbags raises its own types for damaged or foreign files
        raise ParameterError(
            f"replay: {bag} is not a readable rosbag2 recording: {type(error).__name__}: {error}"
        ) from None
    if not rgbs or not depths:
        raise ParameterError(
            f"replay: {bag} holds {len(rgbs)} RGB frames after a camera_info "
            f"and {len(depths)} depth frames"
        )
    frames = []
    for stamp, rgb, intrinsics in rgbs:
        depth = min(depths, key=lambda d, stamp=stamp: abs(d[0] - stamp))[1]
        frames.append(ReplayFrame(rgb, np.nan_to_num(depth), intrinsics).resized(width, height))
    return frames


class ReplayNode(Node):
    def __init__(self, **kwargs):
        super().__init__("replay", **kwargs)
        try:
            self.params = declare_parameters(self, NODE_PARAMETERS["replay"])
            self.frames = self._load_frames()
        except ParameterError:
            self.destroy_node()  # nothing else was started yet
            raise
        source = self.params["source"]
        qos = qos_profile_sensor_data
        self.rgb_pub = self.create_publisher(Image, "camera/color/image_raw", qos)
        self.info_pub = self.create_publisher(CameraInfo, "camera/color/camera_info", qos)
        self.raw_pub = self.create_publisher(Image, "tof/depth/image_raw", qos)
        self.disparity_pub = (
            self.create_publisher(DisparityImage, "stereo/disparity", qos)
            if self.params["publish_stereo"]
            else None
        )
        self.index = 0
        self.published = 0
        self.create_timer(1.0 / self.params["rate"], self.publish_next)
        self.get_logger().info(
            f"replaying {len(self.frames)} frames from {source} at {self.params['rate']} Hz"
        )

    def _load_frames(self) -> list[ReplayFrame]:
        source, width, height = self.params["source"], self.params["width"], self.params["height"]
        if source == "scenes":
            return scene_frames(width, height)
        if source == "middlebury":
            return middlebury_frames(width, height)
        path = Path(source).expanduser()
        if not path.exists():
            raise ParameterError(
                f"replay: source {source!r} is not scenes, middlebury or an "
                f"existing folder or rosbag2 recording"
            )
        if (path / "metadata.yaml").is_file() or path.suffix in (".mcap", ".db3"):
            bag = path if path.is_dir() else path.parent
            return bag_frames(bag, width, height, list(self.params["bag_topics"]))
        return folder_frames(
            path, width, height, self.params["depth_scale"], list(self.params["intrinsics"])
        )

    def publish_next(self) -> None:
        frame = self.frames[self.index % len(self.frames)]
        self.index += 1
        header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.params["frame_id"])
        self.rgb_pub.publish(array_to_image(frame.rgb, "rgb8", header))
        self.info_pub.publish(intrinsics_to_camera_info(frame.intrinsics, header))
        millimetres = np.clip(np.round(frame.raw_depth * 1000), 0, 65535).astype(np.uint16)
        self.raw_pub.publish(array_to_image(millimetres, "16UC1", header))
        if self.disparity_pub is not None:
            self.disparity_pub.publish(disparity_message(frame, header))
        self.published += 1


def disparity_message(frame: ReplayFrame, header: Header) -> DisparityImage:
    """The raw depth as a rectified stereo camera would report it: d = f·T/z at the raw
    resolution (f scaled to it)."""
    height, width = frame.raw_depth.shape
    focal = frame.intrinsics.resized(width, height).fx
    with np.errstate(divide="ignore"):
        disparity = np.where(
            frame.raw_depth > 0, focal * STEREO_BASELINE_M / frame.raw_depth, 0
        ).astype(np.float32)
    return DisparityImage(
        header=header,
        image=array_to_image(disparity, "32FC1", header),
        f=float(focal),
        t=STEREO_BASELINE_M,
        min_disparity=0.0,
        max_disparity=float(disparity.max()) + 1.0,
        delta_d=0.0,
    )


def main() -> None:
    run_node(ReplayNode)
