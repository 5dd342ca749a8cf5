"""The shipped default models load through the runtime estimator (no torch needed: ONNX),
carry metadata that names their training data, and give sane metric depth on a real frame."""

import numpy as np
import pytest

from depth_core.checkpoint import read_metadata
from depth_core.runtime.estimator import DepthEstimator
from depth_ros.shipped import MODELS_DIR, SHIPPED, shipped_model

pytest.importorskip("skimage", reason="scikit-image holds the Middlebury pair")


@pytest.mark.parametrize("node", sorted(SHIPPED))
def test_shipped_model_loads_and_estimates_metric_depth(node):
    path = shipped_model(node)
    assert path.stat().st_size <= 25 * 1024 * 1024
    estimator = DepthEstimator.load(path, backend="onnxruntime")
    meta = estimator.metadata
    assert meta.training_data and "generated scenes" in meta.training_data
    assert meta.input_size == (240, 320)
    checkpoint = MODELS_DIR / path.with_suffix(".pt").name
    assert checkpoint.stat().st_size <= 25 * 1024 * 1024
    assert read_metadata(checkpoint).content_hash == meta.content_hash  # the same weights

    from depth_core.data.middlebury import load_motorcycle
    from depth_core.data.simulation import simulate_tof

    sample = load_motorcycle().resized(320)
    raw = simulate_tof(sample.depth, np.random.default_rng(0)) if node == "depth_recovery" \
        else None  # fmt: skip
    result = estimator.predict(sample.rgb, raw, sample.intrinsics)
    valid = sample.valid
    assert np.isfinite(result.depth).all() and (result.sigma > 0).all()
    # Metric, not relative: the median lands within a factor 2 of the truth (1.5-3 m here).
    ratio = np.median(result.depth[valid]) / np.median(sample.depth[valid])
    assert 0.5 < ratio < 2.0
