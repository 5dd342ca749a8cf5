"""sensor_msgs <-> numpy, without cv_bridge (not installable here, and broken under NumPy 2).

Incoming images become views on the message buffer (zero-copy) whenever the row layout allows:
native byte order and either no row padding or a strided view over it. Every error is a
`ImageFormatError` whose message says what is wrong, so a node can log it and drop the frame.
"""

from __future__ import annotations

import array as pyarray

import numpy as np
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from depth_core.geometry import Intrinsics, disparity_to_depth, resized_coordinate

# encoding -> (numpy dtype, channels)
ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "rgb8": (np.dtype(np.uint8), 3),
    "bgr8": (np.dtype(np.uint8), 3),
    "rgba8": (np.dtype(np.uint8), 4),
    "bgra8": (np.dtype(np.uint8), 4),
    "mono8": (np.dtype(np.uint8), 1),
    "16UC1": (np.dtype(np.uint16), 1),
    "32FC1": (np.dtype(np.float32), 1),
}
COLOUR_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8")
DEPTH_ENCODINGS = ("16UC1", "32FC1")
LITTLE_ENDIAN_HOST = np.little_endian


class ImageFormatError(ValueError):
    """An image message that cannot be read; `reason` is a short key for diagnostics."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def image_to_array(msg: Image) -> np.ndarray:
    """HxW or HxWxC array over the message's bytes (a view when the layout allows)."""
    if msg.encoding not in ENCODINGS:
        raise ImageFormatError(
            "unknown_encoding",
            f"unsupported encoding {msg.encoding!r} (supported: {', '.join(ENCODINGS)})",
        )
    dtype, channels = ENCODINGS[msg.encoding]
    height, width, step = msg.height, msg.width, msg.step
    if height == 0 or width == 0:
        raise ImageFormatError("empty_image", f"image is {width}x{height}")
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise ImageFormatError("bad_step", f"step {step} < width·bytes per pixel {row_bytes}")
    if len(msg.data) < step * height:
        raise ImageFormatError(
            "short_data", f"data has {len(msg.data)} bytes, step·height is {step * height}"
        )
    if dtype.itemsize > 1:
        dtype = dtype.newbyteorder(">" if msg.is_bigendian else "<")
    buffer = np.frombuffer(msg.data, np.uint8, count=step * height)
    if step % dtype.itemsize:
        # Rows not aligned to the element size: copy row by row (rare, never zero-copy).
        rows = buffer.reshape(height, step)[:, :row_bytes].copy()
        array = rows.view(dtype).reshape(height, width, channels)
    else:
        array = np.lib.stride_tricks.as_strided(
            buffer.view(dtype),
            shape=(height, width, channels),
            strides=(step, channels * dtype.itemsize, dtype.itemsize),
            writeable=False,
        )
    if not dtype.isnative:
        array = array.astype(dtype.newbyteorder("="))
    return array[..., 0] if channels == 1 else array


def to_rgb8(msg: Image) -> np.ndarray:
    """Any colour encoding -> HxWx3 uint8 RGB (the estimator's input)."""
    if msg.encoding not in COLOUR_ENCODINGS:
        expected = ", ".join(COLOUR_ENCODINGS)
        raise ImageFormatError(
            "unknown_encoding", f"colour image expected ({expected}), got {msg.encoding!r}"
        )
    array = image_to_array(msg)
    if msg.encoding == "rgb8":
        return array
    if msg.encoding == "mono8":
        return np.repeat(array[..., None], 3, axis=2)
    order = {"bgr8": [2, 1, 0], "rgba8": [0, 1, 2], "bgra8": [2, 1, 0]}[msg.encoding]
    return array[..., order]


def to_depth_metres(msg: Image) -> np.ndarray:
    """16UC1 millimetres or 32FC1 metres -> HxW float32 metres; NaN where there is no value
    (0 mm, NaN, ±inf or negative)."""
    if msg.encoding not in DEPTH_ENCODINGS:
        raise ImageFormatError(
            "unknown_encoding", f"depth image expected (16UC1 mm or 32FC1 m), got {msg.encoding!r}"
        )
    array = image_to_array(msg)
    depth = (
        array.astype(np.float32) * np.float32(0.001)
        if msg.encoding == "16UC1"
        else np.array(array, dtype=np.float32)
    )
    depth[~(np.isfinite(depth) & (depth > 0))] = np.nan
    return depth


