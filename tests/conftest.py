"""Shared test set-up. DDS traffic stays on loopback in a domain of the test run's own."""

import os

# Set before any test imports rclpy; `make test` sets the same values.
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("ROS_DOMAIN_ID", "61")
