"""Metrics against values worked out by hand."""

import math

import numpy as np
import pytest

from depth_core.metrics import METRIC_NAMES, depth_metrics, eigen_crop, garg_crop, sparsification


def test_metrics_by_hand():
    pred, gt = np.array([1.0, 2.0, 4.0]), np.array([1.0, 1.0, 2.0])
    m = depth_metrics(pred, gt)
    assert set(m) == set(METRIC_NAMES)
    ln2 = math.log(2)
    assert m["abs_rel"] == pytest.approx(2 / 3)  # (0 + 1/1 + 2/2) / 3
    assert m["sq_rel"] == pytest.approx(1.0)  # (0 + 1/1 + 4/2) / 3
    assert m["rmse"] == pytest.approx(math.sqrt(5 / 3))
    assert m["rmse_log"] == pytest.approx(math.sqrt(2 / 3) * ln2)
    assert m["log10"] == pytest.approx(2 / 3 * math.log10(2))
    mean_sq, mean = 2 / 3 * ln2**2, 2 / 3 * ln2
    assert m["silog"] == pytest.approx(100 * math.sqrt(mean_sq - mean**2))


def test_delta_thresholds():
    # ratios 1, 1.1, 1.9, 2 -> <1.05: 1, <1.25: 2, <1.5625: 2, <1.953: 3 of 4.
    m = depth_metrics(np.array([1.0, 1.1, 1.9, 4.0]), np.array([1.0, 1.0, 1.0, 2.0]))
    assert (m["delta_1.05"], m["delta1"], m["delta2"], m["delta3"]) == (0.25, 0.5, 0.5, 0.75)


def test_masks_caps_and_median_scaling():
    gt = np.array([1.0, 2.0, 3.0, 50.0, np.nan, 0.0])
    pred = np.array([1.0, 2.0, 3.0, 1.0, 7.0, 9.0])
    valid = np.array([True, True, False, True, True, True])
    # Only pixels 0 and 1 count: 2 is masked, 3 exceeds max_depth, 4 is NaN, 5 is zero.
    assert depth_metrics(pred, gt, valid, max_depth=10.0)["rmse"] == 0.0
    assert depth_metrics(2 * gt, gt, valid, median_scaling=True)["abs_rel"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="no valid"):
        depth_metrics(pred, np.zeros(6))


def test_standard_crops():
    assert eigen_crop(480, 640).sum() == 426 * 560
    assert (eigen_crop(480, 640)[45, 41], eigen_crop(480, 640)[44, 41]) == (True, False)
    kitti = garg_crop(375, 1242)
    assert kitti.sum() == (371 - 153) * (1197 - 44)
    gt = np.ones((480, 640))
    pred = np.ones((480, 640))
    pred[0, 0] = 5.0  # outside the Eigen crop
    assert depth_metrics(pred, gt, crop="eigen")["rmse"] == 0.0


def test_sparsification_by_hand():
    pred, gt = np.array([1.0, 3.0]), np.array([1.0, 1.0])  # errors 0 and 2
    wrong_order = sparsification(pred, np.array([1.0, 0.0]), gt, steps=2)
    # fractions 0, 0.5: oracle RMSE sqrt(2) then 0; the wrong order keeps the bad pixel: 2.
    assert wrong_order["oracle_rmse"].tolist() == pytest.approx([math.sqrt(2), 0.0])
    assert wrong_order["curve_rmse"].tolist() == pytest.approx([math.sqrt(2), 2.0])
    assert wrong_order["ause_rmse"] == pytest.approx(0.5 * 2.0 / 2)
    assert wrong_order["ause_random_rmse"] == pytest.approx(0.5 * math.sqrt(2) / 2)
    right_order = sparsification(pred, np.array([0.0, 1.0]), gt, steps=2)
    assert right_order["ause_rmse"] == pytest.approx(0.0)
    assert right_order["ause_abs_rel"] == pytest.approx(0.0)


def test_sparsification_oracle_uncertainty_beats_random():
    rng = np.random.default_rng(0)
    gt = rng.uniform(1, 5, 5000)
    sigma = rng.uniform(0.01, 0.5, 5000)
    pred = gt + rng.normal(0, sigma)
    informed = sparsification(pred, sigma, gt)
    uninformed = sparsification(pred, rng.uniform(size=5000), gt)
    assert informed["ause_rmse"] < 0.5 * informed["ause_random_rmse"]
    assert uninformed["ause_rmse"] == pytest.approx(uninformed["ause_random_rmse"], rel=0.2)
