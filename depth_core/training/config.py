"""The training config: one YAML file per run, which may start from another (`base:`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

OBJECTIVES = ("monocular", "latent", "recovery")
LR_SCHEDULES = ("constant", "cosine")


@dataclass
class TrainConfig:
    model: dict[str, Any]  # {"name": registry name, **kwargs}
    objective: str
    train_data: dict[str, Any]  # see data_config.build_dataset
    val_data: dict[str, Any]
    input_size: tuple[int, int] = (240, 320)
    canonical_focal_px: float | None = None
    loss: dict[str, Any] = field(default_factory=dict)
    raw_simulation: dict[str, Any] | None = None  # RawDepthConfig fields (recovery)
    batch_size: int = 8  # global: split over the ranks
    lr: float = 1e-4
    steps: int = 1000  # per stage for the latent objective: see latent_stage_steps
    latent_stage_steps: tuple[int, int] | None = None
    uncertainty_pretrain_steps: int = 0  # recovery: structure-uncertainty module alone first
    val_every: int = 100
    patience: int = 10  # validations without improvement before early stopping
    uncertainty_weight: float = 0.1
    freeze_batchnorm: bool = False  # BatchNorm in eval mode (small per-rank batches)
    sync_batchnorm: bool = True  # under DDP on GPUs
    workers: int = 1
    # Where generated scenes render: "cpu" (one frame per DataLoader fetch), "cuda" (each
    # batch in one go on the current GPU: scene_render.render_batch, needs numba-cuda) or "auto"
    # (the training GPU when training on CUDA and numba finds it).
    scene_renderer: str = "auto"
    seed: int = 0
    amp: bool = True  # used on CUDA only
    training_data: str = ""  # goes into the checkpoint metadata
    image_every: int = 500
    train_crop: tuple[int, int] | None = None  # random crops for cheaper steps (training only)
    zoom_max: float = 1.0  # random zoom up to this factor, focal length and target with it
    # Random blur / sharpening of training images (datasets.SampleSpec): 0 = off.
    blur_max_px: float = 0.0
    sharpen_max: float = 0.0
    max_minutes: float | None = None  # wall-clock budget: validate, save and stop
    init_from: str | None = None  # checkpoint whose weights start training (fine-tuning)
    # Linear lr ramp over a run's first steps, the usual guard when fine-tuning: Adam's first
    # updates, with fresh moment estimates, are as large as lr allows.
    warmup_steps: int = 0
    # lr after the warm-up: "constant" (the weighted-loss paper: Adam at a fixed lr, stopped
    # early) or "cosine", the usual choice for long runs: from lr down to lr * min_lr_ratio
    # over each training stage's planned steps (so a resumed run follows the same curve).
    lr_schedule: str = "constant"
    min_lr_ratio: float = 0.01
    # Exponential moving average of the weights (torch.optim.swa_utils), decay per step; 0 =
    # off. With it, validation (so early stopping), best.pt and last.pt use the averaged
    # weights: single steps' noise averaged out, as timm and most detection codebases do.
    ema_decay: float = 0.0

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if self.scene_renderer not in ("auto", "cpu", "cuda"):
            raise ValueError(
                f"scene_renderer must be auto, cpu or cuda, got {self.scene_renderer!r}"
            )
        self.input_size = tuple(self.input_size)
        if self.train_crop is not None:
            self.train_crop = tuple(self.train_crop)
        if self.latent_stage_steps is not None:
            self.latent_stage_steps = tuple(self.latent_stage_steps)
        if self.objective == "latent" and self.latent_stage_steps is None:
            self.latent_stage_steps = (self.steps // 2, self.steps - self.steps // 2)

    @property
    def total_steps(self) -> int:
        return sum(self.latent_stage_steps) if self.objective == "latent" else self.steps

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: dict[str, Any] | None = None) -> TrainConfig:
        data = _read_config(Path(path))
        data.update(overrides or {})
        try:
            return cls(**data)
        except TypeError as error:
            raise ValueError(f"{path}: {error}") from None

    def to_yaml(self, path: str | Path) -> None:
        """The fields as a YAML file (as run: `from_yaml` reads it back)."""
        with open(path, "w") as stream:
            yaml.safe_dump(_plain(self.__dict__), stream)


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _read_config(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A config file's fields. `base: other.yaml` (relative to the file) starts from another
    config's fields; each top-level key of this file replaces the base's whole value, so a
    fine-tuning config lists only what it changes."""
    if path.resolve() in seen:
        raise ValueError(f"{path}: configs inherit from each other in a loop")
    with open(path) as stream:
        data = yaml.safe_load(stream) or {}
    base = data.pop("base", None)
    if base is None:
        return data
    return {**_read_config(path.parent / base, (*seen, path.resolve())), **data}
