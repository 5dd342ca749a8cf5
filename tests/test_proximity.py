"""The proximity monitor: distances from a known plane, zone edges, no data, thresholds with
hysteresis, bad configurations, and the node over real DDS."""

import math

import numpy as np
import pytest

from depth_core.geometry import Intrinsics
from depth_core.proximity import Reading, Zone, ZoneMask, ZoneState, zone_reading

K = Intrinsics(200.0, 200.0, 49.5, 39.5, 100, 80)


def plane(distance: float = 1.5, sigma: float = 0.1):
    return np.full((80, 100), distance, np.float32), np.full((80, 100), sigma, np.float32)


@pytest.mark.parametrize(
    "zone",
    [
        Zone("front", "image", (0.25, 0.25, 0.75, 1.0)),
        Zone("box", "box", (-0.5, -0.5, 0.5, 0.5, 0.5, 3.0)),
    ],
)
def test_plane_at_1_5_m_with_sigma_0_1_gives_1_5_and_1_3_at_k_2(zone):
    depth, sigma = plane()
    reading = zone_reading(depth, sigma, ZoneMask(zone, K), k=2.0)
    assert reading.nearest == pytest.approx(1.5)
    assert reading.conservative == pytest.approx(1.3)
    assert reading.pixels > 100


def test_image_zone_edges_are_respected():
    zone = Zone("middle", "image", (0.25, 0.0, 0.75, 1.0))  # columns 25..74 of 100
    for column, inside in ((24, False), (25, True), (74, True), (75, False)):
        depth, sigma = plane(2.0)
        depth[:, column] = 0.5
        reading = zone_reading(depth, sigma, ZoneMask(zone, K), percentile=0.0, min_pixels=1)
        assert reading.nearest == pytest.approx(0.5 if inside else 2.0), column


def test_box_zone_edges_are_respected():
    # x from −0.2 to 0.2 m at z = 1: u = 49.5 + 200·x -> columns 9.5..89.5 → 10..89. Boxes
    # sample every second pixel and row: 40 of those columns, 40 of the 80 rows.
    zone = Zone("box", "box", (-0.2, -1.0, 0.0, 0.2, 1.0, 1.2))
    depth, sigma = plane(1.0)
    reading = zone_reading(depth, sigma, ZoneMask(zone, K), min_pixels=1)
    assert reading.pixels == 40 * 40
    depth[:, 10:90:2] = 0.9  # the box's columns: its nearest surface
    depth[:, 2] = 0.85  # nearer, but outside the box: x = (2 − 49.5)·0.85/200 = −0.202 m
    reading = zone_reading(depth, sigma, ZoneMask(zone, K), percentile=0.0, min_pixels=1)
    assert reading.nearest == pytest.approx(0.9)
    depth[:, :] = 1.5  # beyond the box's far face
    assert not zone_reading(depth, sigma, ZoneMask(zone, K), min_pixels=1).has_data


def test_an_all_nan_zone_is_no_data_never_clear():
    zone = Zone("front", "image", (0.0, 0.0, 0.5, 0.5))
    depth, sigma = plane(3.0)
    depth[:40, :50] = np.nan
    reading = zone_reading(depth, sigma, ZoneMask(zone, K))
    assert not reading.has_data and math.isnan(reading.nearest) and reading.pixels == 0
    state = ZoneState(warning_m=1.0, stop_m=0.5)
    assert state.update(Reading(4.0, 3.8, 500)) == "clear"
    assert state.update(reading) == "no_data"


def test_states_change_at_thresholds_with_hysteresis():
    state = ZoneState(warning_m=1.0, stop_m=0.5, hysteresis_m=0.1)

    def at(conservative: float) -> str:
        return state.update(Reading(conservative + 0.2, conservative, 100))

    sequence = [
        (2.0, "clear"),
        (1.0, "warning"),
        (1.05, "warning"),
        (1.09, "warning"),
        (1.11, "clear"),
        (0.99, "warning"),
        (0.5, "stop"),
        (0.55, "stop"),
        (0.61, "warning"),
        (0.45, "stop"),
        (1.5, "clear"),
    ]
    assert [at(d) for d, _ in sequence] == [s for _, s in sequence]


