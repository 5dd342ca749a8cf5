"""Shared test set-up. DDS traffic stays on loopback in a domain of the test run's own."""

import os

import pytest

# Set before any test imports rclpy; `make test` sets the same values.
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", "61")


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory):
    """Model caches (ONNX exports, engines) go to the run's temporary folder, not ~/.cache."""
    os.environ["DEPTH_ROS_CACHE"] = str(tmp_path_factory.mktemp("depth_ros_cache"))
