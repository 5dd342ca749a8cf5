"""Data sets, loaders and samples. Every loader returns a `DepthSample`."""

from depth_core.data.sample import DepthSample

__all__ = ["DepthSample"]
