"""TensorRT path: the operator check runs everywhere (CI included); engine build, parity and
cache tests need `tensorrt` and a CUDA GPU and skip, saying so, where either is missing."""

import importlib.util
import json

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from depth_core.checkpoint import MODEL_IO, describe
from depth_core.engine_sidecar import (
    EngineEnvironment,
    EngineKey,
    EngineMismatchError,
    check_engine_key,
    engine_environment,
    read_sidecar,
    write_sidecar,
)
from depth_core.export.onnx import export_onnx, save_and_export
from depth_core.export.tensorrt import tensorrt_graph_problems, tensorrt_operator_support
from depth_core.models import build_model, registered_models
from depth_core.runtime import DepthEstimator

INPUT_SIZE = (240, 320)
HAVE_TENSORRT = importlib.util.find_spec("tensorrt") is not None and torch.cuda.is_available()
needs_tensorrt = pytest.mark.skipif(
    not HAVE_TENSORRT,
    reason="TensorRT is not importable here (PyPI's tensorrt-cu* libs are download stubs; "
    "install it from NVIDIA) or there is no CUDA GPU",
)


def test_operator_list_names_its_tensorrt_version():
    support = tensorrt_operator_support()
    assert support.tensorrt_version.startswith("10.")
    assert {"Conv", "Resize", "Softplus", "Exp"} <= support.operators
    assert "Unique" not in support.operators  # marked N in TensorRT's own list


@pytest.mark.parametrize("name", registered_models())
@pytest.mark.slow
def test_every_exported_graph_uses_only_tensorrt_operators(name, tmp_path):
    model = build_model(name).eval()
    inputs = [torch.zeros(1, 3, *INPUT_SIZE)]
    if name == "depth_recovery":
        inputs.append(torch.ones(1, 1, *INPUT_SIZE))
    names = ["rgb", "raw_depth"][: len(inputs)]
    outputs = MODEL_IO[name][1] if name in MODEL_IO else ("disparity",)
    proto = export_onnx(model, tuple(inputs), tmp_path / "m.onnx", names, list(outputs))
    assert tensorrt_graph_problems(proto) == []


def test_operator_check_catches_what_tensorrt_rejects():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3, 8, 8])
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, 2, 2])
    nodes = [
        helper.make_node("Resize", ["x", "", "scales"], ["r"], name="up", mode="cubic"),
        helper.make_node("Unique", ["r"], ["y"], name="uniq"),
    ]
    proto = helper.make_model(helper.make_graph(nodes, "g", [x], [y], [scales]))
    problems = tensorrt_graph_problems(proto)
    assert any("up: Resize mode 'cubic'" in p for p in problems)
    assert any("uniq: Unique is not supported by TensorRT 10" in p for p in problems)
    assert any("y: dynamic shape" in p for p in problems)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("trt")
    model = build_model("transfer_monocular").eval()
    checkpoint = folder / "model.pt"
    return checkpoint, save_and_export(model, checkpoint, describe(model, INPUT_SIZE))


def _metadata(onnx_path):
    from depth_core.metadata import ModelMetadata

    props = {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}
    return ModelMetadata.from_json(props["depth_ros"])


def test_engine_from_another_gpu_is_refused_by_name(exported, tmp_path):
    _, onnx_path = exported
    engine = tmp_path / "foreign.engine"
    engine.write_bytes(b"serialized engine from elsewhere")
    metadata = _metadata(onnx_path)
    key = EngineKey("NVIDIA A100-SXM4-80GB", "10.3.0", metadata.content_hash, "fp16")
    write_sidecar(engine, key, metadata)
    assert read_sidecar(engine) == (key, metadata)
    here = EngineEnvironment("NVIDIA H100 80GB HBM3", "10.3.0")
    with pytest.raises(EngineMismatchError, match="foreign.engine: built for GPU 'NVIDIA A100"):
        check_engine_key(engine, key, here)
    check_engine_key(engine, key, EngineEnvironment(key.gpu, key.tensorrt))  # same key: fine
    # Through the estimator, on this machine (whatever it has): refused before TensorRT loads.
    if engine_environment() != EngineEnvironment(key.gpu, key.tensorrt):
        with pytest.raises(EngineMismatchError, match="foreign.engine: built for"):
            DepthEstimator.load(engine)


def test_engine_without_or_with_a_corrupt_sidecar_is_refused(tmp_path):
    engine = tmp_path / "lonely.engine"
    engine.write_bytes(b"\x00" * 64)
    with pytest.raises(ValueError, match="lonely.engine: no sidecar lonely.engine.json"):
        DepthEstimator.load(engine)
    (tmp_path / "lonely.engine.json").write_text("{not json")
    with pytest.raises(ValueError, match="lonely.engine.json: not a depth_ros engine sidecar"):
        DepthEstimator.load(engine)


def test_engine_keys_name_distinct_cache_files():
    a = EngineKey("gpu", "10.3.0", "ab" * 32, "fp16")
    assert a.file_stem() == EngineKey("gpu", "10.3.0", "ab" * 32, "fp16").file_stem()
    for other in (
        EngineKey("gpu2", "10.3.0", "ab" * 32, "fp16"),
        EngineKey("gpu", "10.4.0", "ab" * 32, "fp16"),
        EngineKey("gpu", "10.3.0", "cd" * 32, "fp16"),
        EngineKey("gpu", "10.3.0", "ab" * 32, "int8"),
    ):
        assert other.file_stem() != a.file_stem()


@needs_tensorrt
@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_engine_build_and_parity_with_torch(exported, tmp_path, precision):
    import cv2

    from depth_core.data.middlebury import load_motorcycle
    from depth_core.export.tensorrt import build_engine

    checkpoint, onnx_path = exported
    frame = load_motorcycle()
    calibration = tmp_path / "calib"
    calibration.mkdir()
    for i in range(4):  # real frame crops as calibration images
        crop = frame.rgb[i * 40 : i * 40 + 400, i * 60 : i * 60 + 600]
        cv2.imwrite(str(calibration / f"{i}.png"), crop[..., ::-1])
    engine = tmp_path / f"model-{precision}.engine"
    key = build_engine(onnx_path, engine, precision, calibration if precision == "int8" else None)
    assert key.precision == precision and json.loads((tmp_path / f"{engine.name}.json").read_text())
    trt_result = DepthEstimator.load(engine).predict(frame.rgb)
    reference = DepthEstimator.load(checkpoint, backend="torch").predict(frame.rgb)
    abs_rel = np.mean(np.abs(trt_result.depth - reference.depth) / reference.depth)
    assert abs_rel < (0.01 if precision == "fp16" else 0.05)


@needs_tensorrt
def test_engine_cache_rebuilds_a_stale_engine(exported, tmp_path):
    from depth_core.export.tensorrt import cached_engine

    _, onnx_path = exported
    first = cached_engine(onnx_path, tmp_path, "fp16")
    stamp = first.stat().st_mtime_ns
    assert cached_engine(onnx_path, tmp_path, "fp16") == first
    assert first.stat().st_mtime_ns == stamp  # reused
    key, metadata = read_sidecar(first)
    stale = EngineKey(key.gpu, "9.0.0", key.model_hash, key.precision)
    write_sidecar(first, stale, metadata)
    assert cached_engine(onnx_path, tmp_path, "fp16") == first
    assert read_sidecar(first)[0] == key  # rebuilt for this TensorRT
    first.write_bytes(first.read_bytes()[:100])
    with pytest.raises(ValueError, match="cannot deserialize it"):
        DepthEstimator.load(first)
