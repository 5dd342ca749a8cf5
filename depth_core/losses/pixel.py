"""Per-pixel depth losses. Tensors are Bx1xHxW; `valid` is a bool mask of the same shape.

Where a loss looks at a neighbourhood (gradients, SSIM windows), it only counts positions
whose whole neighbourhood is valid, so holes in the ground truth never leak in as edges.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def masked_mean(values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean of `values` over `valid`; 0 (with a gradient path) when nothing is valid."""
    valid = valid.expand_as(values)
    total = torch.where(valid, values, torch.zeros_like(values)).sum()
    return total / valid.sum().clamp_min(1)


def _erode(valid: torch.Tensor, size: int) -> torch.Tensor:
    """True where the whole size x size window centred here is valid (no padding: 'valid')."""
    return -F.max_pool2d(-valid.float(), size, stride=1) > 0.5


def _clean(x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    # Invalid ground truth may hold NaN/inf; zero it so no arithmetic sees it.
    return torch.where(valid, x, torch.zeros_like(x))


def mae_loss(pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    return masked_mean((pred - _clean(gt, valid)).abs(), valid)


def sobel_magnitude(x: torch.Tensor) -> torch.Tensor:
    """|∇x| by Sobel, without padding: output is (H-2)x(W-2)."""
    kx = _SOBEL_X.to(x)[None, None]
    gx = F.conv2d(x, kx)
    gy = F.conv2d(x, kx.transpose(-1, -2))
    return torch.sqrt(gx * gx + gy * gy + 1e-12)


def edge_loss(pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean |‖∇pred‖ − ‖∇gt‖| with Sobel gradients (weighted-loss paper's edge term)."""
    diff = (sobel_magnitude(pred) - sobel_magnitude(_clean(gt, valid))).abs()
    return masked_mean(diff, _erode(valid, 3))


def ssim(
    pred: torch.Tensor, gt: torch.Tensor, window: int = 7, data_range: float = 10.0
) -> torch.Tensor:
    """SSIM map over uniform window x window patches (no padding), constants
    C1 = (0.01·L)², C2 = (0.03·L)² with L = data_range (metres of depth)."""
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x, mu_y = F.avg_pool2d(pred, window, 1), F.avg_pool2d(gt, window, 1)
    var_x = F.avg_pool2d(pred * pred, window, 1) - mu_x**2
    var_y = F.avg_pool2d(gt * gt, window, 1) - mu_y**2
    cov = F.avg_pool2d(pred * gt, window, 1) - mu_x * mu_y
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    )


def ssim_loss(
    pred: torch.Tensor,
    gt: torch.Tensor,
    valid: torch.Tensor,
    window: int = 7,
    data_range: float = 10.0,
) -> torch.Tensor:
    """(1 − SSIM)/2, averaged over windows that hold only valid ground truth."""
    structural = ssim(pred, _clean(gt, valid), window, data_range)
    return masked_mean((1.0 - structural) / 2.0, _erode(valid, window))


def weighted_loss(
    pred: torch.Tensor,
    gt: torch.Tensor,
    valid: torch.Tensor,
    mae_weight: float = 0.6,
    edge_weight: float = 0.2,
    ssim_weight: float = 1.0,
    data_range: float = 10.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted-loss paper: 0.6·MAE + 0.2·Edge + 1.0·SSIM term (weights configurable)."""
    parts = {
        "mae": mae_loss(pred, gt, valid),
        "edge": edge_loss(pred, gt, valid),
        "ssim": ssim_loss(pred, gt, valid, data_range=data_range),
    }
    total = mae_weight * parts["mae"] + edge_weight * parts["edge"] + ssim_weight * parts["ssim"]
    return total, {k: v.detach() for k, v in parts.items()}


def gradient_loss(pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Boundary loss: mean |∂x pred − ∂x gt| + mean |∂y pred − ∂y gt| over forward differences
    whose two pixels are both valid."""
    gt = _clean(gt, valid)
    loss = pred.new_zeros(())
    for dim in (-1, -2):
        n = pred.shape[dim]

        def diff(t: torch.Tensor, d: int = dim, n: int = n) -> torch.Tensor:
            return t.narrow(d, 1, n - 1) - t.narrow(d, 0, n - 1)

        both_valid = valid.narrow(dim, 0, n - 1) & valid.narrow(dim, 1, n - 1)
        loss = loss + masked_mean((diff(pred) - diff(gt)).abs(), both_valid)
    return loss


def latent_loss(colour_latent: torch.Tensor, depth_latent: torch.Tensor) -> torch.Tensor:
    """Mean squared (L2) distance between the colour and depth latents."""
    return F.mse_loss(colour_latent, depth_latent)


def _log_error_per_image(
    pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """g = log pred − log gt (0 where invalid), flattened per image, and each image's count
    of valid pixels (at least 1)."""
    valid = valid & (gt > 0)
    g = torch.log(pred.clamp_min(1e-6)) - torch.log(torch.where(valid, gt, torch.ones_like(gt)))
    g = torch.where(valid, g, torch.zeros_like(g)).flatten(1)
    return g, valid.flatten(1).sum(1).clamp_min(1)


def silog_loss(
    pred: torch.Tensor,
    gt: torch.Tensor,
    valid: torch.Tensor,
    variance_focus: float | torch.Tensor = 0.85,
    scale: float = 10.0,
) -> torch.Tensor:
    """Scale-invariant log loss (Eigen et al.; BTS form) per image, averaged over the batch:
    scale · sqrt(mean(g²) − λ·mean(g)²), g = log pred − log gt, λ = variance_focus. λ = 1 is
    blind to each image's global scale; a tensor gives each image (N x 1 x H x W) its own λ."""
    g, count = _log_error_per_image(pred, gt, valid)
    mean_sq = (g * g).sum(1) / count
    mean = g.sum(1) / count
    focus = torch.as_tensor(variance_focus, dtype=g.dtype, device=g.device).flatten()
    per_image = scale * torch.sqrt((mean_sq - focus * mean * mean).clamp_min(1e-12))
    return per_image.mean()


def log_scale_alignment(pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Per image (N x 1 x H x W), the factor s that minimises Σ (log s·pred − log gt)² over
    the valid pixels: exp(mean(log gt − log pred)), shaped N x 1 x 1 x 1 (1 where nothing is
    valid)."""
    g, count = _log_error_per_image(pred, gt, valid)
    return torch.exp(-g.sum(1) / count).view(-1, 1, 1, 1)


def relative_loss(pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean |pred − gt| / gt."""
    valid = valid & (gt > 0)
    safe_gt = torch.where(valid, gt, torch.ones_like(gt))
    return masked_mean((pred - safe_gt).abs() / safe_gt, valid)


def multiscale_gradient_loss(
    pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor, scales: int = 4
) -> torch.Tensor:
    """MegaDepth-style multi-scale gradient matching on the metric residual R = pred − gt:
    sum over scales s = 0..scales-1 (every 2^s-th pixel) of mean |∂x R| + |∂y R|."""
    residual = pred - _clean(gt, valid)
    loss = pred.new_zeros(())
    for s in range(scales):
        step = 2**s
        r, v = residual[..., ::step, ::step], valid[..., ::step, ::step]
        if r.shape[-1] < 2 or r.shape[-2] < 2:
            break
        gx = (r[..., :, 1:] - r[..., :, :-1]).abs()
        gy = (r[..., 1:, :] - r[..., :-1, :]).abs()
        loss = loss + masked_mean(gx, v[..., :, 1:] & v[..., :, :-1])
        loss = loss + masked_mean(gy, v[..., 1:, :] & v[..., :-1, :])
    return loss


def recovery_loss(
    pred: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor, gradient_weight: float = 0.5
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Recovery paper: L1 + relative + λ·multi-scale gradient, λ = 0.5."""
    parts = {
        "l1": mae_loss(pred, gt, valid),
        "relative": relative_loss(pred, gt, valid),
        "gradient": multiscale_gradient_loss(pred, gt, valid),
    }
    total = parts["l1"] + parts["relative"] + gradient_weight * parts["gradient"]
    return total, {k: v.detach() for k, v in parts.items()}


LOG_SIGMA_RANGE = (-7.0, 7.0)  # keeps exp(−log σ) finite in fp16 and fp32


def laplace_nll(
    pred: torch.Tensor, log_sigma: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """Laplace negative log-likelihood: |pred − gt|/σ + log σ + log 2 (σ = Laplace scale b)."""
    log_sigma = log_sigma.clamp(*LOG_SIGMA_RANGE)
    nll = (pred - _clean(gt, valid)).abs() * torch.exp(-log_sigma) + log_sigma + math.log(2.0)
    return masked_mean(nll, valid)


def gaussian_nll(
    pred: torch.Tensor, log_sigma: torch.Tensor, gt: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """Gaussian negative log-likelihood: (pred − gt)²/(2σ²) + log σ + ½·log 2π."""
    log_sigma = log_sigma.clamp(*LOG_SIGMA_RANGE)
    err = pred - _clean(gt, valid)
    nll = 0.5 * err * err * torch.exp(-2.0 * log_sigma) + log_sigma + 0.5 * math.log(2 * math.pi)
    return masked_mean(nll, valid)
