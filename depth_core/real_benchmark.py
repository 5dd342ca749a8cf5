"""The real-frame benchmark of monocular models: fixed splits of ../shared/data, every held-out
set scored through the runtime the node uses (`DepthEstimator`), without and with the support
plane a robot would know, beside strong baselines, with σ's honesty per set.

Splits (fixed before any model was trained on real frames):
- training: the 7-Scenes kitchen's first frames (`sevenscenes_redkitchen/train`);
- validation, for checkpoint selection and σ calibration: close-range sensors that no
  training source resembles (VALIDATION_SETS);
- held out: everything else (MONOCULAR_HELD_OUT), reported once per shipped model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from depth_core.data.sample import DepthSample
from depth_core.geometry import Intrinsics
from depth_core.metrics import depth_metrics, evaluation_mask, sparsification
from depth_core.runtime.plane_scale import GroundPlane

TRAINING_SETS = ("sevenscenes_redkitchen/train",)
VALIDATION_SETS = ("apc_shelf", "arc2017_bins", "phoxi_bins")
METRICS = ("abs_rel", "rmse", "delta1", "delta_1.05")
SIGMA_K = 2.0  # the robot acts on d − kσ
PIXELS_PER_FRAME = 20_000  # subsample for the leave-one-out medians and the AUSE


@dataclass(frozen=True)
class RealSet:
    name: str  # a ../shared/data set (shared_frames) or "middlebury"
    max_depth: float = 10.0
    crop: str | None = None
    indoor: bool = True


MONOCULAR_HELD_OUT = (
    RealSet("sevenscenes_redkitchen/held_out"),
    RealSet("office_ceiling"),
    RealSet("tum_fr1"),
    RealSet("kinect_poses"),
    RealSet("icl_nuim"),
    RealSet("icl_rendered"),
    RealSet("orbbec_person"),
    RealSet("single_frames"),
    RealSet("middlebury"),
    RealSet("kitti_object", 80.0, "garg", indoor=False),
)


# --------------------------------------------------------------------- the known support plane


def ransac_ground_plane(
    depth: np.ndarray,
    valid: np.ndarray,
    intrinsics: Intrinsics,
    rng: np.random.Generator,
    iterations: int = 400,
    inlier_m: float = 0.02,
    max_points: int = 20_000,
) -> GroundPlane | None:
    """The support plane as a robot would know it, fitted on true depth: RANSAC over the valid
    points for planes whose normal is within 60° of "up" in the optical frame (n_y < −0.5,
    n pointing toward the camera), inliers within `inlier_m`; the most inliers wins, refined
    by least squares on them. None when no such plane holds 3% of the points."""
    rows, columns = np.nonzero(valid & (depth > 0))
    if rows.size < 100:
        return None
    pick = rng.choice(rows.size, min(rows.size, max_points), replace=False)
    rows, columns = rows[pick], columns[pick]
    points = intrinsics.back_project(rows, columns, depth[rows, columns]).T
    triples = points[rng.integers(0, len(points), (iterations, 3))]
    normals = np.cross(triples[:, 1] - triples[:, 0], triples[:, 2] - triples[:, 0])
    lengths = np.linalg.norm(normals, axis=1)
    usable = lengths > 1e-9
    normals = normals[usable] / lengths[usable, None]
    offsets = -np.einsum("ij,ij->i", normals, triples[usable, 0])
    flip = offsets < 0  # n must point from the plane toward the camera (d > 0)
    normals[flip], offsets[flip] = -normals[flip], -offsets[flip]
    upward = normals[:, 1] < -0.5
    if not upward.any():
        return None
    normals, offsets = normals[upward], offsets[upward]
    counts = (np.abs(points @ normals.T + offsets) < inlier_m).sum(axis=0)
    best = int(np.argmax(counts))
    if counts[best] < 0.03 * len(points):
        return None
    inliers = points[np.abs(points @ normals[best] + offsets[best]) < inlier_m]
    centre = inliers.mean(axis=0)
    normal = np.linalg.svd(inliers - centre, full_matrices=False)[2][-1]
    normal = normal if normal @ normals[best] > 0 else -normal
    return GroundPlane.from_coefficients([*normal, -float(normal @ centre)])


# ------------------------------------------------------------------------------ the benchmark


@dataclass
class SetReport:
    name: str
    frames: int
    indoor: bool
    methods: dict[str, dict[str, float]]  # method -> mean of the per-frame metrics
    sigma: dict[str, dict[str, float]]  # "learned" / "plane" -> safe2, within2, AUSE
    plane_frames: int = 0  # frames where a plane was fitted on the truth
    plane_found: int = 0  # ... and the estimator found it
    median_ratio: float = 0.0  # median prediction / truth, learned scale
    latency_ms: float = 0.0
    extra: dict = field(default_factory=dict)


def _subsample(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return values if values.size <= PIXELS_PER_FRAME else rng.choice(values, PIXELS_PER_FRAME)


def leave_one_out_medians(samples: Sequence[DepthSample], max_depth: float) -> list[float]:
    """Per frame, the median valid depth of the set's other frames (a subsample of each)."""
    rng = np.random.default_rng(0)
    pools = [
        _subsample(s.depth[evaluation_mask(s.depth, s.valid, max_depth=max_depth)], rng)
        for s in samples
    ]
    if len(pools) == 1:
        return [float(np.median(pools[0]))]  # one frame: its own (the only) statistic
    return [float(np.median(np.concatenate(pools[:i] + pools[i + 1 :]))) for i in range(len(pools))]


