"""`monocular_depth`: RGB in, metric depth and σ out."""

from __future__ import annotations

from depth_core.runtime import DepthEstimator
from depth_core.runtime.plane_scale import GroundPlane
from depth_ros.conversions import camera_info_to_intrinsics
from depth_ros.depth_node import DepthNode, Frame
from depth_ros.node_support import run_node


class MonocularDepthNode(DepthNode):
    """RGB -> metric depth; with `ground_plane`, scaled to the support plane it sees."""

    def __init__(self, **kwargs):
        super().__init__("monocular_depth", **kwargs)

    def filters_every_frame(self) -> bool:
        # A learned-scale frame is filtered only with the camera's motion (odometry, or a
        # still camera seen in the images) or a ground plane.
        p = self.params
        return bool(p["camera_mount"] or p["ground_plane"] or p["temporal_detect_still"])

    def predict(self, frame: Frame, output_size: tuple[int, int], estimator: DepthEstimator):
        coefficients = self.params["ground_plane"]  # validated when set
        plane = (
            GroundPlane.from_coefficients([float(v) for v in coefficients])
            if coefficients
            else None
        )
        intrinsics = camera_info_to_intrinsics(frame.info)
        return estimator.predict(frame.rgb, None, intrinsics, output_size, plane)


def main() -> None:
    run_node(MonocularDepthNode)
