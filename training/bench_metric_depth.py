"""Time and memory of the MetricDepth regulariser at 240x320, batch 8 (CPU).

Usage: python training/bench_metric_depth.py [--batch 8 --height 240 --width 320 --repeats 5]
Prints JSON, then a table. Memory is the growth of the process's peak RSS over one
forward + backward of the regulariser alone, on the features the monocular model hands it.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import torch

from depth_core.losses import MetricDepthLoss
from depth_core.losses.metric_depth import FeatureTap
from depth_core.models import build_model


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    torch.manual_seed(0)
    model = build_model("transfer_monocular")
    tap = FeatureTap(model.metric_feature_module)
    with torch.no_grad():
        model(torch.randn(args.batch, 3, args.height, args.width))
    features = tap.features.clone().requires_grad_(True)
    depth = torch.rand(args.batch, 1, args.height, args.width) * 9 + 0.5
    valid = torch.rand_like(depth) > 0.2
    loss = MetricDepthLoss()

    before = peak_rss_mb()
    seconds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        loss(features, depth, valid).backward()
        seconds.append(time.perf_counter() - start)
    result = {
        "batch": args.batch,
        "input": [args.height, args.width],
        "features": list(features.shape),
        "threads": torch.get_num_threads(),
        "forward_backward_ms_median": round(1000 * sorted(seconds)[len(seconds) // 2], 1),
        "peak_rss_growth_mb": round(peak_rss_mb() - before, 1),
    }
    print(json.dumps(result))
    print("| batch | input | features | threads | fwd+bwd ms (median) | peak RSS growth MB |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {args.batch} | {args.height}x{args.width} | {'x'.join(map(str, features.shape))} "
        f"| {result['threads']} | {result['forward_backward_ms_median']} "
        f"| {result['peak_rss_growth_mb']} |"
    )


if __name__ == "__main__":
    main()