class _SigmaTally:
    """safe2, within2 over every valid pixel; AUSE over a subsample of each frame's."""

    def __init__(self):
        self.safe = self.within = self.count = 0
        self.pred: list[np.ndarray] = []
        self.sigma: list[np.ndarray] = []
        self.gt: list[np.ndarray] = []

    def add(self, pred, sigma, gt, mask, rng) -> None:
        p, s, g = pred[mask], sigma[mask], gt[mask]
        self.safe += int(np.sum(p - SIGMA_K * s <= g))
        self.within += int(np.sum(np.abs(p - g) <= SIGMA_K * s))
        self.count += int(mask.sum())
        keep = rng.choice(p.size, min(p.size, PIXELS_PER_FRAME), replace=False)
        self.pred.append(p[keep])
        self.sigma.append(s[keep])
        self.gt.append(g[keep])

    def summary(self, max_depth: float) -> dict[str, float]:
        if not self.count:
            return {}
        curves = sparsification(
            np.concatenate(self.pred),
            np.concatenate(self.sigma),
            np.concatenate(self.gt),
            max_depth=max_depth,
        )
        ratio = curves["ause_random_rmse"] / max(curves["ause_rmse"], 1e-12)
        return {
            "safe2": self.safe / self.count,
            "within2": self.within / self.count,
            "ause_rmse": curves["ause_rmse"],
            "ause_ratio": ratio,
        }


def evaluate_real_set(
    estimator,
    samples: Sequence[DepthSample],
    spec: RealSet,
    train_mean_depth: float,
    progress: Callable[[int], None] | None = None,
) -> SetReport:
    """Every frame of one held-out set, at the ground truth's resolution with the set's own
    intrinsics: the model with its learned scale, the model with the support plane fitted on
    the truth (RANSAC, as a robot would know it), the model median-scaled, a leave-one-out
    constant and the training data's mean depth."""
    rng = np.random.default_rng(0)
    medians = leave_one_out_medians(samples, spec.max_depth)
    rows: dict[str, list[dict[str, float]]] = {}
    tallies = {"learned": _SigmaTally(), "plane": _SigmaTally()}
    ratios, latencies = [], []
    plane_frames = plane_found = 0

    def score(method: str, pred: np.ndarray, gt, valid, median_scaling=False) -> None:
        metrics = depth_metrics(
            pred, gt, valid, max_depth=spec.max_depth, crop=spec.crop, median_scaling=median_scaling
        )
        rows.setdefault(method, []).append({m: metrics[m] for m in METRICS})

    for index, sample in enumerate(samples):
        gt, valid = sample.depth, sample.valid
        mask = evaluation_mask(gt, valid, max_depth=spec.max_depth, crop=spec.crop)
        start = time.perf_counter()
        learned = estimator.predict(sample.rgb, None, sample.intrinsics, gt.shape)
        latencies.append(time.perf_counter() - start)
        plane = ransac_ground_plane(gt, mask, sample.intrinsics, rng)
        anchored = learned
        if plane is not None:
            plane_frames += 1
            anchored = estimator.predict(sample.rgb, None, sample.intrinsics, gt.shape, plane)
            plane_found += anchored.scale_source == "plane"
        score("model, learned scale", learned.depth, gt, valid)
        score("model + ground plane", anchored.depth, gt, valid)
        score("model, median-scaled", learned.depth, gt, valid, median_scaling=True)
        score(
            "constant: leave-one-out median",
            np.full(gt.shape, medians[index], np.float32),
            gt,
            valid,
        )
        score(
            "constant: training mean depth",
            np.full(gt.shape, train_mean_depth, np.float32),
            gt,
            valid,
        )
        tallies["learned"].add(learned.depth, learned.sigma, gt, mask, rng)
        tallies["plane"].add(anchored.depth, anchored.sigma, gt, mask, rng)
        ratios.append(float(np.median(learned.depth[mask]) / np.median(gt[mask])))
        if progress:
            progress(1)
    return SetReport(
        name=spec.name,
        frames=len(ratios),
        indoor=spec.indoor,
        methods={
            m: {k: float(np.mean([r[k] for r in v])) for k in METRICS} for m, v in rows.items()
        },
        sigma={key: tally.summary(spec.max_depth) for key, tally in tallies.items()},
        plane_frames=plane_frames,
        plane_found=plane_found,
        median_ratio=float(np.median(ratios)),
        latency_ms=float(np.median(latencies) * 1000),
    )


