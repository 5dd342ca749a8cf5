"""Camera poses from odometry: quaternions, interpolation between samples, the motion between
two image stamps."""

import cv2
import numpy as np
import pytest

from depth_core.runtime.motion import (
    MotionSource,
    PoseTrack,
    StillCamera,
    _quaternion,
    pose_matrix,
    relative_motion,
    rotation_from_quaternion,
)


def rotation_z(degrees: float) -> np.ndarray:
    a = np.deg2rad(degrees)
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])


def test_the_optical_frame_quaternion_of_a_forward_camera_is_the_rotation_by_hand():
    # ROS's camera_link -> camera_optical_frame: z forward = x of the body, x right = -y,
    # y down = -z; its columns are the optical axes in body coordinates.
    expected = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]])
    np.testing.assert_allclose(
        rotation_from_quaternion([-0.5, 0.5, -0.5, 0.5]), expected, atol=1e-12
    )


@pytest.mark.parametrize("degrees", [0.0, 30.0, 179.0, 180.0, -120.0])
def test_a_rotation_survives_the_round_trip_through_its_quaternion(degrees):
    axis = np.array([1.0, -2.0, 0.5]) / np.linalg.norm([1.0, -2.0, 0.5])
    half = np.deg2rad(degrees) / 2
    rotation = rotation_from_quaternion([*(np.sin(half) * axis), np.cos(half)])
    np.testing.assert_allclose(rotation_from_quaternion(_quaternion(rotation)), rotation, atol=1e-9)


def test_bad_quaternions_and_positions_are_refused():
    with pytest.raises(ValueError, match="non-zero quaternion"):
        rotation_from_quaternion([0, 0, 0, 0])
    with pytest.raises(ValueError, match="finite position"):
        pose_matrix([0, np.nan, 0], [0, 0, 0, 1])


def test_poses_between_samples_are_interpolated_and_the_motion_is_relative():
    track = PoseTrack(tolerance_s=0.05)
    start = np.eye(4)
    end = np.eye(4)
    end[:3, :3], end[:3, 3] = rotation_z(90), (1.0, 0.0, 0.0)
    track.add(10.0, start)
    track.add(11.0, end)
    halfway = track.pose_at(10.5)
    np.testing.assert_allclose(halfway[:3, 3], (0.5, 0.0, 0.0))
    np.testing.assert_allclose(halfway[:3, :3], rotation_z(45), atol=1e-12)
    np.testing.assert_allclose(track.motion(10.0, 11.0), np.linalg.inv(end), atol=1e-12)
    np.testing.assert_allclose(track.motion(10.0, 11.0), relative_motion(start, end), atol=1e-12)
    # A point 1 m ahead of the camera at the first pose, as seen from the second.
    point = relative_motion(start, end) @ np.array([2.0, 0.0, 0.0, 1.0])
    np.testing.assert_allclose(point[:3], (0.0, -1.0, 0.0), atol=1e-12)
    np.testing.assert_allclose(
        track.pose_at(11.04), end, atol=1e-12
    )  # within the tolerance: the last
    assert track.pose_at(11.1) is None and track.pose_at(9.9) is None
    assert track.motion(10.0, 11.2) is None


def test_a_stamp_going_back_restarts_the_track_and_old_samples_expire():
    track = PoseTrack(span_s=1.0, tolerance_s=0.0)
    for stamp in (0.0, 0.5, 1.0, 1.5):
        track.add(stamp, np.eye(4))
    assert track.pose_at(0.25) is None  # older than the span
    assert track.pose_at(0.75) is not None
    track.add(0.2, np.eye(4))  # a replay restarting
    assert track.pose_at(0.75) is None and track.pose_at(0.2) is not None


def textured(seed: int = 0) -> np.ndarray:
    """A 480x640 image with detail at several scales, as a room's."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(40, 215, (30, 40, 3)).astype(np.float32)
    return cv2.resize(coarse, (640, 480), interpolation=cv2.INTER_CUBIC).clip(0, 255)


def noisy(image: np.ndarray, rng, gain: float = 1.0) -> np.ndarray:
    return np.clip(image * gain + rng.normal(0, 2, image.shape), 0, 255).astype(np.uint8)


def test_a_still_camera_is_told_from_a_moving_one_by_its_images():
    rng = np.random.default_rng(1)
    scene = textured()
    still = StillCamera()
    assert not still.update(noisy(scene, rng))  # the first frame has nothing to compare
    assert still.update(noisy(scene, rng))  # fresh noise of 2 grey levels: still
    assert still.update(noisy(scene, rng, gain=1.08))  # an exposure step: still
    walker = noisy(scene, rng)
    walker[100:400, 200:350] = 30  # a person covering 15% of the view
    assert still.update(walker)
    assert not still.update(noisy(np.roll(scene, 2, axis=1), rng))  # turned by 2 pixels


def test_odometry_comes_first_then_a_still_camera_then_unknown():
    rng = np.random.default_rng(4)
    scene = textured(3)
    source = MotionSource()
    moved = np.eye(4)
    moved[2, 3] = -0.05
    assert source.motion(noisy(scene, rng), None) is None  # first frame: unknown
    np.testing.assert_array_equal(source.motion(noisy(scene, rng), None), np.eye(4))
    np.testing.assert_array_equal(source.motion(noisy(scene, rng), moved), moved)
    assert source.motion(noisy(np.roll(scene, 3, axis=0), rng), None) is None
    source.detect_still = False
    assert source.motion(noisy(np.roll(scene, 3, axis=0), rng), None) is None
