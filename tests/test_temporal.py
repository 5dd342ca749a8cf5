"""The temporal filter: a still scene converges and flickers less, as the fusion rule says for
independent noise; a change passes at once; σ never falls below what the fusion allows; a
strength of 0 switches it off exactly; stamp jumps reset it."""

from dataclasses import replace

import numpy as np
import pytest

from depth_core.geometry import Intrinsics
from depth_core.runtime.estimator import DepthResult
from depth_core.runtime.temporal import (
    CameraMotion,
    TemporalFilter,
    TemporalSettings,
    for_frame,
)

SHAPE = (24, 32)


def run(filter_: TemporalFilter, frames, sigma=0.02, start=0.0, period=1 / 30):
    outputs = []
    for index, depth in enumerate(frames):
        outputs.append(
            filter_.update(
                depth.astype(np.float32), np.full(SHAPE, sigma, np.float32), start + index * period
            )
        )
    return outputs


def test_a_still_scene_converges_and_its_flicker_falls_as_independent_noise_predicts():
    rng = np.random.default_rng(0)
    strength = 0.85
    frames = [2.0 + rng.normal(0, 0.02, SHAPE) for _ in range(300)]
    outputs = run(TemporalFilter(TemporalSettings(strength=strength, motion_sigmas=6.0)), frames)
    steady = np.stack([depth for depth, _, _ in outputs[100:]])
    # An exponential average with weight w on the history: Var(out) = (1 − w)/(1 + w) Var(in).
    expected = 0.02 * np.sqrt((1 - strength) / (1 + strength))
    assert steady.std(axis=0).mean() == pytest.approx(expected, rel=0.15)
    assert steady.mean() == pytest.approx(2.0, abs=2e-3)
    assert outputs[-1][2].held_share == 1.0 and not outputs[-1][2].reset


def test_a_change_in_the_scene_passes_within_one_frame():
    frames = [np.full(SHAPE, 2.0)] * 20 + [np.full(SHAPE, 1.5)]
    *_, (depth, sigma, stats) = run(TemporalFilter(), frames)
    np.testing.assert_array_equal(depth, 1.5)  # 0.5 m is 17 combined σ: let go at once
    assert stats.held_share == 0.0
    np.testing.assert_array_equal(sigma, np.float32(0.02))  # the new frame's own σ


def test_an_approach_inside_a_wide_sigma_passes_when_the_rest_of_the_image_is_still():
    # A monocular σ of 35% of depth: an object 15% nearer each frame stays inside 2.5 combined
    # σ, but far outside the 2% frame-to-frame noise of the still background.
    rng = np.random.default_rng(3)
    filter_ = TemporalFilter()
    near = 2.0
    for index in range(12):
        depth = (3.0 * (1 + rng.normal(0, 0.02, SHAPE))).astype(np.float32)
        depth[8:16, 10:20] = near
        out, _, stats = filter_.update(depth, 0.35 * depth, index / 15)
        np.testing.assert_array_equal(out[8:16, 10:20], np.float32(near))
        near *= 0.85
    background = 1 - 80 / depth.size
    assert stats.held_share == pytest.approx(background, abs=0.02)  # the background is fused


def test_sigma_never_falls_below_what_the_fusion_rule_allows():
    rng = np.random.default_rng(1)
    filter_ = TemporalFilter(TemporalSettings(motion_sigmas=100.0))
    previous_sigma = None
    for index in range(30):
        sigma_in = rng.uniform(0.01, 0.2, SHAPE).astype(np.float32)
        depth, sigma, _ = filter_.update(np.full(SHAPE, 2.0, np.float32), sigma_in, index * 0.03)
        if previous_sigma is not None:
            # The weighted mean of the two σs: between them, so never below the smaller.
            lower = np.minimum(previous_sigma, sigma_in)
            upper = np.maximum(previous_sigma, sigma_in)
            assert np.all(sigma >= lower - 1e-7) and np.all(sigma <= upper + 1e-7)
        previous_sigma = sigma


