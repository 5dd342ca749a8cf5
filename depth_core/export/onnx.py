"""ONNX export with static shapes (TensorRT-friendly)."""

from __future__ import annotations

import logging
from pathlib import Path

import onnx
import torch
from torch import nn

from depth_core.metadata import ONNX_METADATA_KEY, set_onnx_prop

LOG = logging.getLogger(__name__)
MIN_OPSET = 17


def export_onnx(
    model: nn.Module,
    example_inputs: tuple[torch.Tensor, ...],
    path: str | Path,
    input_names: list[str],
    output_names: list[str],
    opset: int = MIN_OPSET,
    simplify: bool = True,
) -> onnx.ModelProto:
    """Export `model` in eval mode with the shapes of `example_inputs`; check the result.

    `simplify` folds what is constant at this input size (timm's TF "same" padding computes
    its pads from Shape ops) with onnxslim, kept only when it checks and is smaller."""
    if opset < MIN_OPSET:
        raise ValueError(f"opset must be ≥ {MIN_OPSET}, got {opset}")
    model = model.eval()
    with torch.no_grad():
        # The TorchScript-based exporter: mature, no onnxscript dependency, static shapes.
        torch.onnx.export(
            model,
            example_inputs,
            str(path),
            input_names=input_names,
            output_names=output_names,
            opset_version=opset,
            dynamo=False,
        )
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    if simplify:
        proto = _simplified(proto)
        onnx.save(proto, str(path))
    return proto


def _simplified(proto: onnx.ModelProto) -> onnx.ModelProto:
    import onnxslim

    slim = onnxslim.slim(proto)
    onnx.checker.check_model(slim)
    before, after = len(proto.graph.node), len(slim.graph.node)
    if after >= before:
        return proto
    LOG.info("onnxslim: %d -> %d nodes", before, after)
    return slim


def export_checkpoint(checkpoint: str | Path, onnx_path: str | Path, opset: int = MIN_OPSET):
    """Checkpoint -> ONNX at the checkpoint's input size, metadata in metadata_props."""
    from depth_core.checkpoint import load_checkpoint

    model, metadata = load_checkpoint(checkpoint)
    height, width = metadata.input_size
    example = [torch.zeros(1, 3, height, width)]
    if "raw_depth" in metadata.inputs:
        example.append(torch.ones(1, 1, height, width))
    proto = export_onnx(
        model, tuple(example), onnx_path, list(metadata.inputs), list(metadata.outputs), opset
    )
    set_onnx_prop(proto, ONNX_METADATA_KEY, metadata.to_json())
    onnx.save(proto, str(onnx_path))
    return proto


def save_and_export(model: nn.Module, checkpoint: str | Path, metadata, opset: int = MIN_OPSET):
    """Save the checkpoint and export it to ONNX beside it (same name, .onnx); returns that
    path. `metadata` is a `ModelMetadata` (e.g. from `checkpoint.describe`)."""
    from depth_core.checkpoint import save_checkpoint

    save_checkpoint(model, checkpoint, metadata)
    onnx_path = Path(checkpoint).with_suffix(".onnx")
    export_checkpoint(checkpoint, onnx_path, opset)
    return onnx_path
