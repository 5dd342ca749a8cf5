#!/usr/bin/env python3
"""Fit a temperature on σ so that the proximity monitor's conservative distance covers the
truth, and store it in the model's metadata (`sigma_scale`).

    python training/calibrate_sigma.py depth_ros/models/recovery.pt --target 0.99
    python training/calibrate_sigma.py depth_ros/models/monocular.pt --target 0.95

Monocular models first get a scale term (`relative_sigma`): the RMS over held-out generated
scenes of log(median true depth / median predicted depth), the model's whole-image scale
error, which enters σ as relative_sigma·depth in quadrature (processing.with_scale_uncertainty).
Recovery models take their scale from the raw depth and keep 0.

With --real, the scale term is fitted on the real validation sources instead
(depth_core.real_benchmark.VALIDATION_SETS, never in a held-out table): the smallest
relative_sigma for which d − k·σ ≤ truth on at least --target of the valid pixels of every
validation source, the temperature staying 1. A single image often cannot tell a 0.7 m
tabletop from a 1.4 m one; this is how wide σ must be for the robot's d − kσ to hold anyway.

    python training/calibrate_sigma.py runs/real_monocular/best.pt --real --target 0.95

Otherwise, held-out generated walks (seeds apart from evaluate_proximity.py's) give, per frame, the
true nearest distance in the zone and the model's depth and σ there. The temperature is the
smallest T on a log grid for which the share of frames with percentile(d − k·σ_T) <= truth
reaches --target (k = 2), σ_T being T·σ plus the scale term. The checkpoint and its ONNX
export are rewritten in place (or to --out); the ONNX file is what the nodes load.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from depth_core.data.scenes import random_scene
from depth_core.export.onnx import save_and_export
from depth_core.processing import with_scale_uncertainty
from depth_core.proximity import zone_reading
from depth_core.runtime.estimator import DepthEstimator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evaluate_proximity import walk_frames  # noqa: E402  (the same walks and zone as there)

SCALE_SEED = 98_000_000  # generated scenes apart from training (small seeds), evaluate.py's


def fit_relative_sigma(estimator: DepthEstimator, scenes: int) -> float:
    """RMS of log(median true / median predicted depth) over held-out generated scenes."""
    log_ratios = []
    for index in range(scenes):
        scene = random_scene(SCALE_SEED + index, 320, 240)
        sample = scene.render(scene.cameras[0])
        depth = estimator.predict(sample.rgb, None, sample.intrinsics).depth
        valid = sample.valid & (sample.depth > 0)
        log_ratios.append(np.log(np.median(sample.depth[valid]) / np.median(depth[valid])))
    return float(np.sqrt(np.mean(np.square(log_ratios))))


def fit_relative_sigma_on_real(
    estimator: DepthEstimator, shared: Path, target: float, k: float
) -> tuple[tuple, tuple]:
    """(relative_sigma, share reached per source) for the learned scale, and the same for
    the plane-anchored scale (plane_relative_sigma: beyond each fit's own spread; planes
    fitted on the truth as the benchmark does): each the smallest with d − k·σ ≤ truth on
    `target` of every validation source's valid pixels."""
    from depth_core.data.shared_sets import shared_frames
    from depth_core.real_benchmark import VALIDATION_SETS, ransac_ground_plane

    learned, anchored = {}, {}  # source -> (depth, σ, truth, plane spread) over its frames
    rng = np.random.default_rng(0)
    for name in VALIDATION_SETS:
        for sample in shared_frames(shared, name):
            mask = sample.valid & (sample.depth > 0)
            result = estimator.predict(sample.rgb, None, sample.intrinsics, sample.depth.shape)
            learned.setdefault(name, []).append(
                (result.depth[mask], result.sigma[mask], sample.depth[mask], 0.0)
            )
            plane = ransac_ground_plane(sample.depth, mask, sample.intrinsics, rng)
            if plane is None:
                continue
            fitted = estimator.predict(
                sample.rgb, None, sample.intrinsics, sample.depth.shape, plane
            )
            if fitted.scale_source == "plane":  # the per-pixel σ, scaled as the depth was
                anchored.setdefault(name, []).append(
                    (
                        fitted.depth[mask],
                        result.sigma[mask] * np.float32(fitted.plane.scale),
                        sample.depth[mask],
                        fitted.plane.relative_sigma,
                    )
                )
    return (
        _smallest_relative_sigma(learned, target, k),
        _smallest_relative_sigma(anchored, target, k),
    )


