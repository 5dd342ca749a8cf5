"""`depth-ros demo` and `depth-ros bench`: the pipeline running, measured.

demo: replay -> both depth nodes -> a listener, in one process, for a fixed time; prints each
output topic's rate and latency and writes a PNG mosaic.
bench: a camera (replay) process, the pipeline process and this listener process; per output
topic: rate, latency p50/p99, drops, node overhead against the estimator, CPU% and RSS.

Both use the package's shipped models unless model paths are given.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path

import numpy as np

from depth_core.bench import process_memory_mb
from depth_core.cli import CommandHelpFormatter
from depth_core.runtime import threads_per_worker
from depth_ros.parameters import NODE_PARAMETERS
from depth_ros.pipeline import installed_config
from depth_ros.shipped import shipped_model

MODEL_INPUT = (240, 320)
RECENT_MESSAGES = 90  # per topic, for the demo picture's common stamp
OUTPUTS = (
    "depth/estimated",
    "depth/estimated/uncertainty",
    "depth/recovered",
    "depth/recovered/uncertainty",
)


def chosen_models(args: argparse.Namespace) -> dict[str, str]:
    """--monocular-model/--recovery-model, or the shipped models."""
    if args.monocular_model:
        return {"monocular": args.monocular_model, "recovery": args.recovery_model}
    return {
        "monocular": str(shipped_model("monocular_depth")),
        "recovery": str(shipped_model("depth_recovery")),
    }


class Listener:
    """Subscribes to the outputs; records arrival time, stamp latency and the last message."""

    def __init__(self, node, topics=OUTPUTS):
        from diagnostic_msgs.msg import DiagnosticArray
        from sensor_msgs.msg import Image

        self.node = node
        self.samples: dict[str, list[tuple[float, float]]] = {t: [] for t in topics}
        self.last: dict[str, object] = {}
        self.recent: dict[str, dict[float, object]] = {}  # topic -> stamp -> message
        self.diagnostics: dict[str, dict[str, str]] = {}  # each node's latest status
        self.diagnostics_history: dict[str, list[tuple[float, dict[str, str]]]] = {}
        for topic in topics:
            node.create_subscription(Image, topic, self._recorder(topic), 10)
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)

    def _recorder(self, topic):
        from depth_ros.node_support import stamp_seconds

        def record(msg):
            now = time.time()  # stamps come from the camera's (replay's) wall clock
            self.samples[topic].append((now, now - stamp_seconds(msg)))
            self.last[topic] = msg
            self.keep(topic, msg)

        return record

    def keep(self, topic: str, msg) -> None:
        """The topic's last messages by stamp, so that pictures can show one instant."""
        from depth_ros.node_support import stamp_seconds

        recent = self.recent.setdefault(topic, {})
        recent[stamp_seconds(msg)] = msg
        while len(recent) > RECENT_MESSAGES:
            del recent[min(recent)]

    def newest_common_stamp(self, topics) -> float | None:
        """The newest stamp every topic has a message for, or None."""
        stamps = [set(self.recent.get(t, {})) for t in topics]
        common = set.intersection(*stamps) if stamps else set()
        return max(common) if common else None

    def _on_diagnostics(self, array):
        now = time.time()
        for status in array.status:
            name, values = status.name.split(":")[0], {kv.key: kv.value for kv in status.values}
            self.diagnostics[name] = values
            self.diagnostics_history.setdefault(name, []).append((now, values))

    def node_median(self, name: str, key: str, since: float) -> float:
        """Median over the node's statuses received since `since` of one numeric value. Each
        status covers the node's last few seconds; their median covers the measured period,
        as the listener's own figures do (the latest status alone covers only its end)."""
        values = [
            float(v.get(key, "nan"))
            for t, v in self.diagnostics_history.get(name, [])
            if t >= since
        ]
        values = [v for v in values if v == v]
        return round(float(np.median(values)), 2) if values else float("nan")

    def report(self, since: float) -> dict[str, dict]:
        report = {}
        for topic, samples in self.samples.items():
            recent = [s for s in samples if s[0] >= since]
            latencies = np.array([s[1] for s in recent]) * 1000
            span = recent[-1][0] - recent[0][0] if len(recent) > 1 else 0.0
            report[topic] = {
                "messages": len(recent),
                "rate_hz": round((len(recent) - 1) / span, 2) if span else 0.0,
                "latency_p50_ms": round(float(np.percentile(latencies, 50)), 1) if recent else None,
                "latency_p99_ms": round(float(np.percentile(latencies, 99)), 1) if recent else None,
            }
        return report


