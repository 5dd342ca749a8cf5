"""Real-world depth recovery (recovery paper): RGB + raw depth (+ a depth-foundation prior) in,
cleaned, completed, RGB-aligned metric depth with uncertainty out.

Parts:
- StructureUncertainty: predicts, per raw pixel, the probability that it is misaligned with
  the RGB structure. Trained with BCE against |raw − GT| > τ·max(GT), τ = 0.1. Raw depth is
  masked where the probability exceeds `mask_threshold` (or down-weighted by 1 − p with
  `soft_mask=True`).
- A U-Net on a timm encoder that sees RGB + masked raw depth + its confidence, with
  stochastic depth (drop_path) in the encoder's residual blocks.
- RobustFeatureAlignment: coordinate-based local attention at 1/4 resolution, so decoder
  features can re-align to the image where the (inaccurate) ground truth pulls them off.

Choices where the paper leaves room:
- the prior is relative (affine-invariant); it enters as (p − mean)/std per image;
- the prior network is frozen and optional (`prior=None` gives an RGB + raw model; the
  recovery node can then run at camera rate on a CPU);
- without a Depth Anything V2 checkpoint, a monocular model of this package serves as the
  prior, and the log says so;
- `residual_from_raw=True` predicts a correction to the trusted raw depth, filled ring by
  ring from the nearest valid pixels (`fill_missing_depth`), instead of depth from scratch:
  the network starts at the raw input's quality and learns the holes, misalignment and noise
  (faster to train).
"""

from __future__ import annotations

import logging
import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from depth_core.models.blocks import (
    DepthUncertaintyHead,
    SkipDecoder,
    UpBlock,
    conv_act,
    spatial_size,
)
from depth_core.models.encoders import create_encoder
from depth_core.models.registry import register_model

LOG = logging.getLogger(__name__)

MISALIGNMENT_TAU = 0.1


class RecoveryPrediction(NamedTuple):
    depth: torch.Tensor  # Bx1xHxW metres
    log_sigma: torch.Tensor  # Bx1xHxW
    misalignment_logit: torch.Tensor  # Bx1xHxW, logit of P(raw pixel misaligned)


def misalignment_target(
    raw: torch.Tensor, gt: torch.Tensor, gt_valid: torch.Tensor, tau: float = MISALIGNMENT_TAU
) -> tuple[torch.Tensor, torch.Tensor]:
    """(target, where it is defined): 1 where |raw − GT| > τ·max(GT) per image; defined where
    both raw and GT are valid."""
    gt_clean = torch.where(gt_valid, gt, torch.zeros_like(gt))
    max_gt = gt_clean.flatten(1).amax(1).view(-1, 1, 1, 1)
    defined = gt_valid & (raw > 0)
    target = ((raw - gt_clean).abs() > tau * max_gt) & defined
    return target.float(), defined


