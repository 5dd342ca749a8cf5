"""CUDA backend: FP16 parity on real frames and CUDA-graph replay. CI has no GPU: these skip
there, saying so; they run wherever torch sees a CUDA device."""

import numpy as np
import pytest
import torch

from depth_core.checkpoint import MODEL_IO, describe, save_checkpoint
from depth_core.models import build_model
from depth_core.runtime import DepthEstimator

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA GPU visible to torch (CI machines have none)"
)


@pytest.fixture(scope="module", params=sorted(MODEL_IO))
def checkpoint(request, tmp_path_factory):
    torch.manual_seed(0)
    model = build_model(request.param).eval()
    path = tmp_path_factory.mktemp(request.param) / "model.pt"
    save_checkpoint(model, path, describe(model, (480, 640)))
    return path


@pytest.fixture(scope="module")
def frames():
    from depth_core.data.middlebury import load_motorcycle

    sample = load_motorcycle()
    return [(sample.rgb, sample.depth), (sample.rgb[:, ::-1].copy(), sample.depth[:, ::-1].copy())]


def _predict(estimator, rgb, depth):
    raw = depth if "raw_depth" in estimator.metadata.inputs else None
    return estimator.predict(rgb, raw)


def test_fp16_within_one_percent_abs_rel_of_fp32(checkpoint, frames):
    fp32 = DepthEstimator.load(checkpoint, backend="torch", device="cuda", precision="fp32")
    fp16 = DepthEstimator.load(checkpoint, backend="torch", device="cuda", precision="fp16")
    for rgb, depth in frames:
        reference, half = _predict(fp32, rgb, depth), _predict(fp16, rgb, depth)
        abs_rel = float(np.mean(np.abs(half.depth - reference.depth) / reference.depth))
        print(f"{checkpoint.parent.name}: FP16 AbsRel vs FP32 = {abs_rel:.2e}")
        assert abs_rel < 0.01


def test_cuda_graph_replay_gives_eager_outputs(checkpoint, frames):
    eager = DepthEstimator.load(checkpoint, backend="torch", device="cuda", cuda_graphs=False)
    graphed = DepthEstimator.load(checkpoint, backend="torch", device="cuda", cuda_graphs=True)
    assert graphed.backend.name == "torch-cuda-cudagraph"
    for rgb, depth in frames:  # two different frames: the replay reads the new input
        a, b = _predict(eager, rgb, depth), _predict(graphed, rgb, depth)
        np.testing.assert_array_equal(a.depth, b.depth)
        np.testing.assert_array_equal(a.sigma, b.sigma)
