"""Each loss against values worked out by hand on tiny tensors; masks must be respected."""

import math

import pytest
import torch

from depth_core.losses import (
    MetricDepthConfig,
    MetricDepthLoss,
    classify_pairs,
    edge_loss,
    gaussian_nll,
    gradient_loss,
    laplace_nll,
    latent_loss,
    mae_loss,
    masked_mean,
    multiscale_gradient_loss,
    recovery_loss,
    relative_loss,
    silog_loss,
    ssim_loss,
    weighted_loss,
)


def t(rows):
    return torch.tensor(rows, dtype=torch.float32)[None, None]


def test_masked_mean_and_mae_ignore_invalid_even_when_nan():
    assert masked_mean(t([[1, 2, 3, 4]]), t([[1, 0, 1, 0]]).bool()).item() == 2.0
    pred, gt = t([[1, 2], [3, 4]]), t([[2, 2], [float("nan"), 0]])
    valid = t([[1, 1], [0, 0]]).bool()
    assert mae_loss(pred, gt, valid).item() == pytest.approx(0.5)  # (|1-2| + 0) / 2


def test_edge_loss_sobel_magnitude_of_a_ramp():
    ramp = t([[0, 1, 2], [0, 1, 2], [0, 1, 2]])  # Sobel x = (1+2+1)·(2−0) = 8, y = 0
    flat = torch.zeros_like(ramp)
    all_valid = torch.ones_like(ramp, dtype=torch.bool)
    assert edge_loss(flat, ramp, all_valid).item() == pytest.approx(8.0, rel=1e-5)
    one_hole = all_valid.clone()
    one_hole[..., 0, 0] = False  # the only 3x3 window is no longer fully valid
    assert edge_loss(flat, ramp, one_hole).item() == 0.0


def test_ssim_term_of_two_constants_and_the_weighted_sum():
    pred, gt = torch.ones(1, 1, 7, 7), torch.full((1, 1, 7, 7), 2.0)
    valid = torch.ones_like(pred, dtype=torch.bool)
    # Constant patches: σ = cov = 0, SSIM = (2·1·2 + C1)/(1 + 4 + C1), C1 = (0.01·10)² = 0.01.
    expected_ssim_term = (1 - 4.01 / 5.01) / 2
    assert ssim_loss(pred, gt, valid).item() == pytest.approx(expected_ssim_term, rel=1e-5)
    assert ssim_loss(gt, gt, valid).item() == pytest.approx(0.0, abs=1e-6)
    total, parts = weighted_loss(pred, gt, valid)
    # MAE = 1, edge = 0: 0.6·1 + 0.2·0 + 1.0·SSIM term.
    assert parts["mae"].item() == pytest.approx(1.0)
    assert total.item() == pytest.approx(0.6 + expected_ssim_term, rel=1e-5)
    custom, _ = weighted_loss(pred, gt, valid, mae_weight=1.0, edge_weight=0.0, ssim_weight=0.0)
    assert custom.item() == pytest.approx(1.0)


def test_gradient_loss_forward_differences_by_hand():
    pred = t([[0, 1, 3], [0, 1, 3]])
    gt = t([[0, 2, 2], [1, 3, 3]])
    valid = torch.ones_like(pred, dtype=torch.bool)
    # x: pred diffs (1, 2), gt diffs (2, 0) -> |−1|, |2| -> 1.5; y: pred 0, gt 1 -> 1.
    assert gradient_loss(pred, gt, valid).item() == pytest.approx(2.5)
    valid[..., 1, :] = False  # row 1 invalid: only x-differences of row 0 remain
    assert gradient_loss(pred, gt, valid).item() == pytest.approx(1.5)


def test_latent_silog_relative():
    assert latent_loss(torch.zeros(2, 3), torch.full((2, 3), 2.0)).item() == pytest.approx(4.0)
    gt = t([[1.0, 2.0, 4.0]])
    valid = torch.ones_like(gt, dtype=torch.bool)
    # pred = 2·gt: g = log 2 everywhere -> 10·sqrt((1 − 0.85)·log²2).
    expected = 10 * math.sqrt(0.15) * math.log(2)
    assert silog_loss(2 * gt, gt, valid).item() == pytest.approx(expected, rel=1e-5)
    assert silog_loss(2 * gt, gt, valid, variance_focus=1.0).item() < 1e-3  # scale-invariant
    assert relative_loss(
        t([[2.0, 3.0, 9.0]]), t([[1.0, 4.0, 0.0]]), t([[1, 1, 1]]).bool()
    ).item() == pytest.approx((1.0 + 0.25) / 2)  # gt = 0 is never valid