def print_table(report: dict[str, dict], extra_columns: tuple[str, ...] = ()) -> None:
    columns = ("messages", "rate_hz", "latency_p50_ms", "latency_p99_ms", *extra_columns)
    print("| topic | " + " | ".join(columns) + " |")
    print("|" + " --- |" * (len(columns) + 1))
    for topic, row in report.items():
        print(f"| {topic} | " + " | ".join(str(row.get(c, "")) for c in columns) + " |")


CAMERA_TOPICS = ("camera/color/image_raw", "tof/depth/image_raw")


def pipeline_picture(frames: dict[str, np.ndarray]) -> np.ndarray:
    """One instant of the pipeline, each panel labelled with its topic: RGB, then raw,
    estimated and recovered depth on one shared range with a colour bar in metres, then both
    σ images on their own sequential map and colour bar (metres)."""
    import cv2

    from depth_core.visualize import (
        colourise_depth,
        colourise_sigma,
        depth_colour_bar,
        depth_range,
        mosaic,
        sigma_colour_bar,
    )

    rgb = frames["camera/color/image_raw"]
    size = (rgb.shape[1], rgb.shape[0])
    depths = {
        "tof/depth/image_raw": frames["tof/depth/image_raw"].astype(np.float32) / 1000,
        "depth/estimated": frames["depth/estimated"],
        "depth/recovered": frames["depth/recovered"],
    }
    lo, hi = depth_range(*depths.values())
    sigmas = {t: frames[t] for t in ("depth/estimated/uncertainty", "depth/recovered/uncertainty")}
    max_sigma = float(
        np.percentile(np.concatenate([s[np.isfinite(s)] for s in sigmas.values()]), 98)
    )

    def fit(image: np.ndarray) -> np.ndarray:
        return cv2.resize(image, size, interpolation=cv2.INTER_NEAREST)

    tile_height = 240
    picture = mosaic(
        [("camera/color/image_raw", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))]
        + [(topic, fit(colourise_depth(depth, lo, hi))) for topic, depth in depths.items()]
        + [(topic, fit(colourise_sigma(sigma, max_sigma))) for topic, sigma in sigmas.items()],
        tile_height,
    )
    depth_panels_end = round(size[0] * tile_height / size[1]) * 4
    return np.concatenate(
        [
            picture[:, :depth_panels_end],
            depth_colour_bar(lo, hi, tile_height),
            picture[:, depth_panels_end:],
            sigma_colour_bar(max_sigma, tile_height),
        ],
        axis=1,
    )


def run_demo(args: argparse.Namespace) -> int:
    import cv2
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    from depth_ros.conversions import image_to_array
    from depth_ros.pipeline import build_nodes

    models = chosen_models(args)
    rclpy.init()
    try:
        # The node defaults otherwise, as `depth-ros bench` uses them.
        nodes = build_nodes(
            {
                "replay": "true",
                "monocular_model": models["monocular"],
                "recovery_model": models["recovery"],
            }
        )
    except ValueError as error:  # ParameterError included: a model that does not load
        rclpy.try_shutdown()
        print(f"depth-ros demo: {error}", file=sys.stderr)
        return 2
    listener_node = Node("demo_listener")
    listener = Listener(listener_node)
    camera_qos = qos_profile_sensor_data  # the replay camera publishes best-effort
    for topic in CAMERA_TOPICS:
        listener_node.create_subscription(Image, topic, partial(listener.keep, topic), camera_qos)
    executor = SingleThreadedExecutor()  # as depth-ros-pipeline's (see depth_ros.pipeline)
    for node in [*nodes, listener_node]:
        executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    start = time.time()
    time.sleep(args.seconds)
    executor.shutdown(timeout_sec=5)
    spinner.join(timeout=5)
    for node in [*nodes, listener_node]:
        node.destroy_node()
    rclpy.try_shutdown()
    report = listener.report(since=start + min(2.0, args.seconds / 3))  # skip start-up
    stamp = listener.newest_common_stamp((*CAMERA_TOPICS, *OUTPUTS))
    if stamp is None:
        missing = [t for t in (*CAMERA_TOPICS, *OUTPUTS) if not listener.recent.get(t)]
        print(
            json.dumps(
                {
                    "error": f"no frame seen on every topic (none at all on {missing})",
                    "topics": report,
                },
                indent=2,
            )
        )
        return 1
    picture = pipeline_picture(
        {t: image_to_array(listener.recent[t][stamp]) for t in (*CAMERA_TOPICS, *OUTPUTS)}
    )
    args.out.mkdir(parents=True, exist_ok=True)
    mosaic_path = args.out / "pipeline_mosaic.png"
    if not cv2.imwrite(str(mosaic_path), picture):
        raise OSError(f"could not write {mosaic_path}")
    summary = {
        "models": models,
        "seconds": args.seconds,
        "topics": report,
        "nodes": listener.diagnostics,
        "mosaic": str(mosaic_path),
    }
    print(json.dumps(summary, indent=2))
    print_table(report)
    return 0


