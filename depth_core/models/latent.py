"""Latent-space dual encoder-decoder (latent-features paper).

A depth->depth autoencoder learns a latent space of depth maps. A colour encoder then learns
to map RGB into that same latent space, and the shared depth decoder turns it into depth.
Inference runs colour -> latent -> depth.

Choices where the paper leaves room, as its field would make them:
- the latent is a 1/32-resolution feature map (width `latent_channels`), not a vector, so it
  keeps spatial layout at any input size;
- the decoder has no skip connections: skips would let the autoencoder bypass the latent;
- the decoder also predicts log σ, like every model here;
- stage 2 uses latent L2 + depth L1 + gradient loss; the depth decoder is frozen by default
  (`finetune_decoder=True` fine-tunes it).
"""

from __future__ import annotations

import torch
from torch import nn

from depth_core.losses import gradient_loss, latent_loss, mae_loss
from depth_core.models.blocks import (
    DepthPrediction,
    DepthUncertaintyHead,
    UpBlock,
    spatial_size,
)
from depth_core.models.encoders import create_encoder
from depth_core.models.registry import register_model


def _down(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, stride=2, padding=1),
        nn.BatchNorm2d(out_ch),
        nn.LeakyReLU(0.2),
        nn.Conv2d(out_ch, out_ch, 3, padding=1),
        nn.BatchNorm2d(out_ch),
        nn.LeakyReLU(0.2),
    )


class LatentDualNet(nn.Module):
    def __init__(
        self,
        encoder: str = "tf_efficientnet_lite0",
        pretrained: bool | str = False,
        latent_channels: int = 256,
        depth_scale: float = 10.0,
        min_depth: float = 1e-3,
        init_depth: float = 2.0,
    ):
        super().__init__()
        self.depth_scale = depth_scale
        widths = [32, 64, 128, 256]
        self.depth_encoder = nn.Sequential(
            _down(1, widths[0]),
            _down(widths[0], widths[1]),
            _down(widths[1], widths[2]),
            _down(widths[2], widths[3]),
            _down(widths[3], latent_channels),
        )
        self.colour_backbone = create_encoder(encoder, pretrained)
        self.colour_to_latent = nn.Sequential(
            nn.Conv2d(self.colour_backbone.feature_info.channels()[-1], latent_channels, 3, 1, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(latent_channels, latent_channels, 1),
        )
        # Stride 32 -> 2, no skips; the last stage's output feeds the head.
        decoder_widths = [latent_channels, 128, 64, 32, 16]
        self.depth_decoder = nn.ModuleList(
            UpBlock(decoder_widths[i], 0, decoder_widths[i + 1]) for i in range(4)
        )
        self.head = DepthUncertaintyHead(decoder_widths[-1], min_depth, init_depth)

    @property
    def metric_feature_module(self) -> nn.Module:
        return self.depth_decoder[-1]

    def encode_depth(self, depth: torch.Tensor) -> torch.Tensor:
        return self.depth_encoder(depth / self.depth_scale)

    def encode_colour(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.colour_to_latent(self.colour_backbone(rgb)[-1])

    def decode(self, latent: torch.Tensor, size: tuple[int, int]) -> DepthPrediction:
        """Latent -> depth of `size` (half the input size; the stride-32 latent rounds up)."""
        x = latent
        for stage in self.depth_decoder:
            x = stage(x)
        if spatial_size(x) != tuple(size):
            x = nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False)
        return self.head(x)

    def forward(self, rgb: torch.Tensor) -> DepthPrediction:
        """Inference: colour -> latent -> depth at half the input resolution."""
        return self.decode(self.encode_colour(rgb), _half_size(rgb))


def _half_size(x: torch.Tensor) -> tuple[int, int]:
    height, width = spatial_size(x)
    return height // 2, width // 2


def _half_resolution(depth: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Ground truth at the decoder's output size; a pooled pixel is valid only if all were."""
    pooled_valid = -nn.functional.max_pool2d(-valid.float(), 2) > 0.5
    summed = nn.functional.avg_pool2d(depth * valid, 2)
    return summed / nn.functional.avg_pool2d(valid.float(), 2).clamp_min(1e-6), pooled_valid


def configure_stage(model: LatentDualNet, stage: int, finetune_decoder: bool = False) -> None:
    """Set which parts train. Stage 1: depth encoder + decoder. Stage 2: colour encoder
    (+ decoder when `finetune_decoder`); the depth encoder is frozen as the latent target."""
    if stage not in (1, 2):
        raise ValueError(f"stage must be 1 or 2, got {stage}")
    trains = {
        "depth_encoder": stage == 1,
        "colour_backbone": stage == 2,
        "colour_to_latent": stage == 2,
        "depth_decoder": stage == 1 or finetune_decoder,
        "head": stage == 1 or finetune_decoder,
    }
    for name, flag in trains.items():
        getattr(model, name).requires_grad_(flag)


def autoencoder_stage_loss(
    model: LatentDualNet, depth: torch.Tensor, valid: torch.Tensor, gradient_weight: float = 1.0
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Stage 1: depth -> latent -> depth. L1 + gradient loss at the decoder's resolution."""
    prediction = model.decode(model.encode_depth(depth * valid), _half_size(depth))
    target, target_valid = _half_resolution(depth, valid)
    l1 = mae_loss(prediction.depth, target, target_valid)
    grad = gradient_loss(prediction.depth, target, target_valid)
    return l1 + gradient_weight * grad, {"l1": l1.detach(), "gradient": grad.detach()}


def colour_stage_loss(
    model: LatentDualNet,
    rgb: torch.Tensor,
    depth: torch.Tensor,
    valid: torch.Tensor,
    latent_weight: float = 1.0,
    depth_weight: float = 1.0,
    gradient_weight: float = 1.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Stage 2: latent L2 to the (frozen) depth latent + depth L1 + gradient loss."""
    model.depth_encoder.eval()  # a frozen target: its BatchNorm statistics must not drift
    with torch.no_grad():
        target_latent = model.encode_depth(depth * valid)
    latent = model.encode_colour(rgb)
    prediction = model.decode(latent, _half_size(depth))
    target, target_valid = _half_resolution(depth, valid)
    lat = latent_loss(latent, target_latent)
    l1 = mae_loss(prediction.depth, target, target_valid)
    grad = gradient_loss(prediction.depth, target, target_valid)
    total = latent_weight * lat + depth_weight * l1 + gradient_weight * grad
    return total, {"latent": lat.detach(), "l1": l1.detach(), "gradient": grad.detach()}


@register_model("latent_dual")
def build_latent_dual(**config) -> LatentDualNet:
    return LatentDualNet(**config)
