"""Pictures a person can read: colourised depth and side-by-side mosaics."""

from __future__ import annotations

import cv2
import numpy as np


def colourise_depth(
    depth: np.ndarray, min_depth: float | None = None, max_depth: float | None = None
) -> np.ndarray:
    """Depth in metres -> bgr8 image (turbo colour map, near = red); invalid pixels are black.

    Without explicit limits the range is the 2nd..98th percentile of the valid depth, so a
    few outliers do not wash out the picture.
    """
    depth = np.asarray(depth, dtype=np.float32)
    valid = np.isfinite(depth) & (depth > 0)
    if not valid.any():
        return np.zeros((*depth.shape, 3), dtype=np.uint8)
    lo = float(np.percentile(depth[valid], 2)) if min_depth is None else min_depth
    hi = float(np.percentile(depth[valid], 98)) if max_depth is None else max_depth
    hi = max(hi, lo + 1e-6)
    # Inverse depth spreads the colours over near objects, where HRI cares most.
    scaled = (1.0 / np.clip(depth, lo, hi) - 1.0 / hi) / (1.0 / lo - 1.0 / hi)
    indices = np.where(valid, np.clip(scaled * 255.0, 0, 255), 0).astype(np.uint8)
    bgr = cv2.applyColorMap(indices, cv2.COLORMAP_TURBO)
    bgr[~valid] = 0
    return bgr


def mosaic(tiles: list[tuple[str, np.ndarray]], tile_height: int = 240) -> np.ndarray:
    """Labelled bgr8 tiles side by side, each resized to `tile_height`."""
    resized = []
    for label, tile in tiles:
        if tile.ndim == 2:
            tile = cv2.cvtColor(tile, cv2.COLOR_GRAY2BGR)
        width = round(tile.shape[1] * tile_height / tile.shape[0])
        tile = cv2.resize(tile, (width, tile_height), interpolation=cv2.INTER_AREA)
        cv2.putText(tile, label, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
        resized.append(tile)
    return np.concatenate(resized, axis=1)


def depth_range(*depths: np.ndarray) -> tuple[float, float]:
    """One range for several depth images: the 2nd..98th percentile of their valid pixels
    together, so that the same colour means the same distance in every panel."""
    values = np.concatenate([d[np.isfinite(d) & (d > 0)].ravel() for d in depths])
    if values.size == 0:
        return 0.1, 10.0
    lo, hi = np.percentile(values, [2, 98])
    return float(lo), float(max(hi, lo + 1e-3))


def colourise_sigma(sigma: np.ndarray, max_sigma: float) -> np.ndarray:
    """σ in metres -> bgr8 on a sequential map (viridis: dark = small σ, yellow = large),
    linear from 0 to `max_sigma`; invalid pixels are black."""
    sigma = np.asarray(sigma, dtype=np.float32)
    valid = np.isfinite(sigma)
    scaled = np.clip(np.where(valid, sigma, 0) / max(max_sigma, 1e-6), 0, 1)
    bgr = cv2.applyColorMap((scaled * 255).astype(np.uint8), cv2.COLORMAP_VIRIDIS)
    bgr[~valid] = 0
    return bgr


def colour_bar(
    values: np.ndarray, colours: np.ndarray, title: str, height: int, width: int = 70
) -> np.ndarray:
    """A vertical colour bar (bgr8, `height` high): `colours` (N x 3, bottom to top) for
    `values` (N, ascending), five labelled ticks and a title, e.g. "depth (m)"."""
    bar = np.full((height, width, 3), 255, np.uint8)
    top, bottom, stripe = 28, height - 10, 16
    rows = np.linspace(0, len(values) - 1, bottom - top).round().astype(int)[::-1]
    bar[top:bottom, 4 : 4 + stripe] = colours[rows][:, None, :]
    cv2.putText(bar, title, (2, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    for fraction in np.linspace(0, 1, 5):
        row = round(bottom - 1 - fraction * (bottom - top - 1))
        value = values[round(fraction * (len(values) - 1))]
        cv2.line(bar, (4 + stripe, row), (8 + stripe, row), (0, 0, 0), 1)
        cv2.putText(
            bar,
            f"{value:.2f}",
            (10 + stripe, row + 4),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.38,
            (0, 0, 0),
            1,
        )
    return bar


def depth_colour_bar(lo: float, hi: float, height: int) -> np.ndarray:
    """The colour bar of colourise_depth(·, lo, hi), in metres."""
    values = np.linspace(lo, hi, 256, dtype=np.float32)
    colours = colourise_depth(values[None, :], lo, hi)[0]
    return colour_bar(values, colours, "depth (m)", height)


def sigma_colour_bar(max_sigma: float, height: int) -> np.ndarray:
    """The colour bar of colourise_sigma(·, max_sigma), in metres."""
    values = np.linspace(0, max_sigma, 256, dtype=np.float32)
    return colour_bar(values, colourise_sigma(values[None, :], max_sigma)[0], "sigma (m)", height)
