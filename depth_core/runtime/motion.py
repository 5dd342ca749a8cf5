"""The camera's motion between two frames, as the temporal filter needs it to carry its
history with the camera (`temporal.CameraMotion`): from a stream of timestamped camera poses
(a robot's odometry times the camera's mounting), or, without them, from the images alone
where they show a still camera."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import cv2
import numpy as np

# The median relative change of a small grey image (gain removed) between two frames: a still
# camera's images change by their noise alone, a few times less than a camera moving by a
# pixel per frame changes them. The threshold sits at about twice the noise of a few grey
# levels: a noisier camera reads as moving, and its frames are not filtered as still.
STILL_IMAGE_CHANGE = 0.005
_STILL_IMAGE_SIZE = (80, 60)
_DARK_GREY_LEVELS = 8.0


def rotation_from_quaternion(quaternion_xyzw: Sequence[float]) -> np.ndarray:
    """3x3 rotation of a quaternion (x, y, z, w; normalised here). ValueError for a zero or
    non-finite one."""
    q = np.asarray(quaternion_xyzw, np.float64)
    norm = float(np.linalg.norm(q)) if q.shape == (4,) else 0.0
    if not (np.isfinite(norm) and norm > 1e-9):
        raise ValueError(f"a rotation needs a non-zero quaternion x y z w, got {quaternion_xyzw}")
    x, y, z, w = q / norm
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def pose_matrix(position: Sequence[float], quaternion_xyzw: Sequence[float]) -> np.ndarray:
    """4x4 transform of a pose: a child frame's position and orientation in its parent, as
    geometry_msgs/Pose and URDF joints give them; it maps child coordinates to the parent's."""
    pose = np.eye(4)
    pose[:3, :3] = rotation_from_quaternion(quaternion_xyzw)
    pose[:3, 3] = np.asarray(position, np.float64)
    if not np.all(np.isfinite(pose)):
        raise ValueError(f"a pose needs a finite position, got {position}")
    return pose