@pytest.mark.parametrize(
    "kind, region, message",
    [
        ("image", (0.5, 0.1, 0.4, 0.9), "0 <= u0 < u1 <= 1"),
        ("image", (0.1, 0.1, 0.9), "u0, v0, u1, v1"),
        ("box", (0, 0, 1, 1, 1, 0.5), "z0<z1"),
        ("cone", (0, 0, 1, 1), "kind must be"),
    ],
)
def test_bad_zone_configurations_are_rejected_with_a_clear_message(kind, region, message):
    with pytest.raises(ValueError, match=message):
        Zone("front", kind, region)
    with pytest.raises(ValueError, match="warning distance"):
        ZoneState(warning_m=0.5, stop_m=0.5)


# ----------------------------------------------------------------------------------- the node

rclpy = pytest.importorskip("rclpy", reason="ROS 2 rclpy is needed for the node test")

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402, I001
from rclpy.parameter import Parameter  # noqa: E402
from ros_harness import Probe, Spinner, wait_until  # noqa: E402
from sensor_msgs.msg import (  # noqa: E402
    CameraInfo,
    Image,
    Range,  # noqa: E402
)

from depth_ros.conversions import array_to_image, intrinsics_to_camera_info  # noqa: E402
from depth_ros.node_support import ParameterError  # noqa: E402
from depth_ros.proximity_node import ProximityMonitorNode  # noqa: E402


def monitor(**values) -> ProximityMonitorNode:
    defaults = {
        "zones": ["front", "left"],
        "zone.front.kind": "image",
        "zone.front.region": [0.25, 0.25, 0.75, 1.0],
        "zone.left.kind": "image",
        "zone.left.region": [0.0, 0.0, 0.2, 0.5],
    }
    return ProximityMonitorNode(
        parameter_overrides=[Parameter(k, value=v) for k, v in {**defaults, **values}.items()]
    )


def test_monitor_node_publishes_ranges_and_states_over_dds(ros_context):
    node = monitor()
    probe = Probe("proximity_probe")
    depth_pub = probe.create_publisher(Image, "depth", 5)
    sigma_pub = probe.create_publisher(Image, "depth/uncertainty", 5)
    info_pub = probe.create_publisher(CameraInfo, "depth/camera_info", 5)
    got: dict[str, list] = {"front": [], "conservative": [], "left": [], "state": []}
    probe.create_subscription(Range, "proximity/front/nearest", got["front"].append, 10)
    probe.create_subscription(Range, "proximity/front/conservative", got["conservative"].append, 10)
    probe.create_subscription(Range, "proximity/left/nearest", got["left"].append, 10)
    probe.create_subscription(DiagnosticArray, "proximity/state", got["state"].append, 10)
    spinner = Spinner(node, probe)
    try:
        assert wait_until(
            lambda: (
                node.count_publishers("depth") == 1
                and probe.count_subscribers("depth/camera_info") == 1
            )
        )
        depth, sigma = plane(1.5, 0.1)
        depth[:40, :20] = np.nan  # the "left" zone sees nothing
        stamp = 5.0
        while not wait_until(lambda: got["state"], timeout=1.0):
            header = probe.header(stamp, "camera_depth_optical_frame")
            info_pub.publish(intrinsics_to_camera_info(K, header))
            depth_pub.publish(array_to_image(depth, "32FC1", header))
            sigma_pub.publish(array_to_image(sigma, "32FC1", header))
            stamp += 0.1
        assert wait_until(lambda: got["front"] and got["conservative"] and got["left"])
        front, conservative = got["front"][-1], got["conservative"][-1]
        assert front.range == pytest.approx(1.5) and conservative.range == pytest.approx(1.3)
        assert front.header.frame_id == "camera_depth_optical_frame"
        assert front.header.stamp == got["state"][-1].header.stamp
        assert math.isnan(got["left"][-1].range)
        states = {s.name: s for s in got["state"][-1].status}
        assert states["proximity: front"].message == "clear"
        assert states["proximity: left"].message == "no data"
    finally:
        spinner.close()


def test_monitor_rejects_bad_zone_parameters_at_start_up(ros_context):
    with pytest.raises(ParameterError, match="zone.front"):
        monitor(**{"zone.front.region": [0.9, 0.1, 0.2, 0.5]})
    with pytest.raises(ParameterError, match="stop_distance"):
        monitor(stop_distance=2.0, warning_distance=1.0)
