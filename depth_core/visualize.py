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
