"""ONNX export with static shapes (TensorRT-friendly)."""

from __future__ import annotations

from pathlib import Path

import onnx
import torch
from torch import nn

MIN_OPSET = 17


def export_onnx(
    model: nn.Module,
    example_inputs: tuple[torch.Tensor, ...],
    path: str | Path,
    input_names: list[str],
    output_names: list[str],
    opset: int = MIN_OPSET,
) -> onnx.ModelProto:
    """Export `model` in eval mode with the shapes of `example_inputs`; check the result."""
    if opset < MIN_OPSET:
        raise ValueError(f"opset must be ≥ {MIN_OPSET}, got {opset}")
    model = model.eval()
    with torch.no_grad():
        # The TorchScript-based exporter: mature, no onnxscript dependency, static shapes.
        torch.onnx.export(
            model, example_inputs, str(path), input_names=input_names,
            output_names=output_names, opset_version=opset, dynamo=False,
        )  # fmt: skip
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    return proto
