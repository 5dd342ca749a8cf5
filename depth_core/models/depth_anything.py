"""Depth Anything V2 (Yang et al., 2024): DINOv2 ViT + DPT head, as a depth-foundation prior.

Written here on timm's DINOv2 ViT so that the official checkpoints
(`depth_anything_v2_vits.pth`) load by key and shape: the backbone's keys sit under
`pretrained.` exactly as timm names them, and the DPT head's under `depth_head.`.
Its output is relative inverse depth (affine-invariant disparity), not metres.

Deviation: the official checkpoint's `pretrained.mask_token` (used only for masked-image
pre-training) is dropped on load.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import timm
import torch
import torch.nn.functional as F
from torch import nn

from depth_core.models.registry import register_model

LOG = logging.getLogger(__name__)

PATCH = 14
CONFIGS = {
    "vits": {
        "vit": "vit_small_patch14_dinov2",
        "features": 64,
        "out_channels": (48, 96, 192, 384),
        "layers": (2, 5, 8, 11),
    },
    "vitb": {
        "vit": "vit_base_patch14_dinov2",
        "features": 128,
        "out_channels": (96, 192, 384, 768),
        "layers": (2, 5, 8, 11),
    },
}
UNUSED_OFFICIAL_KEYS = ("pretrained.mask_token",)


def bicubic_matrix(out_size: int, in_size: int, scale: float) -> np.ndarray:
    """(out_size, in_size) weights of PyTorch's bicubic resampling along one axis: Keys kernel
    with A = -0.75, align_corners=False, source = (i + 0.5) / scale - 0.5, edges clamped."""
    a = -0.75

    def near(x: float) -> float:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: float) -> float:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    weights = np.zeros((out_size, in_size), np.float32)
    for i in range(out_size):
        source = (i + 0.5) / scale - 0.5
        left = math.floor(source)
        t = source - left
        for offset, weight in zip(
            (-1, 0, 1, 2), (far(t + 1), near(t), near(1 - t), far(2 - t)), strict=True
        ):
            weights[i, min(max(left + offset, 0), in_size - 1)] += weight
    return weights


class ResidualConvUnit(nn.Module):
    def __init__(self, features: int):
        super().__init__()
        self.conv1 = nn.Conv2d(features, features, 3, padding=1)
        self.conv2 = nn.Conv2d(features, features, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.relu(self.conv1(F.relu(x)))) + x


class FusionBlock(nn.Module):
    def __init__(self, features: int):
        super().__init__()
        self.out_conv = nn.Conv2d(features, features, 1)
        self.resConfUnit1 = ResidualConvUnit(features)  # noqa: N815 (official key name)
        self.resConfUnit2 = ResidualConvUnit(features)  # noqa: N815

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None, size=None):
        if skip is not None:
            x = x + self.resConfUnit1(skip)
        x = self.resConfUnit2(x)
        if size is None:
            size = (x.shape[-2] * 2, x.shape[-1] * 2)
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=True)
        return self.out_conv(x)


class DPTHead(nn.Module):
    def __init__(self, embed_dim: int, features: int, out_channels: tuple[int, ...]):
        super().__init__()
        self.projects = nn.ModuleList(nn.Conv2d(embed_dim, c, 1) for c in out_channels)
        c = out_channels
        self.resize_layers = nn.ModuleList(
            [
                nn.ConvTranspose2d(c[0], c[0], 4, stride=4),
                nn.ConvTranspose2d(c[1], c[1], 2, stride=2),
                nn.Identity(),
                nn.Conv2d(c[3], c[3], 3, stride=2, padding=1),
            ]
        )
        self.scratch = nn.Module()
        for i, channels in enumerate(out_channels, start=1):
            setattr(
                self.scratch,
                f"layer{i}_rn",
                nn.Conv2d(channels, features, 3, padding=1, bias=False),
            )
            setattr(self.scratch, f"refinenet{i}", FusionBlock(features))
        self.scratch.output_conv1 = nn.Conv2d(features, features // 2, 3, padding=1)
        self.scratch.output_conv2 = nn.Sequential(
            nn.Conv2d(features // 2, 32, 3, padding=1),
            nn.ReLU(True),
            nn.Conv2d(32, 1, 1),
            nn.ReLU(True),
            nn.Identity(),
        )

    def forward(self, tokens: list[torch.Tensor], patch_h: int, patch_w: int) -> torch.Tensor:
        layers = []
        for i, x in enumerate(tokens):
            x = x.permute(0, 2, 1).reshape(x.shape[0], x.shape[-1], patch_h, patch_w)
            layers.append(self.resize_layers[i](self.projects[i](x)))
        s = self.scratch
        l1, l2, l3, l4 = (getattr(s, f"layer{i}_rn")(x) for i, x in enumerate(layers, start=1))
        path = s.refinenet4(l4, size=l3.shape[-2:])
        path = s.refinenet3(path, l3, size=l2.shape[-2:])
        path = s.refinenet2(path, l2, size=l1.shape[-2:])
        path = s.refinenet1(path, l1)
        out = s.output_conv1(path)
        out = F.interpolate(
            out, (patch_h * PATCH, patch_w * PATCH), mode="bilinear", align_corners=True
        )
        return s.output_conv2(out)


class DepthAnythingV2(nn.Module):
    """forward(rgb normalised with ImageNet mean/std, Bx3xHxW) -> Bx1x(H//14·14)x(W//14·14)
    relative inverse depth (≥ 0)."""

    def __init__(self, encoder: str = "vits", checkpoint: str | None = None):
        super().__init__()
        if encoder not in CONFIGS:
            raise ValueError(f"unknown Depth Anything V2 encoder {encoder!r}: {sorted(CONFIGS)}")
        cfg = CONFIGS[encoder]
        self.layers = cfg["layers"]
        self.pretrained = timm.create_model(
            cfg["vit"], pretrained=False, img_size=518, num_classes=0
        )
        self.depth_head = DPTHead(self.pretrained.embed_dim, cfg["features"], cfg["out_channels"])
        if checkpoint is not None:
            self.load_official(checkpoint)

    def load_official(self, path: str | Path) -> None:
        """Load an official Depth Anything V2 state dict (e.g. depth_anything_v2_vits.pth)."""
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:
            raise ValueError(f"{path}: not a readable PyTorch state dict ({error})") from error
        state = {k: v for k, v in state.items() if k not in UNUSED_OFFICIAL_KEYS}
        own = self.state_dict()
        missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        if missing or unexpected:
            raise ValueError(
                f"{path}: not a Depth Anything V2 layout; missing {missing[:3]}, "
                f"unexpected {unexpected[:3]}"
            )
        wrong = [k for k in own if own[k].shape != state[k].shape]
        if wrong:
            raise ValueError(f"{path}: shape mismatch for {wrong[:3]} (another model size?)")
        self.load_state_dict(state)
        LOG.info("loaded Depth Anything V2 weights from %s", path)

    def _position_embedding(self, patch_h: int, patch_w: int) -> torch.Tensor:
        """DINOv2's bicubic resampling of the 37x37 grid (with its 0.1 offset), so outputs
        match the official model at every input size. Written as two matrix products with
        constant weights: the same numbers as F.interpolate(mode="bicubic"), and operators
        TensorRT parses (its Resize has no cubic mode)."""
        pos = self.pretrained.pos_embed
        grid = pos.shape[1] - 1
        if patch_h * patch_w == grid and patch_h == patch_w:
            return pos
        side = int(math.sqrt(grid))
        rows = pos.new_tensor(bicubic_matrix(patch_h, side, (patch_h + 0.1) / side))
        cols = pos.new_tensor(bicubic_matrix(patch_w, side, (patch_w + 0.1) / side))
        patch_pos = pos[:, 1:].reshape(1, side, side, -1).permute(0, 3, 1, 2)
        patch_pos = rows @ patch_pos @ cols.T
        patch_pos = patch_pos.permute(0, 2, 3, 1).reshape(1, patch_h * patch_w, -1)
        return torch.cat([pos[:, :1], patch_pos], dim=1)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        # Plain ints: the export is for one static input size.
        patch_h, patch_w = int(rgb.shape[-2]) // PATCH, int(rgb.shape[-1]) // PATCH
        vit = self.pretrained
        x = vit.patch_embed.proj(rgb).flatten(2).transpose(1, 2)
        x = torch.cat([vit.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        x = x + self._position_embedding(patch_h, patch_w)
        taken = []
        for i, block in enumerate(vit.blocks):
            x = block(x)
            if i in self.layers:
                taken.append(vit.norm(x)[:, 1:])
        return F.relu(self.depth_head(taken, patch_h, patch_w))


@register_model("depth_anything_v2")
def build_depth_anything_v2(**config) -> DepthAnythingV2:
    return DepthAnythingV2(**config)
