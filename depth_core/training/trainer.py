"""Training loop for every model here, from one YAML config.

- Adam (lr 1e-4 by default) with early stopping on the validation loss, as in the
  weighted-loss paper; seeded; resume from `train_state.pt`. Optional linear lr warm-up and
  cosine decay (`warmup_steps`, `lr_schedule`).
- Mixed precision on CUDA (autocast + GradScaler); fp32 on the CPU.
- Multi-GPU / multi-node through torchrun: DistributedDataParallel, a DistributedSampler,
  and logging, TensorBoard and checkpoints on rank 0 only. Gloo on the CPU, NCCL on GPUs.
- tqdm progress, TensorBoard scalars and image grids.
- `best.pt` / `last.pt` are runtime checkpoints with full metadata (checkpoint.describe).

Around it: `objectives.py` (what each kind of model trains on), `config.py` (the YAML
config), `data_config.py` (data sets, samples, loaders), `schedule.py` (lr),
`distributed.py` (ranks) and `previews.py` (TensorBoard images).
"""

from __future__ import annotations

import logging
import random
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader

from depth_core.checkpoint import describe, load_checkpoint, save_checkpoint
from depth_core.metrics import depth_metrics
from depth_core.models import build_model_from_config
from depth_core.training.config import TrainConfig
from depth_core.training.data_config import EpochLoader, build_dataset, sample_spec, scene_device
from depth_core.training.distributed import Distributed, seed_everything
from depth_core.training.objectives import make_objective, output_target
from depth_core.training.previews import validation_preview
from depth_core.training.schedule import decay_factor, warmup_factor

LOG = logging.getLogger(__name__)


