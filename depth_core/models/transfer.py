"""Transfer-learning monocular depth (weighted-loss paper; DenseDepth-style architecture).

An ImageNet-pretrained timm encoder, a simple skip-connected upsampling decoder, and a head
that gives metric depth plus log σ at half the input resolution.
"""

from __future__ import annotations

import torch
from torch import nn

from depth_core.models.blocks import DepthPrediction, DepthUncertaintyHead, SkipDecoder
from depth_core.models.encoders import create_encoder
from depth_core.models.registry import register_model


class TransferDepthNet(nn.Module):
    def __init__(
        self,
        encoder: str = "tf_efficientnet_lite0",
        pretrained: bool | str = False,
        decoder_width: int = 256,
        min_depth: float = 1e-3,
        init_depth: float = 2.0,
        drop_path_rate: float = 0.0,
    ):
        super().__init__()
        self.encoder_name = encoder
        self.encoder = create_encoder(encoder, pretrained, drop_path_rate=drop_path_rate)
        self.decoder = SkipDecoder(self.encoder.feature_info.channels(), decoder_width)
        self.head = DepthUncertaintyHead(self.decoder.out_channels, min_depth, init_depth)

    @property
    def metric_feature_module(self) -> nn.Module:
        """The decoder's last features before the prediction layer (MetricDepth's default)."""
        return self.decoder.stages[-1]

    def forward(self, rgb: torch.Tensor) -> DepthPrediction:
        """rgb: Bx3xHxW, normalised with the encoder's mean/std -> depth at H/2 x W/2."""
        return self.head(self.decoder(self.encoder(rgb)))


@register_model("transfer_monocular")
def build_transfer_monocular(**config) -> TransferDepthNet:
    return TransferDepthNet(**config)
