"""TensorBoard image grids of validation frames: truth, prediction and σ side by side."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


@torch.no_grad()
def validation_preview(objective, val_set, device: torch.device, frames: int = 4) -> np.ndarray:
    """HxWx3 uint8 RGB: one row per frame, truth | prediction (both on the truth's 2-98%
    range) | σ (its own range)."""
    from depth_core.visualize import colourise_depth

    rows = []
    for index in range(min(frames, len(val_set))):
        item = val_set[index]
        batch = {k: v[None].to(device) for k, v in item.items()}
        prediction = objective.infer(batch)
        size = tuple(batch["depth"].shape[-2:])
        pred = F.interpolate(prediction.depth, size=size, mode="nearest")
        sigma = F.interpolate(prediction.log_sigma.exp(), size=size, mode="nearest")
        gt = batch["depth"][0, 0].cpu().numpy()
        lo, hi = float(np.percentile(gt[gt > 0], 2)), float(np.percentile(gt[gt > 0], 98))
        tiles = [
            colourise_depth(gt, lo, hi),
            colourise_depth(pred[0, 0].cpu().numpy(), lo, hi),
            colourise_depth(sigma[0, 0].cpu().numpy()),
        ]
        rows.append(np.concatenate(tiles, axis=1)[..., ::-1])  # BGR -> RGB
    return np.concatenate(rows, axis=0)
