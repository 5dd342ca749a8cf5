"""Building blocks shared by the depth models."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn


class DepthPrediction(NamedTuple):
    """What every depth model returns. depth: Bx1xhxw metres (> 0).
    log_sigma: Bx1xhxw, log of the predicted scale σ (metres) of the depth error."""

    depth: torch.Tensor
    log_sigma: torch.Tensor


def conv_act(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, padding=1), nn.LeakyReLU(0.2))


def spatial_size(x: torch.Tensor) -> tuple[int, int]:
    """Height and width as plain ints, so an export holds constants instead of Shape ops:
    static graphs, as TensorRT engines are built for one input size."""
    return int(x.shape[-2]), int(x.shape[-1])


class UpBlock(nn.Module):
    """DenseDepth's decoder stage: bilinear x2 upsampling, concat the skip, two 3x3 conv +
    LeakyReLU(0.2)."""

    def __init__(self, in_ch: int, skip_ch: int, out_ch: int):
        super().__init__()
        self.convs = nn.Sequential(conv_act(in_ch + skip_ch, out_ch), conv_act(out_ch, out_ch))

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        height, width = spatial_size(x)
        size = spatial_size(skip) if skip is not None else (height * 2, width * 2)
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
        return self.convs(x)


class SkipDecoder(nn.Module):
    """1x1 bottleneck on the deepest feature, then one UpBlock per shallower skip, halving
    the width each stage. Output: features at the shallowest skip's stride.

    `refine` optionally maps a stage index to a module applied to that stage's output
    (channels: `stage_channels[index]`), e.g. the recovery model's feature alignment."""

    def __init__(self, skip_channels: list[int], width: int):
        super().__init__()
        self.bottleneck = nn.Conv2d(skip_channels[-1], width, 1)
        stages, channels, self.stage_channels = [], width, []
        for skip in reversed(skip_channels[:-1]):
            stages.append(UpBlock(channels, skip, channels // 2))
            channels //= 2
            self.stage_channels.append(channels)
        self.stages = nn.ModuleList(stages)
        self.refine = nn.ModuleDict()
        self.out_channels = channels

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = self.bottleneck(features[-1])
        for index, (stage, skip) in enumerate(
            zip(self.stages, reversed(features[:-1]), strict=True)
        ):
            x = stage(x, skip)
            if str(index) in self.refine:
                x = self.refine[str(index)](x)
        return x


class DepthUncertaintyHead(nn.Module):
    """3x3 conv to two channels: depth = softplus(a) + min_depth (positive, unbounded metric
    range) and log σ = b. The depth bias starts at `init_depth` so training begins in a
    sensible range instead of at softplus(0) = 0.69 m."""

    def __init__(self, in_ch: int, min_depth: float = 1e-3, init_depth: float = 2.0):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, 2, 3, padding=1)
        self.min_depth = min_depth
        with torch.no_grad():
            self.conv.bias[0] = math.log(math.expm1(max(init_depth - min_depth, 1e-3)))
            self.conv.bias[1] = math.log(0.1 * init_depth)

    def forward(self, x: torch.Tensor) -> DepthPrediction:
        out = self.conv(x)
        return DepthPrediction(F.softplus(out[:, :1]) + self.min_depth, out[:, 1:2])
