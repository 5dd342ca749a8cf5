"""The raw-depth simulation does what it claims: displacement, holes, noise, quantisation,
edge artefacts and low-resolution capture track their parameters."""

import numpy as np
import pytest

from depth_core.data.simulation import (
    RawDepthConfig,
    discontinuities,
    elastic_displacement,
    rectangular_holes,
    simulate_raw_depth,
    simulate_tof,
)

SHAPE = (120, 160)
# Every artefact off: each test turns on the one it checks.
NONE = dict(
    misalignment_px=0.0,
    hole_fraction=0.0,
    edge_hole_probability=0.0,
    flying_pixel_probability=0.0,
    relative_noise=0.0,
    quantum_m=0.0,
    disparity_noise_px=0.0,
    disparity_step_px=0.0,
)


def ramp_x() -> np.ndarray:
    """Depth that encodes the column: 1 m + 1 cm per pixel, so a horizontal shift is readable."""
    return np.tile(1.0 + 0.01 * np.arange(SHAPE[1], dtype=np.float32), (SHAPE[0], 1))


@pytest.mark.parametrize("rms_px", [1.0, 3.0])
def test_warp_moves_pixels_by_the_displacement_field(rms_px):
    config = RawDepthConfig(**{**NONE, "misalignment_px": rms_px, "smoothness_px": 10.0})
    result = simulate_raw_depth(ramp_x(), np.random.default_rng(0), config)
    dx, dy = result.displacement[..., 0], result.displacement[..., 1]
    assert np.sqrt(np.mean(dx**2 + dy**2)) == pytest.approx(rms_px, rel=1e-4)
    inside = result.raw > 0
    assert inside.mean() > 0.9
    moved_x = (result.raw - ramp_x()) / 0.01  # the column shift each pixel actually got
    # Nearest-neighbour sampling: the realised shift is the field's, rounded.
    assert np.abs(moved_x - dx)[inside].max() <= 0.5 + 1e-3
    assert np.sqrt(np.mean(moved_x[inside] ** 2)) == pytest.approx(
        np.sqrt(np.mean(dx[inside] ** 2)), rel=0.15
    )


def test_smoothness_sets_the_correlation_length():
    rng = np.random.default_rng(0)
    rough = elastic_displacement(SHAPE, rng, 2.0, 2.0)[..., 0]
    smooth = elastic_displacement(SHAPE, rng, 2.0, 20.0)[..., 0]

    def change_over_8px(field):
        return np.abs(field[:, 8:] - field[:, :-8]).mean()

    assert change_over_8px(smooth) < 0.3 * change_over_8px(rough)


def test_misalignment_mask_marks_exactly_the_pixels_moved_beyond_tau():
    config = RawDepthConfig(**{**NONE, "misalignment_px": 1.5, "misalignment_tau_px": 1.0})
    gt = ramp_x()
    result = simulate_raw_depth(gt, np.random.default_rng(3), config)
    length = np.hypot(result.displacement[..., 0], result.displacement[..., 1])
    np.testing.assert_array_equal(result.misaligned, length > 1.0)
    assert 0.1 < result.misaligned.mean() < 0.9
    # Pixels whose displacement rounds to zero keep their exact ground truth.
    still = (np.abs(result.displacement) < 0.5).all(axis=2)
    np.testing.assert_array_equal(result.raw[still], gt[still])


@pytest.mark.parametrize("fraction", [0.05, 0.2])
def test_rectangular_hole_fraction_tracks_its_parameter(fraction):
    mask = rectangular_holes(SHAPE, np.random.default_rng(1), fraction)
    largest_rectangle = (SHAPE[0] // 8) * (SHAPE[1] // 8) / mask.size
    assert fraction <= mask.mean() < fraction + largest_rectangle
    config = RawDepthConfig(**{**NONE, "hole_fraction": fraction})
    result = simulate_raw_depth(np.full(SHAPE, 2.0), np.random.default_rng(1), config)
    assert (result.raw == 0).mean() == pytest.approx(mask.mean(), abs=largest_rectangle)
    np.testing.assert_array_equal(result.holes, result.raw == 0)


def test_tof_noise_is_proportional_to_depth_and_quantised_to_millimetres():
    for depth in (1.0, 4.0):
        config = RawDepthConfig(**{**NONE, "relative_noise": 0.02})
        raw = simulate_raw_depth(np.full((200, 200), depth), np.random.default_rng(2), config).raw
        assert raw.mean() == pytest.approx(depth, rel=2e-3)
        assert raw.std() / depth == pytest.approx(0.02, rel=0.05)
    config = RawDepthConfig(**{**NONE, "relative_noise": 0.01, "quantum_m": 0.001})
    raw = simulate_raw_depth(np.full(SHAPE, 1.2345), np.random.default_rng(2), config).raw
    millimetres = raw.astype(np.float64) * 1000
    np.testing.assert_allclose(millimetres, np.round(millimetres), atol=2e-3)
    assert len(np.unique(raw)) > 10


def test_stereo_noise_lives_in_disparity_and_is_quantised_in_steps():
    config = RawDepthConfig(
        **{
            **NONE,
            "sensor": "stereo",
            "disparity_noise_px": 0.3,
            "focal_px": 600.0,
            "baseline_m": 0.1,
        }
    )
    raw = simulate_raw_depth(np.full((200, 200), 3.0), np.random.default_rng(4), config).raw
    disparity = 60.0 / raw.astype(np.float64)  # f·B = 60 px·m; true disparity 20 px
    assert disparity.mean() == pytest.approx(20.0, abs=0.01)
    assert disparity.std() == pytest.approx(0.3, rel=0.05)
    config.disparity_step_px = 0.25
    raw = simulate_raw_depth(np.full(SHAPE, 3.0), np.random.default_rng(4), config).raw
    steps = 60.0 / raw.astype(np.float64) / 0.25
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-3)


