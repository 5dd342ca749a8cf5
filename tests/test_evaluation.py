"""The evaluation's baselines: nearest filling and RGB-guided hole filling, by hand."""

import numpy as np
import pytest

from depth_core.evaluation import (
    DatasetReport,  # noqa: I001
    guided_hole_filling,
    markdown_table,
    nearest_fill,
)


def test_nearest_fill_takes_the_closest_valid_value():
    raw = np.array([[0, 2, 0, 0], [0, 0, 0, 5]], dtype=np.float32)
    np.testing.assert_array_equal(nearest_fill(raw), [[2, 2, 2, 5], [2, 2, 5, 5]])


def test_guided_filling_keeps_measurements_and_respects_colour_edges():
    depth = np.ones((40, 60), np.float32)
    depth[:, 30:] = 3.0
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[:, 30:] = 255  # the depth edge is a colour edge
    raw = depth.copy()
    raw[10:30, 22:38] = 0  # a hole across the edge
    filled = guided_hole_filling(raw, rgb)
    measured = raw > 0
    np.testing.assert_array_equal(filled[measured], raw[measured])
    # Each side of the edge is filled from its own colour region: little bleeding across.
    assert np.abs(filled[10:30, 22:28] - 1.0).max() < 0.3
    assert np.abs(filled[10:30, 32:38] - 3.0).max() < 0.3


def test_markdown_table_lists_every_method():
    report = DatasetReport(
        "set",
        2,
        {
            "model": {"abs_rel": 0.1, "rmse": 0.2, "delta1": 0.9, "delta_1.05": 0.5, "mae": 0.05},
            "raw": {"abs_rel": 0.2, "rmse": 0.3, "delta1": 0.8, "delta_1.05": 0.4, "mae": 0.1},
        },
    )
    table = markdown_table([report])
    assert "| set | 2 | model | 0.100 | 0.200 | 0.900 | 0.500 | 0.050 |" in table
    assert table.count("\n") == 3


def test_median_ratio_is_the_scale_of_the_prediction_against_the_truth():
    from depth_core.evaluation import _metrics

    gt = np.linspace(1.0, 4.0, 48, dtype=np.float32).reshape(6, 8)
    valid = np.ones(gt.shape, bool)
    valid[0, 0] = False
    assert _metrics(0.5 * gt, gt, valid, 10.0, None)["median_ratio"] == pytest.approx(0.5)
    # Median scaling removes the scale; the ratio would say nothing there.
    assert "median_ratio" not in _metrics(0.5 * gt, gt, valid, 10.0, None, median_scaling=True)