def _smallest_relative_sigma(frames: dict[str, list], target: float, k: float) -> tuple:
    """The smallest r (log grid from 0) with d − k·σ ≤ truth on `target` of every source's
    pixels, σ being the per-pixel σ with hypot(r, the frame's own spread)·d in quadrature."""
    reached: dict[str, float] = {}
    for relative_sigma in [0.0, *np.exp(np.linspace(np.log(0.005), np.log(2.0), 121))]:
        for name, parts in frames.items():
            safe = total = 0
            for d, s, g, spread in parts:
                sigma = with_scale_uncertainty(s, d, float(np.hypot(relative_sigma, spread)))
                safe, total = safe + int(np.sum(d - k * sigma <= g)), total + d.size
            reached[name] = safe / max(total, 1)
        if min(reached.values(), default=1.0) >= target:
            return float(relative_sigma), dict(reached)
    raise SystemExit(f"no scale σ up to 2 reaches {target} on every validation source: {reached}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--target", type=float, required=True, help="coverage to reach")
    parser.add_argument("--k", type=float, default=2.0)
    parser.add_argument("--scenes", type=int, default=10)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--seed", type=int, default=700_000)
    parser.add_argument(
        "--scale-scenes",
        type=int,
        default=24,
        help="held-out generated scenes for the scale term (monocular)",
    )
    parser.add_argument("--out", help="new checkpoint path (default: overwrite)")
    parser.add_argument(
        "--real",
        action="store_true",
        help="monocular: fit the scale term on the real validation sources",
    )
    parser.add_argument(
        "--shared", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data")
    )
    args = parser.parse_args(argv)
    try:
        estimator = DepthEstimator.load(args.checkpoint, backend="torch")
    except (OSError, ValueError) as error:  # no such file, or not a checkpoint: say so
        parser.error(str(error))
    # The model and a copy of its metadata to save; the estimator's own copy is changed below.
    model, metadata = estimator.backend.model, dataclasses.replace(estimator.metadata)
    estimator.metadata.sigma_scale = 1.0  # fit from the raw σ
    estimator.metadata.relative_sigma = 0.0
    recovery = "raw_depth" in metadata.inputs
    if args.real:
        if recovery:
            parser.error("--real calibrates monocular models")
        estimator.metadata.plane_relative_sigma = 0.0
        (relative_sigma, reached), (plane_sigma, plane_reached) = fit_relative_sigma_on_real(
            estimator, Path(args.shared), args.target, args.k
        )
        metadata.sigma_scale, metadata.relative_sigma = 1.0, relative_sigma
        metadata.plane_relative_sigma = plane_sigma
        metadata.metrics = {
            **metadata.metrics,
            "sigma_calibration": {
                "temperature": 1.0,
                "relative_sigma": relative_sigma,
                "k": args.k,
                "plane_relative_sigma": plane_sigma,
                "target_safe_share": args.target,
                "safe_share_reached": reached,
                "safe_share_reached_with_plane": plane_reached,
                "fitted_on": "real validation sources, every valid pixel",
            },
        }
        out = Path(args.out or args.checkpoint)
        out.parent.mkdir(parents=True, exist_ok=True)
        onnx_path = save_and_export(model, out, metadata)
        print(
            json.dumps(
                {
                    "relative_sigma": relative_sigma,
                    "safe_share": reached,
                    "plane_relative_sigma": plane_sigma,
                    "with_plane": plane_reached,
                    "checkpoint": str(out),
                    "onnx": str(onnx_path),
                }
            )
        )
        return 0
    relative_sigma = 0.0 if recovery else fit_relative_sigma(estimator, args.scale_scenes)
    frames = []  # (truth, depth, σ, zone mask) per frame
    for sample, mask, truth, raw in walk_frames(args.seed, args.scenes, args.frames):
        result = estimator.predict(sample.rgb, raw if recovery else None, sample.intrinsics)
        frames.append((truth, result.depth, result.sigma, mask))
    temperatures = np.exp(np.linspace(np.log(0.25), np.log(64.0), 97))
    uncalibrated = float(
        np.mean(
            [zone_reading(d, s, m, k=args.k).conservative <= truth for truth, d, s, m in frames]
        )
    )
    chosen, coverage_at = None, {}
    for temperature in temperatures:
        covered = [
            zone_reading(
                d, with_scale_uncertainty(s * temperature, d, relative_sigma), m, k=args.k
            ).conservative
            <= truth
            for truth, d, s, m in frames
        ]
        coverage_at[float(temperature)] = float(np.mean(covered))
        if chosen is None and coverage_at[float(temperature)] >= args.target:
            chosen = float(temperature)
            break
    if chosen is None:
        print(
            f"no temperature up to {temperatures[-1]:.0f} reaches coverage {args.target}; "
            f"best {max(coverage_at.values()):.3f}",
            file=sys.stderr,
        )
        return 1
    metadata.sigma_scale = chosen
    metadata.relative_sigma = relative_sigma
    metadata.metrics = {
        **metadata.metrics,
        "sigma_calibration": {
            "temperature": chosen,
            "relative_sigma": relative_sigma,
            "relative_sigma_held_out": None
            if recovery
            else f"{args.scale_scenes} generated scenes, seeds {SCALE_SEED}..",
            "k": args.k,
            "target_coverage": args.target,
            "coverage_before": uncalibrated,
            "coverage_after": coverage_at[chosen],
            "held_out": f"{args.scenes} approaching-person walks x {args.frames} frames, seeds "
            f"{args.seed}..{args.seed + args.scenes - 1}",
        },
    }
    out = Path(args.out or args.checkpoint)
    onnx_path = save_and_export(model, out, metadata)
    print(
        json.dumps(
            {
                "temperature": chosen,
                "relative_sigma": relative_sigma,
                "coverage_before": uncalibrated,
                "coverage_after": coverage_at[chosen],
                "checkpoint": str(out),
                "onnx": str(onnx_path),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