def step_edge() -> np.ndarray:
    depth = np.full(SHAPE, 3.0, dtype=np.float32)
    depth[:, :80] = 1.0
    return depth


def test_edge_holes_and_flying_pixels_sit_on_discontinuities():
    edges = discontinuities(step_edge(), 0.05)
    np.testing.assert_array_equal(np.flatnonzero(edges.any(axis=0)), [79, 80])
    config = RawDepthConfig(**{**NONE, "edge_hole_probability": 1.0})
    holes = simulate_raw_depth(step_edge(), np.random.default_rng(0), config)
    np.testing.assert_array_equal(holes.raw == 0, edges)
    flying = simulate_raw_depth(
        step_edge(),
        np.random.default_rng(0),
        RawDepthConfig(**{**NONE, "flying_pixel_probability": 1.0}),
    )
    mixed = flying.raw[edges]
    assert np.all((mixed >= 1.0) & (mixed <= 3.0))
    assert np.mean((mixed > 1.05) & (mixed < 2.95)) > 0.9  # genuinely between the surfaces
    np.testing.assert_array_equal(flying.raw[~edges], step_edge()[~edges])


def test_low_resolution_capture_invents_no_values():
    gt = np.random.default_rng(5).uniform(0.5, 5.0, (192, 256)).astype(np.float32)
    config = RawDepthConfig(**{**NONE, "capture_size": (48, 64), "upsample": False})
    small = simulate_raw_depth(gt, np.random.default_rng(0), config).raw
    assert small.shape == (48, 64)
    assert np.isin(small, gt).all()
    config.upsample = True
    large = simulate_raw_depth(gt, np.random.default_rng(0), config).raw
    assert large.shape == gt.shape
    assert set(np.unique(large)) == set(np.unique(small))


def test_simulation_is_seeded_and_tof_helper_is_registered_low_resolution():
    gt = step_edge()
    a = simulate_raw_depth(gt, np.random.default_rng(7))
    b = simulate_raw_depth(gt, np.random.default_rng(7))
    np.testing.assert_array_equal(a.raw, b.raw)
    raw = simulate_tof(gt, np.random.default_rng(0))
    assert raw.shape == (30, 40)
    assert 0.8 < (raw > 0).mean() < 1.0
    with pytest.raises(ValueError, match="sensor"):
        RawDepthConfig(sensor="lidar")


def test_benchmark_holes_are_fixed_by_the_frame_and_cover_the_depth_edges():
    from depth_core.data.simulation import HOLE_EDGE_DILATION, benchmark_holes, frame_seed

    depth = np.full(SHAPE, 1.0, np.float32)
    depth[:, 80:] = 2.0  # a 1 m step between columns 79 and 80
    depth[:10] = 0.0  # the sensor's own holes are never removed (nothing to score there)
    seed = frame_seed("tum_fr1/0001")
    removed = benchmark_holes(depth, seed)
    assert np.array_equal(removed, benchmark_holes(depth, seed))  # fixed, not drawn anew
    assert not np.array_equal(removed, benchmark_holes(depth, frame_seed("tum_fr1/0002")))
    assert not removed[:10].any()
    # Forward differences mark column 79; the band dilates it by HOLE_EDGE_DILATION (5: two
    # columns either side).
    half = HOLE_EDGE_DILATION // 2
    assert removed[10:, 79 - half : 80 + half].all()
    assert 0 < removed.mean() < 0.6  # part of the frame, not all of it
