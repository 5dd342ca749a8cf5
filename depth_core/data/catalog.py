"""Every loader a config or a command line names by `kind`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from depth_core.data.loaders import (
    folder_pairs,
    kitti_eigen,
    middlebury2014,
    nyu_eigen,
    nyu_labelled_mat,
    rgbdd,
    tum_rgbd,
)
from depth_core.data.sample import DepthSample
from depth_core.data.shared_sets import shared_frames

LOADERS: dict[str, Callable[..., Sequence[DepthSample]]] = {
    "nyu_mat": nyu_labelled_mat,
    "nyu_eigen": nyu_eigen,
    "kitti_eigen": kitti_eigen,
    "rgbdd": rgbdd,
    "middlebury2014": middlebury2014,
    "tum": tum_rgbd,
    "folder": folder_pairs,
    "shared": shared_frames,
}
