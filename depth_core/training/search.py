"""Grid and random search over the weighted loss's weights (weighted-loss paper): every
candidate trains the same config for the same steps, and candidates are ranked by their best
validation AbsRel (metrics are comparable across weightings; the losses are not)."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path
from typing import Any

import numpy as np

from depth_core.training.config import TrainConfig
from depth_core.training.trainer import Trainer

WEIGHT_NAMES = ("mae_weight", "edge_weight", "ssim_weight")


def grid_candidates(values: dict[str, list[float]]) -> list[dict[str, float]]:
    return [
        dict(zip(WEIGHT_NAMES, combo, strict=True))
        for combo in itertools.product(*(values[name] for name in WEIGHT_NAMES))
    ]


def random_candidates(
    count: int, seed: int, low: float = 0.05, high: float = 2.0
) -> list[dict[str, float]]:
    """Log-uniform weights in [low, high]: ratios between the terms are what matters."""
    rng = np.random.default_rng(seed)
    samples = np.exp(rng.uniform(np.log(low), np.log(high), (count, len(WEIGHT_NAMES))))
    return [
        {name: round(float(v), 4) for name, v in zip(WEIGHT_NAMES, row, strict=True)}
        for row in samples
    ]


def search(
    config: TrainConfig,
    candidates: list[dict[str, float]],
    output_dir: str | Path,
    device: str = "cpu",
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train one run per candidate; returns rows ranked by best validation AbsRel."""
    if config.objective != "monocular":
        raise ValueError("the weighted loss belongs to the monocular objective")
    rows = []
    for index, weights in enumerate(candidates):
        candidate = copy.deepcopy(config)
        candidate.loss = {**candidate.loss, "kind": "weighted", "weights": weights}
        summary = Trainer(candidate, Path(output_dir) / f"run_{index:03d}", device).fit(
            progress=progress
        )
        best = min(summary["history"], key=lambda h: h["abs_rel"])
        rows.append(
            {
                **weights,
                "abs_rel": best["abs_rel"],
                "rmse": best["rmse"],
                "delta1": best["delta1"],
                "step": best["step"],
                "run": index,
            }
        )
    return sorted(rows, key=lambda row: row["abs_rel"])


def ranked_table(rows: list[dict[str, Any]]) -> str:
    columns = ("rank", *WEIGHT_NAMES, "abs_rel", "rmse", "delta1", "step", "run")
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for rank, row in enumerate(rows, 1):
        cells = [str(rank)] + [
            f"{row[c]:.4g}" if isinstance(row[c], float) else str(row[c]) for c in columns[1:]
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
