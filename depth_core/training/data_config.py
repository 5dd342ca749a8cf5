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

from torch.utils.data import Dataset

from depth_core.training.datasets import MixDataset, SampleDataset, SampleSpec, SceneDataset


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
