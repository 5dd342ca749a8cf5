"""Data sets named in training configs: `{"kind": ..., **arguments}`.

kind "scenes" (generated: count, seed), any loader in `depth_core.data.catalog.LOADERS`
(its arguments, e.g. root and split), optionally with `limit` (the first frames) and
`repeat` (each frame that many times, with fresh augmentation), `scale_invariant` (the
monocular objective learns only the frames' structure, see SampleDataset) and `holes`
(recovery: self-supervised completion on the frames' own sensor depth, "training" or
"benchmark" holes, see SampleSpec), or "mix" with
`parts`: a list of such specs, concatenated (each part's share of the batches is its share
of the length).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from depth_core.data.simulation import RawDepthConfig
from depth_core.models.encoders import encoder_normalisation
from depth_core.training.config import TrainConfig
from depth_core.training.datasets import MixDataset, SampleDataset, SampleSpec, SceneDataset
from depth_core.training.distributed import Distributed


def sample_spec(config: TrainConfig, needs_raw: bool, training: bool) -> SampleSpec:
    """How the config's samples are made: augmentation on training samples only."""
    encoder = config.model.get("encoder", "tf_efficientnet_lite0")
    mean, std = encoder_normalisation(encoder)
    raw = RawDepthConfig(**config.raw_simulation) if config.raw_simulation is not None else None
    return SampleSpec(
        config.input_size,
        mean,
        std,
        config.canonical_focal_px,
        raw,
        needs_raw=needs_raw,
        flip=training,
        crop=config.train_crop if training else None,
        zoom_max=config.zoom_max if training else 1.0,
        blur_max_px=config.blur_max_px if training else 0.0,
        sharpen_max=config.sharpen_max if training else 0.0,
    )


def scene_device(choice: str, device: torch.device) -> str:
    """Where generated scenes render: TrainConfig.scene_renderer resolved for `device`."""
    if choice == "cpu" or (choice == "auto" and device.type != "cuda"):
        return "cpu"
    from depth_core.data import raycast_cuda

    if not raycast_cuda.available():
        if choice == "cuda":
            raise ValueError(
                "scene_renderer cuda: numba finds no CUDA GPU (numba-cuda and "
                "an NVIDIA driver are needed)"
            )
        return "cpu"
    return "cuda" if device.index is None else f"cuda:{device.index}"


class EpochLoader:
    """A data set's DataLoader, made once: its workers persist from epoch to epoch (a
    spawned worker imports torch afresh); each epoch only reseeds the sampler."""

    def __init__(
        self, config: TrainConfig, dist: Distributed, device: torch.device, scenes_on: str
    ):
        self.config, self.dist, self.device, self.scenes_on = config, dist, device, scenes_on
        self._made: tuple[Any, DataLoader] | None = None

    def __call__(self, dataset, batch_size: int, shuffle: bool, epoch: int) -> DataLoader:
        if self._made is None or self._made[0] is not dataset:
            # A DistributedSampler even in one process: the same seeded permutation whatever
            # the world size, so N processes see the very batches one process would.
            sampler = DistributedSampler(
                dataset,
                self.dist.world_size,
                self.dist.rank,
                shuffle=shuffle,
                seed=self.config.seed,
            )
            workers = self.config.workers
            # CUDA does not survive a fork: workers that render on the GPU are spawned.
            spawn = workers > 0 and self.scenes_on != "cpu"
            loader = DataLoader(
                dataset,
                batch_size=batch_size,
                sampler=sampler,
                num_workers=workers,
                drop_last=True,
                persistent_workers=workers > 0,
                pin_memory=self.device.type == "cuda",  # for non_blocking
                multiprocessing_context="spawn" if spawn else None,
            )
            self._made = (dataset, loader)
        self._made[1].sampler.set_epoch(epoch)
        return self._made[1]

    def close(self) -> None:
        """Let the persistent workers end with the run."""
        self._made = None


def build_dataset(
    spec_dict: dict[str, Any], spec: SampleSpec, scene_device: str = "cpu"
) -> Dataset:
    """The data set `spec_dict` names; generated scenes render on `scene_device` (cpu, cuda
    or cuda:N)."""
    from depth_core.data.catalog import LOADERS

    arguments = dict(spec_dict)
    kind = arguments.pop("kind", None)
    if kind == "scenes":
        return SceneDataset(
            int(arguments.get("count", 1000)), int(arguments.get("seed", 0)), spec, scene_device
        )
    if kind == "mix":
        parts = arguments.get("parts")
        if not parts:
            raise ValueError("data kind mix needs a non-empty list `parts`")
        return MixDataset([build_dataset(part, spec, scene_device) for part in parts])
    if kind not in LOADERS:
        raise ValueError(
            f"unknown data kind {kind!r}; choose scenes, mix or one of {', '.join(sorted(LOADERS))}"
        )
    limit = arguments.pop("limit", None)
    repeat = int(arguments.pop("repeat", 1))
    scale_invariant = bool(arguments.pop("scale_invariant", False))
    holes = arguments.pop("holes", None)
    if holes is not None:
        if holes not in ("training", "benchmark"):
            raise ValueError(f"{kind}: holes must be 'training' or 'benchmark', got {holes!r}")
        spec = replace(spec, holes=holes)
    samples = LOADERS[kind](**arguments)
    if limit is not None:
        samples = samples[: int(limit)]
    if not samples:
        raise ValueError(f"{kind} {arguments}: no frames found")
    return SampleDataset(samples, spec, repeat=repeat, scale_invariant=scale_invariant)
