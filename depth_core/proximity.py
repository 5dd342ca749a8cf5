"""Uncertainty-aware proximity per zone: the nearest surface and a conservative distance.

ADVISORY ONLY: this is a perception signal, not a certified safety function.

Per zone and frame:
- nearest = a low percentile (default 5th) of the valid depths in the zone: robust to a few
  noisy pixels, unlike the single closest pixel;
- conservative = the same percentile of d − k·σ (k = 2 by default);
- fewer than `min_pixels` valid pixels: no data (never "clear").
Distances are along the optical axis (the depth image's z), as the depth image reports them.

Zones are image rectangles (fractions of the width and height, so they hold at any output
resolution) or 3D boxes in the camera's optical frame (metres).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from depth_core.geometry import Intrinsics

STATES = ("clear", "warning", "stop", "no_data")
BOX_STRIDE = 2


@dataclass(frozen=True)
class Zone:
    name: str
    kind: str  # "image" or "box"
    region: tuple[float, ...]  # image: u0 v0 u1 v1 in [0, 1]; box: x0 y0 z0 x1 y1 z1 metres

    def __post_init__(self):
        if not self.name.replace("_", "").isalnum():
            raise ValueError(f"zone name {self.name!r}: letters, digits and _ only")
        if self.kind == "image":
            if len(self.region) != 4:
                raise ValueError(
                    f"zone {self.name}: an image zone is [u0, v0, u1, v1], got "
                    f"{len(self.region)} values"
                )
            u0, v0, u1, v1 = self.region
            if not (0 <= u0 < u1 <= 1 and 0 <= v0 < v1 <= 1):
                raise ValueError(
                    f"zone {self.name}: image region {list(self.region)} must "
                    f"satisfy 0 <= u0 < u1 <= 1 and 0 <= v0 < v1 <= 1"
                )
        elif self.kind == "box":
            if len(self.region) != 6:
                raise ValueError(
                    f"zone {self.name}: a box zone is [x0, y0, z0, x1, y1, z1], "
                    f"got {len(self.region)} values"
                )
            low, high = np.array(self.region[:3]), np.array(self.region[3:])
            if not np.all(low < high) or high[2] <= 0:
                raise ValueError(
                    f"zone {self.name}: box {list(self.region)} needs x0<x1, "
                    f"y0<y1, z0<z1 and z1 > 0 (in front of the camera)"
                )
        else:
            raise ValueError(f"zone {self.name}: kind must be 'image' or 'box', got {self.kind!r}")


@dataclass(frozen=True)
class Reading:
    nearest: float  # metres; NaN = no data
    conservative: float
    pixels: int

    @property
    def has_data(self) -> bool:
        return np.isfinite(self.nearest)


class ZoneMask:
    """The pixels of a zone for one image size and camera, computed once and reused."""

    def __init__(self, zone: Zone, intrinsics: Intrinsics):
        self.zone = zone
        width, height = intrinsics.width, intrinsics.height
        if zone.kind == "image":
            u0, v0, u1, v1 = zone.region
            self.window = (
                slice(int(round(v0 * height)), int(round(v1 * height))),
                slice(int(round(u0 * width)), int(round(u1 * width))),
            )
            self.box = None
            return
        # A box: only pixels whose rays can reach it (its corners' projection, clipped).
        x0, y0, z0, x1, y1, z1 = zone.region
        near = max(z0, 1e-3)
        corners = np.array([[x, y, z] for x in (x0, x1) for y in (y0, y1) for z in (near, z1)])
        u = intrinsics.fx * corners[:, 0] / corners[:, 2] + intrinsics.cx
        v = intrinsics.fy * corners[:, 1] / corners[:, 2] + intrinsics.cy
        columns = (
            int(np.clip(np.floor(u.min()), 0, width)),
            int(np.clip(np.ceil(u.max()) + 1, 0, width)),
        )
        rows = (
            int(np.clip(np.floor(v.min()), 0, height)),
            int(np.clip(np.ceil(v.max()) + 1, 0, height)),
        )
        # Every second pixel and row: a box needs per-pixel 3D tests, and a percentile of a
        # quarter of the pixels is the same statistic at a quarter of the cost.
        self.window = (slice(*rows, BOX_STRIDE), slice(*columns, BOX_STRIDE))
        slope_x, slope_y = intrinsics.ray_slopes()
        self.ray_x = slope_x[self.window[1]][None, :]  # x/z per sampled column
        self.ray_y = slope_y[self.window[0]][:, None]  # y/z per sampled row
        # Centre and half extent per axis: |v − centre| <= half is one test per axis. The near
        # face stays in front of the camera, so depth 0 (invalid) never counts.
        low = np.array([x0, y0, max(z0, 1e-6)], dtype=np.float32)
        high = np.array([x1, y1, z1], dtype=np.float32)
        self.box = ((low + high) / 2, (high - low) / 2)
        self._scratch = np.empty((self.ray_y.shape[0], self.ray_x.shape[1]), np.float32)

    def values(self, depth: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Valid depths (and their σ) in the zone."""
        d, s = depth[self.window], sigma[self.window]
        if self.box is None:
            valid = np.isfinite(d) & (d > 0) & np.isfinite(s)
            return d[valid], s[valid]
        (xc, yc, zc), (hx, hy, hz) = self.box
        scratch = self._scratch
        # NaN fails every comparison, so invalid depth drops out without a separate test.
        with np.errstate(invalid="ignore"):
            np.subtract(d, zc, out=scratch)
            inside = np.abs(scratch, out=scratch) <= hz
            np.multiply(self.ray_x, d, out=scratch)
            scratch -= xc
            inside &= np.abs(scratch, out=scratch) <= hx
            np.multiply(self.ray_y, d, out=scratch)
            scratch -= yc
            inside &= np.abs(scratch, out=scratch) <= hy
        inside &= np.isfinite(s)
        return d[inside], s[inside]


