"""Evaluation of deployed models on real and generated frames, with the baselines the README
reports beside them. Models run through the runtime estimator, so the evaluated pre- and
post-processing is exactly what the nodes run.

- monocular: the model, the training-set mean depth as a constant (trivial baseline), and
  the model median-scaled (its relative structure alone);
- recovery: the model, the raw input (holes filled with the nearest valid value, so every
  method covers the same pixels) and a classical RGB-guided hole filling (guided filter);
- uncertainty: AUSE of the model's σ against random ordering.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from depth_core.data.sample import DepthSample
from depth_core.data.simulation import simulate_tof
from depth_core.metrics import depth_metrics, sparsification
from depth_core.processing import preprocess_raw_depth
from depth_core.visualize import colourise_depth, mosaic

REPORTED = ("abs_rel", "rmse", "delta1", "delta_1.05", "mae")


def nearest_fill(raw: np.ndarray) -> np.ndarray:
    """Every missing pixel (0) takes the value of the nearest valid one."""
    valid = raw > 0
    if not valid.any():
        return raw.copy()
    _, labels = cv2.distanceTransformWithLabels(
        (~valid).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    # Labels number the zero pixels of the input (the valid ones) in row-major order.
    values = raw[valid]
    return values[labels - 1].astype(np.float32)


def _box(image: np.ndarray, radius: int) -> np.ndarray:
    return cv2.boxFilter(image, -1, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)


def guided_filter(guide: np.ndarray, source: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter with a greyscale guide: q = a·I + b, box windows."""
    mean_i, mean_p = _box(guide, radius), _box(source, radius)
    cov = _box(guide * source, radius) - mean_i * mean_p
    var = _box(guide * guide, radius) - mean_i * mean_i
    a = cov / (var + eps)
    b = mean_p - a * mean_i
    return _box(a, radius) * guide + _box(b, radius)


def guided_hole_filling(raw: np.ndarray, rgb: np.ndarray, eps: float = 1e-3) -> np.ndarray:
    """Classical RGB-guided completion: missing pixels get the guided-filter normalised
    convolution Σ(raw·m)/Σ(m) (m = validity) with the image as guide, at growing radii until
    every hole is filled; measured pixels keep their value."""
    raw = raw.astype(np.float32)
    valid = (raw > 0).astype(np.float32)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    if grey.shape != raw.shape:
        grey = cv2.resize(grey, raw.shape[::-1], interpolation=cv2.INTER_AREA)
    out = raw.copy()
    missing = valid == 0
    radius = 2
    while missing.any() and radius <= max(raw.shape):
        numerator = guided_filter(grey, raw * valid, radius, eps)
        denominator = guided_filter(grey, valid, radius, eps)
        filled = missing & (denominator > 0.05)
        out[filled] = numerator[filled] / denominator[filled]
        missing &= ~filled
        radius *= 2
    nearest = nearest_fill(raw)
    out[missing] = nearest[missing]
    return np.where(out > 0, out, nearest).astype(np.float32)


def _metrics(pred, gt, valid, max_depth, crop, median_scaling=False) -> dict[str, float]:
    result = depth_metrics(
        pred, gt, valid, max_depth=max_depth, crop=crop, median_scaling=median_scaling
    )
    mask = valid & (gt > 1e-3) & (gt < max_depth)
    result["mae"] = float(np.mean(np.abs(np.clip(pred[mask], 1e-3, max_depth) - gt[mask])))
    if not median_scaling:
        # The scale alone: 1 when the median depth is right, < 1 when the scene is put too near.
        result["median_ratio"] = float(np.median(pred[mask]) / np.median(gt[mask]))
    return result


@dataclass
class DatasetReport:
    name: str
    frames: int
    methods: dict[str, dict[str, float]]  # method -> mean metric over frames
    ause: dict[str, float] = field(default_factory=dict)
    latency_ms: float = 0.0


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: float(np.mean([row[key] for row in rows])) for key in rows[0]}


