"""Every registered model: forward, backward, no NaN, output shapes, ONNX export (opset ≥ 17)."""

import logging

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F

from depth_core.export.onnx import export_onnx
from depth_core.models import build_model, build_model_from_config, recovery, registered_models
from depth_core.models.encoders import SUPPORTED_ENCODERS
from depth_core.models.recovery import RobustFeatureAlignment, misalignment_target

SIZES = [(64, 80), (240, 320)]


def model_inputs(name: str, height: int, width: int, batch: int = 2) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(0)
    rgb = torch.randn(batch, 3, height, width, generator=generator)
    if name == "depth_recovery":
        raw = torch.rand(batch, 1, height, width, generator=generator) * 4
        raw[..., : height // 4, :] = 0  # a block of missing raw depth
        return rgb, raw
    return (rgb,)


def expected_size(name: str, height: int, width: int) -> tuple[int, int]:
    if name == "depth_anything_v2":
        return height // 14 * 14, width // 14 * 14
    if name == "depth_recovery":
        return height, width
    return height // 2, width // 2  # the monocular models predict at half resolution


def test_registry_lists_the_four_methods_and_rejects_unknown_names():
    assert registered_models() == [
        "depth_anything_v2",
        "depth_recovery",
        "latent_dual",
        "transfer_monocular",
    ]
    with pytest.raises(KeyError, match="registered: depth_anything_v2"):
        build_model("midas")
    model = build_model_from_config({"name": "transfer_monocular", "decoder_width": 64})
    assert model.model_name == "transfer_monocular" and model.model_config == {"decoder_width": 64}


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", registered_models())
def test_forward_backward_without_nan(name, size):
    torch.manual_seed(0)
    model = build_model(name).train()
    outputs = model(*model_inputs(name, *size))
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    for output in outputs:
        assert output.shape[-2:] == expected_size(name, *size)
        assert torch.isfinite(output).all()
    assert (outputs[0] >= 0).all()
    sum(o.mean() for o in outputs).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad and p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("encoder", SUPPORTED_ENCODERS)
@pytest.mark.slow
def test_every_selectable_encoder_trains_in_the_monocular_model(encoder):
    model = build_model("transfer_monocular", encoder=encoder, decoder_width=64)
    prediction = model(torch.randn(1, 3, 64, 80))
    assert prediction.depth.shape == (1, 1, 32, 40) and (prediction.depth > 0).all()
    (prediction.depth.mean() + prediction.log_sigma.mean()).backward()


OUTPUTS = {
    "transfer_monocular": ["depth", "log_sigma"],
    "latent_dual": ["depth", "log_sigma"],
    "depth_recovery": ["depth", "log_sigma", "misalignment_logit"],
    "depth_anything_v2": ["disparity"],
}


@pytest.mark.parametrize("name", registered_models())
@pytest.mark.slow
def test_onnx_export_opset_17_matches_torch(name, tmp_path):
    model = build_model(name).eval()
    inputs = model_inputs(name, 240, 320, batch=1)
    input_names = ["rgb", "raw_depth"][: len(inputs)]
    proto = export_onnx(model, inputs, tmp_path / "m.onnx", input_names, OUTPUTS[name])
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
    assert onnx.shape_inference.infer_shapes(proto).graph.output  # static, inferable
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    onnx_outputs = session.run(
        None, {n: x.numpy() for n, x in zip(input_names, inputs, strict=True)}
    )
    with torch.no_grad():
        torch_outputs = model(*inputs)
    torch_outputs = torch_outputs if isinstance(torch_outputs, tuple) else (torch_outputs,)
    for ours, reference in zip(onnx_outputs, torch_outputs, strict=True):
        reference = reference.numpy()
        assert np.abs(ours - reference).max() <= 1e-4 * np.abs(reference).max()


def test_structure_uncertainty_target_by_hand():
    gt = torch.tensor([[[[1.0, 2.0], [4.0, 0.0]]]])
    raw = torch.tensor([[[[1.3, 2.5], [0.0, 3.0]]]])
    target, defined = misalignment_target(raw, gt, gt > 0)
    # τ·max(GT) = 0.4: |1.3−1| = 0.3 aligned, |2.5−2| = 0.5 misaligned; raw 0 and GT 0 undefined.
    assert target.flatten().tolist() == [0.0, 1.0, 0.0, 0.0]
    assert defined.flatten().tolist() == [True, True, False, False]


def test_untrained_recovery_trusts_the_raw_depth():
    torch.manual_seed(0)
    model = build_model("depth_recovery").eval()
    rgb, raw = model_inputs("depth_recovery", 64, 80, batch=1)
    with torch.no_grad():
        probability = torch.sigmoid(model(rgb, raw).misalignment_logit)
    assert ((probability <= model.mask_threshold) | (raw <= 0)).float().mean() > 0.95


def test_recovery_masks_raw_depth_above_the_threshold():
    torch.manual_seed(0)
    model = build_model("depth_recovery").eval()
    with torch.no_grad():  # P(misaligned) near 0.5: some raw pixels kept, some masked
        model.uncertainty.out.bias.zero_()
    rgb, raw = model_inputs("depth_recovery", 64, 80, batch=1)
    seen = {}
    model.encoder.register_forward_pre_hook(lambda m, args: seen.update(x=args[0]))
    with torch.no_grad():
        prediction = model(rgb, raw)
    masked_raw, confidence = seen["x"][:, 3:4], seen["x"][:, 4:5]
    keep = (torch.sigmoid(prediction.misalignment_logit) <= 0.5) & (raw > 0)
    assert 0 < keep.sum() < (raw > 0).sum()
    assert torch.equal(confidence.bool(), keep)
    assert torch.allclose(masked_raw, raw / 10.0 * keep)


def test_feature_alignment_attends_over_the_window_with_offsets():
    torch.manual_seed(0)
    module = RobustFeatureAlignment(channels=8, window=5, hidden=64)
    assert module.offsets.shape == (25, 2) and module.offsets.abs().max() == 1.0
    x = torch.randn(1, 8, 6, 7)
    out = module(x)
    assert out.shape == x.shape
    # Locality: a change at (0, 0) reaches at most two pixels away (5x5 window).
    changed = x.clone()
    changed[..., 0, 0] += 10
    moved = (module(changed) - out).abs().sum(1)[0] > 1e-6
    assert moved[:3, :3].any() and not moved[3:, :].any() and not moved[:, 3:].any()


def test_feature_alignment_equals_the_per_neighbour_mlp_written_out():
    """The module against the attention computed literally, pixel by pixel in float64:
    score(q, k) = w·leaky(W·[f_q − f_k, Δ_k] + b) + c, softmax over the window,
    out = x + O·Σ_k softmax·(V·f_k + v), neighbours clamped at the borders."""
    torch.manual_seed(1)
    module = RobustFeatureAlignment(channels=4, window=3, hidden=6).double()
    for parameter in module.parameters():  # non-zero everywhere, so every term counts
        torch.nn.init.normal_(parameter, std=0.5)
    x = torch.randn(1, 4, 4, 5, dtype=torch.float64)
    features = x[0].permute(1, 2, 0).numpy()  # HxWxC
    w_f = module.feature_proj.weight[:, :, 0, 0].detach().numpy()
    b_f = module.feature_proj.bias.detach().numpy()
    w_offset = module.offset_proj.weight.detach().numpy()
    w_score = module.score.weight.flatten().detach().numpy()
    b_score = module.score.bias.item()
    w_value = module.value.weight[:, :, 0, 0].detach().numpy()
    b_value = module.value.bias.detach().numpy()
    w_out = module.out.weight[:, :, 0, 0].detach().numpy()
    b_out = module.out.bias.detach().numpy()
    height, width = features.shape[:2]
    expected = np.empty_like(features)
    for qy in range(height):
        for qx in range(width):
            scores, values = [], []
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    neighbour = features[
                        min(max(qy + dy, 0), height - 1), min(max(qx + dx, 0), width - 1)
                    ]
                    hidden = w_f @ (features[qy, qx] - neighbour) + w_offset @ [dy, dx] + b_f
                    hidden = np.where(hidden > 0, hidden, 0.2 * hidden)
                    scores.append(w_score @ hidden + b_score)
                    values.append(w_value @ neighbour + b_value)
            weights = np.exp(np.array(scores) - max(scores))
            weights /= weights.sum()
            aggregated = (weights[:, None] * np.array(values)).sum(0)
            expected[qy, qx] = features[qy, qx] + w_out @ aggregated + b_out
    with torch.no_grad():
        actual = module(x)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("stride", [2, 4])
def test_structure_uncertainty_equals_its_output_convolution_at_full_resolution(stride):
    """The cheap tap-by-tap output against the plain one: (stride 4: average 2x2 blocks,)
    the network, upsample, then the 3x3 convolution (odd sizes, so the upsampling is not an
    exact 2x or 4x and the borders count)."""
    torch.manual_seed(2)
    module = recovery.StructureUncertainty(stride=stride).double()
    rgb = torch.randn(2, 3, 13, 17, dtype=torch.float64)
    raw = torch.rand(2, 1, 13, 17, dtype=torch.float64) * (torch.rand(2, 1, 13, 17) > 0.3)
    prior = torch.randn(2, 1, 13, 17, dtype=torch.float64)
    with torch.no_grad():
        logit = module(rgb, raw, (raw > 0).double(), prior)
        inputs = torch.cat(
            [
                rgb,
                raw,
                (raw > 0).double(),
                prior,
                recovery._image_gradient(raw) * (raw > 0),
                recovery._image_gradient(prior),
            ],
            dim=1,
        )
        if stride == 4:  # mean of each whole 2x2 block; the odd last row and column are left out
            inputs = inputs[..., :12, :16].reshape(2, 8, 6, 2, 8, 2).mean(dim=(3, 5))
        plain = module.out(
            F.interpolate(module.net(inputs), size=(13, 17), mode="bilinear", align_corners=False)
        )
    assert logit.shape == (2, 1, 13, 17)
    torch.testing.assert_close(logit, plain, rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match="stride must be 2 or 4"):
        recovery.StructureUncertainty(stride=3)


def test_recovery_prior_falls_back_to_monocular_with_a_log_line(caplog):
    with caplog.at_level(logging.WARNING):
        model = build_model("depth_recovery", prior="depth_anything_v2")
    assert type(model.prior).__name__ == "TransferDepthNet"
    assert "using the monocular model as the recovery prior" in caplog.text
    assert not any(p.requires_grad for p in model.prior.parameters())


def test_latent_model_two_stages():
    from depth_core.models.latent import autoencoder_stage_loss, colour_stage_loss, configure_stage

    torch.manual_seed(0)
    model = build_model("latent_dual", latent_channels=64)
    rgb = torch.randn(2, 3, 64, 80)
    depth = torch.rand(2, 1, 64, 80) * 3 + 1
    valid = torch.ones_like(depth, dtype=torch.bool)

    configure_stage(model, 1)
    assert not any(p.requires_grad for p in model.colour_backbone.parameters())
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], 1e-3)
    losses = []
    for _ in range(15):
        loss, parts = autoencoder_stage_loss(model, depth, valid)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert set(parts) == {"l1", "gradient"} and losses[-1] < losses[0]

    configure_stage(model, 2, finetune_decoder=False)
    decoder_before = [p.clone() for p in model.depth_decoder.parameters()]
    depth_encoder_before = [p.clone() for p in model.depth_encoder.parameters()]
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], 1e-3)
    loss, parts = colour_stage_loss(model, rgb, depth, valid)
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    assert set(parts) == {"latent", "l1", "gradient"}
    assert all(
        torch.equal(a, b)
        for a, b in zip(decoder_before, model.depth_decoder.parameters(), strict=True)
    )
    assert all(
        torch.equal(a, b)
        for a, b in zip(depth_encoder_before, model.depth_encoder.parameters(), strict=True)
    )
    configure_stage(model, 2, finetune_decoder=True)
    assert all(p.requires_grad for p in model.depth_decoder.parameters())
    with pytest.raises(ValueError, match="stage must be 1 or 2"):
        configure_stage(model, 3)