def test_strength_zero_is_off_exactly_and_stamp_jumps_reset():
    rng = np.random.default_rng(2)
    frames = [2.0 + rng.normal(0, 0.02, SHAPE) for _ in range(5)]
    outputs = run(TemporalFilter(TemporalSettings(strength=0.0)), frames)
    for (depth, _, _), frame in zip(outputs, frames, strict=True):
        np.testing.assert_array_equal(depth, frame.astype(np.float32))
    filter_ = TemporalFilter()
    run(filter_, frames)
    assert filter_.resets == 1  # the first frame starts it
    _, _, stats = filter_.update(
        frames[0].astype(np.float32), np.full(SHAPE, 0.02, np.float32), 100.0
    )
    assert stats.reset and filter_.resets == 2
    with pytest.raises(ValueError, match="strength"):
        TemporalSettings(strength=1.0)


def test_tae_is_zero_for_consistent_predictions_and_measures_a_scale_jump():
    from depth_core.data.sample import DepthSample
    from depth_core.geometry import Intrinsics
    from depth_core.temporal_benchmark import temporal_abs_rel

    intrinsics = Intrinsics(40.0, 40.0, 15.5, 11.5, 32, 24)
    truth = np.full(SHAPE, 2.0, np.float32)
    first, second = np.eye(4), np.eye(4)
    second[0, 3] = 0.01  # the camera moves 1 cm right: pixels shift, a flat wall's depth stays
    frames = [
        DepthSample(np.zeros((*SHAPE, 3), np.uint8), truth, truth > 0, intrinsics, pose=pose)
        for pose in (first, second)
    ]
    steady = [truth.copy(), truth.copy()]
    assert temporal_abs_rel(steady, frames) == pytest.approx(0.0, abs=1e-6)
    jumped = [truth.copy(), 1.1 * truth]  # the later prediction 10% farther
    # t -> t+1: |2 − 2.2| / 2.2; t+1 -> t: |2.2 − 2| / 2; averaged.
    expected = (0.2 / 2.2 + 0.2 / 2.0) / 2
    assert temporal_abs_rel(jumped, frames) == pytest.approx(expected, rel=1e-4)


def test_the_node_stage_switches_off_exactly_keeps_history_on_retuning_and_reports_it():
    from depth_core.runtime.temporal import TemporalStage

    stage = TemporalStage()
    sigma = np.full(SHAPE, 0.02, np.float32)
    first, second = np.full(SHAPE, 2.0, np.float32), np.full(SHAPE, 2.02, np.float32)
    off = stage.apply(second, sigma, 0.0, None)
    assert off[0] is second and off[1] is sigma
    assert stage.diagnostics() == {"temporal_state": "off"}
    stage.apply(first, sigma, 0.0, TemporalSettings(strength=0.5))
    assert stage.diagnostics() == {
        "temporal_state": "filtering",
        "temporal_held_share": "0.000",
        "temporal_carried": "false",
        "temporal_scale": "1.0000",
        "temporal_offset_m": "0.0000",
        "temporal_resets": "1",
    }
    # Re-tuned between frames: the history stays, so the second frame is fused with the first
    # (equal σ, one frame of history: weight 1/2, within the strength 0.9).
    # Told the camera is still, the history is carried (unmoved) and says so.
    still = CameraMotion(np.eye(4), Intrinsics(40.0, 40.0, 15.5, 11.5, SHAPE[1], SHAPE[0]))
    depth, fused_sigma = stage.apply(second, sigma, 1 / 30, TemporalSettings(strength=0.9), still)
    np.testing.assert_allclose(depth, 2.01, atol=1e-6)
    np.testing.assert_allclose(fused_sigma, np.sqrt(0.02**2 + 0.25 * 0.02**2), rtol=1e-5)
    assert stage.diagnostics() == {
        "temporal_state": "filtering",
        "temporal_held_share": "1.000",
        "temporal_carried": "true",
        "temporal_scale": "1.0000",
        "temporal_offset_m": "0.0000",
        "temporal_resets": "1",
    }
    # Off drops the history: on again starts afresh from the new frame.
    stage.apply(first, sigma, 2 / 30, None)
    depth, _ = stage.apply(second, sigma, 3 / 30, TemporalSettings())
    np.testing.assert_array_equal(depth, second)
    assert stage.diagnostics()["temporal_resets"] == "1"  # a new filter's first reset


