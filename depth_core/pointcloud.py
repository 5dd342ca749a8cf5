"""Depth image -> 3D points in the camera's optical frame (x right, y down, z forward)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from depth_core.geometry import Intrinsics


@dataclass
class Points:
    """xyz: Nx3 float32 metres (organised: HxWx3 with NaN where invalid). rgb: matching uint8
    colours or None. sigma: matching float32 σ (metres along z) or None."""

    xyz: np.ndarray
    rgb: np.ndarray | None = None
    sigma: np.ndarray | None = None

    @property
    def organised(self) -> bool:
        return self.xyz.ndim == 3


def depth_to_points(
    depth: np.ndarray,
    intrinsics: Intrinsics,
    rgb: np.ndarray | None = None,
    sigma: np.ndarray | None = None,
    decimation: int = 1,
    organised: bool = False,
) -> Points:
    """Back-project every `decimation`-th pixel of each `decimation`-th row:
    x = (u − cx)·z/fx, y = (v − cy)·z/fy. `intrinsics` describe `depth`'s own resolution;
    `rgb` and `sigma` have that resolution too. Invalid depth (≤ 0, NaN, inf) becomes NaN
    points in the organised form and is dropped in the unorganised one."""
    if depth.ndim != 2:
        raise ValueError(f"depth must be HxW, got shape {depth.shape}")
    height, width = depth.shape
    if (intrinsics.width, intrinsics.height) != (width, height):
        raise ValueError(
            f"intrinsics are for {intrinsics.width}x{intrinsics.height}, depth is {width}x{height}"
        )
    if decimation < 1:
        raise ValueError(f"decimation must be >= 1, got {decimation}")
    z = depth[::decimation, ::decimation].astype(np.float32)
    valid = np.isfinite(z) & (z > 0)
    z = np.where(valid, z, np.float32(np.nan))
    slope_x, slope_y = intrinsics.ray_slopes()
    x, y = slope_x[::decimation], slope_y[::decimation]
    xyz = np.empty((*z.shape, 3), dtype=np.float32)
    xyz[..., 0] = x[None, :] * z
    xyz[..., 1] = y[:, None] * z
    xyz[..., 2] = z
    colours = None if rgb is None else rgb[::decimation, ::decimation]
    sigmas = None if sigma is None else sigma[::decimation, ::decimation].astype(np.float32)
    if organised:
        return Points(xyz, colours, sigmas)
    return Points(
        xyz[valid],
        None if colours is None else colours[valid],
        None if sigmas is None else sigmas[valid],
    )
