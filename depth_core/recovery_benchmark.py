"""The real-frame benchmark of recovery models: real sensor depth in, every method scored on
the same pixels, beside nearest-filled raw and the guided-filter fill.

Protocols, fixed before any recovery model was trained on real frames:
- "reference": the sensor's raw depth against a better reference of the same frame
  (`orbbec_person`: its fused depth; `apc_shelf`: the raw depth registered to colour through
  `cam.info.txt` against the registered depth, which agree where both exist). Scored on every
  pixel of the reference.
- "holes": real-raw hole filling. `simulation.benchmark_holes` removes part of the sensor's
  valid depth; every method sees the rest and is scored on the removed pixels against the
  sensor's values.
- "simulated": raw depth simulated from dense truth (depth_core.data.simulation), scored on
  every valid pixel of the truth.
Beside the scored pixels, "kept" pixels (raw valid and not removed) measure how far each
output moves from what the sensor measured.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from depth_core.data.sample import DepthSample
from depth_core.data.simulation import (
    RawDepthConfig,
    benchmark_holes,
    frame_seed,
    simulate_raw_depth,
)
from depth_core.evaluation import guided_hole_filling, nearest_fill
from depth_core.metrics import sparsification

SIGMA_K = 2.0
# Simulated raw for the "simulated" protocol: a quarter-resolution ToF with the defaults.
SIMULATED_RAW = RawDepthConfig(capture_size=(120, 160))


@dataclass(frozen=True)
class RecoverySet:
    name: str  # a ../shared/data set
    protocol: str  # "reference", "holes" or "simulated"


RECOVERY_VALIDATION = (RecoverySet("arc2017_bins", "holes"), RecoverySet("phoxi_bins", "holes"))
RECOVERY_HELD_OUT = (
    RecoverySet("orbbec_person", "reference"),
    RecoverySet("apc_shelf", "reference"),
    RecoverySet("tum_fr1", "holes"),
    RecoverySet("kinect_poses", "holes"),
    RecoverySet("office_ceiling", "holes"),
    RecoverySet("sevenscenes_redkitchen/held_out", "holes"),
    RecoverySet("icl_nuim", "simulated"),
)
BASELINES = ("raw (nearest-filled)", "guided filter fill")
MODEL = "model"


@dataclass
class RecoveryCase:
    """One frame as the benchmark poses it: what every method sees, what it is scored on."""

    rgb: np.ndarray
    raw: np.ndarray  # the methods' raw input, metres, 0 = missing
    truth: np.ndarray  # what the scored pixels are compared with
    scored: np.ndarray  # bool
    kept: np.ndarray  # bool: raw valid in the input (compared with the input's raw)
    intrinsics: object


def recovery_case(sample: DepthSample, protocol: str) -> RecoveryCase:
    """A frame under one protocol (see the module docstring)."""
    if protocol == "reference":
        if sample.raw_depth is None:
            raise ValueError(f"{sample.name}: the reference protocol needs the sensor's raw depth")
        raw = sample.raw_depth.astype(np.float32)
        scored = sample.valid & (sample.depth > 0)
    elif protocol == "holes":
        sensor = np.where(sample.valid, sample.depth, 0).astype(np.float32)
        scored = benchmark_holes(sensor, frame_seed(sample.name))
        raw = np.where(scored, 0, sensor).astype(np.float32)
    elif protocol == "simulated":
        rng = np.random.default_rng(frame_seed(sample.name))
        raw = simulate_raw_depth(np.where(sample.valid, sample.depth, 0), rng, SIMULATED_RAW).raw
        scored = sample.valid & (sample.depth > 0)
    else:
        raise ValueError(f"unknown recovery protocol {protocol!r}")
    return RecoveryCase(sample.rgb, raw, sample.depth, scored, raw > 0, sample.intrinsics)


class _Pooled:
    """Pixel-pooled errors of one method over a set."""

    def __init__(self):
        self.squared = self.relative = self.close = self.count = 0.0
        self.kept_squared = self.kept_count = 0.0

    def add(self, pred: np.ndarray, case: RecoveryCase) -> None:
        p, g = pred[case.scored], case.truth[case.scored]
        self.squared += float(np.sum((p - g) ** 2))
        self.relative += float(np.sum(np.abs(p - g) / g))
        ratio = np.maximum(p / g, g / np.maximum(p, 1e-6))
        self.close += float(np.sum(ratio < 1.05))
        self.count += p.size
        self.kept_squared += float(np.sum((pred[case.kept] - case.raw[case.kept]) ** 2))
        self.kept_count += int(case.kept.sum())

    def summary(self) -> dict[str, float]:
        n = max(self.count, 1)
        return {
            "rmse": float(np.sqrt(self.squared / n)),
            "abs_rel": self.relative / n,
            "delta_1.05": self.close / n,
            "kept_rmse": float(np.sqrt(self.kept_squared / max(self.kept_count, 1))),
        }


@dataclass
class RecoveryReport:
    name: str
    protocol: str
    frames: int
    scored_pixels: int
    methods: dict[str, dict[str, float]]
    sigma: dict[str, float]  # the model's safe2, within2, AUSE and its ratio to random


def evaluate_recovery_set(
    estimator,
    samples: Sequence[DepthSample],
    spec: RecoverySet,
    progress: Callable[[int], None] | None = None,
) -> RecoveryReport:
    """Every frame of one set through `estimator` (a recovery DepthEstimator) at the frame's
    resolution, beside the baselines, all scored on the same pixels."""
    rng = np.random.default_rng(0)
    pooled = {name: _Pooled() for name in (MODEL, *BASELINES)}
    preds, sigmas, truths = [], [], []
    safe = within = count = 0
    for sample in samples:
        case = recovery_case(sample, spec.protocol)
        result = estimator.predict(case.rgb, case.raw, case.intrinsics, case.truth.shape)
        pooled[MODEL].add(result.depth, case)
        pooled[BASELINES[0]].add(nearest_fill(case.raw), case)
        pooled[BASELINES[1]].add(guided_hole_filling(case.raw, case.rgb), case)
        p, s, g = (a[case.scored] for a in (result.depth, result.sigma, case.truth))
        safe += int(np.sum(p - SIGMA_K * s <= g))
        within += int(np.sum(np.abs(p - g) <= SIGMA_K * s))
        count += p.size
        keep = rng.choice(p.size, min(p.size, 20_000), replace=False)
        preds.append(p[keep])
        sigmas.append(s[keep])
        truths.append(g[keep])
        if progress:
            progress(1)
    curves = sparsification(
        np.concatenate(preds), np.concatenate(sigmas), np.concatenate(truths), max_depth=np.inf
    )
    sigma = {
        "safe2": safe / max(count, 1),
        "within2": within / max(count, 1),
        "ause_rmse": curves["ause_rmse"],
        "ause_ratio": curves["ause_random_rmse"] / max(curves["ause_rmse"], 1e-12),
    }
    return RecoveryReport(
        spec.name,
        spec.protocol,
        len(samples),
        count,
        {m: t.summary() for m, t in pooled.items()},
        sigma,
    )


def recovery_targets(report: RecoveryReport) -> dict[str, tuple[bool, str]]:
    """Each target for one set: (met, the measured figures)."""
    model = report.methods[MODEL]
    best_rmse = min(report.methods[b]["rmse"] for b in BASELINES)
    best_close = max(report.methods[b]["delta_1.05"] for b in BASELINES)
    s = report.sigma
    return {
        "RMSE < both baselines": (
            model["rmse"] < best_rmse,
            f"{model['rmse']:.4f} vs {best_rmse:.4f}",
        ),
        "δ1.05 > both baselines": (
            model["delta_1.05"] > best_close,
            f"{model['delta_1.05']:.3f} vs {best_close:.3f}",
        ),
        "AUSE ≥ 2× random": (s["ause_ratio"] >= 2.0, f"{s['ause_ratio']:.2f}×"),
        "safe2 ≥ 0.99": (s["safe2"] >= 0.99, f"{s['safe2']:.3f}"),
    }


def recovery_tables(reports: list[RecoveryReport]) -> str:
    """Accuracy per method, σ honesty and the targets, one row per set (and method)."""
    lines = [
        "### Accuracy (pooled over the scored pixels)",
        "",
        "| set | protocol | frames | scored pixels | method | RMSE (m) | AbsRel | δ1.05 | "
        "kept-pixel RMSE vs raw (m) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in reports:
        for method, v in r.methods.items():
            lines.append(
                f"| {r.name} | {r.protocol} | {r.frames} | {r.scored_pixels} | "
                f"{method} | {v['rmse']:.4f} | {v['abs_rel']:.4f} | "
                f"{v['delta_1.05']:.3f} | {v['kept_rmse']:.4f} |"
            )
    lines += [
        "",
        "### σ honesty of the model (scored pixels)",
        "",
        "| set | safe2 (d − 2σ ≤ truth) | within2 | AUSE | random / AUSE |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in reports:
        s = r.sigma
        lines.append(
            f"| {r.name} | {s['safe2']:.3f} | {s['within2']:.3f} | "
            f"{s['ause_rmse']:.4f} | {s['ause_ratio']:.2f} |"
        )
    names = list(recovery_targets(reports[0])) if reports else []
    lines += [
        "",
        "### Targets",
        "",
        "| set | " + " | ".join(names) + " |",
        "| --- |" + " --- |" * len(names),
    ]
    for r in reports:
        cells = [
            f"{'met' if ok else '**missed**'}: {figure}"
            for ok, figure in recovery_targets(r).values()
        ]
        lines.append(f"| {r.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
