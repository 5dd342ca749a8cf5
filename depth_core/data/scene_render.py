"""What a generated scene is (a room, shapes, materials, lighting, cameras) and how it renders:
RGB plus exact metric depth, by ray casting on the CPU or, batched, on a GPU.

For pretraining, tests and the demo stream. A scene is a room (an axis-aligned box seen from
inside) with boxes rotated about the vertical axis, tables, vertical cylinders and spheres,
textured with real photographs from scikit-image and lit by an area light with shadows and
specular highlights. Cameras use the ROS optical frame (x right, y down, z forward) and the
world is z-up. Everything is deterministic per seed. The random layouts are in `scenes`.

Depth is the z-depth along the optical axis (what depth cameras publish), not the ray length:
rays are scaled so that their camera-frame z component is 1, which makes the hit parameter t
the depth itself. The per-pixel work runs in compiled kernels (`raycast`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from depth_core.data import raycast
from depth_core.data.sample import DepthSample
from depth_core.data.scene_textures import texture_detail_contrast, texture_mips
from depth_core.geometry import Intrinsics

_KINDS = {"box": raycast.BOX, "sphere": raycast.SPHERE, "cylinder": raycast.CYLINDER}
# Linear intensity -> 8-bit display value (gamma 2.2), as a table: far cheaper than a power.
_GAMMA_LUT = (np.linspace(0, 1, 4096) ** (1 / 2.2) * 255 + 0.5).astype(np.uint8)


@dataclass
class Camera:
    intrinsics: Intrinsics
    position: np.ndarray  # (3,) world metres
    rotation: np.ndarray  # 3x3 world-from-camera (columns: right, down, forward)

    @classmethod
    def looking(cls, intrinsics: Intrinsics, position, yaw: float, pitch: float) -> Camera:
        """A level camera at `position`, heading `yaw` (radians about z), tilted by `pitch`
        (positive looks up)."""
        forward = np.array(
            [np.cos(yaw) * np.cos(pitch), np.sin(yaw) * np.cos(pitch), np.sin(pitch)]
        )
        right = np.array([np.sin(yaw), -np.cos(yaw), 0.0])
        down = np.cross(forward, right)
        return cls(
            intrinsics,
            np.asarray(position, dtype=np.float64),
            np.stack([right, down, forward], axis=1),
        )

    def horizontal_plane(self, height: float) -> tuple[np.ndarray, float]:
        """The world plane z = `height` in this camera's optical frame as (n, d), n·X + d = 0,
        with n the unit normal pointing from the plane toward the camera (the camera is
        above it) and d > 0 the camera's distance to it."""
        above = float(self.position[2]) - height
        if above <= 0:
            raise ValueError(f"the camera (z = {self.position[2]:.3f} m) is not above z = {height}")
        return self.rotation[2].copy(), above  # world +z, seen from the camera


@dataclass
class Material:
    texture: int  # index into texture_bank()
    tint: np.ndarray  # (3,) multiplies the texture
    texture_scale: float  # texture repeats per metre
    specular: float  # Blinn-Phong weight
    shininess: float
    # Detail below the texels (raycast.grain), in units of the photograph's finest-octave
    # contrast (texture_detail_contrast); 0 = none.
    grain: float = 1.0


@dataclass
class Shape:
    """kind: "box" (centre, half extents, yaw), "cylinder" (vertical: centre = axis bottom
    point, half[0] = radius, half[2] = height) or "sphere" (half[0] = radius)."""

    kind: str
    centre: np.ndarray
    half: np.ndarray
    material: Material
    yaw: float = 0.0

    def bounding_sphere(self) -> tuple[np.ndarray, float]:
        if self.kind == "cylinder":
            return self.centre + [0, 0, self.half[2] / 2], float(np.hypot(*self.half[[0, 2]]))
        return self.centre, float(np.linalg.norm(self.half) if self.kind == "box" else self.half[0])