def test_recovery_backbone_has_stochastic_depth_and_a_soft_mask_option():
    from timm.layers import DropPath

    model = build_model("depth_recovery", soft_mask=True).eval()
    rates = [m.drop_prob for m in model.encoder.modules() if isinstance(m, DropPath)]
    assert rates and 0.09 < max(rates) <= 0.1  # timm ramps the rate up to 0.1 with depth
    rgb, raw = model_inputs("depth_recovery", 64, 80, batch=1)
    seen = {}
    model.encoder.register_forward_pre_hook(lambda m, args: seen.update(x=args[0]))
    with torch.no_grad():
        prediction = model(rgb, raw)
    weight = (1 - torch.sigmoid(prediction.misalignment_logit)) * (raw > 0)
    assert torch.allclose(seen["x"][:, 4:5], weight)


def test_position_embedding_resampling_is_pytorch_bicubic():
    from depth_core.models.depth_anything import bicubic_matrix

    grid = torch.randn(1, 4, 37, 37, dtype=torch.float64)
    for patches in ((17, 22), (34, 45)):  # 240x320 and 476x630 inputs
        scale = tuple((p + 0.1) / 37 for p in patches)
        reference = F.interpolate(grid, scale_factor=scale, mode="bicubic", antialias=False)
        rows, cols = (
            torch.from_numpy(bicubic_matrix(p, 37, s)).double()
            for p, s in zip(patches, scale, strict=True)
        )
        assert torch.allclose(rows @ grid @ cols.T, reference, atol=1e-6)


def test_missing_depth_is_filled_ring_by_ring_from_the_nearest_values():
    from depth_core.models.recovery import fill_missing_depth

    depth = torch.tensor([2.0, 0, 0, 0, 4]).repeat(4, 1)[None, None]  # 4 identical rows
    confidence = (depth > 0).float()
    # Two rings: each hole takes its nearest values, the middle one the mean of both sides.
    filled, covered = fill_missing_depth(depth, confidence, rings=2)
    assert filled[0, 0].tolist() == [[2.0, 2.0, 3.0, 4.0, 4.0]] * 4
    assert covered.min() == 1
    # One ring leaves the middle to the window averages; it still gets a value from one side.
    filled, covered = fill_missing_depth(depth, confidence, rings=1)
    assert filled[0, 0, :, [0, 1, 3, 4]].tolist() == [[2.0, 2.0, 4.0, 4.0]] * 4
    assert covered.min() == 1 and set(filled[0, 0, :, 2].tolist()) <= {2.0, 4.0}