def test_static_flicker_of_a_model_that_passes_raw_through_is_the_sensor_noise_then_filtered():
    from types import SimpleNamespace

    from depth_core.data.sample import DepthSample
    from depth_core.geometry import Intrinsics
    from depth_core.temporal_benchmark import FlickerSettings, static_flicker

    class PassRawThrough:  # a recovery model that keeps every raw value, σ = 1% of it
        metadata = SimpleNamespace(inputs=("rgb", "raw_depth"))

        def predict(self, rgb, raw, intrinsics, output_size):
            return DepthResult(raw, 0.01 * raw, "raw")

    depth = np.full(SHAPE, 2.0, np.float32)
    sample = DepthSample(
        np.zeros((*SHAPE, 3), np.uint8),
        depth,
        np.ones(SHAPE, bool),
        Intrinsics(30.0, 30.0, 16.0, 12.0, SHAPE[1], SHAPE[0]),
    )
    settings = FlickerSettings(frames=400, raw_noise_relative=0.01)
    off = static_flicker(PassRawThrough(), sample, settings, None)
    assert off["median"] == pytest.approx(0.01, rel=0.05)  # the sensor's 1%, passed through
    strength = 0.85
    # One cap whether or not the tiny noisy image reads as a still camera.
    capped = TemporalSettings(strength=strength, moving_strength=strength)
    on = static_flicker(PassRawThrough(), sample, settings, capped)
    # Equal σs: the history weight reaches the cap w; an exponential average then keeps
    # sqrt((1 − w) / (1 + w)) of the noise's std.
    assert on["median"] == pytest.approx(0.01 * np.sqrt((1 - strength) / (1 + strength)), rel=0.15)


def test_proximity_state_changes_count_what_noise_does_near_the_threshold():
    from types import SimpleNamespace

    from depth_core.data.sample import DepthSample
    from depth_core.geometry import Intrinsics
    from depth_core.temporal_benchmark import proximity_state_changes

    class Alternating:  # 2.0 m on the clean frame and even frames, 1.9 m on odd ones; σ 1 cm
        metadata = SimpleNamespace(inputs=("rgb",))
        calls = 0

        def predict(self, rgb, raw, intrinsics, output_size):
            near = self.calls % 2 == 0 and self.calls > 0  # call 0 is the clean frame
            self.calls += 1
            depth = np.full(output_size, 1.9 if near else 2.0, np.float32)
            return DepthResult(depth, np.full(output_size, 0.01, np.float32))

    sample = DepthSample(
        np.zeros((*SHAPE, 3), np.uint8),
        np.full(SHAPE, 2.0, np.float32),
        np.ones(SHAPE, bool),
        Intrinsics(30.0, 30.0, 16.0, 12.0, SHAPE[1], SHAPE[0]),
    )
    # Clean conservative distance 2.0 − 2·0.01 = 1.98: warning at 1.93. Frame 0 (2.0 m) is
    # clear, frame 1 (1.88) warns, and 1.98 never clears it again (1.93 + 0.1 hysteresis).
    out = proximity_state_changes(Alternating(), sample, None, frames=20, margin_m=0.05)
    assert out["warning_m"] == pytest.approx(1.93, abs=1e-6) and out["changes"] == 1
    steady = SimpleNamespace(
        metadata=SimpleNamespace(inputs=("rgb",)),
        predict=lambda rgb, raw, k, size: DepthResult(
            np.full(size, 2.0, np.float32), np.full(size, 0.01, np.float32)
        ),
    )
    assert proximity_state_changes(steady, sample, None, frames=20)["changes"] == 0
    wide = SimpleNamespace(
        metadata=SimpleNamespace(inputs=("rgb",)),
        predict=lambda rgb, raw, k, size: DepthResult(
            np.full(size, 2.0, np.float32), np.full(size, 1.0, np.float32)
        ),
    )
    with pytest.raises(ValueError, match="conservative distance on the clean frame is 0.000 m"):
        proximity_state_changes(wide, sample, None, frames=2)


