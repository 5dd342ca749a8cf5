"""The scene generator's kernels on a CUDA GPU: a batch of frames per launch, one thread per
pixel, each running the very per-pixel functions the CPU kernels run (`raycast`).

Arrays carry a leading frame axis; shape arrays are padded to the batch's largest scene and
`counts` says how many shapes each frame has. Numba's CUDA target compiles the kernels on
first use; importing this module touches no GPU. Under `NUMBA_ENABLE_CUDASIM=1` the kernels
run in numba's CUDA simulator on the CPU (the tests use it).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
from numba import cuda

from depth_core.data import raycast

# Threads per block: (u, v, frame).
BLOCK = (16, 8, 1)


@cuda.jit
def primary_kernel(
    rotations,
    origins,
    cameras,
    counts,
    kinds,
    centres,
    halves,
    cos_yaws,
    sin_yaws,
    offsets,
    clearance_sq,
    depth,
    owner,
    rays,
):
    """`raycast.trace_primary` for frame b of the batch; cameras: (B, 4) fx, fy, cx, cy."""
    u, v, b = cuda.grid(3)
    if b >= depth.shape[0] or v >= depth.shape[1] or u >= depth.shape[2]:
        return
    dx, dy, dz = raycast.camera_ray(
        rotations[b], cameras[b, 0], cameras[b, 1], cameras[b, 2], cameras[b, 3], u, v
    )
    rays[b, v, u, 0], rays[b, v, u, 1], rays[b, v, u, 2] = dx, dy, dz
    depth[b, v, u], owner[b, v, u] = raycast.nearest_hit(
        origins[b],
        dx,
        dy,
        dz,
        counts[b],
        kinds[b],
        centres[b],
        halves[b],
        cos_yaws[b],
        sin_yaws[b],
        offsets[b],
        clearance_sq[b],
    )


@cuda.jit
def shadow_kernel(
    origins, rays, depth, lights, counts, kinds, centres, halves, cos_yaws, sin_yaws, visible
):
    """`raycast.trace_shadows` (occluders: every shape but the room) for frame b."""
    column, row, b = cuda.grid(3)
    if b >= visible.shape[0] or row >= visible.shape[1] or column >= visible.shape[2]:
        return
    px, py, pz = raycast.shadow_ray_start(
        origins[b], rays[b], depth[b], row * raycast.SHADOW_STRIDE, column * raycast.SHADOW_STRIDE
    )
    light = lights[b, row * visible.shape[2] + column]
    visible[b, row, column] = raycast.light_visible(
        px,
        py,
        pz,
        light[0],
        light[1],
        light[2],
        kinds[b],
        centres[b],
        halves[b],
        cos_yaws[b],
        sin_yaws[b],
        raycast.FIRST_OCCLUDER,
        counts[b],
    )


@cuda.jit
def shade_kernel(
    origins,
    rays,
    depth,
    owner,
    visibility,
    lights,
    kinds,
    centres,
    halves,
    cos_yaws,
    sin_yaws,
    mip,
    mip_offsets,
    texture_index,
    tints,
    texture_scales,
    grains,
    speculars,
    shininesses,
    looks,
    colour,
):
    """`raycast.shade` for frame b; lights: one sample per pixel (B, H, W, 3), used where the
    pixel hit something; looks: (B, 3) light power, ambient, focal."""
    u, v, b = cuda.grid(3)
    if b >= depth.shape[0] or v >= depth.shape[1] or u >= depth.shape[2]:
        return
    t = depth[b, v, u]
    if not t < raycast.NO_HIT:
        colour[b, v, u, 0], colour[b, v, u, 1], colour[b, v, u, 2] = 0.0, 0.0, 0.0
        return
    colour[b, v, u, 0], colour[b, v, u, 1], colour[b, v, u, 2] = raycast.shade_pixel(
        origins[b],
        t,
        owner[b, v, u],
        rays[b, v, u, 0],
        rays[b, v, u, 1],
        rays[b, v, u, 2],
        visibility[b, v // raycast.SHADOW_STRIDE, u // raycast.SHADOW_STRIDE],
        lights[b, v, u, 0],
        lights[b, v, u, 1],
        lights[b, v, u, 2],
        kinds[b],
        centres[b],
        halves[b],
        cos_yaws[b],
        sin_yaws[b],
        mip,
        mip_offsets,
        texture_index[b],
        tints[b],
        texture_scales[b],
        grains[b],
        speculars[b],
        shininesses[b],
        looks[b, 0],
        looks[b, 1],
        looks[b, 2],
    )


def _grid(width: int, height: int, frames: int) -> tuple[int, int, int]:
    return (-(-width // BLOCK[0]), -(-height // BLOCK[1]), frames)


_textures: dict[tuple[int, int], tuple] = {}


def _device_textures(mip: np.ndarray, mip_offsets: np.ndarray):
    """The texture mip maps on the GPU, uploaded once per process (the host arrays are
    kept with them, so that their ids stay theirs)."""
    key = (id(mip), id(mip_offsets))
    if key not in _textures:
        _textures[key] = (mip, mip_offsets, cuda.to_device(mip), cuda.to_device(mip_offsets))
    return _textures[key][2:]


def on_gpu(index: int | None):
    """Context in which launches go to GPU `index` (None: the current device)."""
    return cuda.gpus[index] if index is not None else contextlib.nullcontext()


def available() -> bool:
    """Whether numba finds a usable CUDA GPU (or runs the simulator)."""
    try:
        return bool(cuda.is_available())
    except Exception:  # a broken driver install reads as "no GPU", not a crash
        return False


# The padded (B, S, ...) shape arrays each kernel reads, in its argument order.
GEOMETRY = ("kinds", "centres", "halves", "cos_yaws", "sin_yaws")
MATERIALS = ("texture_index", "tints", "texture_scales", "grains", "speculars", "shininesses")


@dataclass
class TracedBatch:
    """A batch on the GPU after its primary rays: the scenes as uploaded once (origins, shape
    counts, the padded shape arrays by name) and each pixel's depth, shape and ray."""

    origins: object
    counts: object
    shapes: dict[str, object]
    depth: object
    owner: object
    rays: object


