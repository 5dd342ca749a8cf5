"""What each kind of model trains on: its stages, what trains in each, its loss and how it
infers during validation. Every objective also trains the σ head with a Laplace NLL on the
detached depth, so uncertainty never pulls on depth.

- "monocular": the weighted MAE/Edge/SSIM loss or SILog, optionally the MetricDepth
  regulariser; one stage.
- "latent": stage 1 the depth autoencoder, stage 2 colour -> latent.
- "recovery": L1 + relative + multi-scale gradient, the structure-uncertainty module
  supervised by the misalignment mask; optionally that module alone first (stage 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from depth_core.losses import (
    MetricDepthConfig,
    MetricDepthLoss,
    laplace_nll,
    log_scale_alignment,
    recovery_loss,
    silog_loss,
    weighted_loss,
)
from depth_core.losses.metric_depth import FeatureTap
from depth_core.models.latent import autoencoder_stage_loss, colour_stage_loss, configure_stage
from depth_core.training.config import OBJECTIVES, TrainConfig


def output_target(depth: torch.Tensor, valid: torch.Tensor, size: tuple[int, int]):
    """Ground truth at the model's output size: nearest-neighbour, so no mixed depths."""
    if tuple(depth.shape[-2:]) == tuple(size):
        return depth, valid
    return (
        F.interpolate(depth, size=size, mode="nearest"),
        F.interpolate(valid.float(), size=size, mode="nearest") > 0.5,
    )


class Objective(nn.Module):
    """The model plus its training loss, as one module: DistributedDataParallel wraps this,
    so every objective (even the latent stages, which call the model's parts) runs its
    forward through DDP and gets its gradients synchronised."""

    needs_raw = False  # the model takes raw depth beside the RGB
    # DDP must look for parameters a step leaves unused (stages that freeze parts).
    leaves_parameters_unused = False

    def __init__(self, model: nn.Module, config: TrainConfig):
        super().__init__()
        self.model, self.config = model, config

    def stage_boundary(self) -> int:
        """The first step of stage 2 (0: a single stage)."""
        return 0

    def stage(self, step: int) -> int:
        return 1 if step < self.stage_boundary() else 2

    def stage_span(self, step: int) -> tuple[int, int]:
        """[first, end) steps of the stage that `step` belongs to."""
        boundary = self.stage_boundary()
        return (0, boundary) if self.stage(step) == 1 else (boundary, self.config.total_steps)

    def configure_stage(self, stage: int) -> None:
        """Set what trains in `stage` (requires_grad); every parameter by default."""

    def infer(self, batch: dict):
        """The model's prediction as the runtime makes it."""
        return self.model(batch["rgb"])

    def forward(self, batch: dict, stage: int):
        """-> (loss, detached parts, prediction or None)."""
        raise NotImplementedError

    def _with_uncertainty(self, loss, parts, prediction, target, valid) -> torch.Tensor:
        # Laplace NLL on the detached depth: σ learns the error, depth is not pulled by it.
        nll = laplace_nll(prediction.depth.detach(), prediction.log_sigma, target, valid)
        parts["laplace_nll"] = nll.detach()
        return loss + self.config.uncertainty_weight * nll


class MonocularObjective(Objective):
    def __init__(self, model: nn.Module, config: TrainConfig):
        super().__init__(model, config)
        self.metric_depth: tuple[MetricDepthLoss, float, FeatureTap] | None = None
        settings = dict(config.loss.get("metric_depth") or {})
        if settings:
            weight = float(settings.pop("weight", 0.1))
            if "negative_ranges" in settings:
                settings["negative_ranges"] = tuple(tuple(r) for r in settings["negative_ranges"])
            if "margins" in settings:
                settings["margins"] = tuple(settings["margins"])
            self.metric_depth = (
                MetricDepthLoss(MetricDepthConfig(**settings)),
                weight,
                FeatureTap(model.metric_feature_module),
            )

    def forward(self, batch: dict, stage: int):
        config = self.config
        prediction = self.model(batch["rgb"])
        target, target_valid = output_target(
            batch["depth"], batch["valid"], prediction.depth.shape[-2:]
        )
        # Sources marked scale_invariant teach structure only: their truth is brought to the
        # prediction's scale first, so one room's depth range is not imprinted on every scene.
        align = log_scale_alignment(prediction.depth.detach(), target, target_valid)
        scale_free = batch["scale_invariant"].view(-1, 1, 1, 1)
        target = torch.where(scale_free, target / align, target)
        if config.loss.get("kind", "weighted") == "silog":
            loss = silog_loss(prediction.depth, target, target_valid)
            parts = {"silog": loss.detach()}
        else:
            weights = config.loss.get("weights", {})
            loss, parts = weighted_loss(prediction.depth, target, target_valid, **weights)
        if self.metric_depth is not None:
            regulariser, weight, tap = self.metric_depth
            metric = regulariser(tap.features, target, target_valid)
            parts["metric_depth"] = metric.detach()
            loss = loss + weight * metric
        total = self._with_uncertainty(loss, parts, prediction, target, target_valid)
        return total, parts, prediction


class LatentObjective(Objective):
    leaves_parameters_unused = True

    def stage_boundary(self) -> int:
        return self.config.latent_stage_steps[0]

    def configure_stage(self, stage: int) -> None:
        configure_stage(self.model, stage, self.config.loss.get("finetune_decoder", False))

    def forward(self, batch: dict, stage: int):
        weights = {k: v for k, v in self.config.loss.items() if k != "finetune_decoder"}
        depth, valid = batch["depth"], batch["valid"]
        if stage == 1:
            gradient_weight = weights.get("gradient_weight", 1.0)
            loss, parts = autoencoder_stage_loss(self.model, depth, valid, gradient_weight)
        else:
            loss, parts = colour_stage_loss(self.model, batch["rgb"], depth, valid, **weights)
        return loss, parts, None


class RecoveryObjective(Objective):
    needs_raw = True
    leaves_parameters_unused = True

    def stage_boundary(self) -> int:
        return self.config.uncertainty_pretrain_steps

    def configure_stage(self, stage: int) -> None:
        self.model.configure_stage(stage)

    def infer(self, batch: dict):
        return self.model(batch["rgb"], batch["raw_depth"])

    def forward(self, batch: dict, stage: int):
        config, depth, valid = self.config, batch["depth"], batch["valid"]
        prediction = self.infer(batch)
        defined = batch["raw_depth"] > 0
        bce = F.binary_cross_entropy_with_logits(
            prediction.misalignment_logit[defined], batch["misaligned"][defined].float()
        )
        parts = {"misalignment_bce": bce.detach()}
        if stage == 1:
            return bce, parts, prediction
        loss, recovery_parts = recovery_loss(
            prediction.depth, depth, valid, config.loss.get("gradient_weight", 0.5)
        )
        parts.update(recovery_parts)
        total = loss + config.loss.get("misalignment_weight", 0.5) * bce
        return self._with_uncertainty(total, parts, prediction, depth, valid), parts, prediction


OBJECTIVE_CLASSES: dict[str, type[Objective]] = dict(
    zip(OBJECTIVES, (MonocularObjective, LatentObjective, RecoveryObjective), strict=True)
)


def make_objective(model: nn.Module, config: TrainConfig) -> Objective:
    return OBJECTIVE_CLASSES[config.objective](model, config)
