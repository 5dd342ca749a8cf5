"""Every node parameter, declared once: name, default, description, range or choices, and
whether it may change at run time. The nodes declare from here; `config/depth_ros.yaml` holds
the same defaults (a test checks); the README tables are generated from here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from depth_core.runtime.motion import STILL_IMAGE_CHANGE, pose_matrix
from depth_core.runtime.plane_scale import GroundPlane
from depth_core.runtime.temporal import TemporalSettings

RELIABILITY = ("best_effort", "reliable")


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    description: str
    low: float | None = None  # inclusive range for numbers
    high: float | None = None
    choices: tuple[str, ...] | None = None
    # Cannot apply at run time: a change is rejected with a reason. The depth nodes are
    # managed: there such a parameter may change while the node is unconfigured.
    read_only: bool = False
    validate: Callable[[Any], str | None] | None = None  # further checks: why not, or None

    def check(self, value: Any) -> str | None:
        """Why `value` is invalid for this parameter, or None."""
        if type(value) is not type(self.default) and not (
            isinstance(self.default, float) and isinstance(value, int)
        ):
            return f"{self.name} must be {type(self.default).__name__}, got {value!r}"
        if self.validate is not None:
            return self.validate(value)
        if self.choices is not None and value not in self.choices:
            return f"{self.name} must be one of {', '.join(self.choices)}, got {value!r}"
        if self.low is not None and not (self.low <= value <= self.high):
            return f"{self.name} must be in [{self.low}, {self.high}], got {value!r}"
        return None


ESTIMATOR = (
    Param(
        "model_path",
        "",
        "depth model: checkpoint (.pt), .onnx or TensorRT .engine; empty: the shipped model",
        read_only=True,
    ),
    Param(
        "backend",
        "auto",
        "inference backend; auto picks the fastest available",
        choices=("auto", "torch", "onnxruntime", "tensorrt"),
        read_only=True,
    ),
    Param("device", "cpu", "cpu or cuda", choices=("cpu", "cuda"), read_only=True),
    Param(
        "precision",
        "auto",
        "auto (fp16 on cuda, fp32 on cpu), fp32 or fp16",
        choices=("auto", "fp32", "fp16"),
        read_only=True,
    ),
    Param(
        "threads",
        0,
        "CPU inference threads per worker; 0 = the usable cores divided by workers (at least 1)",
        0,
        256,
        read_only=True,
    ),
    Param(
        "workers",
        2,
        "inference workers, each with its own model instance; a frame goes "
        "to a free one, so inference overlaps conversion and publishing (1: lowest latency "
        "for one node alone on few cores)",
        1,
        16,
        read_only=True,
    ),
    Param("output_scale", 1.0, "output size as a fraction of the camera resolution", 0.1, 1.0),
    Param("always_run", False, "infer even while no output has a subscriber"),
    Param("point_cloud_decimation", 4, "points: every n-th pixel of every n-th row", 1, 64),
    Param(
        "point_cloud_organised",
        False,
        "points: keep the image grid (NaN where invalid) instead of a list of valid points",
    ),
    Param(
        "rgb_reliability",
        "best_effort",
        "QoS reliability of the RGB and camera_info inputs",
        choices=RELIABILITY,
        read_only=True,
    ),
    Param(
        "rgb_queue_depth",
        5,
        "QoS history depth of the RGB and camera_info inputs",
        1,
        100,
        read_only=True,
    ),
    Param(
        "diagnostics_period",
        1.0,
        "seconds between /diagnostics messages",
        0.1,
        60.0,
        read_only=True,
    ),
    Param(
        "autostart",
        True,
        "configure and activate at start; false: wait unconfigured for a "
        "lifecycle manager (e.g. ros2 lifecycle set <node> configure)",
        read_only=True,
    ),
)


def camera_mount_problem(value: list) -> str | None:
    """Why `value` is not a camera mount (empty, or x y z qx qy qz qw), or None."""
    if not value:
        return None
    if len(value) != 7:
        return f"camera_mount: x y z qx qy qz qw (7 numbers), got {len(value)}"
    try:
        pose_matrix(value[:3], value[3:])
    except (TypeError, ValueError) as error:
        return f"camera_mount: {error}"
    return None


def temporal_parameters(on_by_default: bool, why: str) -> tuple[Param, ...]:
    """The temporal filter's parameters; `why` says why it is on or off by default."""
    return (
        Param(
            "temporal_filter",
            on_by_default,
            "fuse each pixel with its history where the scene has not changed (σ-aware; lets "
            f"go at once where it has); {why} (docs/results.md, Temporal stability)",
        ),
        Param(
            "temporal_strength",
            TemporalSettings.strength,
            "largest weight of a pixel's history (at most 1/(1 − s) frames averaged)",
            0.0,
            0.95,
        ),
        Param(
            "temporal_motion_sigmas",
            TemporalSettings.motion_sigmas,
            "a new depth further than this many expected spreads (combined σ, or the measured "
            "frame-to-frame noise where smaller) from the history restarts the pixel",
            0.5,
            10.0,
        ),
        Param(
            "temporal_moving_strength",
            TemporalSettings.moving_strength,
            "the same while the camera moves and its motion is unknown (no odometry): a "
            "moving view slides neighbours' depth into a pixel's history",
            0.0,
            0.95,
        ),
        Param(
            "temporal_detect_still",
            True,
            "without the camera's motion from odometry, a frame whose image changed by no more "
            "than its noise since the last (median relative change of a small grey image "
            f"≤ {STILL_IMAGE_CHANGE:.1%}) is taken as from a still camera, whose history stays "
            "in place",
        ),
        Param(
            "camera_mount",
            [],
            "x y z qx qy qz qw: the camera's optical frame in the odometry's child frame "
            "(e.g. base_link), as the URDF gives it (a forward camera at the base's origin: "
            "0 0 0 -0.5 0.5 -0.5 0.5). Set, the node subscribes to odom (nav_msgs/Odometry) "
            "and carries the filter's history with the camera's motion. Empty: the motion "
            "is unknown",
            read_only=True,
            validate=camera_mount_problem,
        ),
    )