def fill_missing_depth(
    depth: torch.Tensor, confidence: torch.Tensor, rings: int = 8, levels: int = 6
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fill depth where confidence is 0. First ring by ring (`rings` 3x3 steps): a hole pixel
    next to filled ones takes their confidence-weighted mean, which is close to nearest-neighbour
    filling and never averages depths from across a large hole. What remains is filled with
    confidence-weighted averages over 2x, 4x, ... windows (finest first). Returns (filled
    depth, 1 where some value reached it). Pooling, division and upsampling only: exports to
    ONNX and TensorRT as static ops."""
    size = spatial_size(depth)
    weight = confidence.clamp_min(0)
    filled = depth * (weight > 0)
    for _ in range(rings):
        total_weight = F.avg_pool2d(weight, 3, stride=1, padding=1)
        take = (weight <= 0) & (total_weight > 1e-6)
        average = F.avg_pool2d(filled * weight, 3, stride=1, padding=1) / total_weight.clamp_min(
            1e-6
        )
        neighbours = F.avg_pool2d((weight > 0).to(depth.dtype), 3, stride=1, padding=1)
        filled = torch.where(take, average, filled)
        # a filled pixel carries its neighbours' mean confidence on to the next ring
        weight = torch.where(take, total_weight / neighbours.clamp_min(1e-6), weight)
    covered = (weight > 0).to(depth.dtype)
    for level in range(1, levels + 1):
        factor = 2**level
        if size[0] < factor or size[1] < factor:
            break
        pooled_weight = F.avg_pool2d(weight, factor, ceil_mode=True)
        average = F.avg_pool2d(filled * weight, factor, ceil_mode=True) / pooled_weight.clamp_min(
            1e-6
        )
        average = F.interpolate(average, size=size, mode="nearest")
        has_data = F.interpolate((pooled_weight > 1e-6).to(depth.dtype), size=size, mode="nearest")
        take = (1 - covered) * has_data
        filled = filled + take * average
        covered = covered + take
    return filled, covered


def _inverse_softplus(x: torch.Tensor) -> torch.Tensor:
    # log(exp(x) − 1), stable for large x; no expm1 (not an ONNX operator). x ≥ 1e-3 here.
    return x + torch.log(1 - torch.exp(-x))


def _standardise(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=(2, 3), keepdim=True)
    std = x.std(dim=(2, 3), keepdim=True)
    return (x - mean) / (std + 1e-6)


def _image_gradient(x: torch.Tensor) -> torch.Tensor:
    gx = F.pad(x[..., :, 1:] - x[..., :, :-1], (0, 1, 0, 0))
    gy = F.pad(x[..., 1:, :] - x[..., :-1, :], (0, 0, 0, 1))
    return torch.sqrt(gx * gx + gy * gy + 1e-12)


class StructureUncertainty(nn.Module):
    """Inputs: RGB, scaled raw depth, raw-valid mask, prior, and the gradient magnitudes of
    raw and prior (misaligned raw depth shows edges where the image and prior have none).
    A small dilated CNN at 1/stride resolution -> full-resolution logit. Stride 4 costs a
    quarter of stride 2 (the inputs are 2x2-averaged first; the weights are the same shapes)."""

    def __init__(self, width: int = 32, stride: int = 2):
        super().__init__()
        if stride not in (2, 4):
            raise ValueError(f"structure-uncertainty stride must be 2 or 4, got {stride}")
        self.stride = stride
        self.net = nn.Sequential(
            nn.Conv2d(8, width, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            conv_act(width, width),
            nn.Conv2d(width, width, 3, padding=2, dilation=2),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, width, 3, padding=4, dilation=4),
            nn.LeakyReLU(0.2),
            conv_act(width, width),
        )
        self.out = nn.Conv2d(width, 1, 3, padding=1)
        # Start by trusting raw depth (P(misaligned) ≈ 0.1, most raw pixels are aligned), not
        # at P ≈ 0.5, where chance decides whether the hard mask drops every raw pixel.
        nn.init.constant_(self.out.bias, math.log(0.1 / 0.9))

    def forward(self, rgb, raw_scaled, raw_valid, prior) -> torch.Tensor:
        inputs = torch.cat(
            [
                rgb,
                raw_scaled,
                raw_valid,
                prior,
                _image_gradient(raw_scaled) * raw_valid,
                _image_gradient(prior),
            ],
            dim=1,
        )
        if self.stride == 4:
            inputs = F.avg_pool2d(inputs, 2)
        return self._full_resolution_out(self.net(inputs), spatial_size(rgb))

    def _full_resolution_out(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """self.out(bilinear upsampling of x), computed cheaply and exactly: a 1x1 channel mix
        commutes with bilinear upsampling, so each of the 3x3 kernel's taps is projected at
        low resolution, only those 9 maps are upsampled, then shifted and summed (zero
        padding, as the convolution's). Far cheaper than upsampling every channel first."""
        kernel = self.out.kernel_size[0]
        taps = self.out.weight[0].permute(1, 2, 0).reshape(kernel * kernel, -1)  # (ky,kx) x C
        projected = F.conv2d(x, taps[:, :, None, None])
        projected = F.interpolate(projected, size=size, mode="bilinear", align_corners=False)
        radius, (height, width) = kernel // 2, size
        padded = F.pad(projected, (radius, radius, radius, radius))
        total = self.out.bias.view(1, 1, 1, 1)
        for tap in range(kernel * kernel):
            dy, dx = divmod(tap, kernel)
            total = total + padded[:, tap : tap + 1, dy : dy + height, dx : dx + width]
        return total


class RobustFeatureAlignment(nn.Module):
    """Coordinate-based local attention. For each query pixel q and each neighbour k in its
    f x f window, an MLP scores [feature(q) − feature(k), Δx, Δy] (hidden width C); the
    softmax of the scores over the window weights the neighbours' features. The result is
    added back to the input (residual).

    The MLP's first layer is linear, so W·[f_q − f_k, Δ] + b = (W_f·f_q + b + W_Δ·Δ_k) − W_f·f_k:
    W_f is applied once per pixel and neighbours are gathered by padded slicing (ONNX/TensorRT-
    friendly Slice, no unfold). Scores are computed one neighbour at a time, so the hidden
    layer never exists for all f² neighbours at once: the same arithmetic, faster on a CPU,
    where an f²·C·H·W tensor does not fit in cache.
    """

    def __init__(self, channels: int, window: int = 5, hidden: int = 64):
        super().__init__()
        if window % 2 != 1:
            raise ValueError(f"window must be odd, got {window}")
        self.window = window
        self.feature_proj = nn.Conv2d(channels, hidden, 1, bias=True)
        radius = window // 2
        offsets = torch.stack(
            torch.meshgrid(
                torch.arange(-radius, radius + 1), torch.arange(-radius, radius + 1), indexing="ij"
            ),
            dim=-1,
        ).reshape(-1, 2).float() / max(radius, 1)
        self.register_buffer("offsets", offsets, persistent=False)  # (f², 2): (Δy, Δx)
        self.offset_proj = nn.Linear(2, hidden, bias=False)
        self.score = nn.Conv3d(hidden, 1, 1)  # the MLP's second layer, per neighbour
        self.value = nn.Conv2d(channels, channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)

    def _neighbour_views(self, x: torch.Tensor) -> list[torch.Tensor]:
        """BxCxHxW -> f² shifted BxCxHxW views, replicate-padded at the borders."""
        r, (h, w) = self.window // 2, spatial_size(x)
        padded = F.pad(x, (r, r, r, r), mode="replicate")
        return [
            padded[..., dy : dy + h, dx : dx + w]
            for dy in range(self.window)
            for dx in range(self.window)
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        projected = self.feature_proj(x)  # W_f·f + b
        keys = projected - self.feature_proj.bias[None, :, None, None]  # W_f·f
        offset_terms = self.offset_proj(self.offsets)[:, None, :, None, None]  # f²x1xCx1x1
        score_weight = self.score.weight.flatten(1)[:, :, None, None]  # 1xCx1x1
        scores = [
            F.conv2d(F.leaky_relu(projected + offset - key, 0.2), score_weight, self.score.bias)
            for offset, key in zip(offset_terms, self._neighbour_views(keys), strict=True)
        ]
        weights = torch.softmax(torch.cat(scores, dim=1), dim=1)  # Bxf²xHxW
        values = torch.stack(self._neighbour_views(self.value(x)), dim=2)  # BxCxf²xHxW
        aggregated = (weights.unsqueeze(1) * values).sum(dim=2)
        return x + self.out(aggregated)


class RecoveryNet(nn.Module):
    def __init__(
        self,
        encoder: str = "tf_efficientnet_lite0",
        pretrained: bool | str = False,
        decoder_width: int = 128,
        drop_path_rate: float = 0.1,
        depth_scale: float = 10.0,
        mask_threshold: float = 0.5,
        soft_mask: bool = False,
        alignment_window: int = 5,
        alignment_hidden: int = 64,
        prior: nn.Module | None = None,
        min_depth: float = 1e-3,
        init_depth: float = 2.0,
        residual_from_raw: bool = False,
        uncertainty_stride: int = 2,
    ):
        super().__init__()
        self.residual_from_raw = residual_from_raw
        self.init_depth = init_depth
        self.depth_scale = depth_scale
        self.mask_threshold = mask_threshold
        self.soft_mask = soft_mask
        self.uncertainty = StructureUncertainty(stride=uncertainty_stride)
        # RGB + masked raw depth + its confidence go through one encoder.
        self.encoder = create_encoder(
            encoder, pretrained, in_chans=5, drop_path_rate=drop_path_rate
        )
        channels = self.encoder.feature_info.channels()
        self.decoder = SkipDecoder(channels, decoder_width)
        # Alignment after the stride-4 stage (the second-to-last decoder stage).
        stride4 = len(self.decoder.stages) - 2
        self.decoder.refine[str(stride4)] = RobustFeatureAlignment(
            self.decoder.stage_channels[stride4], alignment_window, alignment_hidden
        )
        self.full_res = UpBlock(self.decoder.out_channels, 2, self.decoder.out_channels)
        self.head = DepthUncertaintyHead(self.decoder.out_channels, min_depth, init_depth)
        if residual_from_raw:
            with torch.no_grad():  # a zero correction to start from: output = filled raw
                self.head.conv.weight[0].mul_(0.01)
                self.head.conv.bias[0] = 0.0
        self.prior = prior
        if prior is not None:
            prior.requires_grad_(False)

    @property
    def metric_feature_module(self) -> nn.Module:
        return self.full_res

    def train(self, mode: bool = True) -> RecoveryNet:
        super().train(mode)
        if self.prior is not None:
            self.prior.eval()  # a frozen prior: no dropout, no BatchNorm statistics updates
        return self

    def configure_stage(self, stage: int) -> None:
        """Set which parts train. Stage 1: the structure-uncertainty module alone; stage 2:
        everything. The prior, when there is one, stays frozen."""
        if stage not in (1, 2):
            raise ValueError(f"stage must be 1 or 2, got {stage}")
        self.requires_grad_(stage == 2)
        self.uncertainty.requires_grad_(True)
        if self.prior is not None:
            self.prior.requires_grad_(False)

    def _prior(self, rgb: torch.Tensor) -> torch.Tensor:
        if self.prior is None:
            return torch.zeros_like(rgb[:, :1])
        with torch.no_grad():
            prior = self.prior(rgb)
            prior = prior.depth if hasattr(prior, "depth") else prior
            prior = F.interpolate(
                prior, size=spatial_size(rgb), mode="bilinear", align_corners=False
            )
        return _standardise(prior)

    def forward(self, rgb: torch.Tensor, raw_depth: torch.Tensor) -> RecoveryPrediction:
        """rgb: Bx3xHxW normalised; raw_depth: Bx1xHxW metres, 0 = missing."""
        raw_valid = (raw_depth > 0).to(rgb.dtype)
        raw_scaled = raw_depth / self.depth_scale
        logit = self.uncertainty(rgb, raw_scaled, raw_valid, self._prior(rgb))
        probability = torch.sigmoid(logit)
        if self.soft_mask:
            confidence = raw_valid * (1.0 - probability)
        else:
            confidence = raw_valid * (probability <= self.mask_threshold).to(rgb.dtype)
        masked = raw_scaled * confidence
        features = self.encoder(torch.cat([rgb, masked, confidence], dim=1))
        x = self.full_res(self.decoder(features), torch.cat([masked, confidence], dim=1))
        if not self.residual_from_raw:
            depth, log_sigma = self.head(x)
            return RecoveryPrediction(depth, log_sigma, logit)
        out = self.head.conv(x)
        # The head's depth logit corrects softplus⁻¹(filled raw): a zero logit gives the
        # filled raw back; where no raw exists at all, init_depth is the base.
        base, covered = fill_missing_depth(raw_depth, confidence)
        base = torch.where(covered > 0, base, torch.full_like(base, self.init_depth))
        base = base.clamp_min(self.head.min_depth + 1e-3)
        depth = F.softplus(out[:, :1] + _inverse_softplus(base)) + self.head.min_depth
        return RecoveryPrediction(depth, out[:, 1:2], logit)


def build_prior(kind: str | None, checkpoint: str | None = None) -> nn.Module | None:
    """The depth-foundation prior: "depth_anything_v2" (from `checkpoint`), "monocular",
    or None. A missing DAv2 checkpoint falls back to the monocular model, with a log line."""
    from depth_core.models.depth_anything import DepthAnythingV2
    from depth_core.models.transfer import TransferDepthNet

    if kind is None or kind == "none":
        return None
    if kind == "depth_anything_v2":
        if checkpoint:
            return DepthAnythingV2("vits", checkpoint=checkpoint)
        LOG.warning(
            "no Depth Anything V2 checkpoint given: using the monocular model as the "
            "recovery prior instead"
        )
        kind = "monocular"
    if kind == "monocular":
        return TransferDepthNet()
    raise ValueError(f"unknown prior {kind!r}: depth_anything_v2, monocular or none")


@register_model("depth_recovery")
def build_depth_recovery(
    prior: str | None = None, prior_checkpoint: str | None = None, **config
) -> RecoveryNet:
    return RecoveryNet(prior=build_prior(prior, prior_checkpoint), **config)