def _process_usage(pid: int) -> tuple[float, float]:
    """(CPU seconds, RSS MB) of a process and its threads, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return cpu, process_memory_mb("VmRSS", pid)


def run_bench(args: argparse.Namespace) -> int:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node

    results = {}
    models = chosen_models(args)
    bin_dir = Path(sys.executable).parent
    if args.dds_profile:  # all three processes (and this one) read it at start-up
        os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = str(args.dds_profile)
    camera = subprocess.Popen(
        [
            str(bin_dir / "replay"),
            "--ros-args",
            "-p",
            f"rate:={args.rate}",
            "-p",
            f"width:={args.width}",
            "-p",
            f"height:={args.height}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for setup, nodes in (
            ("monocular alone", ("true", "false")),
            ("both nodes", ("true", "true")),
        ):
            results[setup] = _bench_pipeline(
                args, bin_dir, models, nodes, rclpy, Node, SingleThreadedExecutor
            )
    finally:
        _stop(camera, timeout=10)
    workers = args.workers or next(
        p.default for p in NODE_PARAMETERS["monocular_depth"] if p.name == "workers"
    )
    payload = {
        "camera": f"{args.width}x{args.height} at {args.rate} Hz (replay process)",
        "model_input": f"{MODEL_INPUT[1]}x{MODEL_INPUT[0]}",
        "models": models,
        "cores": len(os.sched_getaffinity(0)),  # the ones this process may use
        # As the nodes resolve them (the parameters' defaults where not given).
        "workers": workers,
        "threads": args.threads or threads_per_worker(workers),
        "dds_profile": os.environ.get("FASTDDS_DEFAULT_PROFILES_FILE", ""),
        "results": results,
    }
    print(json.dumps(payload, indent=2))
    for setup, result in results.items():
        print(
            f"\n{setup}: pipeline CPU {result['pipeline_cpu_percent']}%, RSS "
            f"{result['pipeline_rss_mb']} MB"
        )
        print_table(
            result["topics"],
            (
                "node_input_hz",
                "drops",
                "estimator_p50_ms",
                "node_latency_p50_ms",
                "published_p50_ms",
                "node_overhead",
            ),
        )
    return 0


def _stop(process: subprocess.Popen, timeout: float) -> None:
    """Terminate a child and reap it; one that ignores SIGTERM is killed, so that cleanup
    never raises over the reason the benchmark stopped."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _check_running(pipeline: subprocess.Popen) -> None:
    """Stop the benchmark, saying why, when the pipeline process has exited."""
    if pipeline.poll() is not None:
        reason = pipeline.stderr.read().strip().splitlines()[-1:] or ["(no message)"]
        raise SystemExit(
            f"depth-ros bench: depth-ros-pipeline exited with code "
            f"{pipeline.returncode}: {reason[0]}"
        )


