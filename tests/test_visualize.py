"""Pictures a person reads: one depth scale across panels, σ on its own map, colour bars."""

import numpy as np

from depth_core.visualize import colourise_depth, colourise_sigma, depth_colour_bar, depth_range


def test_the_same_depth_gets_the_same_colour_in_every_panel():
    near = np.full((4, 4), 1.0, np.float32)
    far = np.full((4, 4), 3.0, np.float32)
    lo, hi = depth_range(near, far)
    assert lo < 1.05 and hi > 2.95  # the range spans both images, not each one alone
    mixed = np.array([[1.0, 3.0]], np.float32)
    np.testing.assert_array_equal(
        colourise_depth(near, lo, hi)[0, 0], colourise_depth(mixed, lo, hi)[0, 0]
    )
    np.testing.assert_array_equal(
        colourise_depth(far, lo, hi)[0, 0], colourise_depth(mixed, lo, hi)[0, 1]
    )


def test_sigma_map_is_sequential_and_bars_carry_their_colours():
    sigma = np.array([[0.0, 0.25, 0.5, np.nan]], np.float32)
    colours = colourise_sigma(sigma, 0.5).astype(int)
    brightness = colours[0, :3].sum(axis=1)
    assert brightness[0] < brightness[1] < brightness[2]  # viridis: dark to bright
    assert colours[0, 3].sum() == 0  # invalid: black
    bar = depth_colour_bar(0.5, 4.0, 240)
    assert bar.shape == (240, 70, 3)
    # The stripe's bottom is the near end's colour, its top the far end's.
    np.testing.assert_array_equal(bar[229, 10], colourise_depth(np.array([[0.5]]), 0.5, 4.0)[0, 0])
    np.testing.assert_array_equal(bar[28, 10], colourise_depth(np.array([[4.0]]), 0.5, 4.0)[0, 0])
