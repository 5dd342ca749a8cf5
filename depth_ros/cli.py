"""`depth-ros demo` and `depth-ros bench`: the pipeline running, measured (`demo.py`,
`bench.py`). Both use the package's shipped models unless model paths are given."""

from __future__ import annotations

import argparse
from pathlib import Path

from depth_core.cli import CommandHelpFormatter
from depth_ros.pipeline import installed_config


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
        help="Fast DDS XML profile for the camera and pipeline processes ('' = the pipeline's "
        "own); the listener keeps the environment's transports",
    )
    bench.add_argument("--warmup", type=float, default=8.0, help="seconds before measuring")
    args = parser.parse_args(argv)
    if bool(args.monocular_model) != bool(args.recovery_model):
        parser.error("give both --monocular-model and --recovery-model, or neither")
    if args.command == "demo":
        from depth_ros.demo import run_demo

        return run_demo(args)
    from depth_ros.bench import run_bench

    return run_bench(args)
