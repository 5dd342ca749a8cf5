"""Point clouds: geometry from the intrinsics, the PointCloud2 buffer against a hand-built
one, NaN handling, and a real DDS round trip from a depth node."""

import struct

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy", reason="ROS 2 rclpy is needed for the PointCloud2 tests")
pytest.importorskip("skimage", reason="scikit-image holds the Middlebury pair")

from rclpy.parameter import Parameter  # noqa: E402
from ros_harness import Probe, Spinner, camera_frame, wait_until  # noqa: E402
from sensor_msgs.msg import PointCloud2, PointField  # noqa: E402
from std_msgs.msg import Header  # noqa: E402

from depth_core.geometry import Intrinsics  # noqa: E402
from depth_core.pointcloud import Points, depth_to_points  # noqa: E402
from depth_ros.conversions import image_to_array  # noqa: E402
from depth_ros.monocular_node import MonocularDepthNode  # noqa: E402
from depth_ros.pointcloud import cloud_to_array, points_to_cloud  # noqa: E402

K = Intrinsics(100.0, 120.0, 3.5, 2.5, 8, 6)


def test_a_plane_yields_points_on_it_with_x_y_from_the_intrinsics():
    depth = np.full((6, 8), 2.0, dtype=np.float32)
    points = depth_to_points(depth, K, decimation=2, organised=True)
    assert points.xyz.shape == (3, 4, 3)
    np.testing.assert_allclose(points.xyz[..., 2], 2.0)
    # Column u = 0, 2, 4, 6 and row v = 0, 2, 4: x = (u − 3.5)·2/100, y = (v − 2.5)·2/120.
    np.testing.assert_allclose(points.xyz[0, :, 0], [-0.07, -0.03, 0.01, 0.05], rtol=1e-6)
    np.testing.assert_allclose(points.xyz[:, 0, 1], [-5 / 120, -1 / 120, 3 / 120], rtol=1e-6)


def test_nan_depth_yields_no_points_unorganised_and_nan_points_organised():
    depth = np.full((6, 8), 1.0, dtype=np.float32)
    depth[0, 0], depth[1, 1], depth[2, 2] = np.nan, 0.0, -1.0
    listed = depth_to_points(depth, K)
    assert listed.xyz.shape == (45, 3) and np.isfinite(listed.xyz).all()
    grid = depth_to_points(depth, K, organised=True)
    assert np.isnan(grid.xyz[0, 0]).all() and np.isnan(grid.xyz[2, 2]).all()
    cloud = points_to_cloud(listed, Header())
    assert (cloud.height, cloud.width, cloud.is_dense) == (1, 45, True)
    cloud = points_to_cloud(grid, Header())
    assert (cloud.height, cloud.width, cloud.is_dense) == (6, 8, False)


def test_buffer_matches_a_hand_built_cloud_and_reads_back():
    xyz = np.array([[0.5, -0.25, 2.0], [1.0, 0.0, 3.5]], dtype=np.float32)
    rgb = np.array([[255, 128, 1], [0, 0, 9]], dtype=np.uint8)
    sigma = np.array([0.1, 0.2], dtype=np.float32)
    cloud = points_to_cloud(Points(xyz, rgb, sigma), Header(frame_id="cam"))
    assert [(f.name, f.offset, f.datatype, f.count) for f in cloud.fields] == [
        ("x", 0, PointField.FLOAT32, 1),
        ("y", 4, PointField.FLOAT32, 1),
        ("z", 8, PointField.FLOAT32, 1),
        ("rgb", 12, PointField.FLOAT32, 1),
        ("sigma", 16, PointField.FLOAT32, 1),
    ]
    assert (cloud.point_step, cloud.row_step, cloud.is_bigendian) == (20, 40, False)
    expected = b"".join(
        struct.pack("<fffIf", *p, (r << 16) | (g << 8) | b, s)
        for p, (r, g, b), s in zip(xyz.tolist(), rgb.tolist(), sigma.tolist(), strict=True)
    )
    assert bytes(cloud.data) == expected
    back = cloud_to_array(cloud)
    np.testing.assert_array_equal(np.stack([back["x"], back["y"], back["z"]], -1)[0], xyz)
    assert back["rgb"].view(np.uint32)[0, 0] == 0xFF8001
    np.testing.assert_array_equal(back["sigma"][0], sigma)


@pytest.mark.slow
def test_depth_node_publishes_its_depth_as_a_cloud_over_dds(ros_context, untrained_node_models):
    models = untrained_node_models
    rgb, _, intrinsics = camera_frame(160)
    node = MonocularDepthNode(
        parameter_overrides=[
            Parameter("model_path", value=str(models["mono"])),
            Parameter("point_cloud_decimation", value=2),
        ]
    )
    probe = Probe(outputs=("depth/estimated",))
    clouds = []
    probe.create_subscription(PointCloud2, "depth/estimated/points", clouds.append, 10)
    spinner = Spinner(node, probe)
    try:
        assert wait_until(lambda: node.outputs.points.get_subscription_count() > 0)
        stamp = 100.0
        while not wait_until(lambda: clouds and probe.received["depth/estimated"], timeout=1.0):
            stamp += 0.1
            probe.publish_frame(rgb, intrinsics, stamp)
        cloud = clouds[-1]
        depth_msg = next(
            m for m in probe.received["depth/estimated"] if m.header.stamp == cloud.header.stamp
        )
        depth = image_to_array(depth_msg)[::2, ::2]
        points = cloud_to_array(cloud)
        assert cloud.header.frame_id == "camera_color_optical_frame"
        assert points.shape == (1, depth.size)  # every output depth is valid (> 0)
        np.testing.assert_allclose(np.sort(points["z"][0]), np.sort(depth.ravel()), rtol=1e-6)
        assert {f.name for f in cloud.fields} == {"x", "y", "z", "rgb", "sigma"}
    finally:
        spinner.close()
