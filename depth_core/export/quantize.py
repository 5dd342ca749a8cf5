"""INT8 ONNX for the CPU: ONNX Runtime static quantization of an exported model.

EfficientNet-Lite was designed to quantize (ReLU6, no squeeze-excite), and on this project's
2-core AVX2 CPU the monocular network runs 1.2-1.4x faster in INT8. Measure before shipping one:
quantized, the monocular network's depth moved by 5% on average on real frames, and the
recovery network is slower in INT8 (its raw-depth filling and attention stay in float and
pay for the conversions)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import onnx

from depth_core.metadata import ONNX_PRECISION_KEY, read_onnx_metadata, set_onnx_prop

# Kept in float: the full-resolution first stage and the output head. Quantizing them moved
# the shipped monocular model's depth by 14% on average on real frames (by 5% without them).
FLOAT_PREFIXES = ("/encoder/conv_stem", "/encoder/bn1", "/encoder/blocks.0/", "/head/")


def quantize_int8(
    onnx_path: str | Path,
    out_path: str | Path,
    batches: Iterable[dict[str, np.ndarray]],
    float_prefixes: tuple[str, ...] = FLOAT_PREFIXES,
) -> onnx.ModelProto:
    """`onnx_path` (an exported depth_ros model) -> `out_path`: QDQ format, per-channel int8
    weights, uint8 activations whose ranges are the 0.001-99.999 percentiles over `batches`
    (the network's preprocessed inputs, see depth_core.export.calibration). Nodes whose names
    start with one of `float_prefixes` stay in float. Keeps the depth_ros metadata."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    batches = list(batches)
    if not batches:
        raise ValueError("INT8 quantization needs at least one calibration frame")
    read_onnx_metadata(onnx_path)  # refuses, by name, a file depth-core did not export

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.remaining = iter(batches)

        def get_next(self):
            return next(self.remaining, None)

    with tempfile.TemporaryDirectory() as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(str(onnx_path), str(prepared))  # shape inference and fusions first
        kept = [
            n.name for n in onnx.load(str(prepared)).graph.node if n.name.startswith(float_prefixes)
        ]
        quantize_static(
            str(prepared),
            str(out_path),
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=kept,
            calibrate_method=CalibrationMethod.Percentile,
        )
    proto = onnx.load(str(out_path))
    set_onnx_prop(proto, ONNX_PRECISION_KEY, "int8")
    onnx.save(proto, str(out_path))
    return proto


def quantize_exported(
    onnx_path: str | Path,
    out_path: str | Path,
    calib_folder: str | Path | None = None,
    calib_scenes: int | None = None,
) -> Path:
    """The INT8 copy of an exported model, calibrated on a folder of frames or on
    `calib_scenes` generated ones (exactly one of the two)."""
    from depth_core.export import calibration

    if (calib_folder is None) == (calib_scenes is None):
        raise ValueError("INT8 calibration needs exactly one of a folder and a scene count")
    metadata = read_onnx_metadata(onnx_path)
    batches = (
        calibration.calibration_batches(metadata, calib_folder)
        if calib_folder is not None
        else calibration.scene_calibration_batches(metadata, calib_scenes)
    )
    quantize_int8(onnx_path, out_path, batches)
    return Path(out_path)
