"""The temporal filter's per-pixel kernels (numba), one pass over the image each; the filter
and its rules are described in `temporal`. Imported only when a filter first runs."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def restart(depth, sigma, history_depth, history_sigma, count) -> None:
    """Every pixel's history starts from this frame: its valid estimates, count 1."""
    for i in range(depth.size):
        d, s = depth[i], sigma[i]
        if d > 0 and d < np.inf and np.isfinite(s):
            history_depth[i], history_sigma[i], count[i] = d, s, 1
        else:
            history_depth[i], history_sigma[i], count[i] = 0, 0, 0


# error_model="numpy": a division by zero gives inf or NaN instead of raising, which leaves
# the loop free of branches so that it runs on several pixels at once.
@njit(cache=True, nogil=True, error_model="numpy")
def fuse(
    depth,
    sigma,
    history_depth,
    history_sigma,
    count,
    scale,
    offset,
    noise_spread,
    motion_sigmas,
    strength,
    out_depth,
    out_sigma,
):
    """One pass over the pixels (flat float32 arrays, float32 scalars): align the history,
    gate, fuse, and update the history. noise_spread: √2 times the relative frame-to-frame
    noise. Returns (pixels held, valid pixels). Written without branches, in float32, so
    that the compiler vectorises it."""
    zero, one, tiny = np.float32(0), np.float32(1), np.float32(1e-30)
    held = 0
    valid_count = 0
    for i in range(depth.size):
        d, s, c = depth[i], sigma[i], count[i]
        has_history = c > zero
        # Also the history of pixels with no new estimate follows the frame.
        h = scale * history_depth[i] + offset if has_history else history_depth[i]
        hs = scale * history_sigma[i] if has_history else history_sigma[i]
        valid = (d > zero) & (d < np.float32(np.inf)) & (np.abs(s) < np.float32(np.inf))
        # The gate: the change against the combined σ or, where smaller, the noise.
        combined = np.sqrt(hs * hs + s * s)
        noise = noise_spread * d
        limit = motion_sigmas * (combined if combined < noise else noise)
        change = d - h
        still = valid & has_history & (np.abs(change) <= limit)
        # History weight: its frame count against the new frame, in proportion to their
        # variances (a running mean when the σs are equal), capped by strength. The tiny
        # term keeps 0 / 0 (σ = 0 on both sides) at weight 0.
        new_variance = s * s * c
        w = new_variance / (hs * hs + new_variance + tiny)
        w = (w if w < strength else strength) if still else zero
        fused = d - w * change
        # σ: the weighted mean of the two (fully correlated errors), plus the mixture's
        # spread w·(1 − w)·(history − new)².
        mean_sigma = s + w * (hs - s)
        fused_sigma = np.sqrt(mean_sigma * mean_sigma + w * (one - w) * change * change)
        out_depth[i] = fused if valid else d  # no estimate: passed on, history kept
        out_sigma[i] = fused_sigma if valid else s
        history_depth[i] = fused if valid else h
        history_sigma[i] = fused_sigma if valid else hs
        count[i] = (c + one if still else one) if valid else c
        held += still
        valid_count += valid
    return held, valid_count


@njit(cache=True, nogil=True, error_model="numpy")
def warp(
    history_depth,
    history_sigma,
    count,
    rotation,
    translation,
    fx,
    fy,
    cx,
    cy,
    out_depth,
    out_sigma,
    out_count,
) -> int:
    """Forward-warp the history (HxW float32 arrays) into a camera moved by (rotation,
    translation), the new camera's coordinates of a point in the old one's: each pixel with
    a history is back-projected at its depth, moved, and lands on the nearest pixel of the
    new image, the nearest surface winning where several land on one. Its σ scales with its
    depth. Pixels nothing lands on get no history (count 0). Returns the pixels carried."""
    height, width = history_depth.shape
    # Empty to start with: a pixel nothing lands on has no history, depth and σ 0 (as after
    # a restart; the fusion multiplies them by a zero weight, which garbage would spoil).
    out_depth[:] = 0
    out_sigma[:] = 0
    out_count[:] = 0
    r00, r01, r02 = rotation[0, 0] / fx, rotation[0, 1] / fy, rotation[0, 2]
    r10, r11, r12 = rotation[1, 0] / fx, rotation[1, 1] / fy, rotation[1, 2]
    r20, r21, r22 = rotation[2, 0] / fx, rotation[2, 1] / fy, rotation[2, 2]
    carried = 0
    for v in range(height):
        dy = v - cy
        for u in range(width):
            z, c = history_depth[v, u], count[v, u]
            if not (c > 0 and z > 0 and z < np.inf):
                continue
            # The rotation acts on the ray (u − cx)/fx, (v − cy)/fy, 1 scaled by z.
            dx = u - cx
            new_z = (r20 * dx + r21 * dy + r22) * z + translation[2]
            if not new_z > 0:
                continue
            inverse = 1 / new_z
            column = fx * ((r00 * dx + r01 * dy + r02) * z + translation[0]) * inverse + cx
            row = fy * ((r10 * dx + r11 * dy + r12) * z + translation[1]) * inverse + cy
            if not (-0.5 <= column < width - 0.5 and -0.5 <= row < height - 0.5):
                continue
            r, k = int(row + 0.5), int(column + 0.5)
            if out_count[r, k] > 0 and out_depth[r, k] <= new_z:
                continue
            carried += out_count[r, k] == 0
            out_depth[r, k] = new_z
            out_sigma[r, k] = history_sigma[v, u] * (new_z / z)
            out_count[r, k] = c
    return carried
