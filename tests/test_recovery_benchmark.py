"""The real-frame recovery benchmark: what each protocol feeds the methods and scores, the
pooled errors computed by hand, the targets, and the command that writes docs/results.md."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from depth_core.data.sample import DepthSample
from depth_core.data.simulation import benchmark_holes, frame_seed
from depth_core.geometry import Intrinsics
from depth_core.recovery_benchmark import (
    BASELINES,
    MODEL,
    RECOVERY_HELD_OUT,
    RecoveryReport,
    _Pooled,
    recovery_case,
    recovery_targets,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def frame(name: str = "set/0007") -> DepthSample:
    depth = np.full((40, 60), 1.5, np.float32)
    depth[:, 30:] = 3.0
    depth[:4] = 0.0
    raw = np.where(depth > 0, depth + 0.01, 0).astype(np.float32)
    return DepthSample(
        np.zeros((40, 60, 3), np.uint8),
        depth,
        depth > 0,
        Intrinsics(50.0, 50.0, 29.5, 19.5, 60, 40),
        raw_depth=raw,
        name=name,
    )


def test_holes_protocol_hides_the_scored_pixels_and_keeps_the_rest_as_measured():
    sample = frame()
    case = recovery_case(sample, "holes")
    assert np.array_equal(case.scored, benchmark_holes(sample.depth, frame_seed(sample.name)))
    assert np.all(case.raw[case.scored] == 0)
    kept = sample.valid & ~case.scored
    assert np.array_equal(case.raw[kept], sample.depth[kept]) and np.array_equal(case.kept, kept)
    assert np.array_equal(case.truth, sample.depth)


def test_reference_protocol_feeds_the_sensor_raw_and_scores_the_reference():
    sample = frame()
    case = recovery_case(sample, "reference")
    assert np.array_equal(case.raw, sample.raw_depth)
    assert np.array_equal(case.scored, sample.depth > 0)
    with pytest.raises(ValueError, match="raw depth"):
        recovery_case(
            DepthSample(sample.rgb, sample.depth, sample.valid, sample.intrinsics, name="no-raw"),
            "reference",
        )
    with pytest.raises(ValueError, match="unknown recovery protocol"):
        recovery_case(sample, "guess")


def test_pooled_errors_are_computed_over_every_scored_pixel_of_the_set():
    case = recovery_case(frame(), "reference")
    pooled = _Pooled()
    pred = case.truth * 1.1  # 10% too far everywhere
    pooled.add(pred, case)
    pooled.add(case.truth.copy(), case)  # exact: half of the pooled pixels have no error
    g = case.truth[case.scored]
    summary = pooled.summary()
    assert summary["rmse"] == pytest.approx(np.sqrt(np.mean((0.1 * g) ** 2) / 2), rel=1e-5)
    assert summary["abs_rel"] == pytest.approx(0.05, rel=1e-5)
    assert summary["delta_1.05"] == pytest.approx(0.5)  # 1.1 is outside 1.05, 1.0 inside
    # Kept pixels compare with the raw input (truth + 1 cm): the exact run is 1 cm away.
    kept = case.raw[case.kept]
    expected = np.sqrt(
        (np.sum((1.1 * case.truth[case.kept] - kept) ** 2) + np.sum(0.01**2 * np.ones(kept.size)))
        / (2 * kept.size)
    )
    assert summary["kept_rmse"] == pytest.approx(expected, rel=1e-4)


def test_targets_ask_for_a_win_over_the_best_baseline():
    methods = {
        MODEL: {"rmse": 0.05, "delta_1.05": 0.90},
        BASELINES[0]: {"rmse": 0.04, "delta_1.05": 0.85},
        BASELINES[1]: {"rmse": 0.06, "delta_1.05": 0.80},
    }
    sigma = {"safe2": 0.995, "within2": 0.9, "ause_rmse": 0.01, "ause_ratio": 1.5}
    met = {
        k: ok
        for k, (ok, _) in recovery_targets(
            RecoveryReport("s", "holes", 1, 9, methods, sigma)
        ).items()
    }
    assert met == {
        "RMSE < both baselines": False,
        "δ1.05 > both baselines": True,
        "AUSE ≥ 2× random": False,
        "safe2 ≥ 0.99": True,
    }


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is absent")
def test_recovery_benchmark_command_writes_every_held_out_set(tmp_path):
    spec = importlib.util.spec_from_file_location("evaluate", ROOT / "training" / "evaluate.py")
    evaluate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(evaluate)
    results = tmp_path / "results.md"
    results.write_text("# Results\n\nWritten by hand, kept.\n")
    model = ROOT / "depth_ros" / "models" / "recovery.onnx"
    common = ["--model", str(model), "--suite", "real", "--results", str(results), "--limit", "1"]
    assert evaluate.main([*common, "--out", str(tmp_path)]) == 0
    text = results.read_text()
    assert text.startswith("# Results\n\nWritten by hand, kept.\n")
    assert text.count("## Recovery: the real-frame benchmark") == 1
    for held_out in RECOVERY_HELD_OUT:
        for method in (MODEL, *BASELINES):
            assert f"| {held_out.name} | {held_out.protocol} | 1 |" in text
            assert f"| {method} |" in text
    # The validation split is for choosing: printed, never written.
    assert evaluate.main([*common, "--split", "validation", "--out", str(tmp_path / "v")]) == 0
    assert results.read_text() == text
    names = {r["name"] for r in json.loads((tmp_path / "v" / "real_recovery.json").read_text())}
    assert names == {"arc2017_bins", "phoxi_bins"}