def test_returned_images_are_the_callers_and_the_next_frame_leaves_them_alone():
    # The filter works in arrays it keeps; what it returns must not be one of them.
    filter_ = TemporalFilter(TemporalSettings(motion_sigmas=100.0))
    sigma = np.full(SHAPE, 0.02, np.float32)
    first_depth, first_sigma, _ = filter_.update(np.full(SHAPE, 2.0, np.float32), sigma, 0.0)
    held_depth, held_sigma, _ = filter_.update(np.full(SHAPE, 2.1, np.float32), sigma, 0.03)
    kept = held_depth.copy()
    filter_.update(np.full(SHAPE, 3.0, np.float32), np.full(SHAPE, 0.5, np.float32), 0.06)
    np.testing.assert_array_equal(first_depth, 2.0)
    np.testing.assert_array_equal(first_sigma, np.float32(0.02))
    np.testing.assert_array_equal(held_depth, kept)
    # Equal σs and a one-frame history: the running mean of the two frames.
    np.testing.assert_allclose(held_depth, 2.05, atol=1e-6)


def approach_errors(align_history: bool) -> tuple[float, float]:
    """A ToF-like sensor (1% noise, σ 1%) closing in by 1.7% per frame on a scene of
    1–3 m: after the first 20 frames, the median of (output − truth) / truth and the mean
    temporal std of output / truth."""
    rng = np.random.default_rng(4)
    scene = np.linspace(1.0, 3.0, SHAPE[0] * SHAPE[1], dtype=np.float32).reshape(SHAPE)
    filter_ = TemporalFilter(TemporalSettings(align_history=align_history))
    relative = []
    for index in range(80):
        truth = scene * np.float32(0.983**index)
        depth = (truth * (1 + rng.normal(0, 0.01, SHAPE))).astype(np.float32)
        out, _, _ = filter_.update(depth, 0.01 * depth, index / 30)
        relative.append(out / truth - 1)
    steady = np.stack(relative[20:])
    return float(np.median(steady)), float(steady.std(axis=0).mean())


def test_aligning_the_history_removes_the_lag_of_a_camera_closing_in():
    lag, _ = approach_errors(align_history=False)
    assert lag > 0.005  # inside the gate on most pixels: the history holds the output back
    error, spread = approach_errors(align_history=True)
    assert abs(error) < 0.001
    # Still averaged: the fused noise is well below the sensor's 1% per frame.
    assert spread < 0.004


@pytest.mark.parametrize(("scale", "offset"), [(0.98, 0.0), (1.0, -0.03), (0.99, -0.01)])
def test_the_history_is_aligned_by_the_affine_map_of_depth_the_frames_share(scale, offset):
    # A plane scales (d ↦ 0.98 d), a fronto-parallel surface shifts (d ↦ d − t) when the
    # camera moves ahead: either way the aligned history is the new frame.
    scene = np.linspace(1.0, 3.0, SHAPE[0] * SHAPE[1], dtype=np.float32).reshape(SHAPE)
    filter_ = TemporalFilter(TemporalSettings(align_history=True))
    filter_.update(scene, 0.01 * scene, 0.0)
    moved = (scene * scale + offset).astype(np.float32)
    out, _, stats = filter_.update(moved, 0.01 * moved, 1 / 30)
    assert stats.scale == pytest.approx(scale, abs=1e-5)
    assert stats.offset_m == pytest.approx(offset, abs=1e-5)
    np.testing.assert_allclose(out, moved, rtol=1e-5)
    _, _, unaligned = TemporalFilter().update(moved, 0.01 * moved, 0.0)
    assert (unaligned.scale, unaligned.offset_m) == (1.0, 0.0)


