"""Data sets named in training configs: `{"kind": ..., **arguments}`.

kind "scenes" (generated: count, seed) or any loader in `depth_core.data.loaders.LOADERS`
(its arguments, e.g. root and split), optionally with `limit`.
"""

from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset

from depth_core.training.datasets import SampleDataset, SampleSpec, SceneDataset


def build_dataset(spec_dict: dict[str, Any], spec: SampleSpec) -> Dataset:
    from depth_core.data.loaders import LOADERS

    arguments = dict(spec_dict)
    kind = arguments.pop("kind", None)
    if kind == "scenes":
        return SceneDataset(int(arguments.get("count", 1000)), int(arguments.get("seed", 0)), spec)
    if kind not in LOADERS:
        raise ValueError(f"unknown data kind {kind!r}; choose scenes or one of "
                         f"{', '.join(sorted(LOADERS))}")  # fmt: skip
    limit = arguments.pop("limit", None)
    samples = LOADERS[kind](**arguments)
    if limit is not None:
        samples = samples[: int(limit)]
    if not samples:
        raise ValueError(f"{kind} {arguments}: no frames found")
    return SampleDataset(samples, spec)
