"""Procedural indoor scenes rendered by ray casting: RGB plus exact metric depth.

For pretraining, tests and the demo stream. A scene is a room (an axis-aligned box seen from
inside) with boxes rotated about the vertical axis, tables, vertical cylinders and spheres,
textured with real photographs from scikit-image and lit by an area light with shadows and
specular highlights. Cameras use the ROS optical frame (x right, y down, z forward) and the
world is z-up. Everything is deterministic per seed.

Depth is the z-depth along the optical axis (what depth cameras publish), not the ray length:
rays are scaled so that their camera-frame z component is 1, which makes the hit parameter t
the depth itself. The per-pixel work runs in compiled kernels (`raycast`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache

import cv2
import numpy as np

from depth_core.data import raycast
from depth_core.data.sample import DepthSample
from depth_core.geometry import Intrinsics

LAYOUTS = ("room", "tabletop", "open")
FLOOR_TOP = 0.001  # world z of the floor slab's upper surface, metres
_TEXTURES = (
    "astronaut",
    "brick",
    "camera",
    "chelsea",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "moon",
    "page",
    "rocket",
    "text",
    "immunohistochemistry",
    "hubble_deep_field",
    "retina",
    "colorwheel",
    "cell",
)
_TEXTURE_SIZE = 256
_KINDS = {"box": raycast.BOX, "sphere": raycast.SPHERE, "cylinder": raycast.CYLINDER}
# Linear intensity -> 8-bit display value (gamma 2.2), as a table: far cheaper than a power.
_GAMMA_LUT = (np.linspace(0, 1, 4096) ** (1 / 2.2) * 255 + 0.5).astype(np.uint8)


@cache
def texture_bank() -> np.ndarray:
    """The scikit-image photographs as textures: N x 256 x 256 x 3 uint8 RGB."""
    import skimage.data

    textures = []
    for name in _TEXTURES:
        image = getattr(skimage.data, name)()
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        textures.append(
            cv2.resize(
                np.ascontiguousarray(image[..., :3]),
                (_TEXTURE_SIZE, _TEXTURE_SIZE),
                interpolation=cv2.INTER_AREA,
            )
        )
    return np.stack(textures)


@cache
def texture_mips() -> tuple[np.ndarray, np.ndarray]:
    """texture_bank() as mip maps for the shading kernel: (N x texels x 3 float32, each
    texture's levels 256², 128², ..., 1² packed row-major; the offset of each level). Each
    level is the area average of the one above."""
    levels = [texture_bank().astype(np.float32)]
    while levels[-1].shape[1] > 1:
        above = levels[-1]
        levels.append(
            0.25
            * (
                above[:, 0::2, 0::2]
                + above[:, 1::2, 0::2]
                + above[:, 0::2, 1::2]
                + above[:, 1::2, 1::2]
            )
        )
    count = len(levels[0])
    offsets = np.cumsum([0] + [level.shape[1] ** 2 for level in levels[:-1]])
    packed = np.concatenate([level.reshape(count, -1, 3) for level in levels], axis=1)
    return np.ascontiguousarray(packed), offsets.astype(np.int64)


@cache
def texture_detail_contrast() -> np.ndarray:
    """Per texture, the contrast of its finest octave: the standard deviation of log
    luminance about each 2x2 block's mean. The grain below the texels gets this contrast."""
    luminance = np.log(texture_bank().astype(np.float64).mean(axis=-1) + 4.0)
    count, side = luminance.shape[:2]
    blocks = luminance.reshape(count, side // 2, 2, side // 2, 2).mean(axis=(2, 4))
    finest = luminance - np.repeat(np.repeat(blocks, 2, axis=1), 2, axis=2)
    return finest.reshape(count, -1).std(axis=1)


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


# --------------------------------------------------------------------------------------------
# Procedural layouts


def _material(rng: np.random.Generator, plain: bool = False) -> Material:
    tint = rng.uniform(0.35, 1.0, 3) if not plain else np.full(3, rng.uniform(0.6, 1.0))
    return Material(
        texture=int(rng.integers(len(_TEXTURES))),
        tint=(tint * rng.uniform(0.6, 1.0)).astype(np.float32),
        texture_scale=float(rng.uniform(0.3, 2.5)),
        specular=float(rng.choice([0.0, 0.1, 0.4, 0.8])),
        shininess=float(rng.uniform(8, 80)),
    )


def _table(rng, centre_xy, top_height, size, yaw) -> list[Shape]:
    material = _material(rng)
    top = Shape(
        "box",
        np.array([*centre_xy, top_height - 0.02]),
        np.array([size[0] / 2, size[1] / 2, 0.02]),
        material,
        yaw,
    )
    legs = []
    c, s = np.cos(yaw), np.sin(yaw)
    for sx in (-1, 1):
        for sy in (-1, 1):
            lx, ly = sx * (size[0] / 2 - 0.05), sy * (size[1] / 2 - 0.05)
            x, y = centre_xy[0] + c * lx - s * ly, centre_xy[1] + s * lx + c * ly
            legs.append(
                Shape(
                    "box",
                    np.array([x, y, (top_height - 0.04) / 2]),
                    np.array([0.025, 0.025, (top_height - 0.04) / 2]),
                    material,
                    yaw,
                )
            )
    return [top, *legs]


def _object_on(rng, x, y, z, scale) -> Shape:
    kind = rng.choice(["box", "box", "cylinder", "sphere"])
    if kind == "box":
        half = rng.uniform(0.15, 1.0, 3) * scale
        return Shape(
            "box", np.array([x, y, z + half[2]]), half, _material(rng), float(rng.uniform(0, np.pi))
        )
    if kind == "cylinder":
        radius, height = rng.uniform(0.1, 0.5) * scale, rng.uniform(0.4, 3.0) * scale
        return Shape(
            "cylinder", np.array([x, y, z]), np.array([radius, radius, height]), _material(rng)
        )
    radius = rng.uniform(0.15, 0.6) * scale
    return Shape("sphere", np.array([x, y, z + radius]), np.full(3, radius), _material(rng))


def _footprint(shape: Shape) -> float:
    return float(np.hypot(shape.half[0], shape.half[1]) if shape.kind == "box" else shape.half[0])


def random_scene(
    seed: int, width: int = 320, height: int = 240, frames: int = 1, layout: str | None = None
) -> Scene:
    """A random room with a camera trajectory of `frames` poses. Layouts: "room" (cluttered),
    "tabletop" (close-up view down onto a table), "open" (large, sparse)."""
    rng = np.random.default_rng(seed)
    layout = layout or str(rng.choice(LAYOUTS, p=[0.5, 0.3, 0.2]))
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose from {LAYOUTS}")
    large = layout == "open"
    size_x, size_y = rng.uniform(6, 14, 2) if large else rng.uniform(2.8, 7, 2)
    room_height = rng.uniform(2.4, 3.5)
    room = Shape(
        "box",
        np.array([0.0, 0.0, room_height / 2]),
        np.array([size_x / 2, size_y / 2, room_height / 2]),
        _material(rng, plain=True),
    )
    hfov = np.radians(rng.uniform(48, 95))
    focal = width / (2 * np.tan(hfov / 2)) * rng.uniform(0.98, 1.02)
    intrinsics = Intrinsics(
        focal,
        focal,
        (width - 1) / 2 + rng.uniform(-0.02, 0.02) * width,
        (height - 1) / 2 + rng.uniform(-0.02, 0.02) * height,
        width,
        height,
    )
    # The floor: its own material, a 1 mm slab over the room's floor.
    objects: list[Shape] = [
        Shape(
            "box",
            np.array([0.0, 0.0, FLOOR_TOP / 2]),
            np.array([size_x / 2, size_y / 2, FLOOR_TOP / 2]),
            _material(rng),
        )
    ]
    margin_x, margin_y = size_x / 2 - 0.3, size_y / 2 - 0.3

    if layout == "tabletop":
        table_height = rng.uniform(0.6, 0.8)
        table_size = rng.uniform(0.8, 1.8, 2)
        table_yaw = float(rng.uniform(0, np.pi))
        objects += _table(rng, (0.0, 0.0), table_height, table_size, table_yaw)
        for _ in range(rng.integers(3, 9)):
            x, y = rng.uniform(-0.4, 0.4, 2) * table_size
            objects.append(_object_on(rng, x, y, table_height, scale=0.15))
        distance = rng.uniform(0.5, 1.3)
        heading = rng.uniform(0, 2 * np.pi)
        target = np.array([0.0, 0.0, table_height])
        start = np.array(
            [
                -np.cos(heading) * distance,
                -np.sin(heading) * distance,
                table_height + rng.uniform(0.3, 0.9),
            ]
        )
        path = [
            start + np.array([0.05 * np.sin(0.2 * i), 0.05 * np.cos(0.15 * i), 0.0])
            for i in range(frames)
        ]
        cameras = []
        for position in path:
            look = target - position
            yaw = float(np.arctan2(look[1], look[0]))
            pitch = float(np.arctan2(look[2], np.hypot(look[0], look[1])))
            cameras.append(Camera.looking(intrinsics, position, yaw, pitch))
    else:
        camera_height = rng.uniform(0.3, 1.8)
        start = np.array(
            [rng.uniform(-0.3, 0.3) * size_x, rng.uniform(-0.3, 0.3) * size_y, camera_height]
        )
        heading = rng.uniform(0, 2 * np.pi)
        velocity = np.array([np.cos(heading), np.sin(heading), 0.0]) * rng.uniform(0.01, 0.04)
        pitch0 = rng.uniform(-0.45, 0.15)
        path, cameras = [], []
        for i in range(frames):
            position = start + velocity * i
            position[:2] = np.clip(
                position[:2], [-margin_x + 0.3, -margin_y + 0.3], [margin_x - 0.3, margin_y - 0.3]
            )
            path.append(position)
            yaw = heading + 0.4 * np.sin(0.03 * i)
            cameras.append(
                Camera.looking(
                    intrinsics, position, float(yaw), float(pitch0 + 0.05 * np.sin(0.05 * i))
                )
            )
        count = 1 + (rng.integers(2, 6) if large else rng.integers(4, 12))
        for _ in range(count * 3):
            if len(objects) >= count:
                break
            if rng.random() < 0.7:  # most of the clutter in front of the camera
                bearing = heading + rng.uniform(-0.5, 0.5) * hfov
                reach = rng.uniform(1.0, 6.0 if large else 4.0)
                x = np.clip(start[0] + reach * np.cos(bearing), -margin_x, margin_x)
                y = np.clip(start[1] + reach * np.sin(bearing), -margin_y, margin_y)
            else:
                x, y = rng.uniform(-margin_x, margin_x), rng.uniform(-margin_y, margin_y)
            if rng.random() < 0.25:
                candidate = _table(
                    rng,
                    (x, y),
                    rng.uniform(0.6, 0.8),
                    rng.uniform(0.6, 1.6, 2),
                    float(rng.uniform(0, np.pi)),
                )
                reach = float(np.hypot(*candidate[0].half[:2]))
            else:
                candidate = [_object_on(rng, x, y, 0.0, scale=1.0)]
                reach = _footprint(candidate[0])
            clearance = min(np.hypot(*(np.array([x, y]) - p[:2])) for p in path)
            if clearance > reach + 0.4:
                objects += candidate
    light = np.array(
        [rng.uniform(-0.3, 0.3) * size_x, rng.uniform(-0.3, 0.3) * size_y, room_height - 0.05]
    )
    appearance = Appearance(
        light_centre=light,
        light_size=float(rng.uniform(0.1, 1.2)),
        light_power=float(rng.uniform(2.0, 8.0) * (room_height / 2.5) ** 2),
        ambient=float(rng.uniform(0.08, 0.35)),
        exposure=float(rng.uniform(0.6, 1.6)),
        noise_std=float(rng.uniform(0.0, 0.03)),
        jpeg_quality=int(rng.choice([0, 60, 75, 90])),
        blur_sigma=float(rng.uniform(0.0, 1.0)),  # drawn last: the layouts stay as they were
    )
    return Scene(room, objects, appearance, seed, layout, cameras)


def scene_frame_seed(seed: int, index: int) -> int:
    """The seed of frame `index` of a generated data set `seed` (training, evaluation)."""
    return seed * 1_000_003 + index


def scene_frame(seed: int, index: int, width: int = 320, height: int = 240) -> DepthSample:
    """Frame `index` of the generated data set `seed` (see `scene_frames`)."""
    return scene_frames(seed, [index], width, height)[0]


def scene_frames(
    seed: int, indices: Sequence[int], width: int = 320, height: int = 240, device: str = "cpu"
) -> list[DepthSample]:
    """Frames `indices` of the generated data set `seed`: each a fresh random scene through its
    first camera. device "cuda" or "cuda:N" renders them as one batch on that GPU
    (`render_batch`)."""
    kind, _, number = device.partition(":")
    if device != "cpu" and (kind != "cuda" or not (number.isdigit() or device == "cuda")):
        raise ValueError(f"scene rendering device must be cpu, cuda or cuda:N, got {device!r}")
    scenes = [random_scene(scene_frame_seed(seed, index), width, height) for index in indices]
    if device == "cpu":
        return [scene.render(scene.cameras[0]) for scene in scenes]
    return render_batch(
        [(scene, scene.cameras[0], None) for scene in scenes], int(number) if number else None
    )


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


def approaching_person(
    seed: int,
    width: int = 320,
    height: int = 240,
    frames: int = 15,
    start_m: float = 3.5,
    end_m: float = 0.6,
) -> Iterator[DepthSample]:
    """A person-like shape (a 1.5 m cylinder body and a sphere head) walking straight at a
    still camera in a generated room, from `start_m` to `end_m` away (horizontal distance).
    Other objects in its path are removed. For evaluating proximity distances."""
    rng = np.random.default_rng(seed)
    scene = random_scene(seed, width, height, frames=1, layout="room")
    camera = scene.cameras[0]
    forward = camera.rotation[:, 2].copy()
    forward[2] = 0
    forward /= np.linalg.norm(forward)
    lateral = np.array([-forward[1], forward[0], 0.0]) * rng.uniform(-0.3, 0.3)
    radius = rng.uniform(0.18, 0.26)
    origin = np.array([camera.position[0], camera.position[1], 0.0])
    # Keep the walkway clear: drop objects whose footprint comes near the person's path.
    path = [origin + lateral + forward * d for d in np.linspace(end_m, start_m, 12)]
    scene.objects = [
        o
        for o in scene.objects
        if o is scene.objects[0]
        or min(np.hypot(*(o.centre[:2] - p[:2])) for p in path) > _footprint(o) + radius + 0.1
    ]
    material = _material(rng)
    head_material = _material(rng)
    static = list(scene.objects)
    for distance in np.linspace(start_m, end_m, frames):
        feet = origin + lateral + forward * distance
        body = Shape("cylinder", feet.copy(), np.array([radius, radius, 1.5]), material)
        head = Shape("sphere", feet + np.array([0, 0, 1.62]), np.full(3, 0.11), head_material)
        scene.objects = [*static, body, head]
        yield scene.render(camera, np.random.default_rng(seed * 1000 + int(distance * 100)))