def test_a_person_walking_in_a_still_scene_does_not_move_the_alignment():
    rng = np.random.default_rng(5)
    scene = np.linspace(1.0, 3.0, SHAPE[0] * SHAPE[1], dtype=np.float32).reshape(SHAPE)
    filter_ = TemporalFilter(TemporalSettings(align_history=True))
    near = 2.0
    for index in range(6):
        depth = (scene * (1 + rng.normal(0, 0.01, SHAPE))).astype(np.float32)
        depth[4:12, 4:12] = near  # an eighth of the image, 20% nearer each frame
        out, _, stats = filter_.update(depth, 0.01 * depth, index / 30)
        np.testing.assert_array_equal(out[4:12, 4:12], np.float32(near))
        near *= 0.8
    assert stats.scale == pytest.approx(1.0, abs=0.003)
    assert stats.offset_m == pytest.approx(0.0, abs=0.005)


def test_fused_sigma_holds_the_spread_of_the_two_estimates():
    # Equal σ 0.02 and one frame of history: weight 1/2, depth the mean of 2.00 and 2.02;
    # σ² = 0.02² + ½·½·0.02² (the mixture's spread).
    filter_ = TemporalFilter()
    sigma = np.full(SHAPE, 0.02, np.float32)
    filter_.update(np.full(SHAPE, 2.0, np.float32), sigma, 0.0)
    depth, fused, _ = filter_.update(np.full(SHAPE, 2.02, np.float32), sigma, 1 / 30)
    np.testing.assert_allclose(depth, 2.01, atol=1e-6)
    np.testing.assert_allclose(fused, np.sqrt(0.02**2 + 0.25 * 0.02**2), rtol=1e-5)


def test_the_history_is_aligned_where_the_scale_is_measured_and_a_learned_scale_needs_motion():
    base = TemporalSettings(strength=0.5)
    for measured in ("raw", "plane"):  # a sensor's raw depth, a support plane
        for motion_known in (False, True):
            aligned = for_frame(base, measured, motion_known)
            assert aligned.align_history and aligned.strength == 0.5
    carried = for_frame(base, "learned", motion_known=True)
    assert not carried.align_history and carried.strength == 0.5
    assert for_frame(base, "learned", motion_known=False) is None  # passed through


def test_a_sigma_image_of_another_size_is_refused():
    with pytest.raises(ValueError, match=r"σ is \(2, 2\), depth \(24, 32\)"):
        TemporalFilter().update(np.ones(SHAPE, np.float32), np.ones((2, 2), np.float32), 0.0)


def _rotation_y(degrees: float) -> np.ndarray:
    a = np.deg2rad(degrees)
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


CAMERA = Intrinsics(40.0, 40.0, 15.5, 11.5, SHAPE[1], SHAPE[0])


def test_the_carried_history_is_each_point_moved_and_reprojected_nearest_surface_winning():
    rng = np.random.default_rng(7)
    depth = rng.uniform(1.0, 3.0, SHAPE).astype(np.float32)
    sigma = (0.01 * depth).astype(np.float32)
    motion = np.eye(4)
    motion[:3, :3] = _rotation_y(4.0)
    motion[:3, 3] = (0.05, -0.02, -0.3)
    # The reference, one point at a time: back-project, move, project, keep the nearest.
    expected_depth, expected_sigma = np.zeros(SHAPE), np.zeros(SHAPE)
    for row in range(SHAPE[0]):
        for column in range(SHAPE[1]):
            z = float(depth[row, column])
            point = CAMERA.back_project(np.array([row]), np.array([column]), np.array([z]))
            moved = motion[:3, :3] @ point + motion[:3, 3:4]
            keep, rows, columns = CAMERA.project(moved)
            if keep[0]:
                r, c, new_z = rows[0], columns[0], moved[2, 0]
                if expected_depth[r, c] == 0 or new_z < expected_depth[r, c]:
                    expected_depth[r, c] = new_z
                    expected_sigma[r, c] = sigma[row, column] * new_z / z
    filter_ = TemporalFilter()
    filter_.update(depth, sigma, 0.0)
    history = filter_._carry(filter_._history, CameraMotion(motion, CAMERA))
    carried = expected_depth > 0
    assert 0.3 < carried.mean() < 0.95  # the motion uncovers part of the view
    np.testing.assert_allclose(history[0][carried], expected_depth[carried], rtol=1e-5)
    np.testing.assert_allclose(history[1][carried], expected_sigma[carried], rtol=1e-5)
    np.testing.assert_array_equal(history[2] > 0, carried)  # the rest has no history


