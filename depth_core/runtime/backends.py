"""Backends run a network on preprocessed numpy arrays and return its outputs as numpy arrays.
Each imports its framework only when built, so the ONNX Runtime path never loads torch."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from depth_core.metadata import ModelMetadata


class Backend(Protocol):
    name: str
    precision: str

    def run(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]: ...


class TorchBackend:
    def __init__(self, path: Path, device: str = "cpu"):
        import torch

        from depth_core.checkpoint import load_checkpoint

        self._torch = torch
        self.model, self.metadata = load_checkpoint(path)
        self.device = torch.device(device)
        self.model.to(self.device)
        self.name, self.precision = f"torch-{self.device.type}", "fp32"

    def run(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        torch = self._torch
        tensors = [torch.from_numpy(inputs[name]).to(self.device) for name in self.metadata.inputs]
        with torch.inference_mode():
            outputs = self.model(*tensors)
        return [o.float().cpu().numpy() for o in outputs]


class OnnxRuntimeBackend:
    def __init__(self, path: Path, device: str = "cpu", threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        available = ort.get_available_providers()
        wanted = ["CPUExecutionProvider"]
        if device.startswith("cuda"):
            wanted = [p for p in ("TensorrtExecutionProvider", "CUDAExecutionProvider")
                      if p in available] + wanted  # fmt: skip
        try:
            self.session = ort.InferenceSession(str(path), options, providers=wanted)
        except Exception as error:  # onnxruntime raises its own exception types
            raise ValueError(f"{path}: ONNX Runtime cannot load it: {error}") from None
        props = self.session.get_modelmeta().custom_metadata_map
        if "depth_ros" not in props:
            raise ValueError(f"{path}: ONNX file has no depth_ros metadata (export it with "
                             f"`depth-core export`)")  # fmt: skip
        self.metadata = ModelMetadata.from_json(props["depth_ros"], source=str(path))
        provider = self.session.get_providers()[0].replace("ExecutionProvider", "").lower()
        self.name, self.precision = f"onnxruntime-{provider}", "fp32"

    def run(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self.session.run(None, {name: inputs[name] for name in self.metadata.inputs})