def evaluate_samples(
    estimator,
    samples: Iterable[DepthSample],
    name: str,
    max_depth: float = 10.0,
    crop: str | None = None,
    train_mean_depth: float | None = None,
    simulate_raw: bool = False,
    seed: int = 0,
    preview_dir=None,
) -> tuple[DatasetReport, dict]:
    """Run `estimator` over `samples` (at the ground truth's resolution) and score it beside
    the baselines. Recovery models take the sample's raw depth, or (simulate_raw) a ToF frame
    simulated from the ground truth by `simulate_tof`. Returns the report and the pooled
    sparsification."""
    recovery = "raw_depth" in estimator.metadata.inputs
    rows: dict[str, list] = {}
    pooled_pred, pooled_sigma, pooled_gt = [], [], []
    latencies = []
    rng = np.random.default_rng(seed)
    for index, sample in enumerate(samples):
        gt, valid = sample.depth, sample.valid
        raw = None
        if recovery:
            if simulate_raw:
                raw = simulate_tof(gt, rng)
            elif sample.raw_depth is not None:
                raw = sample.raw_depth
            else:
                raise ValueError(f"{sample.name}: no raw depth and no simulation for recovery")
        start = time.perf_counter()
        result = estimator.predict(sample.rgb, raw, sample.intrinsics, output_size=gt.shape)
        latencies.append(time.perf_counter() - start)
        methods = {"model": result.depth}
        if recovery:
            raw_full = preprocess_raw_depth(raw, gt.shape)[0, 0]
            methods["raw (nearest-filled)"] = nearest_fill(raw_full)
            methods["guided filter fill"] = guided_hole_filling(raw_full, sample.rgb)
        elif train_mean_depth is not None:
            methods["training mean depth"] = np.full(gt.shape, train_mean_depth, np.float32)
        for method, pred in methods.items():
            rows.setdefault(method, []).append(_metrics(pred, gt, valid, max_depth, crop))
        if not recovery:
            rows.setdefault("model, median-scaled", []).append(
                _metrics(result.depth, gt, valid, max_depth, crop, median_scaling=True)
            )
        mask = valid & (gt > 1e-3) & (gt < max_depth)
        pooled_pred.append(result.depth[mask])
        pooled_sigma.append(result.sigma[mask])
        pooled_gt.append(gt[mask])
        if preview_dir is not None and index < 4:
            _save_preview(preview_dir, name, index, sample, raw, result)
    if not rows:
        raise ValueError(f"{name}: no frames")
    curves = sparsification(
        np.concatenate(pooled_pred),
        np.concatenate(pooled_sigma),
        np.concatenate(pooled_gt),
        max_depth=max_depth,
    )
    report = DatasetReport(
        name=name,
        frames=len(rows["model"]),
        methods={method: _mean(values) for method, values in rows.items()},
        ause={
            key: curves[key]
            for key in ("ause_rmse", "ause_random_rmse", "ause_abs_rel", "ause_random_abs_rel")
        },
        latency_ms=float(np.median(latencies) * 1000),
    )
    return report, curves


def _save_preview(folder, name, index, sample, raw, result) -> None:
    gt = sample.depth
    valid_gt = gt[gt > 0]
    lo, hi = (
        (float(np.percentile(valid_gt, 2)), float(np.percentile(valid_gt, 98)))
        if valid_gt.size
        else (None, None)
    )
    tiles = [("rgb", sample.rgb[..., ::-1])]
    if raw is not None:
        tiles.append(("raw", colourise_depth(raw, lo, hi)))
    tiles += [
        ("ground truth", colourise_depth(gt, lo, hi)),
        ("prediction", colourise_depth(result.depth, lo, hi)),
        ("sigma", colourise_depth(result.sigma)),
    ]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / f"{name.replace('/', '_')}_{index}.png"), mosaic(tiles, 160))


def markdown_table(reports: list[DatasetReport], metrics: tuple[str, ...] = REPORTED) -> str:
    header = "| data set | frames | method | " + " | ".join(metrics) + " |"
    lines = [header, "|" + " --- |" * (len(metrics) + 3)]
    for report in reports:
        for method, values in report.methods.items():
            cells = " | ".join(f"{values[m]:.3f}" for m in metrics)
            lines.append(f"| {report.name} | {report.frames} | {method} | {cells} |")
    return "\n".join(lines)


def ause_table(reports: list[DatasetReport]) -> str:
    lines = [
        "| data set | AUSE RMSE | random RMSE | ratio | AUSE AbsRel | random AbsRel | ratio |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in reports:
        a = r.ause
        lines.append(
            f"| {r.name} | {a['ause_rmse']:.4f} | {a['ause_random_rmse']:.4f} | "
            f"{a['ause_random_rmse'] / max(a['ause_rmse'], 1e-12):.2f} | "
            f"{a['ause_abs_rel']:.4f} | {a['ause_random_abs_rel']:.4f} | "
            f"{a['ause_random_abs_rel'] / max(a['ause_abs_rel'], 1e-12):.2f} |"
        )
    return "\n".join(lines)


def plot_sparsification(curves: dict[str, dict], path) -> None:
    """Sparsification curves (model vs oracle, RMSE) per data set, one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(3, len(curves))
    rows = -(-len(curves) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.2 * rows), squeeze=False)
    for axis in axes.flat[len(curves) :]:
        axis.axis("off")
    for axis, (name, curve) in zip(axes.flat, curves.items()):  # noqa: B905 (spare axes)
        full = curve["curve_rmse"][0]
        axis.plot(curve["fractions"], curve["curve_rmse"] / full, label="model σ")
        axis.plot(curve["fractions"], curve["oracle_rmse"] / full, label="oracle")
        axis.axhline(1.0, color="grey", linestyle="--", label="random")
        axis.set_title(name, fontsize=9)
        axis.set_xlabel("fraction removed")
        axis.set_ylabel("RMSE / full RMSE")
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write_generated_section(path: Path, name: str, command: str, text: str) -> None:
    """Put `text` between the markers of the section `name` (made by `command`) in the
    Markdown file `path`, keeping the rest of the file; a file without them gets them at its
    end (a new file: a title first)."""
    start = f"<!-- {name}: generated by {command} -->"
    end = f"<!-- end of the {name} -->"
    section = f"{start}\n{text.rstrip()}\n{end}"
    old = path.read_text() if path.is_file() else "# Results\n"
    if start in old and end in old:
        before, rest = old.split(start, 1)
        new = before + section + rest.split(end, 1)[1]
    else:
        new = f"{old.rstrip()}\n\n{section}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new)
