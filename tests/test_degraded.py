"""Degraded-mode scale (depth_core.runtime.degraded): values by hand, no ROS."""

import numpy as np
import pytest

from depth_core.runtime import DepthResult
from depth_core.runtime.degraded import ScaleCarryOver, median_ratio


def result(depth: float, sigma: float = 0.1) -> DepthResult:
    return DepthResult(np.full((4, 6), depth, np.float32), np.full((4, 6), sigma, np.float32))


def test_median_ratio_uses_only_pixels_valid_in_both():
    reference = np.array([[2.0, 4.0, 0.0], [np.nan, 6.0, 8.0]], np.float32)
    estimate = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 0.0]], np.float32)
    assert median_ratio(reference, estimate) == pytest.approx(3.0)  # ratios 2, 4, 3
    assert median_ratio(None, estimate) == 1.0
    assert median_ratio(reference[:, :2], estimate) == 1.0  # another size: nothing to compare
    assert median_ratio(np.zeros_like(estimate), estimate) == 1.0


def test_rgb_only_frames_keep_the_last_paired_scale_until_raw_returns():
    carry = ScaleCarryOver()
    carry.paired(1.0, np.full((4, 6), 3.0, np.float32))
    carry.paired(0.5, np.full((4, 6), 9.0, np.float32))  # an older frame finishing late
    first = carry.unpaired(result(1.5), sigma_scale=2.0)
    np.testing.assert_allclose(first.depth, 3.0)  # scaled by 3.0 / 1.5
    np.testing.assert_allclose(first.sigma, 0.1 * 2.0 * 2.0)
    # The scale is fixed on the first RGB-only frame, not refitted on each.
    np.testing.assert_allclose(carry.unpaired(result(1.0), sigma_scale=1.0).depth, 2.0)
    carry.paired(2.0, np.full((4, 6), 4.0, np.float32))  # raw is back, then gone again
    np.testing.assert_allclose(carry.unpaired(result(1.0), sigma_scale=1.0).depth, 4.0)


def test_without_a_paired_frame_the_scale_is_the_model_own():
    np.testing.assert_allclose(ScaleCarryOver().unpaired(result(2.0), 1.0).depth, 2.0)
