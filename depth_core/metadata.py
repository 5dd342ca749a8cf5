"""Model metadata that travels with every checkpoint, ONNX file and engine, and how an ONNX
file carries it (its metadata_props). No torch here."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "depth_ros.model/1"
# ONNX metadata_props key holding the ModelMetadata JSON.
ONNX_METADATA_KEY = "depth_ros"
# ONNX metadata_props key naming a file's arithmetic ("int8" after quantize_int8; absent = fp32).
ONNX_PRECISION_KEY = "depth_ros.precision"


@dataclass
class ModelMetadata:
    model_name: str
    model_config: dict[str, Any]
    input_size: tuple[int, int]  # (height, width) the network runs at
    mean: tuple[float, ...]
    std: tuple[float, ...]
    inputs: tuple[str, ...] = ("rgb",)  # plus "raw_depth" for recovery models
    outputs: tuple[str, ...] = ("depth", "log_sigma")
    depth_units: str = "m"
    uncertainty_kind: str = "laplace_log_b"
    sigma_scale: float = 1.0  # calibration temperature on σ, fitted on held-out data
    # σ of the model's global scale error as a fraction of depth (monocular metric depth),
    # fitted on held-out data and added in quadrature to the per-pixel σ.
    relative_sigma: float = 0.0
    # With a ground plane: the scale's σ (fraction of depth) beyond the plane fit's own spread,
    # in quadrature, fitted on real validation sources (the network's plane can bend).
    plane_relative_sigma: float = 0.0
    canonical_focal_px: float | None = None  # focal length at input_size, if trained so
    training_data: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    content_hash: str = ""
    format: str = FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = "metadata") -> ModelMetadata:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"{source}: metadata is not valid JSON ({error})") from error
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"{source}: not depth_ros model metadata (format {FORMAT} expected)")
        try:
            data["input_size"] = tuple(data["input_size"])
            for key in ("mean", "std", "inputs", "outputs"):
                data[key] = tuple(data[key])
            return cls(**data)
        except (KeyError, TypeError) as error:
            raise ValueError(f"{source}: incomplete or unknown metadata fields ({error})") from None


def metadata_from_onnx_props(props: dict[str, str], source: str) -> ModelMetadata:
    """The ModelMetadata in an ONNX file's metadata_props (read by onnx or ONNX Runtime)."""
    if ONNX_METADATA_KEY not in props:
        raise ValueError(
            f"{source}: ONNX file has no depth_ros metadata (export it with `depth-core export`)"
        )
    return ModelMetadata.from_json(props[ONNX_METADATA_KEY], source=source)


def onnx_metadata(proto: Any, source: str) -> ModelMetadata:
    """The ModelMetadata of a loaded ONNX ModelProto."""
    return metadata_from_onnx_props({p.key: p.value for p in proto.metadata_props}, source)


def read_onnx_metadata(onnx_path: str | Path) -> ModelMetadata:
    """The ModelMetadata of an ONNX file, without loading its weights."""
    import onnx

    return onnx_metadata(onnx.load(str(onnx_path), load_external_data=False), str(onnx_path))


def set_onnx_prop(proto: Any, key: str, value: str) -> None:
    """Set (not append) one metadata_props entry of an ONNX ModelProto."""
    for entry in proto.metadata_props:
        if entry.key == key:
            entry.value = value
            return
    entry = proto.metadata_props.add()
    entry.key, entry.value = key, value