# -------------------------------------------------------------------------------- the tables


def targets(report: SetReport) -> dict[str, tuple[bool, str]]:
    """Each target of the real benchmark for one set: (met, the measured figures)."""
    m, s = report.methods, report.sigma["learned"]
    plane = m["model + ground plane"]["abs_rel"]
    median = m["model, median-scaled"]["abs_rel"]
    constant = m["constant: leave-one-out median"]["abs_rel"]
    result = {
        "plane < constant": (plane < constant, f"{plane:.3f} vs {constant:.3f}"),
        "plane ≤ 1.15 × median-scaled": (
            plane <= 1.15 * median,
            f"{plane:.3f} vs {1.15 * median:.3f}",
        ),
        "safe2 ≥ 0.95": (s["safe2"] >= 0.95, f"{s['safe2']:.3f}"),
        "AUSE ≥ 2× random": (s["ause_ratio"] >= 2.0, f"{s['ause_ratio']:.2f}×"),
        "median-scaled ≤ 0.20": (median <= 0.20, f"{median:.3f}"),
    }
    if not report.indoor:  # the plane and structure targets are for indoor sets
        for key in ("plane < constant", "median-scaled ≤ 0.20"):
            result[key] = (True, result[key][1] + " (outdoor: not a target)")
    return result


def markdown_tables(reports: list[SetReport]) -> str:
    """Accuracy, σ honesty and targets, one row per set (and method)."""
    lines = [
        "### Accuracy (mean over frames)",
        "",
        "| set | frames | method | AbsRel | RMSE (m) | δ1 | δ1.05 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in reports:
        for method, v in r.methods.items():
            cells = " | ".join(f"{v[m]:.3f}" for m in METRICS)
            lines.append(f"| {r.name} | {r.frames} | {method} | {cells} |")
    lines += [
        "",
        "### σ honesty (every valid pixel; AUSE of RMSE on a subsample)",
        "",
        "| set | scale | safe2 (d − 2σ ≤ truth) | within2 (abs(d − truth) ≤ 2σ) | "
        "AUSE | random / AUSE | median prediction / truth | plane frames (found) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in reports:
        for key, s in r.sigma.items():
            lines.append(
                f"| {r.name} | {key} | {s['safe2']:.3f} | {s['within2']:.3f} | "
                f"{s['ause_rmse']:.4f} | {s['ause_ratio']:.2f} | {r.median_ratio:.2f} | "
                f"{r.plane_frames} ({r.plane_found}) |"
            )
    names = list(targets(reports[0])) if reports else []
    lines += [
        "",
        "### Targets",
        "",
        "| set | " + " | ".join(names) + " |",
        "| --- |" + " --- |" * len(names),
    ]
    for r in reports:
        cells = [f"{'met' if ok else '**missed**'}: {figure}" for ok, figure in targets(r).values()]
        lines.append(f"| {r.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
