"""The shipped default models load through the runtime estimator (no torch needed: ONNX),
carry metadata that names their training data, and give sane metric depth on a real frame."""

import numpy as np
import pytest

from depth_core.checkpoint import read_metadata
from depth_core.runtime.estimator import DepthEstimator
from depth_ros.shipped import MODELS_DIR, SHIPPED, SOURCE_CHECKPOINTS, shipped_model

pytest.importorskip("skimage", reason="scikit-image holds the Middlebury pair")


@pytest.mark.parametrize("node", sorted(SHIPPED))
def test_shipped_model_loads_and_estimates_metric_depth(node):
    path = shipped_model(node)
    assert path.stat().st_size <= 25 * 1024 * 1024
    estimator = DepthEstimator.load(path, backend="onnxruntime")
    meta = estimator.metadata
    assert meta.training_data and "generated scenes" in meta.training_data
    assert meta.input_size == (240, 320)
    checkpoint = MODELS_DIR / SOURCE_CHECKPOINTS[node]
    assert checkpoint.stat().st_size <= 25 * 1024 * 1024
    assert read_metadata(checkpoint) == meta  # the same weights, calibration and metadata

    from depth_core.data.middlebury import load_motorcycle
    from depth_core.data.simulation import simulate_tof

    sample = load_motorcycle().resized(320)
    raw = simulate_tof(sample.depth, np.random.default_rng(0)) if node == "depth_recovery" else None
    result = estimator.predict(sample.rgb, raw, sample.intrinsics)
    valid = sample.valid
    assert np.isfinite(result.depth).all() and (result.sigma > 0).all()
    # Metric, not relative: the median lands within a factor 2 of the truth (1.5-3 m here).
    ratio = np.median(result.depth[valid]) / np.median(sample.depth[valid])
    assert 0.5 < ratio < 2.0


@pytest.mark.slow
def test_int8_copy_of_the_monocular_model_stays_close_to_fp32(tmp_path, capsys):
    """`depth-core export --onnx-int8`: ONNX Runtime static INT8, calibrated on generated frames;
    the first stage and the head stay in float; the runtime reports the precision."""
    import json

    import onnx

    from depth_core.cli import main
    from depth_core.data.middlebury import load_motorcycle

    fp32_path, int8_path = tmp_path / "m.onnx", tmp_path / "m_int8.onnx"
    checkpoint = str(MODELS_DIR / "monocular.pt")
    with pytest.raises(SystemExit, match="exactly one of"):
        main(["export", checkpoint, "--onnx", str(fp32_path), "--onnx-int8", str(int8_path)])
    assert (
        main(
            [
                "export",
                checkpoint,
                "--onnx",
                str(fp32_path),
                "--onnx-int8",
                str(int8_path),
                "--calib-scenes",
                "4",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["onnx_int8"] == str(int8_path)

    fp32 = DepthEstimator.load(fp32_path, backend="onnxruntime")
    int8 = DepthEstimator.load(int8_path, backend="onnxruntime")
    assert (fp32.backend.precision, int8.backend.precision) == ("fp32", "int8")
    assert int8.metadata == fp32.metadata
    graph = onnx.load(str(int8_path)).graph
    quantized_inputs = {i for n in graph.node if n.op_type == "DequantizeLinear" for i in n.output}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    assert sum(n.input[1] in quantized_inputs for n in convs) > len(convs) // 2
    stem = next(n for n in convs if n.name.startswith("/encoder/conv_stem"))
    assert stem.input[1] not in quantized_inputs  # kept in float

    sample = load_motorcycle().resized(320)
    reference = fp32.predict(sample.rgb, intrinsics=sample.intrinsics).depth
    quantized = int8.predict(sample.rgb, intrinsics=sample.intrinsics).depth
    assert np.mean(np.abs(quantized - reference) / reference) < 0.1
