"""Inference for robots: one estimator API over torch and ONNX Runtime backends."""

from depth_core.runtime.estimator import DepthEstimator, DepthResult, threads_per_worker

__all__ = ["DepthEstimator", "DepthResult", "threads_per_worker"]
