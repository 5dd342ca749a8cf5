"""Replay sources: the ../shared/data folder layout (TUM) and rosbag2 recordings (MCAP and
sqlite3) written here with `rosbags`, published over real DDS."""

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="ROS 2 rclpy is needed for replay tests")
pytest.importorskip("rosbags", reason="rosbags (requirements/runtime.txt) reads rosbag2 files")

from rclpy.parameter import Parameter  # noqa: E402
from rclpy.serialization import serialize_message  # noqa: E402
from ros_harness import Probe, Spinner, wait_until  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from depth_core.geometry import Intrinsics  # noqa: E402
from depth_ros.conversions import (  # noqa: E402
    array_to_image,
    image_to_array,
    intrinsics_to_camera_info,  # noqa: E402
)
from depth_ros.node_support import ParameterError, stamp_seconds  # noqa: E402
from depth_ros.replay import ReplayNode, bag_frames, folder_frames  # noqa: E402

TUM = Path(__file__).resolve().parents[2] / "shared" / "data" / "tum_fr1"


@pytest.mark.skipif(not TUM.is_dir(), reason=f"{TUM} (shared RGB-D frames) is absent")
def test_folder_source_reads_tum_depth_in_metres():
    frames = folder_frames(TUM, 320, 0, 5000.0, [520.9, 521.0, 325.1, 249.7])
    raw = cv2.imread(str(sorted((TUM / "depth").glob("*.png"))[0]), cv2.IMREAD_UNCHANGED)
    assert len(frames) == 2 and frames[0].rgb.shape == (240, 320, 3)
    np.testing.assert_allclose(frames[0].raw_depth, raw / 5000.0)  # 5000 units per metre
    assert frames[0].intrinsics.fx == pytest.approx(520.9 / 2)
    assert 0.3 < np.median(frames[0].raw_depth[frames[0].raw_depth > 0]) < 5  # a room


def write_bag(folder: Path, storage: str, count: int = 3) -> Path:
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.LATEST)

    plugin = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}[storage]
    intrinsics = Intrinsics(300.0, 300.0, 79.5, 59.5, 160, 120)
    bag = folder / f"bag_{storage}"
    with Writer(bag, version=9, storage_plugin=plugin) as writer:
        connections = {
            key: writer.add_connection(topic, msgtype, typestore=store)
            for key, topic, msgtype in (
                ("rgb", "/camera/color/image_raw", "sensor_msgs/msg/Image"),
                ("info", "/camera/color/camera_info", "sensor_msgs/msg/CameraInfo"),
                ("depth", "/tof/depth/image_raw", "sensor_msgs/msg/Image"),
            )
        }
        for i in range(count):
            header = Header(frame_id="cam")
            header.stamp.sec = 10 + i
            rgb = np.full((120, 160, 3), 40 * i, np.uint8)
            depth = np.full((30, 40), 1000 + 500 * i, np.uint16)  # 1.0, 1.5, 2.0 m
            t = (10 + i) * 10**9
            info = intrinsics_to_camera_info(intrinsics, header)
            writer.write(connections["info"], t, serialize_message(info))
            writer.write(
                connections["rgb"], t + 1, serialize_message(array_to_image(rgb, "rgb8", header))
            )
            writer.write(
                connections["depth"],
                t + 2,
                serialize_message(array_to_image(depth, "16UC1", header)),
            )
    return bag


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_bag_source_pairs_rgb_with_its_depth(tmp_path, storage):
    bag = write_bag(tmp_path, storage)
    topics = ["/camera/color/image_raw", "/camera/color/camera_info", "/tof/depth/image_raw"]
    frames = bag_frames(bag, 160, 0, topics)
    assert len(frames) == 3
    for i, frame in enumerate(frames):
        assert frame.rgb.shape == (120, 160, 3) and frame.rgb[0, 0, 0] == 40 * i
        assert frame.raw_depth.shape == (30, 40) and frame.raw_depth[0, 0] == pytest.approx(
            1.0 + 0.5 * i
        )
        assert frame.intrinsics.fx == 300.0
    with pytest.raises(ParameterError, match="has no topic"):
        bag_frames(bag, 160, 0, ["/other", *topics[1:]])


def test_replay_node_publishes_a_bag_restamped_over_dds(ros_context, tmp_path):
    bag = write_bag(tmp_path, "mcap")
    probe = Probe("replay_probe")
    probe.create_subscription(
        Image,
        "tof/depth/image_raw",
        lambda m: probe.received["raw"].append(m),
        rclpy.qos.qos_profile_sensor_data,
    )
    node = ReplayNode(
        parameter_overrides=[
            Parameter("source", value=str(bag)),
            Parameter("width", value=160),
            Parameter("rate", value=20.0),
        ]
    )
    spinner = Spinner(node, probe)
    try:
        assert wait_until(lambda: len(probe.received["raw"]) >= 5, timeout=20)
    finally:
        spinner.close()
    stamps = [stamp_seconds(m) for m in probe.received["raw"]]
    assert all(b > a for a, b in zip(stamps, stamps[1:], strict=False))  # looping, never back
    assert abs(stamps[-1] - time.time()) < 60  # restamped with the clock, not the bag's 10 s
    values = {float(image_to_array(m)[0, 0]) for m in probe.received["raw"]}
    assert values <= {1000.0, 1500.0, 2000.0} and len(values) >= 2  # the bag's frames, in mm


def test_replay_names_a_source_that_does_not_exist(ros_context, tmp_path):
    for source in (str(tmp_path / "missing"), str(tmp_path / "missing.mcap")):
        with pytest.raises(ParameterError, match="is not scenes, middlebury or an existing"):
            ReplayNode(parameter_overrides=[Parameter("source", value=source)])
