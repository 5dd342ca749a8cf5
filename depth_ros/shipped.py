"""The trained models that ship with the package (the README says what they are,
docs/results.md how well they do). ONNX files, so a robot needs ONNX Runtime, not torch; the
checkpoints beside them are for fine-tuning and re-export. The monocular node runs the INT8
copy (`depth-core export --onnx-int8`), faster on a CPU at the float model's accuracy
(docs/benchmarks.md). GPU users point model_path at monocular.onnx or monocular.pt."""

from __future__ import annotations

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent / "models"
SHIPPED = {"monocular_depth": "monocular_int8.onnx", "depth_recovery": "recovery.onnx"}
# The float checkpoint each shipped file was exported from.
SOURCE_CHECKPOINTS = {"monocular_depth": "monocular.pt", "depth_recovery": "recovery.pt"}


def shipped_model(node: str) -> Path:
    """The default model of a depth node; a clear error if the install lacks it."""
    path = MODELS_DIR / SHIPPED[node]
    if not path.is_file():
        raise FileNotFoundError(
            f"the shipped {node} model {path} is missing (a partial install?); set model_path"
        )
    return path
