"""TensorRT engines from our ONNX files: operator check, build (FP16 / INT8) and cache.

Written to TensorRT 10's documented Python API (Builder, OnnxParser, build_serialized_network,
IInt8EntropyCalibrator2, Runtime). `tensorrt` is imported only inside the functions that need it,
so this module and the operator check work on machines without TensorRT. What an engine
is keyed by, and its sidecar, are `depth_core.engine_sidecar`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from depth_core.engine_sidecar import EngineKey, engine_environment, read_sidecar, write_sidecar
from depth_core.metadata import ModelMetadata, onnx_metadata, read_onnx_metadata

LOG = logging.getLogger(__name__)
OPERATOR_LIST = Path(__file__).with_name("tensorrt_onnx_ops.txt")
PRECISIONS = ("fp32", "fp16", "int8")
TENSORRT_RESIZE_MODES = {"nearest", "linear"}


@dataclass(frozen=True)
class TensorRTOperatorSupport:
    tensorrt_version: str
    operators: frozenset[str]


@cache
def tensorrt_operator_support() -> TensorRTOperatorSupport:
    """The ONNX operators TensorRT's parser supports, from the list kept in the repository."""
    version, operators = "unknown", set()
    for line in OPERATOR_LIST.read_text().splitlines():
        if line.startswith("# tensorrt_version:"):
            version = line.split(":", 1)[1].strip()
        elif line and not line.startswith("#"):
            operators.add(line.strip())
    return TensorRTOperatorSupport(version, frozenset(operators))


def tensorrt_graph_problems(proto: Any) -> list[str]:
    """Why TensorRT's ONNX parser would reject this graph (an empty list when it would not)."""
    support = tensorrt_operator_support()
    problems = []
    for node in proto.graph.node:
        if node.domain not in ("", "ai.onnx"):
            problems.append(f"{node.name}: custom-domain operator {node.domain}::{node.op_type}")
        elif node.op_type not in support.operators:
            problems.append(
                f"{node.name}: {node.op_type} is not supported by TensorRT "
                f"{support.tensorrt_version}"
            )
        elif node.op_type == "Resize":
            attributes = {a.name: a for a in node.attribute}
            mode = attributes["mode"].s.decode() if "mode" in attributes else "nearest"
            if mode not in TENSORRT_RESIZE_MODES:
                problems.append(f"{node.name}: Resize mode {mode!r} (TensorRT: nearest, linear)")
            if "antialias" in attributes and attributes["antialias"].i:
                problems.append(f"{node.name}: antialiased Resize")
    for value in list(proto.graph.input) + list(proto.graph.output):
        dims = value.type.tensor_type.shape.dim
        if any(not d.HasField("dim_value") for d in dims):
            problems.append(f"{value.name}: dynamic shape (engines are built for static shapes)")
    return problems


def build_engine(
    onnx_path: str | Path,
    engine_path: str | Path,
    precision: str = "fp16",
    calibration_dir: str | Path | None = None,
    workspace_gib: float = 2.0,
) -> EngineKey:
    """Parse our ONNX file, build a serialized engine, write it and its sidecar."""
    import onnx
    import tensorrt as trt

    onnx_path, engine_path = Path(onnx_path), Path(engine_path)
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "int8" and calibration_dir is None:
        raise ValueError("INT8 needs --calib DIR: a folder of representative RGB images")
    proto = onnx.load(str(onnx_path))
    metadata = onnx_metadata(proto, str(onnx_path))
    problems = tensorrt_graph_problems(proto)
    if problems:
        raise ValueError(f"{onnx_path}: TensorRT cannot parse it: " + "; ".join(problems))

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise ValueError(f"{onnx_path}: TensorRT's ONNX parser failed: {'; '.join(errors)}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)  # INT8 layers fall back to FP16, not FP32
    if precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
        config.int8_calibrator = _entropy_calibrator(
            metadata, calibration_dir, engine_path.with_suffix(".calib")
        )
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"{onnx_path}: TensorRT could not build an engine (see its log)")
    engine_path.write_bytes(bytes(serialized))
    gpu = engine_environment().gpu or "unknown"
    key = EngineKey(gpu, trt.__version__, metadata.content_hash, precision)
    write_sidecar(engine_path, key, metadata)
    LOG.info(
        "%s: built %s engine for %s, TensorRT %s", engine_path, precision, key.gpu, key.tensorrt
    )
    return key


def cached_engine(
    onnx_path: str | Path,
    cache_dir: str | Path,
    precision: str = "fp16",
    calibration_dir: str | Path | None = None,
) -> Path:
    """The engine for this ONNX file on this GPU, built on first use and rebuilt when stale."""
    metadata = read_onnx_metadata(onnx_path)
    here = engine_environment()
    if here.tensorrt is None or here.gpu is None:
        raise RuntimeError(
            "TensorRT engines need TensorRT and an NVIDIA GPU; this machine has "
            f"TensorRT {here.tensorrt}, GPU {here.gpu}"
        )
    key = EngineKey(here.gpu, here.tensorrt, metadata.content_hash, precision)
    engine_path = Path(cache_dir) / f"{key.file_stem()}.engine"
    if engine_path.is_file():
        try:
            cached_key, _ = read_sidecar(engine_path)
            if cached_key == key:
                return engine_path
            LOG.info("%s: stale (built for %s); rebuilding", engine_path, cached_key)
        except ValueError as error:
            LOG.warning("%s; rebuilding", error)
    engine_path.parent.mkdir(parents=True, exist_ok=True)
    build_engine(onnx_path, engine_path, precision, calibration_dir)
    return engine_path


def _entropy_calibrator(metadata: ModelMetadata, folder: str | Path, cache_file: Path):
    import tensorrt as trt
    import torch  # device buffers; every machine that builds engines here has torch

    from depth_core.export.calibration import calibration_batches

    batches = calibration_batches(metadata, folder)

    class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            super().__init__()
            self.index = 0
            self.device_inputs: dict[str, torch.Tensor] = {}

        def get_batch_size(self) -> int:
            return 1

        def get_batch(self, names: list[str]):
            if self.index >= len(batches):
                return None
            batch = batches[self.index]
            self.index += 1
            self.device_inputs = {n: torch.from_numpy(batch[n]).cuda() for n in names}
            return [int(self.device_inputs[n].data_ptr()) for n in names]

        def read_calibration_cache(self):
            return cache_file.read_bytes() if cache_file.is_file() else None

        def write_calibration_cache(self, cache: bytes) -> None:
            cache_file.write_bytes(bytes(cache))

    return EntropyCalibrator()