def trace_primary(
    rotations, origins, cameras, counts, shapes: dict[str, np.ndarray], height: int, width: int
) -> tuple[TracedBatch, np.ndarray]:
    """Primary rays of B frames on the GPU, and their depth on the host. shapes: the padded
    (B, S, ...) arrays of GEOMETRY and MATERIALS, plus offsets and clearance_sq
    (`raycast.bound_clearances`)."""
    frames = len(origins)
    batch = TracedBatch(
        origins=cuda.to_device(origins),
        counts=cuda.to_device(counts),
        shapes={key: cuda.to_device(value) for key, value in shapes.items()},
        depth=cuda.device_array((frames, height, width), np.float32),
        owner=cuda.device_array((frames, height, width), np.int32),
        rays=cuda.device_array((frames, height, width, 3), np.float64),
    )
    primary_kernel[_grid(width, height, frames), BLOCK](
        cuda.to_device(rotations),
        batch.origins,
        cuda.to_device(cameras),
        batch.counts,
        *(batch.shapes[key] for key in (*GEOMETRY, "offsets", "clearance_sq")),
        batch.depth,
        batch.owner,
        batch.rays,
    )
    return batch, batch.depth.copy_to_host()


def shade(
    batch: TracedBatch,
    shadow_lights: np.ndarray,
    pixel_lights: np.ndarray,
    mip: np.ndarray,
    mip_offsets: np.ndarray,
    looks: np.ndarray,
) -> np.ndarray:
    """Linear RGB (B, H, W, 3 float32, on the host) of a traced batch: shadow rays
    (`shadow_lights`: B x rows·columns x 3) then shading (`pixel_lights`: one sample per
    pixel, B x H x W x 3)."""
    frames, height, width = batch.depth.shape
    rows, columns = raycast.shadow_grid(height, width)
    geometry = [batch.shapes[key] for key in GEOMETRY]
    visible = cuda.device_array((frames, rows, columns), np.float32)
    shadow_kernel[_grid(columns, rows, frames), BLOCK](
        batch.origins,
        batch.rays,
        batch.depth,
        cuda.to_device(shadow_lights),
        batch.counts,
        *geometry,
        visible,
    )
    colour = cuda.device_array((frames, height, width, 3), np.float32)
    shade_kernel[_grid(width, height, frames), BLOCK](
        batch.origins,
        batch.rays,
        batch.depth,
        batch.owner,
        visible,
        cuda.to_device(pixel_lights),
        *geometry,
        *_device_textures(mip, mip_offsets),
        *(batch.shapes[key] for key in MATERIALS),
        cuda.to_device(looks),
        colour,
    )
    return colour.copy_to_host()
