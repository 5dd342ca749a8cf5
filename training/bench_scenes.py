"""Speed of the scene generator: milliseconds per RGB-D frame.

Usage: python training/bench_scenes.py [--width 320 --height 240 --frames 40]
       python training/bench_scenes.py --device cuda [--batch 64]
On the CPU (one core) two uses are timed: training data (`scene_frame`: a fresh random scene
per frame) and a video stream (`Scene.frames()`: one scene, a moving camera). One thread
(OpenCV limited to 1; the renderer's compiled kernels are single-threaded). With --device cuda,
training data in batches rendered together on the GPU (`scene_frames`, `render_batch`), the
host's share (scene layout, light samples, sensor effects, transfers) included; the first
batch, which compiles the kernels, is not timed. Prints JSON, then a table.
"""

from __future__ import annotations

import argparse
import json
import time

import cv2
import numpy as np

from depth_core.data.scene_textures import texture_mips
from depth_core.data.scenes import random_scene, scene_frame, scene_frames


def per_frame_ms(frames) -> list[float]:
    times, start = [], time.perf_counter()
    for _ in frames:
        now = time.perf_counter()
        times.append((now - start) * 1000)
        start = now
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--batch", type=int, default=64, help="frames per GPU batch")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    texture_mips()  # built once per process, not per frame

    if args.device == "cuda":
        from depth_core.data import raycast_cuda

        if not raycast_cuda.available():
            raise SystemExit("--device cuda: numba finds no CUDA GPU (is numba-cuda installed?)")
        batches = max(2, -(-args.frames // args.batch)) + 1
        times = per_frame_ms(
            scene_frames(
                args.seed,
                range(b * args.batch, (b + 1) * args.batch),
                args.width,
                args.height,
                "cuda",
            )
            for b in range(batches)
        )[1:]
        series = {
            f"training data (scene_frames, GPU batches of {args.batch})": [
                t / args.batch for t in times for _ in range(args.batch)
            ]
        }
    else:
        training = per_frame_ms(
            scene_frame(args.seed, i, args.width, args.height) for i in range(args.frames)
        )
        stream = []
        index = 0
        while len(stream) < args.frames:  # trajectories of successive scenes
            scene = random_scene(args.seed * 7919 + index, args.width, args.height, frames=10)
            stream += per_frame_ms(scene.frames())
            index += 1
        series = {
            "training data (scene_frame)": training,
            "video stream (Scene.frames)": stream[: args.frames],
        }
    rows = {}
    for name, times in series.items():
        p50 = float(np.median(times))
        rows[name] = {
            "frames": len(times),
            "p50_ms": round(p50, 1),
            "p90_ms": round(float(np.percentile(times, 90)), 1),
            "fps": round(1000 / p50, 1),
        }
    print(
        json.dumps(
            {
                "size": f"{args.width}x{args.height}",
                "device": args.device,
                "threads": 1,
                "results": rows,
            },
            indent=2,
        )
    )
    print("\n| use | frames | p50 ms | p90 ms | frames/s |\n| --- | --- | --- | --- | --- |")
    for name, row in rows.items():
        print(f"| {name} | {row['frames']} | {row['p50_ms']} | {row['p90_ms']} | {row['fps']} |")


if __name__ == "__main__":
    main()
