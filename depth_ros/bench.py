"""`depth-ros bench`: a camera (replay) process, the pipeline process and this listener
process; per output topic: rate, latency p50/p99, drops, node overhead against the
estimator, CPU% and RSS. The listener is the consumer users run: it keeps the transports of
the environment it was started in (Fast DDS's defaults unless they exported a profile)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from depth_core.bench import process_memory_mb
from depth_core.runtime import threads_per_worker
from depth_ros.listener import OUTPUTS, Listener, chosen_models, print_table
from depth_ros.parameters import NODE_PARAMETERS
from depth_ros.pipeline import DDS_PROFILE_VARIABLE

MODEL_INPUT = (240, 320)


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
    # The camera and the pipeline read the profile at start-up; this process does not.
    child_env = dict(os.environ)
    if args.dds_profile:
        child_env[DDS_PROFILE_VARIABLE] = str(args.dds_profile)
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
        env=child_env,
    )
    try:
        for setup, nodes in (
            ("monocular alone", ("true", "false")),
            ("both nodes", ("true", "true")),
        ):
            results[setup] = _bench_pipeline(
                args, bin_dir, models, nodes, child_env, rclpy, Node, SingleThreadedExecutor
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
        "dds_profile": child_env.get(DDS_PROFILE_VARIABLE, ""),
        "listener_dds_profile": os.environ.get(DDS_PROFILE_VARIABLE, ""),
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


def _bench_pipeline(args, bin_dir, models, nodes, env, rclpy, node_class, executor_class) -> dict:
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
        env=env,
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
