"""Metric scale from a known support plane: the floor below a mounted camera, or the table
under an arm's camera.

The plane is n·X + d = 0 in the camera optical frame (x right, y down, z forward), with n the
unit normal pointing from the plane toward the camera and d > 0 the camera's distance to it.
A robot reads it from its URDF / TF; a level camera at height h above the floor has
n = (0, −1, 0), d = h.

A monocular network's depth is right up to a global scale far more often than it is right in
metres. Its back-projected points that lie on the plane form a plane with the known normal at
some offset c, and scaling the depth by d / c puts them on the true plane. Which pixels lie on
it is found without ground truth: pixels whose predicted surface faces along n, clustered by
their height along n; the most populous height wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from depth_core.geometry import Intrinsics

# The fit runs on a grid this wide (the plane is large; full resolution only costs time).
FIT_WIDTH = 160
# Predicted surface normals within this angle of the plane's normal count as facing it; with
# the inlier band, chosen on the validation sources and generated scenes (a network's floor
# is neither flat nor level enough for tighter bounds).
MAX_NORMAL_ANGLE_DEG = 60.0
NORMAL_SMOOTHING = 5  # box filter (fit-grid pixels) on the points before their normals
# Inliers: height along n within this relative distance of the cluster's height.
INLIER_RELATIVE_TOLERANCE = 0.06
# Fewer plane pixels than this share of the valid pixels: the plane is taken as not visible.
MIN_PLANE_SHARE = 0.03
# The scale's spread is measured over this many inlier bands around the plane.
SPREAD_BAND = 4.0
MAD_TO_STD = 1.4826


@dataclass(frozen=True)
class GroundPlane:
    """n·X + d = 0 in the optical frame; n a unit vector from the plane toward the camera."""

    normal: tuple[float, float, float]
    distance: float

    @classmethod
    def from_coefficients(cls, values: Sequence[float]) -> GroundPlane:
        """Four numbers (nx, ny, nz, d); n is normalised (d with it), and must point toward
        the camera (d > 0)."""
        if len(values) != 4:
            raise ValueError(f"a ground plane is four numbers nx, ny, nz, d; got {len(values)}")
        coefficients = np.asarray(values, dtype=np.float64)
        if not np.all(np.isfinite(coefficients)):
            raise ValueError(f"ground plane {list(values)}: every number must be finite")
        norm = float(np.linalg.norm(coefficients[:3]))
        if norm < 1e-9:
            raise ValueError(f"ground plane {list(values)}: the normal (nx, ny, nz) is zero")
        normal, distance = coefficients[:3] / norm, float(coefficients[3]) / norm
        if distance <= 0:
            raise ValueError(
                f"ground plane {list(values)}: d must be > 0 (the camera's distance to the "
                "plane, n pointing from the plane to the camera)"
            )
        return cls((float(normal[0]), float(normal[1]), float(normal[2])), distance)


@dataclass(frozen=True)
class PlaneScale:
    """The result of a fit. scale is None when the plane was not found (`reason` says why);
    relative_sigma is the spread of the plane pixels' implied scale (a standard deviation,
    relative), the uncertainty the plane leaves on the whole image's scale."""

    scale: float | None
    plane_pixels: int  # at the fit grid's resolution
    plane_share: float  # of the valid pixels
    relative_sigma: float
    reason: str = ""

    def diagnostics(self) -> dict[str, str]:
        """The fit as diagnostic key-values."""
        return {
            "plane_share": f"{self.plane_share:.3f}",
            "plane_pixels": str(self.plane_pixels),
            "plane_relative_sigma": f"{self.relative_sigma:.4f}",
            "plane_not_found": self.reason,
        }


def _points(depth: np.ndarray, intrinsics: Intrinsics) -> np.ndarray:
    slope_x, slope_y = intrinsics.ray_slopes()
    return np.stack([slope_x[None, :] * depth, slope_y[:, None] * depth, depth], axis=-1)


