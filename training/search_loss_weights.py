#!/usr/bin/env python3
"""Grid and random search over the weighted loss's weights (MAE, Edge, SSIM) on a config.

    python training/search_loss_weights.py training/configs/scenes_monocular.yaml \
        --out runs/search --grid mae_weight=0.2,0.6,1.0 edge_weight=0,0.2,0.5 \
        ssim_weight=0.5,1.0 --random 8 --set steps=500

Every candidate trains for the config's steps; the ranked table (best validation AbsRel
first) goes to stdout, ranking.md and ranking.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from depth_core.checkpoint import parse_settings
from depth_core.training.config import TrainConfig
from depth_core.training.search import (
    WEIGHT_NAMES,
    grid_candidates,
    random_candidates,
    ranked_table,
    search,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config")
    parser.add_argument("--out", required=True)
    parser.add_argument(
        "--grid",
        nargs="*",
        default=[],
        metavar="NAME=V1,V2,...",
        help=f"grid values for {', '.join(WEIGHT_NAMES)} (unset: the paper's)",
    )
    parser.add_argument("--random", type=int, default=0, help="random candidates to add")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    try:
        config = TrainConfig.from_yaml(args.config, parse_settings(args.set))
    except (OSError, ValueError) as error:  # a bad setting, config or file: say which
        parser.error(str(error))
    candidates = []
    if args.grid:
        values = {"mae_weight": [0.6], "edge_weight": [0.2], "ssim_weight": [1.0]}
        for item in args.grid:
            name, _, listed = item.partition("=")
            if name not in WEIGHT_NAMES:
                parser.error(f"--grid: unknown weight {name!r}; choose from {WEIGHT_NAMES}")
            values[name] = [float(v) for v in listed.split(",")]
        candidates += grid_candidates(values)
    candidates += random_candidates(args.random, args.seed)
    if not candidates:
        parser.error("nothing to search: give --grid and/or --random")
    rows = search(config, candidates, args.out, args.device)
    table = ranked_table(rows)
    out = Path(args.out)
    (out / "ranking.md").write_text(table + "\n")
    (out / "ranking.json").write_text(json.dumps(rows, indent=2))
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