@dataclass
class _PackedShapes:
    """Shapes and materials as the arrays the raycast kernels take."""

    kinds: np.ndarray
    centres: np.ndarray
    halves: np.ndarray
    cos_yaws: np.ndarray
    sin_yaws: np.ndarray
    bound_centres: np.ndarray
    bound_radii: np.ndarray
    texture_index: np.ndarray  # into texture_bank()
    tints: np.ndarray  # 0..1 per 8-bit texel value
    texture_scales: np.ndarray
    grains: np.ndarray
    speculars: np.ndarray
    shininesses: np.ndarray

    @classmethod
    def of(cls, shapes: list[Shape]) -> _PackedShapes:
        bounds = [shape.bounding_sphere() for shape in shapes]

        def column(values, dtype=np.float64):
            return np.ascontiguousarray(np.array(values, dtype=dtype))

        return cls(
            kinds=column([_KINDS[s.kind] for s in shapes], np.int64),
            centres=column([s.centre for s in shapes]),
            halves=column([s.half for s in shapes]),
            cos_yaws=column([np.cos(s.yaw) for s in shapes]),
            sin_yaws=column([np.sin(s.yaw) for s in shapes]),
            bound_centres=column([centre for centre, _ in bounds]),
            bound_radii=column([radius for _, radius in bounds]),
            texture_index=column([s.material.texture for s in shapes], np.int64),
            tints=column([np.asarray(s.material.tint) / 255.0 for s in shapes]),
            texture_scales=column([s.material.texture_scale for s in shapes]),
            grains=column(
                [
                    s.material.grain
                    * texture_detail_contrast()[s.material.texture]
                    / raycast.VALUE_NOISE_STD
                    for s in shapes
                ]
            ),
            speculars=column([s.material.specular for s in shapes]),
            shininesses=column([s.material.shininess for s in shapes]),
        )


@dataclass
class Appearance:
    """Lighting and sensor settings of one scene."""

    light_centre: np.ndarray  # (3,) world
    light_size: float  # side of the square area light, metres (soft shadows)
    light_power: float
    ambient: float
    exposure: float
    noise_std: float  # sensor noise, in [0, 1] intensity units
    jpeg_quality: int  # 0 = no compression
    blur_sigma: float = 0.0  # lens and demosaicing softness, Gaussian σ in pixels


@dataclass
class Scene:
    room: Shape
    objects: list[Shape]
    appearance: Appearance
    seed: int
    layout: str
    cameras: list[Camera] = field(default_factory=list)

    @property
    def shapes(self) -> list[Shape]:
        return [self.room, *self.objects]

    def render(self, camera: Camera, rng: np.random.Generator | None = None) -> DepthSample:
        """RGB (uint8) and exact z-depth (float32 metres) through `camera`, on the CPU.
        `render_batch` renders many frames on a GPU."""
        rng = rng or np.random.default_rng(self.seed)
        k = camera.intrinsics
        packed = _PackedShapes.of(self.shapes)
        origin = np.asarray(camera.position, dtype=np.float64)
        depth, owner, rays = raycast.trace_primary(
            np.ascontiguousarray(camera.rotation, dtype=np.float64),
            origin,
            float(k.fx),
            float(k.fy),
            float(k.cx),
            float(k.cy),
            k.height,
            k.width,
            packed.kinds,
            packed.centres,
            packed.halves,
            packed.cos_yaws,
            packed.sin_yaws,
            packed.bound_centres,
            packed.bound_radii,
        )
        valid = np.isfinite(depth)
        shadow_lights, hit_lights = self._light_draws(depth.shape, int(valid.sum()), rng)
        visibility = raycast.trace_shadows(
            origin,
            rays,
            depth,
            shadow_lights,
            packed.kinds,
            packed.centres,
            packed.halves,
            packed.cos_yaws,
            packed.sin_yaws,
        )
        colour = raycast.shade(
            origin,
            rays,
            depth,
            owner,
            visibility,
            hit_lights,
            packed.kinds,
            packed.centres,
            packed.halves,
            packed.cos_yaws,
            packed.sin_yaws,
            *texture_mips(),
            packed.texture_index,
            packed.tints,
            packed.texture_scales,
            packed.grains,
            packed.speculars,
            packed.shininesses,
            *self._shading_constants(camera),
        )
        return self._finish(colour, depth, valid, camera, rng)

    def _shading_constants(self, camera: Camera) -> tuple[float, float, float]:
        """Light power, ambient light and the focal length (px) that shading takes."""
        k, look = camera.intrinsics, self.appearance
        return float(look.light_power), float(look.ambient), float(np.sqrt(k.fx * k.fy))

    def _light_draws(self, size: tuple[int, int], hits: int, rng: np.random.Generator):
        """Light samples, in the order every renderer draws them: one per shadow ray
        (`raycast.trace_shadows`: every second pixel and row), then one per hit pixel."""
        rows, columns = raycast.shadow_grid(*size)
        shadow_lights = self._light_samples(rows * columns, rng)
        return shadow_lights, self._light_samples(hits, rng)

    def _light_samples(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """Jittered points on the square area light: one per pixel gives soft shadows."""
        look = self.appearance
        half_light = look.light_size / 2
        light = np.empty((count, 3), dtype=np.float64)
        light[:, :2] = look.light_centre[:2] + rng.uniform(-half_light, half_light, (count, 2))
        light[:, 2] = look.light_centre[2]
        return light

    def _finish(
        self,
        colour: np.ndarray,
        depth: np.ndarray,
        valid: np.ndarray,
        camera: Camera,
        rng: np.random.Generator,
    ) -> DepthSample:
        """The sample from linear colour and traced depth: the sensor's effects applied."""
        return DepthSample(
            rgb=self._sensor(colour, rng),
            depth=np.where(valid, depth, np.float32(0)),
            valid=valid,
            intrinsics=camera.intrinsics,
            name=f"scene/{self.layout}/{self.seed}",
        )

    def _sensor(self, colour: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        look = self.appearance
        linear = colour * np.float32(look.exposure)
        if look.blur_sigma > 0:
            linear = cv2.GaussianBlur(linear, (0, 0), look.blur_sigma)
        linear += look.noise_std * rng.standard_normal(linear.shape, dtype=np.float32)
        image = _GAMMA_LUT[(np.clip(linear, 0, 1) * (len(_GAMMA_LUT) - 1)).astype(np.int32)]
        if look.jpeg_quality:
            ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, look.jpeg_quality])
            image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        return image

    def frames(self) -> Iterator[DepthSample]:
        """The scene through each camera of its trajectory (a video stream)."""
        rng = np.random.default_rng(self.seed + 1)
        for camera in self.cameras:
            yield self.render(camera, rng)