def _facing(points: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """Pixels whose surface (from central differences of the points, smoothed first so that
    per-pixel noise does not turn the normals) faces along ±normal."""
    x, y, z = (cv2.blur(points[..., i], (NORMAL_SMOOTHING, NORMAL_SMOOTHING)) for i in range(3))
    facing = np.zeros(points.shape[:2], dtype=bool)
    # Central differences along u (columns) and v (rows), on the interior pixels.
    ux, uy, uz = (c[1:-1, 2:] - c[1:-1, :-2] for c in (x, y, z))
    vx, vy, vz = (c[2:, 1:-1] - c[:-2, 1:-1] for c in (x, y, z))
    cx, cy, cz = uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx
    along = normal[0] * cx + normal[1] * cy + normal[2] * cz
    squared = cx * cx + cy * cy + cz * cz
    cosine_squared = np.float32(np.cos(np.radians(MAX_NORMAL_ANGLE_DEG)) ** 2)
    facing[1:-1, 1:-1] = (squared > 0) & (along * along >= cosine_squared * squared)
    return facing


def fit_plane_scale(depth: np.ndarray, intrinsics: Intrinsics, plane: GroundPlane) -> PlaneScale:
    """The factor that puts `depth`'s (HxW, any unit-consistent scale, 0/NaN = invalid) pixels
    that lie on `plane` onto it. `intrinsics` are the camera's at depth's resolution."""
    height, width = depth.shape
    if (intrinsics.width, intrinsics.height) != (width, height):
        intrinsics = intrinsics.resized(width, height)
    if width > FIT_WIDTH:
        fit_height = max(2, round(height * FIT_WIDTH / width))
        depth = cv2.resize(depth, (FIT_WIDTH, fit_height), interpolation=cv2.INTER_NEAREST)
        intrinsics = intrinsics.resized(FIT_WIDTH, fit_height)
    depth = np.where(np.isfinite(depth) & (depth > 0), depth, 0).astype(np.float32)
    valid = depth > 0
    valid_count = int(valid.sum())
    if valid_count == 0:
        return PlaneScale(None, 0, 0.0, 0.0, "no valid depth")
    normal = np.asarray(plane.normal, dtype=np.float32)
    points = _points(depth, intrinsics)
    # Height of each point along n: the plane's points share −c (c > 0, below the camera).
    offset = -(points @ normal)
    candidates = valid & (offset > 0) & _facing(points, normal)
    log_offset = np.log(offset[candidates]) if candidates.any() else np.empty(0, np.float32)
    if log_offset.size < MIN_PLANE_SHARE * valid_count:
        return PlaneScale(
            None,
            int(log_offset.size),
            log_offset.size / valid_count,
            0.0,
            "no surface faces the plane's normal",
        )
    # The most populous height: the window of the inlier band's width that holds the most
    # heights (1-D RANSAC over every start, exhaustively), then re-centred on its median.
    tolerance = np.log1p(INLIER_RELATIVE_TOLERANCE)
    ordered = np.sort(log_offset)
    counts = np.searchsorted(ordered, ordered + 2 * tolerance, side="right") - np.arange(
        ordered.size
    )
    start = int(np.argmax(counts))
    window = ordered[start : start + int(counts[start])]
    centre = float(np.median(window))
    inliers = ordered[np.abs(ordered - centre) <= tolerance]
    share = inliers.size / valid_count
    if share < MIN_PLANE_SHARE:
        return PlaneScale(
            None,
            int(inliers.size),
            share,
            0.0,
            f"plane pixels {share:.1%} of the valid depth, below "
            f"{MIN_PLANE_SHARE:.0%}: not visible",
        )
    log_c = float(np.median(inliers))
    # The spread over a band wider than the inliers': the network's plane may bend, and the
    # inlier band alone would cap the spread at its own width.
    near = log_offset[np.abs(log_offset - log_c) <= SPREAD_BAND * tolerance]
    spread = MAD_TO_STD * float(np.median(np.abs(near - log_c)))
    return PlaneScale(
        plane.distance / float(np.exp(log_c)), int(inliers.size), share, float(np.expm1(spread))
    )
