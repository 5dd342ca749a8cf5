import numpy as np
import pytest

from depth_core.geometry import Intrinsics, disparity_to_depth


def test_disparity_to_depth_by_hand():
    # f = 500 px, T = 0.1 m: d = 50 px -> 1 m; d = 20 px with doffs 5 -> 50/25 = 2 m.
    depth = disparity_to_depth(np.array([[50.0, 0.0, np.inf, -3.0]]), 500.0, 0.1)
    assert depth[0, 0] == pytest.approx(1.0)
    assert np.isnan(depth[0, 1:]).all()
    assert disparity_to_depth(np.array([20.0]), 500.0, 0.1, doffs_px=5.0)[0] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="positive"):
        disparity_to_depth(np.ones(2), 0.0, 0.1)


def test_intrinsics_resize_halves_focal_and_centre():
    full = Intrinsics(fx=500.0, fy=400.0, cx=319.5, cy=239.5, width=640, height=480)
    half = full.resized(320, 240)
    # Centre of a 640-wide image (319.5) maps to the centre of a 320-wide one (159.5).
    assert (half.fx, half.fy, half.cx, half.cy) == (250.0, 200.0, 159.5, 119.5)
    assert full.resized(640, 480) == full
