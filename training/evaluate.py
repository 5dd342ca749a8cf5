#!/usr/bin/env python3
"""Evaluate a model (checkpoint, .onnx or .engine) on real and generated frames.

    python training/evaluate.py --model depth_ros/models/monocular.pt --suite monocular \
        --out runs/eval_mono
    python training/evaluate.py --model depth_ros/models/recovery.pt --suite recovery \
        --out runs/eval_recovery
    python training/evaluate.py --model depth_ros/models/monocular.pt --suite real \
        --out runs/eval_real --results docs/results.md

--suite real is the held-out real-frame benchmark: for a monocular model
(depth_core.real_benchmark) every held-out set of ../shared/data without and with the
support plane; for a recovery model (depth_core.recovery_benchmark) every held-out set
beside nearest-filled raw and the guided fill; with the baselines, σ's honesty and the
targets, written to --results (docs/results.md). --split validation prints the same tables
on the validation sets only.

Writes metrics.md and metrics.json (per data set: model and baselines), sparsification.png
(AUSE curves) and qualitative PNGs to --out, and prints the tables. Real frames come from
../shared/data (--shared) and scikit-image's Middlebury pair; a set that is absent is
skipped with a message. --data adds a set from any loader, e.g. `--data nyu_eigen:root=/d/nyu`.
--rgb-blur / --rgb-sharpen perturb every RGB frame first, to see how far the predicted scale
(`median_ratio`, median prediction / median truth, in metrics.json) leans on sharpness.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from depth_core.data.catalog import LOADERS
from depth_core.data.shared_sets import shared_frames
from depth_core.evaluation import (
    ause_table,
    evaluate_samples,
    markdown_table,
    plot_sparsification,
    write_generated_section,
)
from depth_core.runtime.estimator import DepthEstimator

# (name, loader arguments, max depth, crop). Indoor sets are capped at 10 m (NYU protocol),
# KITTI at 80 m with the Garg crop.
MONOCULAR_SHARED = [
    ("tum_fr1", 10.0, None),
    ("kinect_poses", 10.0, None),
    ("icl_nuim", 10.0, None),
    ("icl_rendered", 10.0, None),
    ("single_frames", 10.0, None),
    ("orbbec_person", 10.0, None),
    ("kitti_object", 80.0, "garg"),
]
RECOVERY_SHARED = [("orbbec_person", False), ("tum_fr1", True), ("kinect_poses", True)]


def training_mean_depth(seed: int, count: int = 100) -> float:
    """Mean ground-truth depth of the first `count` training scenes (the trivial baseline)."""
    from depth_core.data.scenes import scene_frame

    total, pixels = 0.0, 0
    for index in range(count):
        depth = scene_frame(seed, index).depth
        total, pixels = total + float(depth[depth > 0].sum()), pixels + int((depth > 0).sum())
    return total / pixels


def perturbed(samples, blur_sigma: float, sharpen: float):
    """The frames with blurred or sharpened RGB (how much the scale leans on sharpness)."""
    from depth_core.training.datasets import change_sharpness

    for sample in samples:
        rgb = change_sharpness(sample.rgb.astype(np.float32), blur_sigma, sharpen)
        yield replace(sample, rgb=np.clip(np.rint(rgb), 0, 255).astype(np.uint8))


def parse_data(text: str):
    kind, _, rest = text.partition(":")
    if kind not in LOADERS:
        raise SystemExit(f"--data: unknown loader {kind!r}; choose from {sorted(LOADERS)}")
    arguments = dict(item.split("=", 1) for item in rest.split(",") if item)
    return kind, LOADERS[kind](**arguments)


def real_training_mean_depth(estimator, args) -> tuple[float, str]:
    """The training data's mean depth, for the constant baseline: generated scenes alone, or,
    for a model whose metadata names 7-Scenes, half generated scenes and half the 7-Scenes
    training split (every 10th frame), as real_monocular.yaml mixes them."""
    scenes = training_mean_depth(args.train_seed, args.mean_frames)
    if "7-Scenes" not in (estimator.metadata.training_data or ""):
        return scenes, "generated scenes"
    train = shared_frames(args.shared, "sevenscenes_redkitchen/train")[::10]
    kitchen = float(np.mean([s.depth[s.valid].mean() for s in train]))
    return (scenes + kitchen) / 2, "generated scenes and the 7-Scenes training split, equally"


def real_suite(estimator, args, out: Path) -> int:
    from tqdm import tqdm

    from depth_core.data.middlebury import load_motorcycle
    from depth_core.real_benchmark import (
        MONOCULAR_HELD_OUT,
        TRAINING_SETS,
        VALIDATION_SETS,
        RealSet,
        evaluate_real_set,
        markdown_tables,
    )

    shared = Path(args.shared)
    if not shared.is_dir():
        raise SystemExit(f"--suite real needs ../shared/data: {shared} is absent")
    train_mean, mean_source = real_training_mean_depth(estimator, args)
    sets = []
    validation = args.split == "validation"
    specs = [RealSet(name) for name in VALIDATION_SETS] if validation else MONOCULAR_HELD_OUT
    for spec in specs:
        if spec.name == "middlebury":
            samples = [load_motorcycle()]
        else:
            samples = shared_frames(shared, spec.name)
        sets.append((spec, samples[: args.limit] if args.limit else samples))
    reports = []
    with tqdm(total=sum(len(s) for _, s in sets), desc="real benchmark", unit="frame") as bar:
        for spec, samples in sets:
            reports.append(evaluate_real_set(estimator, samples, spec, train_mean, bar.update))
    (out / "real.json").write_text(json.dumps([asdict(r) for r in reports], indent=2))
    print(markdown_tables(reports))
    if validation:  # for choosing between models: never written to the results
        return 0
    meta = estimator.metadata
    words = args.argv if args.argv is not None else sys.argv[1:]
    command = " ".join(["python training/evaluate.py", *words])
    text = (
        f"## Monocular: the real-frame benchmark\n\nMade by `{command}`.\n\n"
        f"Model `{args.model}` ({meta.model_name}); trained on {meta.training_data}.\n\n"
        f"Splits, fixed before any model was trained on real frames: training "
        f"{', '.join(TRAINING_SETS)}; validation (checkpoint selection, σ calibration) "
        f"{', '.join(VALIDATION_SETS)}; every set below is held out. The 7-Scenes held-out "
        f"block is its last 150 frames, after a 50-frame gap that no split uses.\n\n"
        f"Each set runs at the ground truth's resolution with its own intrinsics, through "
        f'`DepthEstimator` as the node runs it. "model + ground plane" passes the support '
        f"plane fitted on the truth (RANSAC, normal within 60° of up, 2 cm inliers, most "
        f"inliers wins) as `ground_plane`; frames with no such plane, or whose plane the "
        f"estimator does not find, keep the learned scale. The training mean depth is "
        f"{train_mean:.3f} m ({mean_source}).\n\n"
        f"{markdown_tables(reports)}\n"
    )
    write_generated_section(
        Path(args.results), "real benchmark", "training/evaluate.py --suite real", text
    )
    print(f"\nwritten to {args.results}", file=sys.stderr)
    return 0


def real_recovery_suite(estimator, args, out: Path) -> int:
    """The real-frame recovery benchmark (depth_core.recovery_benchmark), like real_suite."""
    from tqdm import tqdm

    from depth_core.recovery_benchmark import (
        RECOVERY_HELD_OUT,
        RECOVERY_VALIDATION,
        evaluate_recovery_set,
        recovery_tables,
    )

    shared = Path(args.shared)
    if not shared.is_dir():
        raise SystemExit(f"--suite real needs ../shared/data: {shared} is absent")
    validation = args.split == "validation"
    specs = RECOVERY_VALIDATION if validation else RECOVERY_HELD_OUT
    sets = [(spec, shared_frames(shared, spec.name)) for spec in specs]
    sets = [(spec, samples[: args.limit] if args.limit else samples) for spec, samples in sets]
    reports = []
    with tqdm(total=sum(len(s) for _, s in sets), desc="recovery benchmark", unit="frame") as bar:
        for spec, samples in sets:
            reports.append(evaluate_recovery_set(estimator, samples, spec, bar.update))
    (out / "real_recovery.json").write_text(json.dumps([asdict(r) for r in reports], indent=2))
    print(recovery_tables(reports))
    if validation:  # for choosing between models: never written to the results
        return 0
    meta = estimator.metadata
    words = args.argv if args.argv is not None else sys.argv[1:]
    command = " ".join(["python training/evaluate.py", *words])
    text = (
        f"## Recovery: the real-frame benchmark\n\nMade by `{command}`.\n\n"
        f"Model `{args.model}` ({meta.model_name}); trained on {meta.training_data}.\n\n"
        f"Validation (checkpoint selection): {', '.join(s.name for s in RECOVERY_VALIDATION)} "
        f"under the holes protocol (`--split validation`); every set below is held out. The "
        f"7-Scenes held-out block is the kitchen that real-frame training saw, 50 frames "
        f"later: a same-room figure, not an unseen one. Protocols "
        f"(`depth_core/recovery_benchmark.py`): *reference*, the sensor's raw depth against "
        f"a better reference of the same frame; *holes*, fixed rectangles and a band along "
        f"depth edges are removed from the sensor's valid depth (seeded by the frame's "
        f"name) and scored against the sensor's values; *simulated*, ToF raw simulated from "
        f"dense truth. Every method sees the same raw input at the frame's resolution, "
        f"through `DepthEstimator` as the node runs it, and is scored on the same pixels. "
        f"Kept-pixel RMSE measures how far each output moves from the raw depth it was "
        f"given.\n\n{recovery_tables(reports)}\n"
    )
    write_generated_section(
        Path(args.results), "real recovery benchmark", "training/evaluate.py --suite real", text
    )
    print(f"\nwritten to {args.results}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--suite", choices=("monocular", "recovery", "real"), required=True)
    parser.add_argument(
        "--results",
        default="docs/results.md",
        help="--suite real: the Markdown file the tables go to",
    )
    parser.add_argument(
        "--split",
        choices=("held_out", "validation"),
        default="held_out",
        help="--suite real: the held-out sets (written to --results) or the "
        "validation sources (printed only: for choosing a model)",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=0,
        help="--suite real: at most this many frames per set (0 = all)",
    )
    parser.add_argument("--out", required=True)
    parser.add_argument(
        "--shared", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data")
    )
    parser.add_argument("--backend", default="auto")
    parser.add_argument(
        "--train-seed",
        type=int,
        default=1,
        help="seed of the training scenes (for the mean-depth baseline)",
    )
    parser.add_argument(
        "--mean-frames",
        type=int,
        default=100,
        help="training scenes averaged for the mean-depth baseline",
    )
    parser.add_argument("--scenes", type=int, default=16, help="held-out generated frames")
    parser.add_argument(
        "--skip-real", action="store_true", help="generated scenes (and --data) only: a quick check"
    )
    parser.add_argument("--data", action="append", default=[], metavar="LOADER:ARG=VALUE,...")
    parser.add_argument(
        "--rgb-blur",
        type=float,
        default=0.0,
        metavar="SIGMA_PX",
        help="diagnostic: blur every RGB frame (Gaussian σ, pixels) first",
    )
    parser.add_argument(
        "--rgb-sharpen",
        type=float,
        default=0.0,
        metavar="AMOUNT",
        help="diagnostic: sharpen every RGB frame (unsharp mask) first",
    )
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        estimator = DepthEstimator.load(args.model, backend=args.backend)
    except (OSError, ValueError) as error:  # no such file, or not a model: say so
        parser.error(str(error))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    recovery = "raw_depth" in estimator.metadata.inputs
    if args.suite == "real":
        return (real_recovery_suite if recovery else real_suite)(estimator, args, out)
    if recovery != (args.suite == "recovery"):
        raise SystemExit(
            f"{args.model} is a {estimator.metadata.model_name} model; "
            f"--suite {args.suite} does not fit it"
        )
    shared = Path(args.shared)
    sets = []  # (name, samples, max_depth, crop, raw_config)
    if args.skip_real:
        pass
    elif not shared.is_dir():
        print(f"skipping ../shared/data sets: {shared} is absent", file=sys.stderr)
    elif recovery:
        for name, simulate in RECOVERY_SHARED:
            samples = shared_frames(shared, name)
            label = f"{name} ({'simulated raw' if simulate else 'sensor raw'})"
            sets.append((label, samples, 10.0, None, simulate))
    else:
        for name, max_depth, crop in MONOCULAR_SHARED:
            sets.append((name, shared_frames(shared, name), max_depth, crop, False))
    if not args.skip_real:
        from depth_core.data.middlebury import load_motorcycle

        sets.append(
            (
                "middlebury motorcycle" + (" (simulated raw)" if recovery else ""),
                [load_motorcycle()],
                10.0,
                None,
                recovery,
            )
        )
    from depth_core.data.scenes import random_scene

    held_out = []
    for index in range(args.scenes):
        scene = random_scene(99_000_000 + index, 320, 240)
        held_out.append(scene.render(scene.cameras[0]))
    sets.append(("generated scenes (held out)", held_out, 10.0, None, recovery))
    for text in args.data:
        kind, samples = parse_data(text)
        sets.append(
            (
                kind,
                samples,
                80.0 if kind.startswith("kitti") else 10.0,
                "garg"
                if kind.startswith("kitti")
                else ("eigen" if kind.startswith("nyu") else None),
                False,
            )
        )

    if args.rgb_blur or args.rgb_sharpen:
        sets = [
            (name, perturbed(samples, args.rgb_blur, args.rgb_sharpen), *rest)
            for name, samples, *rest in sets
        ]
    train_mean = None if recovery else training_mean_depth(args.train_seed, args.mean_frames)
    reports, curves = [], {}
    for name, samples, max_depth, crop, simulate in sets:
        report, curve = evaluate_samples(
            estimator,
            samples,
            name,
            max_depth=max_depth,
            crop=crop,
            train_mean_depth=train_mean,
            simulate_raw=simulate,
            preview_dir=out / "previews",
        )
        reports.append(report)
        curves[name] = curve
        model = report.methods["model"]
        print(
            f"{name}: {report.frames} frames, model AbsRel {model['abs_rel']:.3f}, "
            f"median prediction / truth {model['median_ratio']:.3f}",
            file=sys.stderr,
        )
    table, ause = markdown_table(reports), ause_table(reports)
    (out / "metrics.md").write_text(f"{table}\n\nUncertainty (AUSE, lower is better):\n\n{ause}\n")
    (out / "metrics.json").write_text(
        json.dumps(
            {
                "model": args.model,
                "model_name": estimator.metadata.model_name,
                "training_data": estimator.metadata.training_data,
                "train_mean_depth": train_mean,
                "reports": [asdict(r) for r in reports],
            },
            indent=2,
        )
    )
    plot_sparsification(curves, out / "sparsification.png")
    print(table)
    print()
    print(ause)
    print(f"\nmedian latency per frame: {np.median([r.latency_ms for r in reports]):.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
