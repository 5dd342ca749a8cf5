"""MetricDepth: a feature-level deep-metric-learning regulariser for monocular depth.

Features of pixels at similar depth are pulled together; features of pixels whose depths
differ are pushed apart, by margins that grow with the depth difference. It is added to the
SI loss of the depth model.

Choices where the paper leaves room:
- the depth map is brought to the feature resolution by nearest-neighbour sampling, so every
  feature pixel keeps a real depth and invalid pixels stay invalid;
- within-map partners come from `n_within` random 2-D circular shifts (torch.roll) of the
  feature map; cross-batch partners from `n_across` rolls along the batch axis (same pixel
  in another image); the depth and mask are rolled with the features;
- the loss is the contrastive loss with Euclidean feature distance d: d² for positives,
  max(0, m − d)² for negatives, summed and divided by the number of contributing pairs;
- pairs whose depth difference falls in no range (between r_p and the first negative range,
  or beyond the last) do not contribute.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class MetricDepthConfig:
    positive_threshold: float = 0.1  # r_p, metres
    negative_ranges: tuple[tuple[float, float], ...] = ((0.5, 1.0), (1.0, 1.5), (1.5, 2.0))
    margins: tuple[float, ...] = (3.0, 6.0, 8.0)
    strategy: str = "multi_range"  # or "single_range": every |ΔD| ≥ single_range_min, one margin
    single_range_min: float = 0.5
    single_margin: float = 3.0
    n_within: int = 10
    n_across: int = 4

    def __post_init__(self) -> None:
        if self.strategy not in ("multi_range", "single_range"):
            raise ValueError(f"strategy must be multi_range or single_range, not {self.strategy!r}")
        if len(self.negative_ranges) != len(self.margins):
            raise ValueError("negative_ranges and margins must have the same length")
        for low, high in self.negative_ranges:
            if not 0 <= low < high:
                raise ValueError(f"bad negative range [{low}, {high})")


def classify_pairs(
    delta: torch.Tensor, pair_valid: torch.Tensor, config: MetricDepthConfig
) -> tuple[torch.Tensor, list[tuple[torch.Tensor, float]]]:
    """Split pairs by |ΔD|: a positive mask and one (negative mask, margin) per range."""
    positive = pair_valid & (delta < config.positive_threshold)
    if config.strategy == "single_range":
        return positive, [(pair_valid & (delta >= config.single_range_min), config.single_margin)]
    negatives = [
        (pair_valid & (delta >= low) & (delta < high), margin)
        for (low, high), margin in zip(config.negative_ranges, config.margins, strict=True)
    ]
    return positive, negatives


class MetricDepthLoss(nn.Module):
    def __init__(self, config: MetricDepthConfig | None = None):
        super().__init__()
        self.config = config or MetricDepthConfig()

    def partner_shifts(
        self, batch: int, height: int, width: int, generator: torch.Generator | None = None
    ) -> list[tuple[int, int, int]]:
        """(batch, row, column) roll offsets: n_within random spatial ones, then up to
        n_across batch rolls (fewer when the batch is smaller)."""
        shifts = []
        for _ in range(self.config.n_within):
            while True:
                dy = int(torch.randint(0, height, (1,), generator=generator))
                dx = int(torch.randint(0, width, (1,), generator=generator))
                if dy or dx or height * width == 1:
                    break
            shifts.append((0, dy, dx))
        shifts += [(k, 0, 0) for k in range(1, min(self.config.n_across, batch - 1) + 1)]
        return shifts

    def forward(
        self,
        features: torch.Tensor,
        depth: torch.Tensor,
        valid: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """features: BxCxhxw; depth, valid: Bx1xHxW (any resolution)."""
        b, _, h, w = features.shape
        depth = F.interpolate(
            torch.where(valid, depth, torch.zeros_like(depth)), (h, w), mode="nearest"
        )
        valid = F.interpolate(valid.float(), (h, w), mode="nearest") > 0.5
        total, count = features.new_zeros(()), features.new_zeros(())
        for shift in self.partner_shifts(b, h, w, generator):
            partner = torch.roll(features, shift, dims=(0, 2, 3))
            distance = torch.sqrt(((features - partner) ** 2).sum(1, keepdim=True) + 1e-8)
            delta = (depth - torch.roll(depth, shift, dims=(0, 2, 3))).abs()
            pair_valid = valid & torch.roll(valid, shift, dims=(0, 2, 3))
            positive, negatives = classify_pairs(delta, pair_valid, self.config)
            total = total + (distance**2)[positive].sum()
            count = count + positive.sum()
            for negative, margin in negatives:
                total = total + F.relu(margin - distance[negative]).pow(2).sum()
                count = count + negative.sum()
        return total / count.clamp_min(1)


class FeatureTap:
    """Keeps the output of `module` from the latest forward pass (a forward hook), so the
    regulariser can use any model's features without changing its forward()."""

    def __init__(self, module: nn.Module):
        self.features: torch.Tensor | None = None
        self._handle = module.register_forward_hook(self._store)

    def _store(self, _module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        self.features = output

    def close(self) -> None:
        self._handle.remove()
