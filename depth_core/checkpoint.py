"""Checkpoints that carry their own metadata: enough to rebuild, preprocess and interpret."""

from __future__ import annotations

import hashlib
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from depth_core.metadata import ModelMetadata
from depth_core.models import build_model
from depth_core.models.encoders import encoder_normalisation

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
MODEL_IO = {
    "transfer_monocular": (("rgb",), ("depth", "log_sigma")),
    "latent_dual": (("rgb",), ("depth", "log_sigma")),
    "depth_recovery": (("rgb", "raw_depth"), ("depth", "log_sigma", "misalignment_logit")),
}


def state_hash(state_dict: dict[str, torch.Tensor]) -> str:
    """SHA-256 over parameter names and bytes: the model's identity for caches and metadata."""
    digest = hashlib.sha256()
    for key in sorted(state_dict):
        digest.update(key.encode())
        digest.update(state_dict[key].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def describe(model: nn.Module, input_size: tuple[int, int], **extra: Any) -> ModelMetadata:
    """Metadata for a registry-built depth model at a given input size (height, width)."""
    name = model.model_name
    if name not in MODEL_IO:
        raise ValueError(f"{name} is not a metric depth model the runtime can serve")
    encoder = model.model_config.get("encoder", "tf_efficientnet_lite0")
    mean, std = encoder_normalisation(encoder)
    inputs, outputs = MODEL_IO[name]
    return ModelMetadata(
        model_name=name,
        model_config=dict(model.model_config),
        input_size=tuple(input_size),
        mean=mean,
        std=std,
        inputs=inputs,
        outputs=outputs,
        content_hash=state_hash(model.state_dict()),
        **extra,
    )


def save_checkpoint(model: nn.Module, path: str | Path, metadata: ModelMetadata) -> None:
    metadata.content_hash = state_hash(model.state_dict())
    torch.save({"metadata": metadata.to_json(), "state_dict": model.state_dict()}, path)


def _read_payload(path: str | Path) -> tuple[dict, ModelMetadata]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (
        RuntimeError,
        EOFError,
        OSError,
        zipfile.BadZipFile,
        ValueError,
        pickle.UnpicklingError,
    ) as error:
        # torch's first sentence says what failed; the rest is advice for other situations.
        reason = (str(error).splitlines() or [""])[0].split(". ")[0]
        raise ValueError(
            f"{path}: not a readable checkpoint (truncated or corrupt?): "
            f"{type(error).__name__}: {reason}"
        ) from None
    if not isinstance(payload, dict) or "metadata" not in payload or "state_dict" not in payload:
        raise ValueError(f"{path}: not a depth_ros checkpoint (no metadata/state_dict)")
    return payload, ModelMetadata.from_json(payload["metadata"], source=str(path))


def read_metadata(path: str | Path) -> ModelMetadata:
    """A checkpoint's metadata, without building its model."""
    return _read_payload(path)[1]


def _verified_payload(path: str | Path) -> tuple[dict, ModelMetadata]:
    payload, metadata = _read_payload(path)
    if state_hash(payload["state_dict"]) != metadata.content_hash:
        raise ValueError(f"{path}: weights do not match the content hash in its metadata")
    return payload, metadata


def load_checkpoint(path: str | Path) -> tuple[nn.Module, ModelMetadata]:
    """Rebuild the model from its checkpoint; errors name the file and the problem."""
    payload, metadata = _verified_payload(path)
    model = build_model(metadata.model_name, **metadata.model_config)
    model.load_state_dict(payload["state_dict"])
    return model.eval(), metadata


def parse_settings(items: list[str]) -> dict[str, Any]:
    """KEY=VALUE strings (values in YAML: 4, true, [1, 2]) -> a dict; ValueError names a bad
    item. Shared by the command lines' --set options."""
    import yaml

    settings = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        settings[key] = yaml.safe_load(value)
    return settings


def reconfigure_checkpoint(
    path: str | Path, settings: dict[str, Any]
) -> tuple[nn.Module, ModelMetadata]:
    """The checkpoint's weights under other model settings that keep every weight's name and
    shape, i.e. choices that need no retraining (a recovery model's `uncertainty_stride` or
    `alignment_window`). A setting the model does not take, or one that changes the weights,
    raises ValueError. Measure the result before shipping it: the weights were trained under
    the old settings."""
    payload, metadata = _verified_payload(path)
    config = {**metadata.model_config, **settings}
    try:
        reconfigured = build_model(metadata.model_name, **config)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: {metadata.model_name} cannot take {settings}: {error}") from None
    try:
        reconfigured.load_state_dict(payload["state_dict"])
    except RuntimeError as error:
        raise ValueError(
            f"{path}: settings {settings} change the weights' names or "
            f"shapes, so they need training, not reconfiguring: {error}"
        ) from None
    metadata.model_config = dict(reconfigured.model_config)
    return reconfigured.eval(), metadata


def interpolate_checkpoints(
    start: str | Path, tuned: str | Path, alpha: float
) -> tuple[nn.Module, ModelMetadata]:
    """(1 − alpha) · start + alpha · tuned, weight by weight: the two ends of one fine-tune
    (WiSE-FT, Wortsman et al. 2022), which often holds up better under distribution shift
    than the fine-tuned end. Both must be the same model with the same settings. Integer
    buffers (BatchNorm's batch counts) come from `tuned`; so does the metadata, with both
    sources named in training_data. Re-fit σ before shipping the result (calibrate_sigma)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    start_payload, start_meta = _verified_payload(start)
    tuned_payload, metadata = _verified_payload(tuned)
    if start_meta.model_name != metadata.model_name or (
        start_meta.model_config != metadata.model_config
    ):
        raise ValueError(
            f"{start} ({start_meta.model_name}) and {tuned} ({metadata.model_name}) are not the "
            f"same model with the same settings"
        )
    start_weights = start_payload["state_dict"]
    mixed = {
        key: torch.lerp(start_weights[key], value, alpha) if value.is_floating_point() else value
        for key, value in tuned_payload["state_dict"].items()
    }
    model = build_model(metadata.model_name, **metadata.model_config)
    model.load_state_dict(mixed)
    metadata.training_data = (
        f"weights interpolated {1 - alpha:g} · {Path(start).name} ({start_meta.training_data}) "
        f"+ {alpha:g} · {Path(tuned).name} ({metadata.training_data})"
    )
    return model.eval(), metadata
