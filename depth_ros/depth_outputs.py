"""What a depth node publishes for one frame: depth and σ (32FC1, metres), the camera_info
scaled to the output, and, only while someone subscribes, a colourised preview and a point
cloud. Every message copies the RGB frame's header."""

from __future__ import annotations

import numpy as np
from rclpy.lifecycle import LifecycleNode
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from depth_core.pointcloud import depth_to_points
from depth_core.processing import resize_colour
from depth_core.runtime import DepthResult
from depth_core.visualize import colourise_depth
from depth_ros.conversions import array_to_image, camera_info_to_intrinsics, scaled_camera_info
from depth_ros.node_support import OUTPUT_QOS
from depth_ros.pointcloud import points_to_cloud


class DepthOutputs:
    """The lifecycle publishers under `prefix` (`depth/estimated`, `depth/recovered`)."""

    def __init__(self, node: LifecycleNode, prefix: str):
        def publisher(kind, suffix: str):
            return node.create_lifecycle_publisher(kind, prefix + suffix, OUTPUT_QOS)

        self.depth = publisher(Image, "")
        self.sigma = publisher(Image, "/uncertainty")
        self.info = publisher(CameraInfo, "/camera_info")
        self.preview = publisher(Image, "/preview")
        self.points = publisher(PointCloud2, "/points")
        self.publishers = [self.depth, self.sigma, self.info, self.preview, self.points]

    def has_subscribers(self) -> bool:
        return any(p.get_subscription_count() for p in self.publishers)

    def publish(
        self,
        result: DepthResult,
        rgb: np.ndarray,
        info: CameraInfo,
        header,
        point_decimation: int,
        organised_points: bool,
    ) -> None:
        height, width = result.depth.shape
        self.depth.publish(array_to_image(result.depth, "32FC1", header))
        self.sigma.publish(array_to_image(result.sigma, "32FC1", header))
        self.info.publish(scaled_camera_info(info, width, height, header))
        if self.preview.get_subscription_count():
            self.preview.publish(array_to_image(colourise_depth(result.depth), "bgr8", header))
        if self.points.get_subscription_count():
            intrinsics = camera_info_to_intrinsics(info).resized(width, height)
            colour = resize_colour(rgb, width, height)
            points = depth_to_points(
                result.depth, intrinsics, colour, result.sigma, point_decimation, organised_points
            )
            self.points.publish(points_to_cloud(points, header))
