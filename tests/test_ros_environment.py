"""The ROS 2 set-up is real: a std_msgs message crosses Fast DDS between two nodes."""

import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed (requirements/ros.txt)")
from std_msgs.msg import String  # noqa: E402


def test_string_round_trip_over_dds():
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        talker = rclpy.create_node("env_talker", context=context)
        listener = rclpy.create_node("env_listener", context=context)
        received: list[str] = []
        listener.create_subscription(String, "env_check", lambda m: received.append(m.data), 10)
        publisher = talker.create_publisher(String, "env_check", 10)
        executor = rclpy.executors.SingleThreadedExecutor(context=context)
        executor.add_node(talker)
        executor.add_node(listener)
        deadline = time.monotonic() + 10.0
        while not received and time.monotonic() < deadline:
            publisher.publish(String(data="depth_ros"))
            executor.spin_once(timeout_sec=0.1)
        assert received and received[0] == "depth_ros"
    finally:
        rclpy.shutdown(context=context)


LARGE_IMAGE_PEER = """
import sys, time, zlib
import numpy as np, rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from depth_ros.conversions import array_to_image, image_to_array
rclpy.init()
node = rclpy.create_node("profile_" + sys.argv[1])
qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
image = (np.arange(480 * 640 * 3) % 251).astype(np.uint8).reshape(480, 640, 3)
if sys.argv[1] == "talker":
    publisher = node.create_publisher(Image, "profile_check", qos)
    for _ in range(300):
        publisher.publish(array_to_image(image, "rgb8", Header(frame_id="camera")))
        rclpy.spin_once(node, timeout_sec=0.1)
else:
    got = []
    node.create_subscription(Image, "profile_check", lambda m: got.append(image_to_array(m)), qos)
    deadline = time.monotonic() + 30
    while not got and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    print("received", zlib.crc32(got[0].tobytes()) if got else None, flush=True)
"""


def test_shipped_fast_dds_profile_carries_camera_images_between_processes():
    """config/fastdds_large_images.xml parses without Fast DDS errors (a bad profile is only
    logged, never fatal) and a 0.9 MB image crosses processes intact with it."""
    profile = Path(__file__).resolve().parent.parent / "config" / "fastdds_large_images.xml"
    env = {**os.environ, "FASTDDS_DEFAULT_PROFILES_FILE": str(profile)}

    def peer(role: str) -> subprocess.Popen:
        command = [sys.executable, "-c", LARGE_IMAGE_PEER, role]
        return subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    listener, talker = peer("listener"), peer("talker")
    output = listener.communicate(timeout=60)[0]
    talker.kill()
    output += talker.communicate()[0]
    expected = (np.arange(480 * 640 * 3) % 251).astype(np.uint8)
    assert f"received {zlib.crc32(expected.tobytes())}" in output, output[-2000:]
    assert "XMLPARSER" not in output, output[-2000:]