def _bench_pipeline(args, bin_dir, models, nodes, rclpy, node_class, executor_class) -> dict:
    monocular, recovery = nodes
    pipeline = subprocess.Popen(
        [
            str(bin_dir / "depth-ros-pipeline"),
            f"monocular_model:={models['monocular']}",
            f"recovery_model:={models['recovery']}",
            f"monocular:={monocular}",
            f"recovery:={recovery}",
            *(
                f"{name}:={value}"
                for name, value in (("threads", args.threads), ("workers", args.workers))
                if value is not None
            ),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    rclpy.init()
    node = node_class("bench_listener")
    topics = [t for t in OUTPUTS if (recovery == "true" or "recovered" not in t)]
    listener = Listener(node, tuple(topics))
    executor = executor_class()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        time.sleep(args.warmup)
        _check_running(pipeline)
        cpu_start, _ = _process_usage(pipeline.pid)
        start = time.time()
        time.sleep(args.seconds)
        _check_running(pipeline)
        cpu_end, rss = _process_usage(pipeline.pid)
        elapsed = time.time() - start
    finally:
        executor.shutdown(timeout_sec=5)
        spinner.join(timeout=5)
        node.destroy_node()
        rclpy.try_shutdown()
        _stop(pipeline, timeout=20)
    report = listener.report(since=start)
    expected = args.rate * elapsed
    for topic, row in report.items():
        name = "/depth_recovery" if "recovered" in topic else "/monocular_depth"
        estimator = listener.node_median(name, "estimator_p50_ms", start)
        row["node_input_hz"] = listener.node_median(name, "input_rate_hz", start)  # as heard
        row["drops"] = max(0, round(expected - row["messages"]))
        row["estimator_p50_ms"] = estimator
        # Where the end-to-end latency goes: camera stamp -> published by the node (the
        # camera's image reaching the node, plus the node), arrival -> published (the node
        # alone); the rest is the output's trip to this listener.
        row["published_p50_ms"] = listener.node_median(name, "latency_p50_ms", start)
        row["node_latency_p50_ms"] = listener.node_median(name, "node_latency_p50_ms", start)
        if row["latency_p50_ms"] and estimator == estimator:
            row["node_overhead"] = round((row["latency_p50_ms"] - estimator) / estimator, 3)
    return {
        "topics": report,
        "pipeline_cpu_percent": round(100 * (cpu_end - cpu_start) / elapsed),
        "pipeline_rss_mb": round(rss),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="depth-ros",
        description="Run the depth_ros pipeline on a replayed camera and "
        "measure it: demo (one process, a picture) or bench (camera, pipeline and listener "
        "in three processes).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    sentences = {
        "demo": "Replay a generated room into both depth nodes for a while; print each "
        "output's rate and latency and write a picture of one instant.",
        "bench": "Measure rate, latency, drops, node overhead, CPU and memory with the camera, "
        "the pipeline and this listener in three processes.",
    }
    for name, sentence in sentences.items():
        sub = commands.add_parser(
            name, help=sentence, description=sentence, formatter_class=CommandHelpFormatter
        )
        sub.add_argument(
            "--monocular-model", help="model for monocular_depth (default: the shipped one)"
        )
        sub.add_argument(
            "--recovery-model", help="model for depth_recovery (default: the shipped one)"
        )
        sub.add_argument(
            "--seconds",
            type=float,
            default=10.0 if name == "demo" else 20.0,
            help="how long to run (measured)",
        )
    commands.choices["demo"].add_argument(
        "--out", type=Path, default=Path("demo_output"), help="folder for the picture"
    )
    bench = commands.choices["bench"]
    bench.add_argument("--rate", type=float, default=30.0, help="camera rate, Hz")
    bench.add_argument("--width", type=int, default=640, help="camera width")
    bench.add_argument("--height", type=int, default=480, help="camera height")
    bench.add_argument(
        "--threads", type=int, help="inference threads per worker (default: the nodes' default)"
    )
    bench.add_argument(
        "--workers", type=int, help="inference workers per node (default: the nodes' default)"
    )
    bench.add_argument(
        "--dds-profile",
        default=str(installed_config("fastdds_large_images.xml")),
        help="Fast DDS XML profile for the three processes ('' = Fast DDS defaults)",
    )
    bench.add_argument("--warmup", type=float, default=8.0, help="seconds before measuring")
    args = parser.parse_args(argv)
    if bool(args.monocular_model) != bool(args.recovery_model):
        parser.error("give both --monocular-model and --recovery-model, or neither")
    return run_demo(args) if args.command == "demo" else run_bench(args)
