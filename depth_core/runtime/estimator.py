"""`DepthEstimator`: what the nodes call, whatever the backend."""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from depth_core.geometry import Intrinsics
from depth_core.metadata import ModelMetadata
from depth_core.processing import focal_scale, model_inputs, postprocess, with_scale_uncertainty
from depth_core.runtime.backends import (
    Backend,
    OnnxRuntimeBackend,
    TensorRTBackend,
    TorchBackend,
)
from depth_core.runtime.plane_scale import GroundPlane, PlaneScale, fit_plane_scale

LOG = logging.getLogger(__name__)

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")
BACKEND_FILES = {  # which files each backend runs; checkpoints are exported on the way
    "torch": ("checkpoint",),
    "onnxruntime": ("checkpoint", "onnx"),
    "tensorrt": ("checkpoint", "onnx", "engine"),
}


def threads_per_worker(workers: int) -> int:
    """CPU inference threads for each of `workers` model instances that share this process's
    cores: the usable cores divided among them, at least one each. More threads than cores
    only make the instances take turns."""
    return max(1, len(os.sched_getaffinity(0)) // max(1, workers))


def choose_backend(kind: str, device: str) -> str:
    """The fastest backend available for this file on this device. The order is measured
    (docs/benchmarks.md): TensorRT > torch CUDA FP16 with CUDA graphs on a GPU; ONNX Runtime
    > torch eager on a CPU."""
    if kind == "engine":
        return "tensorrt"
    if device.startswith("cuda"):
        from depth_core.engine_sidecar import engine_environment

        here = engine_environment()
        if here.tensorrt and here.gpu:
            return "tensorrt"
        return "torch" if kind == "checkpoint" else "onnxruntime"
    if importlib.util.find_spec("onnxruntime") is not None:
        return "onnxruntime"
    return "torch"


def _cached_onnx(checkpoint: Path, cache_dir: Path) -> Path:
    """The checkpoint's ONNX export, made once per content hash."""
    from depth_core.checkpoint import read_metadata
    from depth_core.export.onnx import export_checkpoint

    metadata = read_metadata(checkpoint)
    height, width = metadata.input_size
    onnx_path = cache_dir / f"{metadata.content_hash[:16]}-{height}x{width}.onnx"
    if not onnx_path.is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = onnx_path.with_suffix(".partial")
        export_checkpoint(checkpoint, partial)
        partial.replace(onnx_path)  # atomic: a crash never leaves half a file in the cache
        LOG.info("%s: exported to %s", checkpoint.name, onnx_path)
    return onnx_path


@dataclass
class DepthResult:
    depth: np.ndarray  # HxW float32 metres at the input resolution
    sigma: np.ndarray  # HxW float32 metres: standard deviation of the depth error
    # Where the metric scale came from: "plane" (a ground plane was given and found),
    # "learned" (the network's own scale) or "raw" (a recovery model's raw depth).
    scale_source: str = "learned"
    plane: PlaneScale | None = None  # the plane fit, when a ground plane was given


class DepthEstimator:
    def __init__(self, backend: Backend, source: str):
        self.backend = backend
        self.metadata: ModelMetadata = backend.metadata
        self.source = source
        self._warned_canonical = False

    @classmethod
    def load(
        cls,
        path: str | Path,
        backend: str = "auto",
        device: str = "cpu",
        threads: int | None = None,
        precision: str = "auto",
        cuda_graphs: bool | None = None,
        compile_mode: str | None = None,
        cache_dir: str | Path | None = None,
    ) -> DepthEstimator:
        """Load a checkpoint (.pt/.pth/.ckpt), an .onnx file or a TensorRT .engine.

        backend: auto | torch | onnxruntime | tensorrt. `auto` picks the fastest one this
        machine has (see `choose_backend`) and logs its choice; checkpoints are exported to
        ONNX or built into engines in `cache_dir` when that is what it picks."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such model file")
        suffix = path.suffix.lower()
        kind = {".onnx": "onnx", ".engine": "engine"}.get(suffix)
        kind = "checkpoint" if suffix in CHECKPOINT_SUFFIXES else kind
        if kind is None:
            raise ValueError(
                f"{path}: unknown model file type {suffix or '(no suffix)'}; expected "
                f"{', '.join(CHECKPOINT_SUFFIXES)}, .onnx or .engine"
            )
        if backend == "auto":
            backend = choose_backend(kind, device)
        if backend not in BACKEND_FILES:
            raise ValueError(f"unknown backend {backend!r}; choose from {sorted(BACKEND_FILES)}")
        if kind not in BACKEND_FILES[backend]:
            raise ValueError(f"{path}: backend {backend!r} cannot run a {kind} file")
        on_gpu = device.startswith("cuda")
        precision = ("fp16" if on_gpu else "fp32") if precision == "auto" else precision
        cache = Path(cache_dir or os.environ.get("DEPTH_ROS_CACHE", "~/.cache/depth_ros"))
        cache = cache.expanduser()
        if backend == "torch":
            graphs = on_gpu and compile_mode is None if cuda_graphs is None else cuda_graphs
            chosen: Backend = TorchBackend(path, device, precision, graphs, compile_mode, threads)
        else:
            onnx_path = _cached_onnx(path, cache) if kind == "checkpoint" else path
            if backend == "onnxruntime":
                chosen = OnnxRuntimeBackend(onnx_path, device, threads)
            else:
                from depth_core.export.tensorrt import cached_engine

                engine = path if kind == "engine" else cached_engine(onnx_path, cache, precision)
                chosen = TensorRTBackend(engine)
        LOG.info("%s: running on %s (%s)", path.name, chosen.name, chosen.precision)
        return cls(chosen, str(path))

    def predict(
        self,
        rgb: np.ndarray,
        raw_depth: np.ndarray | None = None,
        intrinsics: Intrinsics | None = None,
        output_size: tuple[int, int] | None = None,
        ground_plane: GroundPlane | None = None,
    ) -> DepthResult:
        """rgb: HxWx3 uint8 RGB. raw_depth: metres (0/NaN = missing), required by recovery
        models, same field of view as rgb (any resolution). Returns depth and σ at
        `output_size` (height, width), by default the RGB's resolution.

        ground_plane (monocular models; needs `intrinsics`): a support plane the robot knows
        (plane_scale). Where its pixels are found, depth is scaled to put them on it and σ
        carries the fit's spread instead of the learned scale's uncertainty; where they are
        not, the learned scale stays and `result.plane.reason` says why."""
        meta = self.metadata
        takes_raw = "raw_depth" in meta.inputs
        if ground_plane is not None and takes_raw:
            raise ValueError(
                f"{self.source}: ground_plane is for monocular models; a recovery "
                "model takes its scale from the raw depth"
            )
        if (
            meta.canonical_focal_px is not None
            and intrinsics is None
            and not self._warned_canonical
        ):
            LOG.warning(
                "%s: no intrinsics given; assuming the canonical camera (f = %.1f px at %s)",
                self.source,
                meta.canonical_focal_px,
                meta.input_size,
            )
            self._warned_canonical = True
        scale = focal_scale(intrinsics, meta.input_size, meta.canonical_focal_px)
        try:
            inputs = model_inputs(rgb, raw_depth, meta, scale)
        except ValueError as error:
            raise ValueError(f"{self.source}: {error}") from None
        outputs = self.backend.run(inputs)
        misalignment = (
            outputs[meta.outputs.index("misalignment_logit")]
            if takes_raw and "misalignment_logit" in meta.outputs
            else None
        )
        depth, sigma = postprocess(
            outputs[0],
            outputs[1],
            output_size or rgb.shape[:2],
            meta.uncertainty_kind,
            scale,
            meta.sigma_scale,
            raw_depth if takes_raw else None,
            meta.relative_sigma if takes_raw else 0.0,
            rgb,
            misalignment,
        )
        if takes_raw:
            return DepthResult(depth, sigma, "raw")
        fit = None
        if ground_plane is not None:
            fit = (
                fit_plane_scale(depth, intrinsics, ground_plane)
                if intrinsics is not None
                else PlaneScale(None, 0, 0.0, 0.0, "no camera intrinsics")
            )
        if fit is not None and fit.scale is not None:
            factor = np.float32(fit.scale)
            depth, sigma = depth * factor, sigma * factor
            relative = float(np.hypot(fit.relative_sigma, meta.plane_relative_sigma))
            return DepthResult(depth, with_scale_uncertainty(sigma, depth, relative), "plane", fit)
        return DepthResult(
            depth, with_scale_uncertainty(sigma, depth, meta.relative_sigma), "learned", fit
        )
