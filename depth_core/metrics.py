"""Depth evaluation metrics (Eigen et al. protocol) and uncertainty sparsification (AUSE).

All functions take numpy arrays in metres. Pixels count when the ground truth is valid,
finite and within [min_depth, max_depth]; predictions are clipped to the same range, as the
standard NYU/KITTI evaluation code does.
"""

from __future__ import annotations

import numpy as np

METRIC_NAMES = (
    "abs_rel",
    "sq_rel",
    "rmse",
    "rmse_log",
    "log10",
    "silog",
    "delta1",
    "delta2",
    "delta3",
    "delta_1.05",
)


def eigen_crop(height: int, width: int) -> np.ndarray:
    """NYU Depth v2 Eigen crop: rows 45..470, columns 41..600 of 480x640, scaled to size."""
    mask = np.zeros((height, width), dtype=bool)
    mask[
        round(45 * height / 480) : round(471 * height / 480),
        round(41 * width / 640) : round(601 * width / 640),
    ] = True
    return mask


def garg_crop(height: int, width: int) -> np.ndarray:
    """KITTI Garg crop, as fractions of the image size."""
    mask = np.zeros((height, width), dtype=bool)
    mask[
        int(0.40810811 * height) : int(0.99189189 * height),
        int(0.03594771 * width) : int(0.96405229 * width),
    ] = True
    return mask


CROPS = {"eigen": eigen_crop, "garg": garg_crop}


def evaluation_mask(
    gt: np.ndarray,
    valid: np.ndarray | None = None,
    min_depth: float = 1e-3,
    max_depth: float = 10.0,
    crop: str | None = None,
) -> np.ndarray:
    gt = np.asarray(gt, dtype=np.float64)
    mask = np.isfinite(gt) & (gt > min_depth) & (gt < max_depth)
    if valid is not None:
        mask &= np.asarray(valid, dtype=bool)
    if crop is not None:
        if crop not in CROPS:
            raise ValueError(f"unknown crop {crop!r}; choose from {sorted(CROPS)}")
        mask &= CROPS[crop](*gt.shape[-2:])
    return mask


def depth_metrics(
    pred: np.ndarray,
    gt: np.ndarray,
    valid: np.ndarray | None = None,
    min_depth: float = 1e-3,
    max_depth: float = 10.0,
    crop: str | None = None,
    median_scaling: bool = False,
) -> dict[str, float]:
    """AbsRel, SqRel, RMSE, RMSE_log, log10, SILog (×100), δ<1.25^k for k = 1..3, δ<1.05.

    median_scaling multiplies the prediction by median(gt)/median(pred) first (for models
    that only know relative depth)."""
    mask = evaluation_mask(gt, valid, min_depth, max_depth, crop)
    if not mask.any():
        raise ValueError("no valid ground-truth pixel to evaluate")
    g = np.asarray(gt, dtype=np.float64)[mask]
    p = np.asarray(pred, dtype=np.float64)[mask]
    if median_scaling:
        p = p * np.median(g) / np.median(p)
    p = np.clip(np.nan_to_num(p, nan=min_depth), min_depth, max_depth)
    ratio = np.maximum(p / g, g / p)
    log_error = np.log(p) - np.log(g)
    return {
        "abs_rel": float(np.mean(np.abs(p - g) / g)),
        "sq_rel": float(np.mean((p - g) ** 2 / g)),
        "rmse": float(np.sqrt(np.mean((p - g) ** 2))),
        "rmse_log": float(np.sqrt(np.mean(log_error**2))),
        "log10": float(np.mean(np.abs(np.log10(p) - np.log10(g)))),
        "silog": float(np.sqrt(max(np.mean(log_error**2) - np.mean(log_error) ** 2, 0.0)) * 100),
        "delta1": float(np.mean(ratio < 1.25)),
        "delta2": float(np.mean(ratio < 1.25**2)),
        "delta3": float(np.mean(ratio < 1.25**3)),
        "delta_1.05": float(np.mean(ratio < 1.05)),
    }


def _sparsification(
    order: np.ndarray, squared: np.ndarray, relative: np.ndarray, fractions: np.ndarray
) -> dict[str, np.ndarray]:
    """Error of the pixels left after removing the first `fraction` of `order`."""
    n = len(order)
    keep = np.maximum(np.round((1.0 - fractions) * n).astype(int), 1)
    # Pixels that stay longest are at the end of `order`: accumulate from there.
    sq_tail = np.cumsum(squared[order][::-1])
    rel_tail = np.cumsum(relative[order][::-1])
    return {"rmse": np.sqrt(sq_tail[keep - 1] / keep), "abs_rel": rel_tail[keep - 1] / keep}


def sparsification(
    pred: np.ndarray,
    uncertainty: np.ndarray,
    gt: np.ndarray,
    valid: np.ndarray | None = None,
    min_depth: float = 1e-3,
    max_depth: float = 10.0,
    steps: int = 50,
) -> dict:
    """Sparsification curves and AUSE for RMSE and AbsRel.

    Pixels are removed in order of decreasing uncertainty (the model's curve) and of
    decreasing true error (the oracle). AUSE is the area between the two over removed
    fractions 0..(steps−1)/steps; a random order has the flat curve at the full-set error,
    whose AUSE is reported as `ause_random_*` for comparison. Curves are returned for
    plotting."""
    mask = evaluation_mask(gt, valid, min_depth, max_depth)
    mask &= np.isfinite(uncertainty) & np.isfinite(pred)
    if not mask.any():
        raise ValueError("no valid pixel for sparsification")
    g = np.asarray(gt, dtype=np.float64)[mask]
    p = np.clip(np.asarray(pred, dtype=np.float64)[mask], min_depth, max_depth)
    u = np.asarray(uncertainty, dtype=np.float64)[mask]
    squared, relative = (p - g) ** 2, np.abs(p - g) / g
    fractions = np.arange(steps) / steps
    # Stable sorts so ties keep a fixed order; descending = remove most uncertain first.
    model = _sparsification(np.argsort(-u, kind="stable"), squared, relative, fractions)
    oracle = _sparsification(np.argsort(-squared, kind="stable"), squared, relative, fractions)
    result: dict = {"fractions": fractions}
    for name in ("rmse", "abs_rel"):
        full = model[name][0]
        result[f"curve_{name}"] = model[name]
        result[f"oracle_{name}"] = oracle[name]
        result[f"ause_{name}"] = float(np.trapezoid(model[name] - oracle[name], fractions))
        result[f"ause_random_{name}"] = float(np.trapezoid(full - oracle[name], fractions))
    return result
