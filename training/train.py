#!/usr/bin/env python3
"""Train a depth model from a YAML config.

    python training/train.py training/configs/scenes_monocular.yaml --out runs/mono
    python training/train.py CONFIG --out DIR --resume             # continue from train_state.pt
    torchrun --nproc_per_node=4 training/train.py CONFIG --out DIR --device cuda   # DDP

Override any config field with --set key=value (YAML value), e.g. --set steps=20.
"""

from __future__ import annotations

import argparse
import json
import logging

from depth_core.checkpoint import parse_settings
from depth_core.training.config import TrainConfig
from depth_core.training.trainer import Trainer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config")
    parser.add_argument("--out", required=True, help="run folder: checkpoints, TensorBoard")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--max-steps", type=int, default=None, help="stop earlier than the config")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0 = torch default)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        config = TrainConfig.from_yaml(args.config, parse_settings(args.set))
        trainer = Trainer(config, args.out, args.device)
    except (OSError, ValueError) as error:  # a bad setting, config, file or device: say which
        parser.error(str(error))
    summary = trainer.fit(resume=args.resume, max_steps=args.max_steps)
    last = summary["history"][-1] if summary["history"] else {}
    print(
        json.dumps(
            {
                "steps": summary["steps"],
                "stopped_early": summary["stopped_early"],
                "last_validation": last,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