def relative_motion(previous_pose: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """new_from_previous (4x4) of a camera at two poses (camera-to-world, 4x4): a point in
    its frame at the first pose, in its frame at the second."""
    return np.linalg.inv(pose) @ previous_pose


def _quaternion(rotation: np.ndarray) -> np.ndarray:
    """Unit quaternion (x, y, z, w) of a 3x3 rotation (Shepperd's method: the largest
    diagonal term first, for accuracy)."""
    m = rotation
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    if trace > max(m[0, 0], m[1, 1], m[2, 2]):
        w = np.sqrt(1 + trace) / 2
        q = [(m[2, 1] - m[1, 2]), (m[0, 2] - m[2, 0]), (m[1, 0] - m[0, 1])]
        q = [value / (4 * w) for value in q] + [w]
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = np.sqrt(1 + m[i, i] - m[j, j] - m[k, k]) * 2
        q = [0.0, 0.0, 0.0, (m[k, j] - m[j, k]) / s]
        q[i], q[j], q[k] = s / 4, (m[j, i] + m[i, j]) / s, (m[k, i] + m[i, k]) / s
    return np.asarray(q) / np.linalg.norm(q)


def _slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    if a @ b < 0:  # the shorter way round
        b = -b
    angle = np.arccos(np.clip(a @ b, -1.0, 1.0))
    if angle < 1e-9:
        return a
    return (np.sin((1 - t) * angle) * a + np.sin(t * angle) * b) / np.sin(angle)


class PoseTrack:
    """Timestamped camera poses (4x4, the camera's optical frame in a fixed frame), the last
    `span_s` seconds of them; poses between two samples are interpolated (position linearly,
    orientation by slerp)."""

    def __init__(self, span_s: float = 2.0, tolerance_s: float = 0.05):
        """tolerance_s: how far beyond the first or last sample a stamp still takes that
        sample's pose (odometry a little older than the image)."""
        self.span_s, self.tolerance_s = span_s, tolerance_s
        self._stamps: list[float] = []
        self._poses: list[tuple[np.ndarray, np.ndarray]] = []  # (position, quaternion)

    def add(self, stamp: float, pose: np.ndarray) -> None:
        """A pose at `stamp` (seconds). One older than the newest sample starts the track
        afresh (a replay restart or a reset clock)."""
        if self._stamps and stamp < self._stamps[-1]:
            self._stamps, self._poses = [], []
        self._stamps.append(stamp)
        self._poses.append((np.asarray(pose[:3, 3], np.float64), _quaternion(pose[:3, :3])))
        first = bisect.bisect_left(self._stamps, stamp - self.span_s)
        del self._stamps[:first], self._poses[:first]

    def pose_at(self, stamp: float) -> np.ndarray | None:
        """The camera's pose at `stamp`, or None outside the samples (by more than the
        tolerance)."""
        stamps = self._stamps
        if not stamps or not stamps[0] - self.tolerance_s <= stamp <= stamps[-1] + self.tolerance_s:
            return None
        after = bisect.bisect_left(stamps, stamp)
        if after == 0 or after == len(stamps):
            position, quaternion = self._poses[min(after, len(stamps) - 1)]
        else:
            (p0, q0), (p1, q1) = self._poses[after - 1], self._poses[after]
            t = (stamp - stamps[after - 1]) / (stamps[after] - stamps[after - 1])
            position, quaternion = p0 + t * (p1 - p0), _slerp(q0, q1, t)
        return pose_matrix(position, quaternion)

    def motion(self, previous_stamp: float, stamp: float) -> np.ndarray | None:
        """new_from_previous (4x4): a point in the camera's frame at `previous_stamp` in its
        frame at `stamp`; None where either pose is unknown."""
        previous, current = self.pose_at(previous_stamp), self.pose_at(stamp)
        if previous is None or current is None:
            return None
        return relative_motion(previous, current)


class StillCamera:
    """Whether the camera has stayed still since the previous frame, from the images alone:
    on a small grey image, the ratio of the new frame to the last, over its median (so an
    exposure step is not motion); still where the median of |ratio − 1| is at most
    STILL_IMAGE_CHANGE. A person moving in front of a still camera changes a minority of the
    pixels and leaves both medians alone."""

    def __init__(self, threshold: float = STILL_IMAGE_CHANGE):
        self.threshold = threshold
        self._previous: np.ndarray | None = None

    def update(self, rgb: np.ndarray) -> bool:
        """This frame (HxWx3 uint8) against the one before; False for the first."""
        grey = cv2.resize(rgb, _STILL_IMAGE_SIZE, interpolation=cv2.INTER_AREA)
        # A few grey levels added: near-black pixels' ratios would be all noise.
        grey = grey.astype(np.float32).mean(axis=2) + np.float32(_DARK_GREY_LEVELS)
        previous, self._previous = self._previous, grey
        if previous is None or previous.shape != grey.shape:
            return False
        ratio = grey / previous
        ratio /= np.float32(np.median(ratio))
        return float(np.median(np.abs(ratio - 1))) <= self.threshold


class MotionSource:
    """The camera's motion for each frame, as the nodes know it: odometry's where it covers
    both stamps, else none (the identity) where the images show a still camera (with
    `detect_still`), else unknown."""

    def __init__(self, detect_still: bool = True):
        self.detect_still = detect_still
        self._still = StillCamera()

    def motion(self, rgb: np.ndarray, odometry: np.ndarray | None) -> np.ndarray | None:
        """new_from_previous (4x4) for the frame `rgb`, or None where unknown; `odometry`:
        the motion odometry gives, or None. Call with every frame, in order."""
        still = self._still.update(rgb)  # kept current whichever source answers
        if odometry is not None:
            return odometry
        return np.eye(4) if self.detect_still and still else None