def disparity_message_to_depth(msg) -> np.ndarray:
    """stereo_msgs/DisparityImage -> depth = f·T/d in metres (NaN outside the valid range)."""
    disparity = image_to_array(msg.image)
    if msg.image.encoding != "32FC1":
        raise ImageFormatError(
            "unknown_encoding", f"disparity must be 32FC1, got {msg.image.encoding!r}"
        )
    if msg.f <= 0 or msg.t <= 0:
        raise ImageFormatError("bad_calibration", f"disparity has f={msg.f}, T={msg.t}")
    valid = (disparity >= msg.min_disparity) & (disparity <= msg.max_disparity) & (disparity > 0)
    depth = disparity_to_depth(np.where(valid, disparity, 0).astype(np.float32), msg.f, msg.t)
    return depth.astype(np.float32)


def array_to_image(array: np.ndarray, encoding: str, header: Header) -> Image:
    """Contiguous HxW(xC) array -> Image with the given header (copied, not re-stamped)."""
    dtype, channels = ENCODINGS[encoding]
    array = np.ascontiguousarray(array, dtype=dtype)
    if array.shape[2:] not in ((), (channels,)) or (channels > 1) != (array.ndim == 3):
        raise ValueError(f"{encoding} needs {channels} channel(s), got shape {array.shape}")
    msg = Image(
        header=header,
        height=array.shape[0],
        width=array.shape[1],
        encoding=encoding,
        is_bigendian=not LITTLE_ENDIAN_HOST,
        step=array.shape[1] * channels * dtype.itemsize,
    )
    msg.data = message_bytes(array)
    return msg


def message_bytes(array: np.ndarray) -> pyarray.array:
    """An array's bytes (C order) as the array.array('B') that generated uint8[] fields store.
    Handing them bytes instead costs a per-element Python check of every byte when
    ROS_PYTHON_CHECK_FIELDS=1, far slower than the copy itself."""
    out = pyarray.array("B")
    out.frombytes(np.ascontiguousarray(array).reshape(-1).view(np.uint8))
    return out


def camera_info_to_intrinsics(msg: CameraInfo) -> Intrinsics:
    k = msg.k
    if k[0] <= 0 or k[4] <= 0 or msg.width == 0 or msg.height == 0:
        raise ImageFormatError(
            "bad_camera_info",
            f"camera_info has fx={k[0]}, fy={k[4]}, size {msg.width}x{msg.height}",
        )
    return Intrinsics(k[0], k[4], k[2], k[5], msg.width, msg.height)


def intrinsics_to_camera_info(intrinsics: Intrinsics, header: Header) -> CameraInfo:
    """A distortion-free CameraInfo (K, P, identity R) for the given intrinsics."""
    k = intrinsics
    return CameraInfo(
        header=header,
        width=k.width,
        height=k.height,
        distortion_model="plumb_bob",
        d=[0.0] * 5,
        k=[k.fx, 0.0, k.cx, 0.0, k.fy, k.cy, 0.0, 0.0, 1.0],
        r=[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        p=[k.fx, 0.0, k.cx, 0.0, 0.0, k.fy, k.cy, 0.0, 0.0, 0.0, 1.0, 0.0],
    )


def scaled_camera_info(msg: CameraInfo, width: int, height: int, header: Header) -> CameraInfo:
    """CameraInfo for an output image resized to width x height: K and P scaled with the
    pixel-edge convention of `Intrinsics.resized`, D and R unchanged."""
    sx, sy = width / msg.width, height / msg.height
    out = CameraInfo(
        header=header,
        width=width,
        height=height,
        distortion_model=msg.distortion_model,
        d=list(msg.d),
        r=msg.r,
    )
    k, p = list(msg.k), list(msg.p)
    for matrix, row_length in ((k, 3), (p, 4)):
        matrix[0] *= sx  # fx
        matrix[2] = resized_coordinate(matrix[2], sx)  # cx
        matrix[row_length + 1] *= sy  # fy
        matrix[row_length + 2] = resized_coordinate(matrix[row_length + 2], sy)  # cy
    p[3] *= sx  # Tx = -fx·B scales with fx
    out.k, out.p = k, p
    out.binning_x, out.binning_y, out.roi = msg.binning_x, msg.binning_y, msg.roi
    return out
