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