def closing_wall_errors(carried: bool) -> tuple[float, float]:
    """A monocular-like stream (history not aligned) of a wall the camera closes in on by 3%
    of its distance per frame, 1% fresh noise: the median relative error and its spread."""
    rng = np.random.default_rng(11)
    filter_, wall, relative = TemporalFilter(), 3.0, []
    for index in range(40):
        step = wall * 0.03
        motion = np.eye(4)
        motion[2, 3] = -step  # the previous frame's points are `step` nearer in the new one
        wall -= step
        depth = (wall * (1 + rng.normal(0, 0.01, SHAPE))).astype(np.float32)
        given = CameraMotion(motion, CAMERA) if carried else None
        out, _, _ = filter_.update(depth, 0.3 * depth, index / 30, given)
        relative.append(out[2:-2, 2:-2] / wall - 1)  # away from the image border
    steady = np.stack(relative[20:])
    return float(np.median(steady)), float(steady.std(axis=0).mean())


def test_carrying_the_history_with_the_camera_removes_the_lag_of_an_unaligned_stream():
    lag, _ = closing_wall_errors(carried=False)
    assert lag > 0.01  # inside the wide σ's gate: the history holds the output back
    error, spread = closing_wall_errors(carried=True)
    assert abs(error) < 0.001
    assert spread < 0.006  # still averaged below the 1% noise, cracks restarting aside


def test_pixels_the_motion_uncovers_restart_from_the_new_frame():
    filter_ = TemporalFilter()
    sigma = np.full(SHAPE, 0.02, np.float32)
    filter_.update(np.full(SHAPE, 2.0, np.float32), sigma, 0.0)
    motion = np.eye(4)
    motion[0, 3] = -0.5  # the camera slides 0.5 m right: 10 columns at 2 m leave on the left
    new = np.full(SHAPE, 2.02, np.float32)
    out, _, stats = filter_.update(new, sigma, 1 / 30, CameraMotion(motion, CAMERA))
    np.testing.assert_array_equal(out[:, -10:], np.float32(2.02))  # no history there
    np.testing.assert_allclose(out[:, :-10], 2.01, atol=1e-6)  # fused with the carried wall
    assert stats.held_share == pytest.approx(1 - 10 / SHAPE[1])


def test_a_motion_that_is_not_a_finite_4x4_transform_is_refused():
    filter_ = TemporalFilter()
    frame = np.ones(SHAPE, np.float32)
    filter_.update(frame, frame, 0.0)
    for motion in (np.eye(3), np.full((4, 4), np.nan)):
        with pytest.raises(ValueError, match="finite 4x4"):
            filter_.update(frame, frame, 1 / 30, CameraMotion(motion, CAMERA))


