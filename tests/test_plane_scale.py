"""Metric scale from a known support plane, on generated scenes whose planes are known
exactly: the floor of a room, the top of a table, and a plane the camera does not see."""

import json
from pathlib import Path

import numpy as np
import pytest

from depth_core.data.scene_render import Camera
from depth_core.data.scenes import FLOOR_TOP, random_scene
from depth_core.geometry import Intrinsics
from depth_core.metadata import ModelMetadata
from depth_core.runtime import DepthEstimator
from depth_core.runtime.plane_scale import GroundPlane, fit_plane_scale

WRONG_SCALE = 0.6  # what a network's metric scale might be off by


def world_height(sample, camera: Camera) -> np.ndarray:
    slope_x, slope_y = sample.intrinsics.ray_slopes()
    points = np.stack(
        [slope_x[None] * sample.depth, slope_y[:, None] * sample.depth, sample.depth], axis=-1
    )
    return (points @ camera.rotation.T + camera.position)[..., 2]


def plane_view(seed: int, layout: str):
    """A rendered frame, its support plane (floor, or the table top) and the share of the
    image that plane covers."""
    scene = random_scene(seed, layout=layout)
    camera = scene.cameras[0]
    sample = scene.render(camera)
    top = scene.objects[1]  # the tabletop layout's first object after the floor
    height = FLOOR_TOP if layout == "room" else float(top.centre[2] + top.half[2])
    on_plane = (np.abs(world_height(sample, camera) - height) < 0.005) & sample.valid
    normal, distance = camera.horizontal_plane(height)
    return sample, GroundPlane.from_coefficients([*normal, distance]), on_plane.mean()


def test_ground_plane_coefficients_are_normalised_and_checked():
    plane = GroundPlane.from_coefficients([0, -2, 0, 3])  # 2·(n·X + 1.5) = 0
    assert plane.normal == (0, -1, 0) and plane.distance == 1.5
    cases = [
        ([0, -1, 0], "four numbers"),
        ([0, 0, 0, 1], "zero"),
        ([0, 1, 0, -1.2], "d must be > 0"),
        ([0, -1, np.nan, 1], "finite"),
    ]
    for bad, message in cases:
        with pytest.raises(ValueError, match=message):
            GroundPlane.from_coefficients(bad)


@pytest.mark.parametrize(
    ("seed", "layout"), [(1, "room"), (5, "room"), (11, "room"), (0, "tabletop"), (6, "tabletop")]
)
def test_the_plane_gives_the_scale_within_two_percent(seed, layout):
    sample, plane, share = plane_view(seed, layout)
    assert share >= 0.10  # the case the promise is made for
    rng = np.random.default_rng(seed)
    # A network's depth: globally off in scale, with 1% per-pixel error.
    predicted = sample.depth * WRONG_SCALE * rng.normal(1.0, 0.01, sample.depth.shape)
    fit = fit_plane_scale(predicted.astype(np.float32), sample.intrinsics, plane)
    assert fit.scale is not None, fit.reason
    assert fit.scale * WRONG_SCALE == pytest.approx(1.0, abs=0.02)
    assert fit.plane_share == pytest.approx(share, abs=0.08)
    assert 0.005 < fit.relative_sigma < 0.03  # the 1% noise, seen through the plane's pixels


def test_a_plane_out_of_view_is_not_found_and_says_why():
    scene = random_scene(3, layout="room")
    intrinsics = Intrinsics(200.0, 200.0, 159.5, 119.5, 320, 240)
    camera = Camera.looking(intrinsics, [0.0, 0.0, 1.2], yaw=0.3, pitch=0.6)  # looks up
    sample = scene.render(camera)
    assert (np.abs(world_height(sample, camera) - FLOOR_TOP) < 0.005).mean() == 0
    normal, distance = camera.horizontal_plane(FLOOR_TOP)
    plane = GroundPlane.from_coefficients([*normal, distance])
    fit = fit_plane_scale(sample.depth, intrinsics, plane)
    assert fit.scale is None and fit.reason