def ground_plane_problem(value: list) -> str | None:
    """Why `value` is not a ground plane (empty, or nx ny nz d), or None."""
    if not value:
        return None
    try:
        GroundPlane.from_coefficients([float(v) for v in value])
    except (TypeError, ValueError) as error:
        return f"ground_plane: {error}"
    return None


MONOCULAR = (
    Param(
        "ground_plane",
        [],
        "a support plane the camera sees, nx ny nz d in the optical frame "
        "(n·X + d = 0, n unit from the plane toward the camera, d > 0 the camera's distance; "
        "a level camera h metres above the floor: 0 -1 0 h); depth is scaled to put the "
        "plane's pixels on it. Empty: unknown, the model's learned scale",
        validate=ground_plane_problem,
    ),
    *temporal_parameters(
        True,
        "a frame whose scale is learned is filtered only while the camera's motion is known "
        "(odometry with camera_mount, or a still camera seen in the images): from the depth "
        "alone, a camera closing in looks like the model's own per-image scale jitter and "
        "would be followed late; with a ground plane found, the scale is measured on every "
        "frame and the history is aligned to it",
    ),
)

RECOVERY = (
    Param(
        "raw_source",
        "tof",
        "tof: a depth Image (16UC1 mm or 32FC1 m); stereo: a stereo_msgs/DisparityImage",
        choices=("tof", "stereo"),
        read_only=True,
    ),
    Param("sync_slop", 0.02, "largest |RGB stamp - raw stamp| that still pairs, seconds", 0.0, 1.0),
    Param(
        "raw_timeout", 0.5, "seconds without raw depth before degraded (RGB-only) mode", 0.05, 60.0
    ),
    Param("degraded_sigma_scale", 2.0, "σ multiplier while in degraded mode", 1.0, 100.0),
    Param(
        "raw_reliability",
        "best_effort",
        "QoS reliability of the raw depth input",
        choices=RELIABILITY,
        read_only=True,
    ),
    Param("raw_queue_depth", 5, "QoS history depth of the raw depth input", 1, 100, read_only=True),
    *temporal_parameters(
        True,
        "the history is first aligned to each frame (the affine map of depth the two share), "
        "so a camera closing in is not followed late; with camera_mount set it is also "
        "carried with the camera's motion",
    ),
)