def test_pixels_nothing_lands_on_are_the_new_frame_whatever_the_arrays_held_before():
    filter_ = TemporalFilter()
    sigma = np.full(SHAPE, 0.02, np.float32)
    filter_.update(np.full(SHAPE, 2.0, np.float32), sigma, 0.0)
    filter_._warped = tuple(np.full(SHAPE, np.nan, np.float32) for _ in range(3))  # stale
    motion = np.eye(4)
    motion[2, 3] = -0.2  # 10% nearer: the view magnifies, leaving pixels nothing lands on
    new = np.full(SHAPE, 1.8, np.float32)
    out, out_sigma, stats = filter_.update(new, sigma, 1 / 30, CameraMotion(motion, CAMERA))
    assert 0.5 < stats.held_share < 1.0
    np.testing.assert_allclose(out, 1.8, atol=1e-6)  # the carried wall agrees everywhere
    assert np.all(np.isfinite(out_sigma))


def test_a_learned_scale_is_filtered_only_while_the_camera_is_known_still_or_moved():
    from depth_core.runtime.temporal import WAITING_FOR_MOTION, TemporalStage

    rng = np.random.default_rng(2)
    image = rng.integers(0, 255, (SHAPE[0] * 4, SHAPE[1] * 4, 3), dtype=np.uint8)
    shifted = np.roll(image, 8, axis=1)  # the camera turned: every pixel changed
    sigma = np.full(SHAPE, 0.3, np.float32)
    learned = [
        DepthResult(np.full(SHAPE, d, np.float32), sigma, scale_source="learned")
        for d in (2.0, 2.02)
    ]
    stage = TemporalStage()
    settings = TemporalSettings()
    stage.filter_frame(learned[0], image, CAMERA, 0.0, settings)  # nothing to compare yet
    assert stage.diagnostics() == {"temporal_state": WAITING_FOR_MOTION}
    # The same image again: a still camera. The history starts, then the frames are fused.
    stage.filter_frame(learned[0], image, CAMERA, 1 / 30, settings)
    depth, _ = stage.filter_frame(learned[1], image, CAMERA, 2 / 30, settings)
    assert stage.diagnostics()["temporal_state"] == "filtering"
    np.testing.assert_allclose(depth, 2.01, atol=1e-6)
    # A moved image and no odometry: passed through, the history dropped.
    depth, _ = stage.filter_frame(learned[1], shifted, CAMERA, 3 / 30, settings)
    assert stage.diagnostics() == {"temporal_state": WAITING_FOR_MOTION}
    np.testing.assert_array_equal(depth, np.float32(2.02))
    # Odometry for the move back: filtered again, from a fresh history.
    depth, _ = stage.filter_frame(learned[0], image, CAMERA, 4 / 30, settings, np.eye(4))
    assert stage.diagnostics()["temporal_state"] == "filtering"
    np.testing.assert_array_equal(depth, np.float32(2.0))
    # Without the still-camera test the same image again waits for odometry.
    off = replace(settings, detect_still=False)
    stage.filter_frame(learned[0], image, CAMERA, 5 / 30, off)
    assert stage.diagnostics()["temporal_state"] == WAITING_FOR_MOTION


def test_a_moving_camera_whose_motion_is_unknown_trusts_the_history_less():
    from depth_core.runtime.temporal import TemporalStage

    rng = np.random.default_rng(6)
    image = rng.integers(0, 255, (SHAPE[0] * 4, SHAPE[1] * 4, 3), dtype=np.uint8)
    raw = DepthResult(np.full(SHAPE, 2.0, np.float32), np.full(SHAPE, 0.02, np.float32), "raw")
    stage = TemporalStage()
    settings = TemporalSettings(strength=0.85, moving_strength=0.2)
    stage.filter_frame(raw, image, CAMERA, 0.0, settings)  # no image before: motion unknown
    assert stage._filter.settings.strength == 0.2
    stage.filter_frame(raw, image, CAMERA, 1 / 30, settings)  # a still camera
    assert stage._filter.settings.strength == 0.85
    stage.filter_frame(raw, np.roll(image, 8, axis=1), CAMERA, 2 / 30, settings)  # moved
    assert stage._filter.settings.strength == 0.2
    stage.filter_frame(raw, image, CAMERA, 3 / 30, settings, np.eye(4))  # odometry: carried
    assert stage._filter.settings.strength == 0.85
