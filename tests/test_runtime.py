"""Checkpoint metadata, the shared pre/post-processing, and the estimator over torch and
ONNX Runtime: parity, canonical-camera scaling and clear errors for bad files and inputs."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from depth_core.checkpoint import MODEL_IO, describe, load_checkpoint
from depth_core.export.onnx import save_and_export
from depth_core.geometry import Intrinsics
from depth_core.models import build_model
from depth_core.processing import (
    edge_aware_upsample,
    focal_scale,
    fuse_recovery,
    postprocess,
    preprocess_raw_depth,
    preprocess_rgb,
)
from depth_core.runtime import DepthEstimator

INPUT_SIZE = (240, 320)


@pytest.fixture(scope="module")
def real_frame():
    pytest.importorskip("skimage", reason="scikit-image holds the Middlebury pair")
    from depth_core.data.middlebury import load_motorcycle

    return load_motorcycle()


@pytest.fixture(scope="module", params=sorted(MODEL_IO))
def exported(request, tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp(request.param)
    model = build_model(request.param).eval()
    checkpoint = folder / "model.pt"
    metadata = describe(model, INPUT_SIZE, training_data="none (test)")
    return checkpoint, save_and_export(model, checkpoint, metadata)


def test_export_command_writes_onnx_with_metadata(exported, tmp_path, capsys):
    from depth_core.cli import main

    checkpoint, _ = exported
    assert main(["export", str(checkpoint), "--onnx", str(tmp_path / "cli.onnx")]) == 0
    assert '"nodes"' in capsys.readouterr().out
    estimator = DepthEstimator.load(tmp_path / "cli.onnx")
    assert estimator.metadata == load_checkpoint(checkpoint)[1]


def test_cli_names_a_missing_or_foreign_checkpoint_and_an_unknown_model(tmp_path, capsys):
    from depth_core.cli import main

    foreign = tmp_path / "notes.pt"
    foreign.write_text("not a checkpoint")
    cases = [
        (
            ["export", str(tmp_path / "missing.pt"), "--onnx", str(tmp_path / "m.onnx")],
            "missing.pt: no such checkpoint",
        ),
        (
            ["export", str(foreign), "--onnx", str(tmp_path / "f.onnx")],
            "notes.pt: not a readable checkpoint",
        ),
        (
            [
                "reconfigure",
                str(tmp_path / "missing.pt"),
                "--set",
                "a=1",
                "--out",
                str(tmp_path / "r.pt"),
            ],
            "missing.pt: no such checkpoint",
        ),
    ]
    for arguments, message in cases:
        with pytest.raises(SystemExit) as stop:
            main(arguments)
        assert stop.value.code == 2, arguments
        assert message in capsys.readouterr().err, arguments
    assert not list(tmp_path.glob("*.onnx"))
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"an ONNX file")
    bench_cases = [
        (["--models", "no_such_model"], "--models no_such_model: not a model the runtime serves"),
        (["--models", "depth_anything_v2"], "depth_anything_v2: not a model the runtime serves"),
        (["--checkpoint", str(tmp_path / "missing.pt")], "missing.pt: no such checkpoint"),
        (["--checkpoint", str(foreign)], "notes.pt: not a readable checkpoint"),
        (
            ["--checkpoint", str(onnx)],
            "expected a training checkpoint (.pt, .pth, .ckpt), got a .onnx file",
        ),
    ]
    for arguments, message in bench_cases:  # one line, exit code 2, nothing run
        arguments = (
            ["bench", *arguments]
            if "--models" in arguments
            else ["bench", "--models", "transfer_monocular", *arguments]
        )
        assert main(arguments) == 2, arguments
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and err.startswith("depth-core bench:")


def test_checkpoint_round_trip_keeps_weights_and_metadata(exported):
    checkpoint, _ = exported
    model, metadata = load_checkpoint(checkpoint)
    assert metadata.input_size == INPUT_SIZE and metadata.training_data == "none (test)"
    assert metadata.mean == (0.5, 0.5, 0.5)  # tf_efficientnet_lite0's own normalisation
    assert len(metadata.content_hash) == 64


@pytest.mark.slow
def test_reconfigure_keeps_the_weights_under_settings_that_keep_their_shapes(tmp_path, capsys):
    """depth-core reconfigure: the same weights (same content hash) under the new settings,
    which change the output; settings that change the weights, or that the model does not
    take, are refused with the reason."""
    from depth_core.checkpoint import parse_settings, read_metadata, reconfigure_checkpoint
    from depth_core.cli import main

    torch.manual_seed(0)
    model = build_model("depth_recovery").eval()
    checkpoint = tmp_path / "recovery.pt"
    save_and_export(model, checkpoint, describe(model, INPUT_SIZE, training_data="none (test)"))
    out = tmp_path / "fast.pt"
    assert (
        main(
            [
                "reconfigure",
                str(checkpoint),
                "--set",
                "uncertainty_stride=4",
                "--set",
                "alignment_window=3",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["onnx"] == str(out.with_suffix(".onnx"))
    before, after = read_metadata(checkpoint), read_metadata(out)
    assert after.content_hash == before.content_hash
    assert after.model_config == {
        **before.model_config,
        "uncertainty_stride": 4,
        "alignment_window": 3,
    }
    fast, _ = load_checkpoint(out)
    assert fast.uncertainty.stride == 4 and fast.decoder.refine["2"].window == 3
    assert DepthEstimator.load(out.with_suffix(".onnx")).metadata == after
    rgb, raw = torch.randn(1, 3, *INPUT_SIZE), torch.rand(1, 1, *INPUT_SIZE) + 0.5
    with torch.no_grad():
        assert not torch.allclose(fast(rgb, raw).depth, model(rgb, raw).depth)
    with pytest.raises(ValueError, match="change the weights' names or shapes"):
        reconfigure_checkpoint(checkpoint, {"decoder_width": 32})
    with pytest.raises(ValueError, match="cannot take"):
        reconfigure_checkpoint(checkpoint, {"no_such_setting": 1})
    assert parse_settings(["a=4", "b=[1, 2]", "c=true"]) == {"a": 4, "b": [1, 2], "c": True}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_settings(["uncertainty_stride"])


def test_interpolated_weights_are_the_weighted_mean_of_two_checkpoints(tmp_path):
    """WiSE-FT: (1 − α)·start + α·tuned for every float weight, the tuned end's integer
    buffers, both sources in the metadata; models that differ are refused."""
    from depth_core.checkpoint import interpolate_checkpoints, save_checkpoint

    torch.manual_seed(0)
    start = build_model("transfer_monocular", decoder_width=32).eval()
    torch.manual_seed(1)
    tuned = build_model("transfer_monocular", decoder_width=32).eval()
    tuned.encoder.bn1.num_batches_tracked.fill_(7)  # an integer buffer: taken from `tuned`
    for name, model, data in (("start", start, "rooms"), ("tuned", tuned, "rooms + detail")):
        save_checkpoint(
            model, tmp_path / f"{name}.pt", describe(model, INPUT_SIZE, training_data=data)
        )
    mixed, metadata = interpolate_checkpoints(tmp_path / "start.pt", tmp_path / "tuned.pt", 0.25)
    a, b, m = start.state_dict(), tuned.state_dict(), mixed.state_dict()
    floats = [key for key, value in m.items() if value.is_floating_point()]
    assert any(not torch.equal(a[key], b[key]) for key in floats)  # the ends differ
    for key, value in m.items():
        expected = 0.75 * a[key] + 0.25 * b[key] if key in floats else b[key]
        torch.testing.assert_close(value, expected)
    assert int(m["encoder.bn1.num_batches_tracked"]) == 7
    assert metadata.training_data == (
        "weights interpolated 0.75 · start.pt (rooms) + 0.25 · tuned.pt (rooms + detail)"
    )

    other = build_model("transfer_monocular", decoder_width=64).eval()
    save_checkpoint(other, tmp_path / "other.pt", describe(other, INPUT_SIZE))
    with pytest.raises(ValueError, match="not the same model with the same settings"):
        interpolate_checkpoints(tmp_path / "start.pt", tmp_path / "other.pt", 0.5)
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        interpolate_checkpoints(tmp_path / "start.pt", tmp_path / "tuned.pt", 1.5)


def test_threads_per_worker_shares_the_usable_cores(monkeypatch):
    from depth_core.runtime import threads_per_worker

    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(8)))
    assert [threads_per_worker(n) for n in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]


def test_estimator_gives_the_same_result_from_checkpoint_and_onnx(exported, real_frame):
    checkpoint, onnx_path = exported
    previous = torch.get_num_threads()
    from_torch = DepthEstimator.load(checkpoint, backend="torch", threads=1)
    assert torch.get_num_threads() == 1  # the node's `threads` parameter reaches torch too
    torch.set_num_threads(previous)
    from_onnx = DepthEstimator.load(onnx_path)
    assert from_torch.backend.name == "torch-cpu"
    assert from_onnx.backend.name == "onnxruntime-cpu"
    assert from_onnx.metadata == from_torch.metadata
    raw = real_frame.depth if "raw_depth" in from_torch.metadata.inputs else None
    a = from_torch.predict(real_frame.rgb, raw)
    b = from_onnx.predict(real_frame.rgb, raw)
    assert a.depth.shape == real_frame.rgb.shape[:2] and a.depth.dtype == np.float32
    assert (a.depth > 0).all() and (a.sigma > 0).all()
    for x, y in ((a.depth, b.depth), (a.sigma, b.sigma)):
        assert np.abs(x - y).max() <= 1e-4 * np.abs(x).max()


def test_onnx_runtime_path_imports_neither_torch_nor_timm(exported):
    _, onnx_path = exported
    code = (
        "import sys, numpy as np\n"
        "from depth_core.runtime import DepthEstimator\n"
        f"e = DepthEstimator.load({str(onnx_path)!r})\n"
        "rgb = np.zeros((120, 160, 3), np.uint8)\n"
        "raw = np.ones((120, 160), np.float32) if 'raw_depth' in e.metadata.inputs else None\n"
        "r = e.predict(rgb, raw)\n"
        "print(r.depth.shape, 'torch' in sys.modules, 'timm' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "(120, 160) False False"


def test_canonical_camera_scales_depth_by_focal_length(exported, real_frame, caplog):
    checkpoint, _ = exported
    estimator = DepthEstimator.load(checkpoint, backend="torch")
    estimator.metadata.canonical_focal_px = 250.0  # focal length at the 320x240 input
    raw = real_frame.depth if "raw_depth" in estimator.metadata.inputs else None
    # The canonical camera sees the scene at half the metric depth of the camera below, so a
    # recovery model gets its raw depth halved there (metres in, canonical depth inside).
    raw_in_canonical = None if raw is None else raw / 2
    with caplog.at_level(logging.WARNING):
        canonical = estimator.predict(real_frame.rgb, raw_in_canonical)
        estimator.predict(real_frame.rgb, raw_in_canonical)
    assert caplog.text.count("assuming the canonical camera") == 1  # said once
    height, width = real_frame.rgb.shape[:2]
    # Square pixels, focal F chosen so that sqrt(fx·fy) at the 320x240 input is 500 px: twice
    # the canonical focal length -> twice the depth.
    focal = 500 / np.sqrt((320 / width) * (240 / height))
    camera = Intrinsics(focal, focal, width / 2, height / 2, width, height)
    scaled = estimator.predict(real_frame.rgb, raw, intrinsics=camera)
    assert np.allclose(scaled.depth, 2 * canonical.depth, rtol=1e-3)
    assert np.allclose(scaled.sigma, 2 * canonical.sigma, rtol=1e-3)


def test_preprocessing_by_hand():
    rgb = np.full((4, 6, 3), 255, np.uint8)
    x = preprocess_rgb(rgb, (2, 3), mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    assert x.shape == (1, 3, 2, 3) and np.allclose(x, 2.0)  # (1 − 0.5)/0.25
    raw = np.array([[1.0, np.nan], [-2.0, np.inf]], np.float32)
    assert preprocess_raw_depth(raw, (2, 2))[0, 0].tolist() == [[1.0, 0.0], [0.0, 0.0]]
    # Nearest resampling never invents a value between 1 m and 3 m.
    edge = np.array([[1.0, 1.0, 3.0, 3.0]] * 2, np.float32)
    assert set(np.unique(preprocess_raw_depth(edge, (3, 7)))) <= {1.0, 3.0}
    depth_out, log_sigma = (
        np.full((1, 1, 2, 2), 2.0, np.float32),
        np.zeros((1, 1, 2, 2), np.float32),
    )
    depth, sigma = postprocess(depth_out, log_sigma, (4, 4), "laplace_log_b", 1.5)
    assert depth.shape == (4, 4) and np.allclose(depth, 3.0)
    assert np.allclose(sigma, 1.5 * np.sqrt(2))  # Laplace b = 1 -> std √2
    _, calibrated = postprocess(depth_out, log_sigma, (4, 4), "laplace_log_b", 1.5, 0.5)
    assert np.allclose(calibrated, 0.75 * np.sqrt(2))  # the metadata's σ temperature
    assert focal_scale(None, (240, 320), 250.0) == 1.0


def test_raw_depth_that_agrees_within_two_sigma_is_kept_as_measured():
    # A model without a structure-uncertainty output: trust is agreement with the network.
    depth_out = np.full((1, 1, 2, 2), 2.0, np.float32)
    log_sigma = np.full((1, 1, 2, 2), np.log(0.1), np.float32)  # σ = 0.1 m (Gaussian)
    # A 2x4 raw frame over the same field of view, output 4x4: each raw pixel covers two rows.
    raw = np.array([[2.15, 2.25, 0.0, np.nan], [1.85, 1.79, 2.0, -1.0]], np.float32)
    grey = np.full((4, 4, 3), 128, np.uint8)
    depth, sigma = postprocess(
        depth_out, log_sigma, (4, 4), "gaussian_log_sigma", raw_depth=raw, rgb=grey
    )
    # |2.15 − 2| and |1.85 − 2| ≤ 2σ = 0.2: kept; 2.25 and 1.79 disagree; 0, NaN, −1 missing.
    expected_row = {0: [2.15, 2.0, 2.0, 2.0], 1: [1.85, 2.0, 2.0, 2.0]}
    for row in range(4):
        assert np.allclose(depth[row], expected_row[row // 2])
    # Kept measurements (2.0 m agrees too) carry the sensor's noise, 1% of depth; the rest
    # the network's σ.
    expected_sigma = {0: [0.0215, 0.1, 0.1, 0.1], 1: [0.0185, 0.1, 0.02, 0.1]}
    for row in range(4):
        assert np.allclose(sigma[row], expected_sigma[row // 2])
    # Depth scale (another focal length) applies before the comparison: 3 ± 0.15 m.
    scaled, _ = postprocess(
        depth_out,
        log_sigma,
        (2, 4),
        "gaussian_log_sigma",
        1.5,
        raw_depth=np.array([[3.25, 2.0, 0.0, 0.0]], np.float32),
        rgb=grey,
    )
    assert np.allclose(scaled, [[3.25, 3.0, 3.0, 3.0]] * 2)


def test_trusted_raw_passes_through_bit_exact_at_full_resolution():
    rng = np.random.default_rng(3)
    raw = (1.0 + rng.random((48, 64))).astype(np.float32)  # the output resolution
    raw[rng.random(raw.shape) < 0.3] = 0.0  # holes
    network = np.full((1, 1, 12, 16), 1.5, np.float32)  # a quarter of the resolution
    log_sigma = np.full_like(network, np.log(0.2))
    logit = np.full_like(network, -4.0)  # P(misaligned) ≈ 0.02: every raw pixel trusted
    logit[..., 6:, :] = 4.0  # the lower half: raw there is flagged as misaligned
    rgb = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    depth, sigma = postprocess(
        network,
        log_sigma,
        raw.shape,
        "gaussian_log_sigma",
        raw_depth=raw,
        rgb=rgb,
        misalignment_logit=logit,
    )
    valid, top = raw > 0, np.arange(48)[:, None] < 20
    assert np.array_equal(depth[valid & top], raw[valid & top])  # bit for bit
    assert np.allclose(sigma[valid & top], 0.01 * raw[valid & top])
    # Holes, and flagged raw depth however close to the network's, take the network's value.
    assert np.allclose(depth[~valid | ~top & (np.arange(48)[:, None] >= 28)], 1.5)
    assert np.allclose(sigma[~valid], 0.2)


def test_edge_aware_upsampling_keeps_a_step_edge_sharp():
    # The network's 8x8 depth steps from 1 m to 3 m where the 32x32 image turns bright.
    low = np.ones((8, 8), np.float32)
    low[:, 4:] = 3.0
    guide = np.zeros((32, 32, 3), np.uint8)
    guide[:, 16:] = 200
    (sharp,) = edge_aware_upsample([low], guide)
    columns = np.arange(32)
    far_from_edge = (columns < 15) | (columns > 16)
    assert np.allclose(sharp[:, far_from_edge & (columns < 16)], 1.0, atol=1e-3)
    assert np.allclose(sharp[:, far_from_edge & (columns >= 16)], 3.0, atol=1e-3)
    # Plain bilinear resizing puts invented depths beyond the edge's neighbours.
    ramp = cv2.resize(low, (32, 32), interpolation=cv2.INTER_LINEAR)
    invented = (ramp > 1.001) & (ramp < 2.999)
    assert invented[:, far_from_edge].any()
    # The fusion takes the same path where the network's depth has an edge.
    depth, _ = fuse_recovery(low, low * 0.1, np.zeros((32, 32), np.float32), guide)
    assert np.allclose(depth, sharp)


def test_scale_uncertainty_adds_a_share_of_depth_in_quadrature():
    depth_out = np.array([[[[1.0, 4.0]]]], np.float32)
    log_sigma = np.full((1, 1, 1, 2), np.log(0.3), np.float32)  # σ = 0.3 m (Gaussian)
    # relative σ 0.1: 1 m -> √(0.3² + 0.1²), 4 m -> √(0.3² + 0.4²) = 0.5; depth unchanged.
    depth, sigma = postprocess(
        depth_out, log_sigma, (1, 2), "gaussian_log_sigma", relative_sigma=0.1
    )
    assert np.allclose(depth, [[1.0, 4.0]])
    assert np.allclose(sigma, [[np.sqrt(0.1), 0.5]])
    # Another focal length scales depth first (2x): 8 m -> √(0.6² + 0.8²) = 1.0.
    _, scaled = postprocess(
        depth_out, log_sigma, (1, 2), "gaussian_log_sigma", 2.0, relative_sigma=0.1
    )
    assert np.allclose(scaled, [[np.sqrt(0.4), 1.0]])


def test_bad_files_and_inputs_get_clear_errors(exported, tmp_path):
    checkpoint, onnx_path = exported
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated.pt: not a readable checkpoint"):
        DepthEstimator.load(truncated)
    garbage = tmp_path / "random.onnx"
    garbage.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ValueError, match="random.onnx: ONNX Runtime cannot load it"):
        DepthEstimator.load(garbage)
    with pytest.raises(FileNotFoundError, match="missing.onnx"):
        DepthEstimator.load(tmp_path / "missing.onnx")
    estimator = DepthEstimator.load(onnx_path)
    with pytest.raises(ValueError, match="model.onnx: rgb must be HxWx3 uint8"):
        estimator.predict(np.zeros((240, 320, 3), np.float32))
    with pytest.raises(ValueError, match="model.onnx: rgb must be HxWx3 uint8"):
        estimator.predict(np.zeros((240, 320), np.uint8))
    with pytest.raises(ValueError, match="unknown model file type .bin"):
        DepthEstimator.load(garbage.rename(tmp_path / "random.bin"))
    with pytest.raises(ValueError, match="backend 'torch' cannot run a onnx file"):
        DepthEstimator.load(onnx_path, backend="torch")


@pytest.mark.slow
def test_auto_backend_on_cpu_runs_a_checkpoint_through_cached_onnx(exported, real_frame, caplog):
    checkpoint, _ = exported
    with caplog.at_level(logging.INFO, logger="depth_core.runtime.estimator"):
        first = DepthEstimator.load(checkpoint)
    assert first.backend.name == "onnxruntime-cpu"
    assert f"{checkpoint.name}: running on onnxruntime-cpu (fp32)" in caplog.text
    cache = Path(os.environ["DEPTH_ROS_CACHE"])  # set for the test run by conftest.py
    exports = list(cache.glob(f"{first.metadata.content_hash[:16]}-240x320.onnx"))
    assert len(exports) == 1
    stamps = {p: p.stat().st_mtime_ns for p in exports}
    second = DepthEstimator.load(checkpoint)  # reuses the cached export
    assert {p: p.stat().st_mtime_ns for p in exports} == stamps
    reference = DepthEstimator.load(checkpoint, backend="torch")
    raw = real_frame.depth if "raw_depth" in reference.metadata.inputs else None
    a, b = reference.predict(real_frame.rgb, raw), second.predict(real_frame.rgb, raw)
    assert np.abs(a.depth - b.depth).max() <= 1e-4 * np.abs(a.depth).max()


def test_metadata_from_another_program_is_refused_by_name():
    from depth_core.metadata import ModelMetadata

    with pytest.raises(ValueError, match="x.onnx: not depth_ros model metadata"):
        ModelMetadata.from_json('{"format": "other/1"}', "x.onnx")
    with pytest.raises(ValueError, match="x.onnx: incomplete or unknown metadata fields"):
        ModelMetadata.from_json('{"format": "depth_ros.model/1"}', "x.onnx")


def test_onnx_metadata_round_trips_and_a_foreign_onnx_file_is_refused_by_name(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    from depth_core.export.quantize import quantize_int8
    from depth_core.metadata import ModelMetadata, read_onnx_metadata, set_onnx_prop
    from depth_core.runtime.backends import OnnxRuntimeBackend

    graph = helper.make_graph(
        [helper.make_node("Identity", ["rgb"], ["depth"])],
        "identity",
        [helper.make_tensor_value_info("rgb", TensorProto.FLOAT, [1, 1, 2, 2])],
        [helper.make_tensor_value_info("depth", TensorProto.FLOAT, [1, 1, 2, 2])],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    foreign = tmp_path / "foreign.onnx"
    onnx.save(proto, str(foreign))
    message = "foreign.onnx: ONNX file has no depth_ros metadata"
    with pytest.raises(ValueError, match=message):
        read_onnx_metadata(foreign)
    with pytest.raises(ValueError, match=message):
        OnnxRuntimeBackend(foreign)
    with pytest.raises(ValueError, match=message):
        quantize_int8(foreign, tmp_path / "int8.onnx", [{"rgb": np.zeros((1, 1, 2, 2), "f4")}])

    metadata = ModelMetadata("identity", {}, (2, 2), (0.5,), (0.25,), outputs=("depth",))
    set_onnx_prop(proto, "depth_ros", metadata.to_json())
    set_onnx_prop(proto, "depth_ros", metadata.to_json())  # set, not appended twice
    assert [p.key for p in proto.metadata_props] == ["depth_ros"]
    ours = tmp_path / "ours.onnx"
    onnx.save(proto, str(ours))
    assert read_onnx_metadata(ours) == metadata == OnnxRuntimeBackend(ours).metadata


@pytest.mark.slow
def test_bench_command_reports_every_configuration(tmp_path, capsys):
    from depth_core.cli import main

    out = tmp_path / "bench.json"
    code = main(
        [
            "bench",
            "--models",
            "transfer_monocular",
            "--sizes",
            "64x64",
            "--runs",
            "3",
            "--warmup",
            "1",
            "--threads",
            "1",
            "--precisions",
            "fp32",
            "int8",
            "--json",
            str(out),
        ]
    )
    assert code == 0
    rows = json.loads(out.read_text())["results"]
    # torch has no INT8 row; ONNX Runtime's INT8 row runs a file that the runtime reads as INT8
    # (measure() refuses a row whose file runs in another precision).
    assert [(r["backend_name"], r["precision"]) for r in rows] == [
        ("torch-cpu", "fp32"),
        ("onnxruntime-cpu", "fp32"),
        ("onnxruntime-cpu", "int8"),
    ]
    assert rows[2]["onnx"].endswith("_int8.onnx")
    for row in rows:
        assert 0 < row["p50_ms"] <= row["p99_ms"] and row["fps"] > 0 and row["peak_rss_mb"] > 0
    assert rows[0]["speedup_vs_torch_eager"] == 1.0
    printed = capsys.readouterr().out
    plane_fit = json.loads(out.read_text())["plane_fit"]
    assert [(r["width"], r["height"]) for r in plane_fit] == [(64, 64)]
    assert plane_fit[0]["p50_ms"] > 0 and "| ground-plane fit | p50 ms | p99 ms |" in printed
    assert "| transfer_monocular | onnxruntime-cpu | 64x64 | fp32 |" in printed
    assert "| transfer_monocular | onnxruntime-cpu | 64x64 | int8 |" in printed
