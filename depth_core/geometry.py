"""Camera geometry shared by data loaders, the runtime and the nodes."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels for an image of `width` x `height`."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def resized(self, width: int, height: int) -> Intrinsics:
        """Intrinsics of the same camera after resizing the image to `width` x `height`.

        Uses the pixel-edge convention (as OpenCV's resize and ROS image_proc do): a pixel
        centre at u maps to (u + 0.5)·s − 0.5.
        """
        sx, sy = width / self.width, height / self.height
        return replace(
            self,
            fx=self.fx * sx,
            fy=self.fy * sy,
            cx=resized_coordinate(self.cx, sx),
            cy=resized_coordinate(self.cy, sy),
            width=width,
            height=height,
        )

    def ray_slopes(self) -> tuple[np.ndarray, np.ndarray]:
        """(x/z per column, y/z per row) of the rays through the pixel centres (float32): a
        pixel at depth z back-projects to (slope_x[u]·z, slope_y[v]·z, z)."""
        columns = np.arange(self.width, dtype=np.float32)
        rows = np.arange(self.height, dtype=np.float32)
        return (
            (columns - np.float32(self.cx)) / np.float32(self.fx),
            (rows - np.float32(self.cy)) / np.float32(self.fy),
        )

    def back_project(self, rows: np.ndarray, columns: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Pixels (rows, columns) at depth z -> 3 x N points in the optical frame (float64):
        x = (u − cx)·z/fx, y = (v − cy)·z/fy."""
        z = np.asarray(z, dtype=np.float64)
        return np.stack([(columns - self.cx) / self.fx * z, (rows - self.cy) / self.fy * z, z])

    def project(
        self, points: np.ndarray, min_depth: float = 1e-6
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """3 x N points in the optical frame -> (which points land in the image: in front by
        more than min_depth and inside it; their nearest pixel's rows; its columns)."""
        x, y, z = points
        ahead = z > min_depth
        safe_z = np.where(ahead, z, 1.0)
        u = np.round(self.fx * x / safe_z + self.cx)
        v = np.round(self.fy * y / safe_z + self.cy)
        keep = ahead & (u >= 0) & (u < self.width) & (v >= 0) & (v < self.height)
        return keep, v[keep].astype(np.int64), u[keep].astype(np.int64)


def resized_coordinate(coordinate: float, scale: float) -> float:
    """A pixel coordinate after resizing by `scale`, pixel-edge convention (OpenCV, ROS)."""
    return (coordinate + 0.5) * scale - 0.5


def disparity_to_depth(
    disparity: np.ndarray, focal_px: float, baseline_m: float, doffs_px: float = 0.0
) -> np.ndarray:
    """Metric depth from stereo disparity: depth = f·T / (d + doffs).

    Non-finite or non-positive effective disparity gives NaN (no estimate, as REP-118 asks),
    never inf or a negative depth.
    """
    if focal_px <= 0 or baseline_m <= 0:
        raise ValueError(
            f"focal length and baseline must be positive, got {focal_px}, {baseline_m}"
        )
    effective = np.asarray(disparity, dtype=np.float32) + np.float32(doffs_px)
    valid = np.isfinite(effective) & (effective > 0)
    depth = np.full(effective.shape, np.nan, dtype=np.float32)
    depth[valid] = np.float32(focal_px * baseline_m) / effective[valid]
    return depth


def register_depth(
    depth: np.ndarray,
    source: Intrinsics,
    target: Intrinsics,
    target_from_source: np.ndarray,
) -> np.ndarray:
    """Depth seen by one camera (`source`, metres, 0 = missing) as another camera of the rig
    sees it (`target`'s image size): every valid pixel is back-projected, moved by the 4x4
    `target_from_source` and projected to its nearest pixel; where several land on one
    pixel the nearest surface wins. Pixels nothing lands on stay 0 (no invented depth)."""
    rows, columns = np.nonzero(depth > 0)
    points = source.back_project(rows, columns, depth[rows, columns])
    moved = target_from_source[:3, :3] @ points + target_from_source[:3, 3:4]
    keep, v, u = target.project(moved)
    z = moved[2, keep]
    registered = np.zeros((target.height, target.width), dtype=np.float32)
    order = np.argsort(-z)  # far first: the nearest surface is written last and wins
    registered[v[order], u[order]] = z[order]
    return registered