class ReplayBackend:
    """Returns a fixed network output: the estimator's own logic, without a network."""

    name, precision = "replay", "fp32"

    def __init__(self, depth: np.ndarray, log_sigma: float, inputs=("rgb",)):
        self.depth, self.log_sigma = depth, log_sigma
        self.metadata = ModelMetadata(
            "replay", {}, depth.shape, (0.0,) * 3, (1.0,) * 3, inputs=inputs, relative_sigma=0.3
        )

    def run(self, inputs):
        return [
            self.depth[None, None],
            np.full((1, 1, *self.depth.shape), self.log_sigma, np.float32),
        ]


def test_estimator_scales_to_the_plane_and_falls_back_to_the_learned_scale():
    sample, plane, _ = plane_view(5, "room")
    predicted = (sample.depth * WRONG_SCALE).astype(np.float32)
    estimator = DepthEstimator(ReplayBackend(predicted, np.log(0.01)), "replay")
    learned = estimator.predict(sample.rgb, intrinsics=sample.intrinsics)
    assert learned.scale_source == "learned" and learned.plane is None
    # σ: the per-pixel 0.01·√2 (Laplace b → std) with the learned scale's 30% in quadrature
    expected = np.sqrt((0.01 * np.sqrt(2)) ** 2 + (0.3 * learned.depth) ** 2)
    np.testing.assert_allclose(learned.sigma, expected, rtol=1e-4)
    anchored = estimator.predict(sample.rgb, intrinsics=sample.intrinsics, ground_plane=plane)
    assert anchored.scale_source == "plane" and anchored.plane.plane_pixels > 0
    valid = sample.valid
    np.testing.assert_allclose(anchored.depth[valid], sample.depth[valid], rtol=0.01)
    # With the plane, σ carries the fit's spread instead of the learned scale's 30%.
    assert np.median(anchored.sigma[valid] / anchored.depth[valid]) < 0.05
    # Not visible: the learned scale stays, and the result says why.
    hidden = GroundPlane.from_coefficients([0.0, 1.0, 0.0, 1.0])  # "below" is up: nothing
    fallback = estimator.predict(sample.rgb, intrinsics=sample.intrinsics, ground_plane=hidden)
    assert fallback.scale_source == "learned" and fallback.plane.reason
    np.testing.assert_array_equal(fallback.depth, learned.depth)
    no_intrinsics = estimator.predict(sample.rgb, ground_plane=plane)
    assert no_intrinsics.scale_source == "learned" and "intrinsics" in no_intrinsics.plane.reason


def test_a_recovery_model_refuses_a_ground_plane():
    depth = np.ones((8, 8), np.float32)
    estimator = DepthEstimator(ReplayBackend(depth, 0.0, ("rgb", "raw_depth")), "replay")
    with pytest.raises(ValueError, match="monocular"):
        estimator.predict(
            np.zeros((8, 8, 3), np.uint8),
            depth,
            None,
            None,
            GroundPlane.from_coefficients([0, -1, 0, 1]),
        )


def test_ransac_finds_the_floor_and_refuses_a_scene_without_one():
    from depth_core.real_benchmark import ransac_ground_plane

    intrinsics = Intrinsics(100.0, 100.0, 79.5, 59.5, 160, 120)
    _, slope_y = intrinsics.ray_slopes()
    rows = np.broadcast_to(slope_y[:, None], (120, 160))
    # A floor 1.2 m below a camera pitched 10° down, a wall 3 m ahead where the floor is not.
    pitch = np.radians(10)
    normal = np.array([0.0, -np.cos(pitch), -np.sin(pitch)])  # world up, in the optical frame
    along_floor = -1.2 / (normal[1] * rows + normal[2])  # z where each ray meets the floor
    depth = np.where((along_floor > 0) & (along_floor < 3.0), along_floor, 3.0)
    depth = np.ascontiguousarray(depth.astype(np.float32))
    plane = ransac_ground_plane(depth, depth > 0, intrinsics, np.random.default_rng(0))
    # Wall pixels within the 2 cm band at the corner tilt the refit a little.
    np.testing.assert_allclose(plane.normal, normal, atol=3e-3)
    assert plane.distance == pytest.approx(1.2, abs=5e-3)
    wall = np.full((120, 160), 2.0, np.float32)  # its normal is the optical axis: not "up"
    assert ransac_ground_plane(wall, wall > 0, intrinsics, np.random.default_rng(0)) is None


