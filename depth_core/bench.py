"""`depth-core bench`: latency, rate and memory of the estimator for each model x backend x
resolution x precision, measured on this machine. Prints a table; writes JSON.

Each configuration runs in a fresh process, so its peak RSS is its own (the ONNX Runtime one
never imports torch). Latency is `DepthEstimator.predict` end to end (preprocess, network,
postprocess) on a real frame; warm-up runs are excluded. Weights are random unless a
checkpoint is given: speed does not depend on their values.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

DEFAULT_MODELS = ("transfer_monocular", "depth_recovery")
# What each backend can run; torch FP16 only on CUDA. ONNX Runtime INT8 runs a static INT8 copy
# (`depth-core export --onnx-int8`) calibrated on a few generated frames: its speed does not
# depend on the calibration. INT8 engines need calibration images: build them with
# `depth-core export --int8` and bench the engine with the estimator instead.
PRECISIONS = {
    "torch": ("fp32", "fp16"),
    "onnxruntime": ("fp32", "int8"),
    "tensorrt": ("fp32", "fp16"),
}
INT8_CALIBRATION_SCENES = 4


@dataclass(frozen=True)
class BenchConfig:
    model: str
    backend: str
    width: int
    height: int
    precision: str
    device: str
    threads: int
    warmup: int
    runs: int
    checkpoint: str  # prepared by the parent
    onnx: str


def _frame(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """The real Middlebury pair resized to the camera size, with its stereo depth as raw."""
    try:
        from depth_core.data.middlebury import load_motorcycle

        sample = load_motorcycle().resized(width, height)
        return sample.rgb, sample.depth
    except ImportError:  # scikit-image absent: a textured synthetic frame does as well
        rng = np.random.default_rng(0)
        return rng.integers(0, 255, (height, width, 3), np.uint8), np.full((height, width), 2.0)


def measure(config: BenchConfig) -> dict:
    """Runs in the child process."""
    from depth_core.runtime import DepthEstimator

    if config.backend == "torch":
        import torch

        torch.set_num_threads(config.threads)
    path = config.checkpoint if config.backend == "torch" else config.onnx
    estimator = DepthEstimator.load(
        path,
        backend=config.backend,
        device=config.device,
        threads=config.threads,
        precision=config.precision,
    )
    if estimator.backend.precision != config.precision:
        raise ValueError(f"{path} runs in {estimator.backend.precision}, not {config.precision}")
    rgb, raw = _frame(config.width, config.height)
    raw = raw if "raw_depth" in estimator.metadata.inputs else None
    for _ in range(config.warmup):
        estimator.predict(rgb, raw)
    latencies = []
    start = time.perf_counter()
    for _ in range(config.runs):
        tick = time.perf_counter()
        estimator.predict(rgb, raw)
        latencies.append(time.perf_counter() - tick)
    total = time.perf_counter() - start
    gpu_mb = None
    if "torch" in sys.modules and config.device.startswith("cuda"):
        gpu_mb = sys.modules["torch"].cuda.max_memory_allocated() / 2**20
    ms = np.asarray(latencies) * 1000
    return {
        **asdict(config),
        "backend_name": estimator.backend.name,
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "fps": round(config.runs / total, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "peak_gpu_mb": None if gpu_mb is None else round(gpu_mb, 1),
    }


def process_memory_mb(field: str = "VmRSS", pid: int | str = "self") -> float:
    """A memory figure of a process from /proc (Linux): VmRSS now, VmHWM its peak."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"/proc/{pid}/status has no {field}")


def peak_rss_mb() -> float:
    """This process's RSS high-water mark. VmHWM, not getrusage: ru_maxrss survives exec, so a
    spawned child would report its parent's peak."""
    if Path("/proc/self/status").is_file():
        return process_memory_mb("VmHWM")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # non-Linux


