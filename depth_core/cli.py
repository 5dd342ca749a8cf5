"""`depth-core`: the command-line front of depth_core: demo, export, reconfigure and bench."""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np


def run_demo(out_dir: Path) -> dict:
    """The real Middlebury pair's stereo ground truth as metric depth, with a PNG mosaic: a
    check of the data path alone (no network; `depth-ros demo` runs the models)."""
    from depth_core.data.middlebury import load_motorcycle
    from depth_core.visualize import colourise_depth, mosaic

    start = time.perf_counter()
    sample = load_motorcycle()
    seconds = time.perf_counter() - start
    valid_depth = sample.depth[sample.valid]
    report = {
        "frame": sample.name,
        "size": [sample.intrinsics.width, sample.intrinsics.height],
        "valid_fraction": round(float(sample.valid.mean()), 4),
        "depth_m": {
            "min": round(float(valid_depth.min()), 3),
            "median": round(float(np.median(valid_depth)), 3),
            "max": round(float(valid_depth.max()), 3),
        },
        "load_and_convert_s": round(seconds, 3),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    picture = mosaic(
        [
            ("RGB", cv2.cvtColor(sample.rgb, cv2.COLOR_RGB2BGR)),
            ("stereo GT depth", colourise_depth(sample.depth)),
        ]
    )
    mosaic_path = out_dir / "demo_mosaic.png"
    if not cv2.imwrite(str(mosaic_path), picture):
        raise OSError(f"could not write {mosaic_path}")
    report["mosaic"] = str(mosaic_path)
    return report


class CommandHelpFormatter(argparse.HelpFormatter):
    """--help lists every option on its own line with its default (a default of None or
    False, meaning "not given", is not shown)."""

    def _format_action(self, action: argparse.Action) -> str:
        if (
            action.option_strings
            and action.default not in (None, False, argparse.SUPPRESS)
            and "%(default)" not in (action.help or "")
        ):
            action = copy.copy(action)
            action.help = f"{action.help or ''} (default: %(default)s)".strip()
        return super()._format_action(action)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="depth-core",
        description="Export, reconfigure and benchmark depth models; show "
        "the Middlebury stereo ground truth.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, sentence: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name, help=sentence, description=sentence, formatter_class=CommandHelpFormatter
        )

    demo = command(
        "demo",
        "Write the Middlebury pair's stereo ground truth as metric depth and "
        "a picture (the data path, no network).",
    )
    demo.add_argument("--out", type=Path, default=Path("demo_output"), help="output folder")
    export = command(
        "export",
        "Export a checkpoint to ONNX with its metadata, and optionally "
        "an INT8 ONNX copy and a TensorRT engine.",
    )
    export.add_argument("checkpoint", type=Path, help="training checkpoint (.pt)")
    export.add_argument("--onnx", type=Path, required=True, help="output .onnx path")
    export.add_argument("--opset", type=int, default=17, help="ONNX opset")
    export.add_argument("--tensorrt", type=Path, help="also build a TensorRT engine here")
    precision = export.add_mutually_exclusive_group()
    precision.add_argument(
        "--fp16",
        action="store_const",
        dest="precision",
        const="fp16",
        help="FP16 engine (the default)",
    )
    precision.add_argument(
        "--int8",
        action="store_const",
        dest="precision",
        const="int8",
        help="INT8 engine, entropy-calibrated on --calib",
    )
    precision.add_argument(
        "--fp32", action="store_const", dest="precision", const="fp32", help="FP32 engine"
    )
    export.add_argument(
        "--calib",
        type=Path,
        help="folder of calibration images (and <stem>.depth.png raw depth in mm "
        "for recovery models) for --int8 and --onnx-int8",
    )
    export.add_argument(
        "--calib-scenes",
        type=int,
        metavar="N",
        help="calibrate --onnx-int8 on N generated frames instead of --calib",
    )
    export.add_argument(
        "--onnx-int8",
        type=Path,
        metavar="PATH",
        help="also write an INT8 ONNX Runtime model here (static quantization "
        "calibrated on --calib or --calib-scenes)",
    )
    reconfigure = command(
        "reconfigure",
        "Save a checkpoint's weights under other model "
        "settings that keep their shapes (e.g. uncertainty_stride, "
        "alignment_window), with its .onnx.",
    )
    reconfigure.add_argument("checkpoint", type=Path, help="training checkpoint (.pt)")
    reconfigure.add_argument(
        "--set",
        action="append",
        required=True,
        metavar="KEY=VALUE",
        help="a model setting (YAML value); repeat for more",
    )
    reconfigure.add_argument("--out", type=Path, required=True, help="output checkpoint (.pt)")
    bench = command(
        "bench",
        "Measure latency, rate and memory of the estimator per model, "
        "backend, size and precision, and the ground-plane fit.",
    )
    from depth_core.bench import add_arguments

    add_arguments(bench)
    args = parser.parse_args(argv)

    if args.command == "demo":
        print(json.dumps(run_demo(args.out), indent=2))
    elif args.command == "export":
        from depth_core.export.onnx import export_checkpoint

        if args.onnx_int8 and (args.calib is None) == (args.calib_scenes is None):
            raise SystemExit("--onnx-int8 needs exactly one of --calib DIR and --calib-scenes N")
        try:
            proto = export_checkpoint(args.checkpoint, args.onnx, args.opset)
        except (OSError, ValueError) as error:  # no such checkpoint, or not one
            parser.error(str(error))
        report = {"onnx": str(args.onnx), "nodes": len(proto.graph.node)}
        if args.onnx_int8:
            from depth_core.export.quantize import quantize_exported

            report["onnx_int8"] = str(
                quantize_exported(args.onnx, args.onnx_int8, args.calib, args.calib_scenes)
            )
        if args.tensorrt:
            from depth_core.export.tensorrt import build_engine

            key = build_engine(args.onnx, args.tensorrt, args.precision or "fp16", args.calib)
            report["tensorrt"] = {"engine": str(args.tensorrt), **key.__dict__}
        print(json.dumps(report))
    elif args.command == "reconfigure":
        from depth_core.checkpoint import parse_settings, reconfigure_checkpoint
        from depth_core.export.onnx import save_and_export

        try:
            model, metadata = reconfigure_checkpoint(args.checkpoint, parse_settings(args.set))
        except (OSError, ValueError) as error:
            parser.error(str(error))
        onnx_path = save_and_export(model, args.out, metadata)
        print(
            json.dumps(
                {
                    "checkpoint": str(args.out),
                    "onnx": str(onnx_path),
                    "model_config": metadata.model_config,
                }
            )
        )
    elif args.command == "bench":
        from depth_core.bench import argument_problem
        from depth_core.bench import main as bench_main

        problem = argument_problem(args)
        if problem:
            print(f"depth-core bench: {problem}", file=sys.stderr)
            return 2
        return bench_main(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
