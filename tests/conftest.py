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


@pytest.fixture
def ros_context():
    """An rclpy context for one test; shut down after it, whatever the test did."""
    rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed (requirements/ros.txt)")
    rclpy.init()
    yield
    rclpy.try_shutdown()


@pytest.fixture(scope="module")
def ros_module_context():
    """An rclpy context shared by the tests of one module."""
    rclpy = pytest.importorskip("rclpy", reason="rclpy is not installed (requirements/ros.txt)")
    rclpy.init()
    yield
    rclpy.try_shutdown()


@pytest.fixture(scope="session")
def node_models(tmp_path_factory):
    """ONNX models for the nodes (ros_harness.make_models), the recovery one fitted."""
    from ros_harness import make_models

    return make_models(tmp_path_factory.mktemp("node_models"))


@pytest.fixture(scope="session")
def untrained_node_models(tmp_path_factory):
    """The same models untrained: for tests of plumbing, not of values."""
    from ros_harness import make_models

    return make_models(tmp_path_factory.mktemp("untrained_node_models"), fit_steps=0)