class Trainer:
    def __init__(self, config: TrainConfig, output_dir: str | Path, device: str = "cpu"):
        self.config = config
        self.output_dir = Path(output_dir)
        try:
            self.device = torch.device(device)
        except RuntimeError:
            raise ValueError(f"device must be cpu, cuda or cuda:N, got {device!r}") from None
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {device!r}: torch finds no CUDA GPU on this machine")
        self.dist = Distributed.from_environment(self.device)
        if self.device.type == "cuda" and self.dist.world_size > 1:
            self.device = torch.device("cuda", self.dist.local_rank)
            torch.cuda.set_device(self.device)
        self.scene_device = scene_device(config.scene_renderer, self.device)
        self.loader = EpochLoader(config, self.dist, self.device, self.scene_device)
        seed_everything(config.seed)
        self.model = build_model_from_config(config.model).to(self.device)
        # Weights come from the checkpoint from now on: loading it must not need the
        # pretrained source (e.g. the ImageNet package) again.
        self.model.model_config["pretrained"] = False
        if config.init_from:
            self._load_initial_weights(config.init_from)
        self.objective = make_objective(self.model, config)
        self.amp = config.amp and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.net: nn.Module = self.objective
        self.step = 0
        self.best_loss = float("inf")
        self.bad_validations = 0
        self.optimiser = self._make_optimiser()
        self.ema: AveragedModel | None = None
        if config.ema_decay > 0:
            self.ema = AveragedModel(
                self.model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True
            )
        self.writer = None

    # ---------------------------------------------------------------- state
    def _make_optimiser(self) -> torch.optim.Optimizer:
        """Adam over what trains in the current stage (a new stage gets a fresh optimiser)."""
        self.objective.configure_stage(self.objective.stage(self.step))
        if self.dist.world_size > 1:
            # DDP syncs the parameters that train when it is built: rebuild it per stage.
            module = self.objective
            if self.device.type == "cuda" and self.config.sync_batchnorm:
                module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
            self.net = nn.parallel.DistributedDataParallel(
                module,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=self.objective.leaves_parameters_unused,
            )
        parameters = [p for p in self.model.parameters() if p.requires_grad]
        return torch.optim.Adam(parameters, lr=self.config.lr)

    def save_state(self) -> None:
        if not self.dist.main:
            return
        state = {
            "model": self.model.state_dict(),
            "optimiser": self.optimiser.state_dict(),
            "scaler": self.scaler.state_dict(),
            "step": self.step,
            "best_loss": self.best_loss,
            "bad_validations": self.bad_validations,
            "torch_rng": torch.get_rng_state(),
            "numpy_rng": np.random.get_state(),
            "python_rng": random.getstate(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
        }
        temporary = self.output_dir / "train_state.pt.tmp"
        torch.save(state, temporary)
        temporary.replace(self.output_dir / "train_state.pt")  # never a half-written state

    def _load_initial_weights(self, path: str) -> None:
        source, metadata = load_checkpoint(path)
        if metadata.model_name != self.model.model_name:
            raise ValueError(
                f"init_from {path}: a {metadata.model_name} checkpoint, the config "
                f"builds {self.model.model_name}"
            )
        try:
            self.model.load_state_dict(source.state_dict())
        except RuntimeError as error:
            raise ValueError(
                f"init_from {path}: its weights do not fit the configured model "
                f"(model settings differ?): {error}"
            ) from None
        LOG.info("weights from %s", path)

    def load_state(self) -> bool:
        path = self.output_dir / "train_state.pt"
        if not path.is_file():
            return False
        state = torch.load(path, map_location=self.device, weights_only=False)
        self.model.load_state_dict(state["model"])
        self.step = state["step"]
        self.optimiser = self._make_optimiser()
        self.optimiser.load_state_dict(state["optimiser"])
        self.scaler.load_state_dict(state["scaler"])
        self.best_loss, self.bad_validations = state["best_loss"], state["bad_validations"]
        if self.ema is not None and state.get("ema") is not None:
            self.ema.load_state_dict(state["ema"])
        torch.set_rng_state(state["torch_rng"])
        np.random.set_state(state["numpy_rng"])
        random.setstate(state["python_rng"])
        return True

    def save_model(self, name: str, metrics: dict | None = None) -> Path:
        path = self.output_dir / name
        with self.evaluation_weights():
            metadata = describe(
                self.model,
                self.config.input_size,
                canonical_focal_px=self.config.canonical_focal_px,
                training_data=self.config.training_data or None,
                metrics=metrics or {},
            )
            save_checkpoint(self.model, path, metadata)
        return path

    @contextmanager
    def evaluation_weights(self):
        """The weights that are validated and saved: the moving average when ema_decay is
        set (swapped into the model for the duration, so the objective and its feature taps
        stay attached to one module), else the training weights."""
        if self.ema is None:
            yield
            return
        training = {key: value.clone() for key, value in self.model.state_dict().items()}
        self.model.load_state_dict(self.ema.module.state_dict())
        try:
            yield
        finally:
            self.model.load_state_dict(training)

    # ---------------------------------------------------------------- loops
    def _set_train_mode(self) -> None:
        self.model.train()
        if self.config.freeze_batchnorm:
            for module in self.model.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()

    def _to_device(self, batch: dict) -> dict:
        return {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    @torch.no_grad()
    def validate(self, dataset) -> dict[str, float]:
        """Validation loss (the early-stopping criterion) and depth metrics in metres."""
        self.model.eval()
        losses, metrics = [], []
        for batch in DataLoader(
            dataset, batch_size=max(1, self.config.batch_size // self.dist.world_size)
        ):
            batch = self._to_device(batch)
            loss, _, prediction = self.objective(batch, self.objective.stage(self.step))
            losses.append(loss.item())
            if prediction is None:  # latent stage losses: run the inference path
                prediction = self.objective.infer(batch)
            size = prediction.depth.shape[-2:]
            target, target_valid = output_target(batch["depth"], batch["valid"], size)
            scale = batch["focal_scale"].view(-1, 1, 1, 1)
            for i in range(len(target)):
                metrics.append(
                    depth_metrics(
                        (prediction.depth[i] * scale[i]).cpu().numpy(),
                        (target[i] * scale[i]).cpu().numpy(),
                        target_valid[i].cpu().numpy(),
                        max_depth=20.0,
                    )
                )
        self._set_train_mode()
        summary = {"loss": float(np.mean(losses))}
        for key in ("abs_rel", "rmse", "delta1"):
            summary[key] = float(np.mean([m[key] for m in metrics]))
        return summary

    def fit(
        self, resume: bool = False, max_steps: int | None = None, progress: bool = True
    ) -> dict[str, Any]:
        """Train until `total_steps` (or `max_steps`, or early stopping). Returns a summary."""
        from tqdm import tqdm

        config = self.config
        self.output_dir.mkdir(parents=True, exist_ok=True)
        if resume and self.load_state() and self.dist.main:
            LOG.info("resumed from %s at step %d", self.output_dir / "train_state.pt", self.step)
        if self.dist.main:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(self.output_dir / "tensorboard")
            config.to_yaml(self.output_dir / "config.yaml")
        if self.dist.main:
            LOG.info("generated scenes render on %s", self.scene_device)
        needs_raw = self.objective.needs_raw
        train_set = build_dataset(
            config.train_data, sample_spec(config, needs_raw, training=True), self.scene_device
        )
        val_set = build_dataset(
            config.val_data, sample_spec(config, needs_raw, training=False), self.scene_device
        )
        local_batch = config.batch_size // self.dist.world_size
        if local_batch * self.dist.world_size != config.batch_size:
            raise ValueError(
                f"batch_size {config.batch_size} does not split over "
                f"{self.dist.world_size} processes"
            )
        end = min(config.total_steps, max_steps or config.total_steps)
        history: list[dict] = []
        losses_seen: list[float] = []
        bar = tqdm(
            total=end,
            initial=self.step,
            disable=not (progress and self.dist.main),
            desc=f"train {config.objective}",
            dynamic_ncols=True,
        )
        self._set_train_mode()
        stopped_early = False
        deadline = None
        if config.max_minutes is not None:
            deadline = time.monotonic() + 60 * config.max_minutes
        epoch = self.step // max(1, len(train_set) // config.batch_size)
        while self.step < end and not stopped_early:
            for batch in self.loader(train_set, local_batch, shuffle=True, epoch=epoch):
                stage = self.objective.stage(self.step)
                batch = self._to_device(batch)
                with torch.autocast(self.device.type, enabled=self.amp):
                    loss, parts, _ = self.net(batch, stage)
                self.optimiser.zero_grad(set_to_none=True)
                self.scaler.scale(loss).backward()
                lr = config.lr * warmup_factor(self.step, config.warmup_steps)
                lr *= decay_factor(
                    self.step,
                    *self.objective.stage_span(self.step),
                    config.lr_schedule,
                    config.min_lr_ratio,
                )
                for group in self.optimiser.param_groups:
                    group["lr"] = lr
                self.scaler.step(self.optimiser)
                self.scaler.update()
                if self.ema is not None:
                    self.ema.update_parameters(self.model)
                self.step += 1
                losses_seen.append(loss.item())
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.4f}", stage=stage)
                if self.writer is not None:
                    self.writer.add_scalar("train/loss", loss.item(), self.step)
                    self.writer.add_scalar("train/lr", lr, self.step)
                    for name, value in parts.items():
                        self.writer.add_scalar(f"train/{name}", value.item(), self.step)
                if self.objective.stage(self.step) != stage:
                    self.optimiser = self._make_optimiser()
                    self.best_loss, self.bad_validations = float("inf"), 0
                out_of_time = deadline is not None and time.monotonic() > deadline
                if out_of_time:
                    end = self.step
                if self.step % config.val_every == 0 or self.step == end:
                    with self.evaluation_weights():
                        summary = self.validate(val_set)
                    summary["step"] = self.step
                    history.append(summary)
                    stopped_early = self._after_validation(summary, val_set)
                if self.step >= end or stopped_early:
                    break
            epoch += 1
        bar.close()
        self.loader.close()
        if self.dist.main:
            self.save_model("last.pt", history[-1] if history else None)
            self.save_state()
            self.writer.close()
        self.dist.barrier()
        return {
            "steps": self.step,
            "history": history,
            "stopped_early": stopped_early,
            "train_losses": losses_seen,
        }

    def _after_validation(self, summary: dict, val_set) -> bool:
        """Log, keep the best model, count toward early stopping. True = stop."""
        if not self.dist.main:
            return self.dist.broadcast_flag(False, self.device)
        for key, value in summary.items():
            if key != "step":
                self.writer.add_scalar(f"val/{key}", value, self.step)
        if self.step % self.config.image_every < self.config.val_every:
            with self.evaluation_weights():
                self.model.eval()
                grid = validation_preview(self.objective, val_set, self.device)
                self.writer.add_image("val/gt_pred_sigma", grid, self.step, dataformats="HWC")
                self._set_train_mode()
        # The best model is judged within the last stage (a stage change resets best_loss).
        if summary["loss"] < self.best_loss:
            self.best_loss, self.bad_validations = summary["loss"], 0
            self.save_model("best.pt", summary)
        else:
            self.bad_validations += 1
        self.save_state()
        stop = self.bad_validations >= self.config.patience
        if stop:
            LOG.info(
                "early stopping at step %d: no validation improvement in %d checks",
                self.step,
                self.config.patience,
            )
        return self.dist.broadcast_flag(stop, self.device)
