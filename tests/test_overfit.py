"""One real batch (the Middlebury pair, mirrored) must be learnable: the training loss falls at
least 5x within a bounded number of CPU steps."""

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from depth_core.losses import MetricDepthLoss, recovery_loss, weighted_loss
from depth_core.losses.metric_depth import FeatureTap
from depth_core.models import build_model
from depth_core.models.encoders import LITE0_PACKAGE_WEIGHTS
from depth_core.models.recovery import misalignment_target

pytest.importorskip("skimage", reason="scikit-image holds the Middlebury pair")


# Subprocesses, soak runs and training: `make test-fast` leaves these out.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def batch():
    from depth_core.data.middlebury import load_motorcycle

    sample = load_motorcycle()
    height, width = 64, 96
    rgb = cv2.resize(sample.rgb, (width, height), interpolation=cv2.INTER_AREA) / 255.0
    depth = cv2.resize(sample.depth, (width, height), interpolation=cv2.INTER_NEAREST)
    rgb = torch.from_numpy(((rgb - 0.5) / 0.5).astype(np.float32)).permute(2, 0, 1)[None]
    depth = torch.from_numpy(depth)[None, None]
    return torch.cat([rgb, rgb.flip(-1)]), torch.cat([depth, depth.flip(-1)])


def train_until(step_loss, parameters, max_steps: int, factor: float = 5.0, lr: float = 1e-3):
    """Adam steps until the loss is `factor` below the first one; returns (first, last, steps)."""
    optimiser = torch.optim.Adam(parameters, lr=lr)
    first, steps = None, 0
    while steps < max_steps:
        loss = step_loss()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        steps += 1
        first = first if first is not None else loss.item()
        if loss.item() * factor <= first:
            break
    return first, loss.item(), steps


def test_monocular_model_overfits_with_weighted_loss_and_metric_depth(batch):
    torch.manual_seed(0)
    rgb, depth = batch
    target = F.interpolate(depth, scale_factor=0.5, mode="nearest")  # half-resolution output
    valid = target > 0
    model = build_model("transfer_monocular", pretrained=LITE0_PACKAGE_WEIGHTS)
    tap, metric_depth = FeatureTap(model.metric_feature_module), MetricDepthLoss()

    def step_loss():
        prediction = model(rgb)
        loss, _ = weighted_loss(prediction.depth, target, valid)
        return loss + 0.1 * metric_depth(tap.features, target, valid)

    first, last, steps = train_until(step_loss, model.parameters(), max_steps=150)
    assert last * 5 <= first, f"loss {first:.3f} -> {last:.3f} after {steps} steps"


def test_recovery_model_overfits(batch):
    torch.manual_seed(0)
    rgb, depth = batch
    valid = depth > 0
    raw = depth.clone()
    raw[..., 20:40, 30:50] = 0  # a hole
    raw[..., 40:60, 60:80] *= 1.5  # a misaligned patch
    target, defined = misalignment_target(raw, depth, valid)
    model = build_model("depth_recovery", pretrained=LITE0_PACKAGE_WEIGHTS)

    def step_loss():
        prediction = model(rgb, raw)
        loss, _ = recovery_loss(prediction.depth, depth, valid)
        logits = prediction.misalignment_logit[defined]
        return loss + F.binary_cross_entropy_with_logits(logits, target[defined])

    first, last, steps = train_until(step_loss, model.parameters(), max_steps=300)
    assert last * 5 <= first, f"loss {first:.3f} -> {last:.3f} after {steps} steps"