PROXIMITY = (
    Param(
        "zones",
        ["front"],
        "zone names; each zone is zone.<name>.kind (image or box) and "
        "zone.<name>.region (image: u0 v0 u1 v1 fractions; box: x0 y0 z0 x1 y1 z1 metres in "
        "the optical frame)",
        read_only=True,
    ),
    Param("k", 2.0, "conservative distance = percentile of d − k·σ", 0.0, 10.0),
    Param(
        "percentile",
        5.0,
        "robust nearest distance: this percentile of the zone's depths",
        0.0,
        50.0,
    ),
    Param("min_pixels", 50, "fewer valid pixels in a zone = no data (never clear)", 1, 10000000),
    Param(
        "warning_distance",
        1.0,
        "conservative distance (m) at or below which a zone warns",
        0.0,
        100.0,
    ),
    Param(
        "stop_distance",
        0.5,
        "conservative distance (m) at or below which a zone asks for a protective stop",
        0.0,
        100.0,
    ),
    Param(
        "hysteresis",
        0.1,
        "metres beyond a threshold before a zone returns to a safer state",
        0.0,
        10.0,
    ),
    Param("max_range", 10.0, "max_range of the published Range messages (m)", 0.1, 1000.0),
    Param(
        "input_reliability",
        "best_effort",
        "QoS reliability of the depth, uncertainty and camera_info inputs",
        choices=RELIABILITY,
        read_only=True,
    ),
    Param(
        "diagnostics_period",
        1.0,
        "seconds between /diagnostics messages",
        0.1,
        60.0,
        read_only=True,
    ),
)

REPLAY = (
    Param(
        "source",
        "scenes",
        "scenes (a camera moving through a generated room, simulated "
        "ToF), middlebury (the scikit-image pair with simulated ToF), a folder of frames "
        "(rgb/ + depth/) or a rosbag2 folder (MCAP or sqlite3)",
        read_only=True,
    ),
    Param(
        "bag_topics",
        ["/camera/color/image_raw", "/camera/color/camera_info", "/tof/depth/image_raw"],
        "rosbag2 source: RGB, camera_info and depth topics in the recording",
        read_only=True,
    ),
    Param("rate", 30.0, "frames per second", 0.1, 240.0),
    Param("width", 640, "published RGB width", 16, 4096, read_only=True),
    Param(
        "height",
        0,
        "published RGB height; 0 keeps the source's aspect ratio",
        0,
        4096,
        read_only=True,
    ),
    Param(
        "depth_scale",
        1000.0,
        "folder source: depth PNG units per metre (TUM: 5000)",
        1.0,
        100000.0,
        read_only=True,
    ),
    Param(
        "intrinsics",
        [0.0, 0.0, 0.0, 0.0],
        "folder source: fx fy cx cy of the RGB images",
        read_only=True,
    ),
    Param(
        "frame_id",
        "camera_color_optical_frame",
        "frame_id of every published header",
        read_only=True,
    ),
    Param(
        "publish_stereo", False, "also publish the raw depth as a DisparityImage", read_only=True
    ),
)

DEPTH_NODES = ("monocular_depth", "depth_recovery")  # managed (lifecycle) nodes

NODE_PARAMETERS: dict[str, tuple[Param, ...]] = {
    "monocular_depth": ESTIMATOR + MONOCULAR,
    "depth_recovery": ESTIMATOR + RECOVERY,
    "replay": REPLAY,
    "proximity_monitor": PROXIMITY,
}


def markdown_table(node: str) -> str:
    """The README's parameter table for `node` (a test keeps the README in step)."""
    rows = [
        "| parameter | default | range / choices | run-time change | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for p in NODE_PARAMETERS[node]:
        limits = (
            ", ".join(p.choices)
            if p.choices
            else (f"[{p.low}, {p.high}]" if p.low is not None else "")
        )
        change = (
            "yes"
            if not p.read_only
            else ("while unconfigured" if node in DEPTH_NODES else "no (read-only)")
        )
        rows.append(f"| `{p.name}` | `{p.default!r}` | {limits} | {change} | {p.description} |")
    return "\n".join(rows)
