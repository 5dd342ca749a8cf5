"""sensor_msgs/PointCloud2 built by hand (sensor_msgs_py is not installable here): x, y, z
float32, optional packed rgb (the float32 field RViz and PCL read as 0x00RRGGBB) and sigma."""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import PointCloud2, PointField
from std_msgs.msg import Header

from depth_core.pointcloud import Points
from depth_ros.conversions import message_bytes

_NUMPY_OF = {
    PointField.FLOAT32: "f4",
    PointField.FLOAT64: "f8",
    PointField.UINT32: "u4",
    PointField.INT32: "i4",
    PointField.UINT16: "u2",
    PointField.INT16: "i2",
    PointField.UINT8: "u1",
    PointField.INT8: "i1",
}


def cloud_fields(rgb: bool, sigma: bool) -> list[PointField]:
    names = ["x", "y", "z"] + (["rgb"] if rgb else []) + (["sigma"] if sigma else [])
    return [
        PointField(name=name, offset=4 * i, datatype=PointField.FLOAT32, count=1)
        for i, name in enumerate(names)
    ]


def points_to_cloud(points: Points, header: Header) -> PointCloud2:
    """Organised points give a height x width cloud (NaN kept, is_dense False); unorganised
    ones a 1 x N cloud of finite points (is_dense True)."""
    fields = cloud_fields(points.rgb is not None, points.sigma is not None)
    dtype = np.dtype(
        {
            "names": [f.name for f in fields],
            "formats": ["<f4"] * len(fields),
            "offsets": [f.offset for f in fields],
            "itemsize": 4 * len(fields),
        }
    )
    shape = points.xyz.shape[:-1]
    buffer = np.empty(shape, dtype=dtype)
    for axis, name in enumerate("xyz"):
        buffer[name] = points.xyz[..., axis]
    if points.rgb is not None:
        colour = points.rgb.astype(np.uint32)
        packed = (colour[..., 0] << 16) | (colour[..., 1] << 8) | colour[..., 2]
        buffer["rgb"] = packed.view(np.float32)
    if points.sigma is not None:
        buffer["sigma"] = points.sigma
    cloud = PointCloud2(header=header, fields=fields, is_bigendian=False, point_step=dtype.itemsize)
    cloud.height, cloud.width = (shape[0], shape[1]) if points.organised else (1, shape[0])
    cloud.row_step = cloud.point_step * cloud.width
    cloud.is_dense = not points.organised
    cloud.data = message_bytes(buffer)
    return cloud


def cloud_to_array(cloud: PointCloud2) -> np.ndarray:
    """A PointCloud2 as a structured array (height x width), read through its field offsets;
    packed rgb is returned as the float32 it is stored as (view it as uint32)."""
    order = ">" if cloud.is_bigendian else "<"
    dtype = np.dtype(
        {
            "names": [f.name for f in cloud.fields],
            "formats": [order + _NUMPY_OF[f.datatype] for f in cloud.fields],
            "offsets": [f.offset for f in cloud.fields],
            "itemsize": cloud.point_step,
        }
    )
    data = np.frombuffer(bytes(cloud.data), dtype=np.uint8)
    if len(data) < cloud.row_step * cloud.height:
        raise ValueError("PointCloud2 data shorter than row_step x height")
    rows = data[: cloud.row_step * cloud.height].reshape(cloud.height, cloud.row_step)
    usable = rows[:, : cloud.point_step * cloud.width].copy()
    return usable.view(dtype).reshape(cloud.height, cloud.width)
