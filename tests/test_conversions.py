"""Image <-> numpy without cv_bridge: every encoding, padded rows, both byte orders, checked
against a reference conversion written independently (struct unpacking, row by row)."""

import importlib.util
import struct

import numpy as np
import pytest
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from stereo_msgs.msg import DisparityImage

from depth_ros.conversions import (
    ENCODINGS,
    ImageFormatError,
    array_to_image,
    disparity_message_to_depth,
    image_to_array,
    message_bytes,
    scaled_camera_info,
    to_depth_metres,
    to_rgb8,
)

STRUCT_CODES = {"uint8": "B", "uint16": "H", "float32": "f"}


def make_message(encoding, values, padding=0, big_endian=False):
    """An Image holding `values` (HxW[xC]) with `padding` spare bytes per row."""
    dtype, channels = ENCODINGS[encoding]
    values = np.asarray(values, dtype)
    height, width = values.shape[:2]
    order = ">" if big_endian else "<"
    rows = [
        values[r].astype(dtype.newbyteorder(order)).tobytes() + b"\xee" * padding
        for r in range(height)
    ]
    return Image(
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=big_endian,
        step=width * channels * dtype.itemsize + padding,
        data=b"".join(rows),
    )


def reference(msg):
    """Independent decoding: struct.unpack per pixel from the documented layout."""
    dtype, channels = ENCODINGS[msg.encoding]
    code = (">" if msg.is_bigendian else "<") + STRUCT_CODES[dtype.name] * channels
    size = struct.calcsize(code)
    data = bytes(msg.data)
    out = np.array(
        [
            [struct.unpack_from(code, data, r * msg.step + c * size) for c in range(msg.width)]
            for r in range(msg.height)
        ],
        dtype,
    )
    return out[..., 0] if channels == 1 else out


@pytest.mark.parametrize("encoding", list(ENCODINGS))
@pytest.mark.parametrize("padding", [0, 6])
@pytest.mark.parametrize("big_endian", [False, True])
def test_every_encoding_matches_the_reference(encoding, padding, big_endian):
    dtype, channels = ENCODINGS[encoding]
    rng = np.random.default_rng(1)
    shape = (3, 5, channels) if channels > 1 else (3, 5)
    values = (
        (rng.random(shape) * 60000).astype(dtype)
        if dtype.kind != "f"
        else rng.normal(size=shape).astype(dtype)
    )
    msg = make_message(encoding, values, padding, big_endian)
    array = image_to_array(msg)
    np.testing.assert_array_equal(array, reference(msg))
    np.testing.assert_array_equal(array, values)


def test_native_images_are_views_even_with_padded_rows():
    values = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    msg = make_message("rgb8", values, padding=4)
    array = image_to_array(msg)
    assert not array.flags.owndata and np.shares_memory(array, np.frombuffer(msg.data, np.uint8))


def test_colour_orders_and_depth_units():
    bgr = np.array([[[10, 20, 30]]], np.uint8)
    assert to_rgb8(make_message("bgr8", bgr)).tolist() == [[[30, 20, 10]]]
    assert to_rgb8(make_message("bgra8", np.array([[[10, 20, 30, 255]]]))).tolist() == [
        [[30, 20, 10]]
    ]
    assert to_rgb8(make_message("rgba8", np.array([[[10, 20, 30, 255]]]))).tolist() == [
        [[10, 20, 30]]
    ]
    assert to_rgb8(make_message("mono8", np.array([[7]]))).tolist() == [[[7, 7, 7]]]
    millimetres = make_message("16UC1", np.array([[0, 1500]]), big_endian=True)
    depth = to_depth_metres(millimetres)
    assert np.isnan(depth[0, 0]) and depth[0, 1] == pytest.approx(1.5)
    metres = make_message("32FC1", np.array([[np.nan, np.inf, -1.0, 2.5]]))
    assert np.isnan(to_depth_metres(metres)[0, :3]).all() and to_depth_metres(metres)[0, 3] == 2.5


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"encoding": "yuv422"}, "unknown_encoding"),
        ({"width": 0}, "empty_image"),
        ({"step": 2}, "bad_step"),
        ({"data": b"\x00" * 10}, "short_data"),
    ],
)
def test_bad_images_raise_a_reasoned_error(change, reason):
    msg = make_message("rgb8", np.zeros((4, 4, 3)))
    for key, value in change.items():
        setattr(msg, key, value)
    with pytest.raises(ImageFormatError) as error:
        image_to_array(msg)
    assert error.value.reason == reason


def test_round_trip_keeps_values_and_header():
    header = Header(frame_id="camera_color_optical_frame")
    header.stamp.sec, header.stamp.nanosec = 12, 345
    depth = np.random.default_rng(0).random((4, 6)).astype(np.float32)
    msg = array_to_image(depth, "32FC1", header)
    assert msg.header == header and msg.step == 24
    np.testing.assert_array_equal(image_to_array(msg), depth)


def test_message_bytes_take_the_setters_fast_path_even_with_field_checks():
    # Bytes would be checked element by element under ROS_PYTHON_CHECK_FIELDS=1; an
    # array.array('B') is stored as it is, so the message holds this very object.
    strided = np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::2]
    payload = message_bytes(strided)
    msg = Image(check_fields=True)
    msg.data = payload
    assert msg.data is payload and payload.typecode == "B"
    assert bytes(payload) == strided.tobytes()


def test_stereo_disparity_gives_f_times_baseline_over_d():
    disparity = np.array([[10.0, 20.0, 0.0, 500.0]], np.float32)
    image = array_to_image(disparity, "32FC1", Header())
    msg = DisparityImage(image=image, f=500.0, t=0.1, min_disparity=1.0, max_disparity=100.0)
    depth = disparity_message_to_depth(msg)
    assert depth[0, :2].tolist() == pytest.approx([5.0, 2.5])  # 500 px · 0.1 m / d
    assert np.isnan(depth[0, 2:]).all()  # zero and out-of-range disparity: no depth


def test_camera_info_scaling_by_hand():
    info = CameraInfo(
        width=640,
        height=480,
        k=[500.0, 0, 319.5, 0, 500.0, 239.5, 0, 0, 1],
        p=[500.0, 0, 319.5, -25.0, 0, 500.0, 239.5, 0, 0, 0, 1, 0],
    )
    half = scaled_camera_info(info, 320, 240, info.header)
    # fx·s, (cx + 0.5)·s − 0.5: the pixel-edge convention of resize
    assert list(half.k) == [250.0, 0, 159.5, 0, 250.0, 119.5, 0, 0, 1]
    assert list(half.p) == [250.0, 0, 159.5, -12.5, 0, 250.0, 119.5, 0, 0, 0, 1, 0]
    assert (half.width, half.height) == (320, 240)


@pytest.mark.skipif(
    importlib.util.find_spec("cv_bridge") is None,
    reason="cv_bridge is not installable here (no ROS 2 install; PyPI's "
    "cv-bridge is an unrelated ROS 1 copy)",
)
@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_same_arrays_as_cv_bridge(encoding):
    from cv_bridge import CvBridge

    dtype, channels = ENCODINGS[encoding]
    shape = (4, 5, channels) if channels > 1 else (4, 5)
    values = (np.random.default_rng(2).random(shape) * 200).astype(dtype)
    msg = make_message(encoding, values, padding=2)
    np.testing.assert_array_equal(image_to_array(msg), CvBridge().imgmsg_to_cv2(msg))