def test_multiscale_gradient_and_recovery_loss():
    gt = torch.full((1, 1, 4, 4), 2.0)
    ramp = torch.arange(4.0).repeat(4, 1)[None, None]  # residual R[i, j] = j
    valid = torch.ones_like(gt, dtype=torch.bool)
    # scale 1: |∂x R| = 1; scale 2 (every 2nd pixel): R = 0, 2 -> 2; scale 4: 1x1, stops.
    assert multiscale_gradient_loss(gt + ramp, gt, valid).item() == pytest.approx(3.0)
    total, parts = recovery_loss(gt + 1.0, gt, valid)
    assert parts["l1"].item() == pytest.approx(1.0)
    assert parts["relative"].item() == pytest.approx(0.5)
    assert total.item() == pytest.approx(1.5)


def test_uncertainty_nll_values_and_optimum():
    pred, gt = t([[3.0]]), t([[2.0]])
    valid = torch.ones_like(gt, dtype=torch.bool)
    zero = torch.zeros_like(gt)
    assert laplace_nll(pred, zero, gt, valid).item() == pytest.approx(1 + math.log(2))
    assert gaussian_nll(pred, zero, gt, valid).item() == pytest.approx(
        0.5 + 0.5 * math.log(2 * math.pi)
    )
    # σ is learned: the Laplace NLL has zero gradient at σ = |error| (here 0.5).
    log_sigma = torch.full_like(gt, math.log(0.5), requires_grad=True)
    laplace_nll(t([[2.5]]), log_sigma, gt, valid).backward()
    assert log_sigma.grad.abs().item() < 1e-6


def test_metric_depth_classifies_pairs_by_depth_difference():
    delta = t([[0.05, 0.3, 0.7, 0.6], [1.2, 1.7, 2.5, 0.01]])
    pair_valid = torch.ones_like(delta, dtype=torch.bool)
    pair_valid[..., 0, 3] = False  # would be range 1
    pair_valid[..., 1, 3] = False  # would be positive
    positive, negatives = classify_pairs(delta, pair_valid, MetricDepthConfig())
    assert positive.nonzero()[:, 2:].tolist() == [[0, 0]]
    assert [n.nonzero()[:, 2:].tolist() for n, _ in negatives] == [[[0, 2]], [[1, 0]], [[1, 1]]]
    assert [margin for _, margin in negatives] == [3.0, 6.0, 8.0]
    # 0.3 (between r_p and 0.5) and 2.5 (past the last range) are in no set.
    single = MetricDepthConfig(strategy="single_range")
    _, [(only, margin)] = classify_pairs(delta, pair_valid, single)
    assert margin == 3.0
    assert only.nonzero()[:, 2:].tolist() == [[0, 2], [1, 0], [1, 1], [1, 2]]


def test_metric_depth_loss_value_on_a_constructed_map():
    # Two pixels 0.7 m apart in depth: every partner pair is a range-1 negative (margin 3).
    depth = t([[1.0, 1.7]])
    valid = torch.ones_like(depth, dtype=torch.bool)
    loss = MetricDepthLoss(MetricDepthConfig(n_within=3, n_across=0))
    features = torch.tensor([[0.0], [0.0]]).T.reshape(1, 1, 1, 2)  # distance ≈ 0
    assert loss(features, depth, valid).item() == pytest.approx(9.0, rel=1e-3)
    one_apart = torch.tensor([0.0, 1.0]).reshape(1, 1, 1, 2)  # (3 − 1)² = 4
    assert loss(one_apart, depth, valid).item() == pytest.approx(4.0, rel=1e-3)
    far = torch.tensor([0.0, 5.0]).reshape(1, 1, 1, 2)  # beyond the margin: no loss
    assert loss(far, depth, valid).item() == pytest.approx(0.0, abs=1e-6)
    # Same depth: positives pull features together, d² = 1.
    assert loss(one_apart, t([[1.0, 1.05]]), valid).item() == pytest.approx(1.0, rel=1e-3)
    # An invalid pixel leaves no pair at all.
    assert loss(one_apart, depth, t([[1, 0]]).bool()).item() == 0.0


def test_metric_depth_sampling_counts_and_cross_batch_pairs():
    loss = MetricDepthLoss()
    shifts = loss.partner_shifts(
        batch=3, height=5, width=6, generator=torch.Generator().manual_seed(0)
    )
    within, across = shifts[:10], shifts[10:]
    assert len(within) == 10 and all(b == 0 and (dy or dx) for b, dy, dx in within)
    assert across == [(1, 0, 0), (2, 0, 0)]  # n_across = 4, capped at batch − 1
    # Cross-batch only: image 0 at 1 m, image 1 at 1.7 m -> range-1 negatives everywhere.
    depth = torch.cat([torch.ones(1, 1, 2, 2), torch.full((1, 1, 2, 2), 1.7)])
    only_across = MetricDepthLoss(MetricDepthConfig(n_within=0, n_across=4))
    features = torch.zeros(2, 4, 2, 2)
    value = only_across(features, depth, torch.ones_like(depth, dtype=torch.bool))
    assert value.item() == pytest.approx(9.0, rel=1e-3)


def test_metric_depth_config_is_validated():
    with pytest.raises(ValueError, match="strategy"):
        MetricDepthConfig(strategy="nearest")
    with pytest.raises(ValueError, match="same length"):
        MetricDepthConfig(margins=(3.0,))