def render_batch(
    views: Sequence[tuple[Scene, Camera, np.random.Generator | None]],
    gpu: int | None = None,
) -> list[DepthSample]:
    """`Scene.render(camera, rng)` for each view, rendered in one batch on CUDA GPU `gpu`
    (None: the current one) by `raycast_cuda`: the same per-pixel functions, one thread per
    pixel. Each rng gives the same draws in the same order as on the CPU, so the frames match
    the CPU's up to the GPU's floating-point rounding. All views must share one image size."""
    from depth_core.data import raycast_cuda

    if not views:
        return []
    sizes = {(camera.intrinsics.height, camera.intrinsics.width) for _, camera, _ in views}
    if len(sizes) > 1:
        raise ValueError(f"render_batch needs one image size for all views, got {sorted(sizes)}")
    height, width = sizes.pop()
    rngs = [rng or np.random.default_rng(scene.seed) for scene, _, rng in views]
    packed = [_PackedShapes.of(scene.shapes) for scene, _, _ in views]
    origins = np.array([camera.position for _, camera, _ in views], dtype=np.float64)
    shapes = {
        name: _padded([getattr(p, name) for p in packed])
        for name in (*raycast_cuda.GEOMETRY, *raycast_cuda.MATERIALS)
    }
    shapes["offsets"] = np.zeros_like(shapes["centres"])
    shapes["clearance_sq"] = np.zeros_like(shapes["cos_yaws"])
    counts = np.array([len(p.kinds) for p in packed], dtype=np.int64)
    for b, p in enumerate(packed):
        raycast.bound_clearances(
            origins[b],
            p.bound_centres,
            p.bound_radii,
            counts[b],
            shapes["offsets"][b],
            shapes["clearance_sq"][b],
        )
    rotations = np.array([camera.rotation for _, camera, _ in views], dtype=np.float64)
    cameras = np.array(
        [[c.intrinsics.fx, c.intrinsics.fy, c.intrinsics.cx, c.intrinsics.cy] for _, c, _ in views],
        dtype=np.float64,
    )
    with raycast_cuda.on_gpu(gpu):
        traced, depth = raycast_cuda.trace_primary(
            rotations, origins, cameras, counts, shapes, height, width
        )
        valid = np.isfinite(depth)
        shadow_lights, pixel_lights = [], np.zeros((len(views), height, width, 3))
        for b, (scene, _, _) in enumerate(views):
            shadow, hits = scene._light_draws((height, width), int(valid[b].sum()), rngs[b])
            shadow_lights.append(shadow)
            pixel_lights[b][valid[b]] = hits  # raster order, as the CPU kernel consumes them
        looks = np.array([scene._shading_constants(camera) for scene, camera, _ in views])
        colour = raycast_cuda.shade(
            traced, np.stack(shadow_lights), pixel_lights, *texture_mips(), looks
        )
    return [
        scene._finish(colour[b], depth[b], valid[b], camera, rngs[b])
        for b, (scene, camera, _) in enumerate(views)
    ]


def _padded(arrays: list[np.ndarray]) -> np.ndarray:
    """Per-scene arrays (S_i, ...) stacked as (B, max S_i, ...), zero-padded."""
    out = np.zeros(
        (len(arrays), max(len(a) for a in arrays), *arrays[0].shape[1:]), dtype=arrays[0].dtype
    )
    for b, array in enumerate(arrays):
        out[b, : len(array)] = array
    return out
