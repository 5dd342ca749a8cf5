"""What a TensorRT engine is valid for, and the JSON sidecar beside it that says so: written
when `depth-core export --tensorrt` builds an engine, read before the runtime loads one. It
imports neither TensorRT nor torch, so a foreign or stale engine is named on any machine."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from depth_core.metadata import ModelMetadata

SIDECAR_FORMAT = "depth_ros.engine/1"


class EngineMismatchError(ValueError):
    """An engine built for another GPU, TensorRT version, model or precision."""


@dataclass(frozen=True)
class EngineKey:
    """What an engine is valid for. Any difference means rebuild."""

    gpu: str
    tensorrt: str
    model_hash: str
    precision: str

    def file_stem(self) -> str:
        digest = hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()
        return f"{self.model_hash[:12]}-{self.precision}-{digest[:12]}"


@dataclass(frozen=True)
class EngineEnvironment:
    gpu: str | None  # None: no NVIDIA GPU visible
    tensorrt: str | None  # None: TensorRT not importable


def engine_environment() -> EngineEnvironment:
    """The GPU name and TensorRT version an engine built here would be keyed by."""
    try:
        import tensorrt as trt

        version = trt.__version__
    except ImportError:
        version = None
    return EngineEnvironment(_gpu_name(), version)


def _gpu_name() -> str | None:
    if shutil.which("nvidia-smi"):
        result = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader", "--id=0"],
            capture_output=True,
            text=True,
        )
        if result.returncode == 0 and result.stdout.strip():
            return result.stdout.strip().splitlines()[0]
    return None


def sidecar_path(engine_path: str | Path) -> Path:
    engine_path = Path(engine_path)
    return engine_path.with_name(engine_path.name + ".json")


def write_sidecar(engine_path: Path, key: EngineKey, metadata: ModelMetadata) -> None:
    payload = {"format": SIDECAR_FORMAT, "key": asdict(key), "metadata": metadata.to_json()}
    sidecar_path(engine_path).write_text(json.dumps(payload, indent=2, sort_keys=True))


def read_sidecar(engine_path: str | Path) -> tuple[EngineKey, ModelMetadata]:
    """The key and model metadata an engine was built with; errors name the file."""
    path = sidecar_path(engine_path)
    if not path.is_file():
        raise ValueError(
            f"{engine_path}: no sidecar {path.name}; an engine is only usable "
            f"with the JSON `depth-core export --tensorrt` writes"
        )
    try:
        payload = json.loads(path.read_text())
        if payload.get("format") != SIDECAR_FORMAT:
            raise ValueError(f"format {SIDECAR_FORMAT} expected")
        key = EngineKey(**payload["key"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"{path}: not a depth_ros engine sidecar ({error})") from None
    return key, ModelMetadata.from_json(payload["metadata"], source=str(path))


def check_engine_key(engine_path: str | Path, key: EngineKey, here: EngineEnvironment) -> None:
    """Refuse, by name, an engine built for another GPU or TensorRT version than this machine's."""
    differences = []
    if key.gpu != here.gpu:
        differences.append(f"GPU {key.gpu!r}, this machine has {here.gpu or 'no NVIDIA GPU'!r}")
    if key.tensorrt != here.tensorrt:
        differences.append(
            f"TensorRT {key.tensorrt}, this machine has {here.tensorrt or 'no TensorRT'}"
        )
    if differences:
        raise EngineMismatchError(
            f"{engine_path}: built for {'; '.join(differences)}. Engines are not portable: "
            f"rebuild it here with `depth-core export CKPT --tensorrt {engine_path}`"
        )