def _prepare(
    model: str, width: int, height: int, folder: Path, checkpoint: str | None, int8: bool
) -> tuple[str, str, str | None]:
    """Checkpoint, ONNX export and (if `int8`) its INT8 copy for one model at one input size."""
    import torch

    from depth_core.checkpoint import describe, load_checkpoint
    from depth_core.export.onnx import save_and_export
    from depth_core.models import build_model

    path = folder / f"{model}-{width}x{height}.pt"
    if checkpoint:
        built, metadata = load_checkpoint(checkpoint)
        metadata.input_size = (height, width)
    else:
        torch.manual_seed(0)
        built = build_model(model).eval()
        metadata = describe(built, (height, width), training_data="none (benchmark)")
    onnx_path = save_and_export(built, path, metadata)
    if not int8:
        return str(path), str(onnx_path), None
    from depth_core.export.quantize import quantize_exported

    int8_path = quantize_exported(
        onnx_path,
        onnx_path.with_name(f"{onnx_path.stem}_int8.onnx"),
        calib_scenes=INT8_CALIBRATION_SCENES,
    )
    return str(path), str(onnx_path), str(int8_path)


def run_benchmark(args: argparse.Namespace) -> list[dict]:
    from tqdm import tqdm

    sizes = [tuple(int(v) for v in size.lower().split("x")) for size in args.sizes]
    configs = []
    int8 = "int8" in args.precisions and "onnxruntime" in args.backends
    with tempfile.TemporaryDirectory(prefix="depth_ros_bench_") as folder:
        for model in args.models:
            for width, height in sizes:
                checkpoint, onnx_path, int8_path = _prepare(
                    model, width, height, Path(folder), args.checkpoint, int8
                )
                for backend in args.backends:
                    for precision in args.precisions:
                        runnable = precision in PRECISIONS[backend] and not (
                            precision == "fp16" and args.device == "cpu"
                        )
                        if not runnable:
                            continue
                        onnx_file = int8_path if precision == "int8" else onnx_path
                        configs.append(
                            BenchConfig(
                                model,
                                backend,
                                width,
                                height,
                                precision,
                                args.device,
                                args.threads,
                                args.warmup,
                                args.runs,
                                checkpoint,
                                onnx_file,
                            )
                        )
        results = []
        context = get_context("spawn")
        for config in tqdm(configs, desc="benchmark", unit="config", file=sys.stderr):
            with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
                try:
                    results.append(pool.submit(measure, config).result())
                except Exception as error:  # a backend missing here is reported, not fatal
                    results.append({**asdict(config), "error": f"{type(error).__name__}: {error}"})
    _add_ratio_to_torch_eager(results)
    return results


def _add_ratio_to_torch_eager(results: list[dict]) -> None:
    baseline = {
        (r["model"], r["width"], r["height"]): r["p50_ms"]
        for r in results
        if r.get("backend_name", "").startswith("torch")
        and r["precision"] == "fp32"
        and "cudagraph" not in r["backend_name"]
    }
    for r in results:
        reference = baseline.get((r["model"], r["width"], r["height"]))
        r["speedup_vs_torch_eager"] = (
            round(reference / r["p50_ms"], 2) if reference and "p50_ms" in r else None
        )


def table(results: list[dict]) -> str:
    header = (
        "| model | backend | input | precision | p50 ms | p99 ms | fps | peak RSS MB "
        "| peak GPU MB | × torch eager |"
    )
    lines = [header, "|" + " --- |" * 10]
    for r in results:
        if "error" in r:
            lines.append(
                f"| {r['model']} | {r['backend']} | {r['width']}x{r['height']} | "
                f"{r['precision']} | {r['error']} | | | | | |"
            )
            continue
        lines.append(
            f"| {r['model']} | {r['backend_name']} | {r['width']}x{r['height']} | "
            f"{r['precision']} | {r['p50_ms']} | {r['p99_ms']} | {r['fps']} | "
            f"{r['peak_rss_mb']} | {r['peak_gpu_mb'] if r['peak_gpu_mb'] is not None else '-'} | "
            f"{r['speedup_vs_torch_eager']} |"
        )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--models",
        nargs="+",
        default=list(DEFAULT_MODELS),
        help="registry names of the models to measure",
    )
    parser.add_argument(
        "--backends",
        nargs="+",
        default=["torch", "onnxruntime"],
        choices=["torch", "onnxruntime", "tensorrt"],
        help="runtimes",
    )
    parser.add_argument("--sizes", nargs="+", default=["320x240", "640x480"], help="WxH")
    parser.add_argument(
        "--precisions",
        nargs="+",
        default=["fp32"],
        choices=["fp32", "fp16", "int8"],
        help="arithmetic",
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="CPU inference threads"
    )
    parser.add_argument("--warmup", type=int, default=10, help="runs before measuring")
    parser.add_argument("--runs", type=int, default=100, help="measured runs per row")
    parser.add_argument("--checkpoint", help="bench this checkpoint's weights (one model)")
    parser.add_argument("--json", type=Path, help="also write the results here")


