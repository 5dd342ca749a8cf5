"""`depth-ros demo`: replay -> both depth nodes -> a listener, in one process, for a fixed
time; prints each output topic's rate and latency and writes a PNG mosaic of one instant."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from functools import partial

import numpy as np

from depth_ros.listener import OUTPUTS, Listener, chosen_models, print_table

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