def test_leave_one_out_constant_and_targets_by_hand():
    from depth_core.data.sample import DepthSample
    from depth_core.real_benchmark import SetReport, leave_one_out_medians, targets

    intrinsics = Intrinsics(10.0, 10.0, 1.5, 1.5, 4, 4)
    frames = [
        DepthSample(
            np.zeros((4, 4, 3), np.uint8),
            np.full((4, 4), d, np.float32),
            np.ones((4, 4), bool),
            intrinsics,
        )
        for d in (1.0, 2.0, 4.0)
    ]
    assert leave_one_out_medians(frames, 10.0) == [3.0, 2.5, 1.5]
    methods = {
        "model + ground plane": {"abs_rel": 0.2},
        "model, median-scaled": {"abs_rel": 0.18},
        "constant: leave-one-out median": {"abs_rel": 0.25},
    }
    report = SetReport("s", 3, True, methods, {"learned": {"safe2": 0.94, "ause_ratio": 2.5}})
    met = {name: ok for name, (ok, _) in targets(report).items()}
    assert met == {
        "plane < constant": True,
        "plane ≤ 1.15 × median-scaled": True,
        "safe2 ≥ 0.95": False,
        "AUSE ≥ 2× random": True,
        "median-scaled ≤ 0.20": True,
    }


@pytest.mark.skipif(
    not (Path(__file__).resolve().parents[2] / "shared" / "data").is_dir(),
    reason="../shared/data is absent",
)
def test_real_benchmark_command_writes_every_held_out_set(tmp_path):
    pytest.importorskip("skimage", reason="scikit-image holds the Middlebury pair")
    import importlib.util

    from depth_core.real_benchmark import MONOCULAR_HELD_OUT

    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("evaluate", root / "training" / "evaluate.py")
    evaluate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(evaluate)
    results = tmp_path / "results.md"
    results.write_text("# Results\n\nWritten by hand, kept.\n")
    model = root / "depth_ros" / "models" / "monocular_int8.onnx"
    for _ in range(2):  # the second run replaces its own section, nothing else
        assert (
            evaluate.main(
                [
                    "--model",
                    str(model),
                    "--suite",
                    "real",
                    "--out",
                    str(tmp_path),
                    "--results",
                    str(results),
                    "--limit",
                    "1",
                    "--mean-frames",
                    "2",
                ]
            )
            == 0
        )
    text = results.read_text()
    assert text.startswith("# Results\n\nWritten by hand, kept.\n")
    assert text.count("## Monocular: the real-frame benchmark") == 1
    assert "Made by `python training/evaluate.py --model" in text
    for held_out in MONOCULAR_HELD_OUT:
        assert f"| {held_out.name} | 1 | model + ground plane |" in text
        assert f"| {held_out.name} | learned |" in text
    assert "### Targets" in text and "apc_shelf" in text  # the validation sets are named
    # The validation split is for choosing: its tables are printed, never written.
    assert (
        evaluate.main(
            [
                "--model",
                str(model),
                "--suite",
                "real",
                "--split",
                "validation",
                "--out",
                str(tmp_path / "val"),
                "--results",
                str(results),
                "--limit",
                "1",
                "--mean-frames",
                "2",
            ]
        )
        == 0
    )
    assert results.read_text() == text
    names = {r["name"] for r in json.loads((tmp_path / "val" / "real.json").read_text())}
    assert names == {"apc_shelf", "arc2017_bins", "phoxi_bins"}
