#!/usr/bin/env python3
"""Interpolate the weights of the two ends of a fine-tune (WiSE-FT):

    python training/interpolate_weights.py depth_ros/models/monocular.pt \
        runs/monocular_grain/best.pt --alpha 0.5 --out runs/monocular_wise/model.pt

writes (1 − alpha) · START + alpha · TUNED as a checkpoint (and its ONNX export beside it),
with both sources in its metadata. Fit σ on the result before shipping it
(`calibrate_sigma.py`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from depth_core.checkpoint import interpolate_checkpoints
from depth_core.export.onnx import save_and_export


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("start", type=Path, help="the checkpoint the fine-tune started from")
    parser.add_argument("tuned", type=Path, help="the fine-tuned checkpoint")
    parser.add_argument("--alpha", type=float, default=0.5, help="weight of TUNED (0..1)")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint to write (.pt)")
    args = parser.parse_args(argv)
    try:
        model, metadata = interpolate_checkpoints(args.start, args.tuned, args.alpha)
    except (ValueError, FileNotFoundError) as error:
        raise SystemExit(f"interpolate_weights: {error}") from None
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_and_export(model, args.out, metadata)
    print(f"wrote {args.out} and {args.out.with_suffix('.onnx')}: {metadata.training_data}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