def zone_reading(
    depth: np.ndarray,
    sigma: np.ndarray,
    mask: ZoneMask,
    k: float = 2.0,
    percentile: float = 5.0,
    min_pixels: int = 50,
) -> Reading:
    d, s = mask.values(depth, sigma)
    if len(d) < min_pixels:
        return Reading(float("nan"), float("nan"), int(len(d)))
    return Reading(
        _percentile(d, percentile), _percentile(d - np.float32(k) * s, percentile), int(len(d))
    )


def _percentile(values: np.ndarray, percentile: float) -> float:
    """Nearest-rank percentile (the k-th smallest, k = round(p/100·(n−1))): one partial sort,
    over 10x faster than np.percentile's interpolation at these sizes."""
    rank = int(round(percentile / 100 * (len(values) - 1)))
    return float(np.partition(values, rank)[rank])


class ZoneState:
    """clear / warning / stop from the conservative distance, with hysteresis: a state is
    entered at its threshold but left only beyond threshold + hysteresis, so the output does
    not flicker at the boundary. No data is its own state, never "clear"."""

    def __init__(self, warning_m: float, stop_m: float, hysteresis_m: float = 0.1):
        if not 0 <= stop_m < warning_m:
            raise ValueError(f"need 0 <= stop distance ({stop_m}) < warning distance ({warning_m})")
        if hysteresis_m < 0:
            raise ValueError(f"hysteresis must be >= 0, got {hysteresis_m}")
        self.warning_m, self.stop_m, self.hysteresis_m = warning_m, stop_m, hysteresis_m
        self.state = "no_data"

    def _level(self, distance: float) -> int:
        return 2 if distance <= self.stop_m else 1 if distance <= self.warning_m else 0

    def update(self, reading: Reading) -> str:
        if not reading.has_data:
            self.state = "no_data"
            return self.state
        level = self._level(reading.conservative)
        if self.state != "no_data":
            current = _LEVELS.index(self.state)
            if level < current:  # toward safety at once; away from it only past the margin
                level = min(current, self._level(reading.conservative - self.hysteresis_m))
        self.state = _LEVELS[level]
        return self.state


_LEVELS = ("clear", "warning", "stop")
