"""`DepthEstimator`: what the nodes call, whatever the backend."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from depth_core.geometry import Intrinsics
from depth_core.metadata import ModelMetadata
from depth_core.processing import focal_scale, postprocess, preprocess_raw_depth, preprocess_rgb
from depth_core.runtime.backends import Backend, OnnxRuntimeBackend, TorchBackend

LOG = logging.getLogger(__name__)

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt")


@dataclass
class DepthResult:
    depth: np.ndarray  # HxW float32 metres at the input resolution
    sigma: np.ndarray  # HxW float32 metres: standard deviation of the depth error


class DepthEstimator:
    def __init__(self, backend: Backend, source: str):
        self.backend = backend
        self.metadata: ModelMetadata = backend.metadata
        self.source = source
        self._warned_canonical = False

    @classmethod
    def load(
        cls, path: str | Path, backend: str = "auto", device: str = "cpu",
        threads: int | None = None,
    ) -> DepthEstimator:  # fmt: skip
        """A checkpoint (.pt/.pth/.ckpt) runs on torch; an .onnx file on ONNX Runtime."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such model file")
        suffix = path.suffix.lower()
        if suffix == ".onnx" and backend in ("auto", "onnxruntime"):
            chosen = OnnxRuntimeBackend(path, device, threads)
        elif suffix in CHECKPOINT_SUFFIXES and backend in ("auto", "torch"):
            chosen = TorchBackend(path, device)
        elif suffix == ".engine":
            raise ValueError(f"{path}: TensorRT engines need the TensorRT backend, which is "
                             f"not part of this build")  # fmt: skip
        else:
            raise ValueError(f"{path}: backend {backend!r} cannot run a {suffix or 'suffix-less'} "
                             f"file")  # fmt: skip
        LOG.info("%s: running on %s (%s)", path.name, chosen.name, chosen.precision)
        return cls(chosen, str(path))

    def predict(
        self,
        rgb: np.ndarray,
        raw_depth: np.ndarray | None = None,
        intrinsics: Intrinsics | None = None,
    ) -> DepthResult:
        """rgb: HxWx3 uint8 RGB. raw_depth: metres (0/NaN = missing), required by recovery
        models, same field of view as rgb. Returns depth and σ at the RGB's resolution."""
        meta = self.metadata
        inputs = {"rgb": preprocess_rgb(rgb, meta.input_size, meta.mean, meta.std)}
        if "raw_depth" in meta.inputs:
            if raw_depth is None:
                raise ValueError(f"{self.source}: {meta.model_name} needs raw_depth")
            inputs["raw_depth"] = preprocess_raw_depth(raw_depth, meta.input_size)
        if (
            meta.canonical_focal_px is not None
            and intrinsics is None
            and not self._warned_canonical
        ):
            LOG.warning("%s: no intrinsics given; assuming the canonical camera (f = %.1f px at "
                        "%s)", self.source, meta.canonical_focal_px, meta.input_size)  # fmt: skip
            self._warned_canonical = True
        scale = focal_scale(intrinsics, meta.input_size, meta.canonical_focal_px)
        outputs = self.backend.run(inputs)
        depth, sigma = postprocess(outputs[0], outputs[1], rgb.shape[:2], meta.uncertainty_kind,
                                   scale)  # fmt: skip
        return DepthResult(depth, sigma)