def argument_problem(args: argparse.Namespace) -> str | None:
    """Why these bench arguments cannot run (one line), or None: each model must be one the
    runtime serves, and --checkpoint a readable training checkpoint of one of them."""
    from depth_core.checkpoint import MODEL_IO, read_metadata
    from depth_core.runtime.estimator import CHECKPOINT_SUFFIXES

    for model in args.models:
        if model not in MODEL_IO:
            return (
                f"--models {model}: not a model the runtime serves; choose from "
                f"{', '.join(MODEL_IO)}"
            )
    if args.checkpoint is None:
        return None
    path = Path(args.checkpoint)
    if path.suffix.lower() not in CHECKPOINT_SUFFIXES:
        kind = path.suffix or "suffix-less"
        return (
            f"--checkpoint {path}: expected a training checkpoint "
            f"({', '.join(CHECKPOINT_SUFFIXES)}), got a {kind} file"
        )
    if len(args.models) != 1:
        return "--checkpoint benches one model: give its name alone in --models"
    try:
        metadata = read_metadata(path)
    except (OSError, ValueError) as error:
        return f"--checkpoint {error}"
    if metadata.model_name != args.models[0]:
        return (
            f"--checkpoint {path} holds a {metadata.model_name} model, not "
            f"{args.models[0]}: give --models {metadata.model_name}"
        )
    return None


def plane_fit_timings(sizes: list[str], runs: int) -> list[dict]:
    """What `ground_plane` adds per frame: `fit_plane_scale` on a real frame's depth at each
    size, one thread (it runs inside the inference worker)."""
    from depth_core.geometry import Intrinsics
    from depth_core.runtime.plane_scale import GroundPlane, fit_plane_scale

    plane = GroundPlane.from_coefficients([0.0, -1.0, 0.0, 1.0])
    rows = []
    for size in sizes:
        width, height = (int(v) for v in size.lower().split("x"))
        _, depth = _frame(width, height)
        intrinsics = Intrinsics(0.8 * width, 0.8 * width, width / 2, height / 2, width, height)
        times = []
        for _ in range(runs + 5):
            start = time.perf_counter()
            fit_plane_scale(depth, intrinsics, plane)
            times.append(time.perf_counter() - start)
        times = np.array(times[5:]) * 1000
        rows.append(
            {
                "width": width,
                "height": height,
                "p50_ms": round(float(np.median(times)), 3),
                "p99_ms": round(float(np.percentile(times, 99)), 3),
            }
        )
    return rows


def main(args: argparse.Namespace) -> int:
    results = run_benchmark(args)
    plane = plane_fit_timings(args.sizes, args.runs)
    machine = {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "threads": args.threads,
        "python": platform.python_version(),
    }
    payload = {"machine": machine, "results": results, "plane_fit": plane}
    text = json.dumps(payload, indent=2)
    if args.json:
        args.json.write_text(text)
    print(text)
    print(
        f"\nthreads: {args.threads} of {os.cpu_count()} cores; warm-up {args.warmup}, "
        f"measured {args.runs} runs per row\n"
    )
    print(table(results))
    print("\n| ground-plane fit | p50 ms | p99 ms |\n| --- | --- | --- |")
    for row in plane:
        print(f"| {row['width']}x{row['height']} | {row['p50_ms']} | {row['p99_ms']} |")
    return 0 if all("error" not in r for r in results) else 1
