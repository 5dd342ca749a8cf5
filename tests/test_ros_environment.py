"""The ROS 2 set-up is real: a std_msgs message crosses Fast DDS between two nodes."""

import time

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
