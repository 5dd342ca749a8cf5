"""Backends run a network on preprocessed numpy arrays and return its outputs as numpy arrays.
Each imports its framework only when built, so the ONNX Runtime path never loads torch."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from depth_core.metadata import ONNX_PRECISION_KEY, ModelMetadata, metadata_from_onnx_props

TORCH_COMPILE_MODES = (None, "inductor", "torch_tensorrt")


class Backend(Protocol):
    name: str
    precision: str
    metadata: ModelMetadata

    def run(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]: ...


class TorchBackend:
    """Eager torch on CPU or CUDA. On CUDA: optional FP16, CUDA-graph replay (static input
    buffers, one launch per frame) or compilation by torch.compile / torch-tensorrt."""

    def __init__(
        self,
        path: Path,
        device: str = "cpu",
        precision: str = "fp32",
        cuda_graphs: bool = False,
        compile_mode: str | None = None,
        threads: int | None = None,
    ):
        import torch

        if threads:
            torch.set_num_threads(threads)  # process-wide in torch, as intra_op threads in ORT

        from depth_core.checkpoint import load_checkpoint

        self._torch = torch
        self.model, self.metadata = load_checkpoint(path)
        self.device = torch.device(device)
        if precision not in ("fp32", "fp16"):
            raise ValueError(f"torch backend precision must be fp32 or fp16, got {precision!r}")
        if self.device.type != "cuda" and (precision == "fp16" or cuda_graphs or compile_mode):
            raise ValueError("fp16, CUDA graphs and compilation need device='cuda'")
        if compile_mode not in TORCH_COMPILE_MODES:
            raise ValueError(f"compile_mode must be one of {TORCH_COMPILE_MODES}")
        self.dtype = torch.float16 if precision == "fp16" else torch.float32
        self.model.to(self.device, self.dtype)
        height, width = self.metadata.input_size
        self._static = [
            torch.zeros(
                1,
                1 if name == "raw_depth" else 3,
                height,
                width,
                device=self.device,
                dtype=self.dtype,
            )
            for name in self.metadata.inputs
        ]
        self._forward = self._compiled(compile_mode) if compile_mode else self.model
        self._graph = self._capture() if cuda_graphs else None
        suffix = "-cudagraph" if cuda_graphs else f"-{compile_mode}" if compile_mode else ""
        self.name, self.precision = f"torch-{self.device.type}{suffix}", precision

    def _compiled(self, mode: str):
        torch = self._torch
        if mode == "inductor":
            return torch.compile(self.model, mode="max-autotune-no-cudagraphs")
        import torch_tensorrt

        return torch_tensorrt.compile(
            self.model, ir="dynamo", inputs=self._static, enabled_precisions={self.dtype}
        )

    def _capture(self):
        torch = self._torch
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream), torch.inference_mode():
            for _ in range(3):  # warm-up outside the graph: cuDNN picks its kernels here
                self._forward(*self._static)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph), torch.inference_mode():
            self._graph_outputs = self._forward(*self._static)
        return graph

    def run(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        torch = self._torch
        with torch.inference_mode():
            for buffer, name in zip(self._static, self.metadata.inputs, strict=True):
                buffer.copy_(torch.from_numpy(inputs[name]), non_blocking=False)
            if self._graph is not None:
                self._graph.replay()
                outputs = self._graph_outputs
            else:
                outputs = self._forward(*self._static)
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
            wanted = [
                p for p in ("TensorrtExecutionProvider", "CUDAExecutionProvider") if p in available
            ] + wanted
        try:
            self.session = ort.InferenceSession(str(path), options, providers=wanted)
        except Exception as error:  # onnxruntime raises its own exception types
            raise ValueError(f"{path}: ONNX Runtime cannot load it: {error}") from None
        props = self.session.get_modelmeta().custom_metadata_map
        self.metadata = metadata_from_onnx_props(props, str(path))
        provider = self.session.get_providers()[0].replace("ExecutionProvider", "").lower()
        self.name = f"onnxruntime-{provider}"
        self.precision = props.get(ONNX_PRECISION_KEY, "fp32")  # int8: export --onnx-int8

    def run(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self.session.run(None, {name: inputs[name] for name in self.metadata.inputs})


class TensorRTBackend:
    """A serialized TensorRT engine with its sidecar; I/O buffers are torch CUDA tensors."""

    def __init__(self, path: Path):
        from depth_core.engine_sidecar import check_engine_key, engine_environment, read_sidecar

        key, self.metadata = read_sidecar(path)  # before TensorRT: a foreign engine is named
        check_engine_key(path, key, engine_environment())
        import tensorrt as trt
        import torch

        self._torch = torch
        self._runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = self._runtime.deserialize_cuda_engine(Path(path).read_bytes())
        if self.engine is None:
            raise ValueError(f"{path}: TensorRT cannot deserialize it (truncated or corrupt?)")
        self.context = self.engine.create_execution_context()
        self.buffers: dict[str, torch.Tensor] = {}
        for index in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(index)
            shape = tuple(self.engine.get_tensor_shape(name))
            dtype = (
                torch.float16
                if self.engine.get_tensor_dtype(name) == trt.float16
                else torch.float32
            )
            self.buffers[name] = torch.empty(shape, dtype=dtype, device="cuda")
            self.context.set_tensor_address(name, self.buffers[name].data_ptr())
        self.name, self.precision = "tensorrt", key.precision

    def run(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        torch = self._torch
        for name in self.metadata.inputs:
            self.buffers[name].copy_(torch.from_numpy(inputs[name]))
        stream = torch.cuda.current_stream()
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise RuntimeError("TensorRT execution failed")
        stream.synchronize()
        return [self.buffers[name].float().cpu().numpy() for name in self.metadata.outputs]
