"""Learning-rate multipliers: a linear warm-up, then a constant or cosine decay per stage."""

from __future__ import annotations

import math


def warmup_factor(step: int, warmup_steps: int) -> float:
    """lr multiplier for the update made at `step` (0-based): (step + 1) / warmup_steps,
    then 1."""
    return min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0


def decay_factor(step: int, start: int, end: int, schedule: str, min_ratio: float) -> float:
    """lr multiplier of the schedule for the update made at `step` of a stage spanning
    [start, end): 1 for "constant"; for "cosine", 1 at the stage's first step, falling along
    half a cosine to `min_ratio` at its end."""
    if schedule == "constant" or end <= start:
        return 1.0
    progress = min(1.0, (step - start) / (end - start))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
