"""Procedural indoor scenes rendered by ray casting: RGB plus exact metric depth.

For pretraining, tests and the demo stream. A scene is a room (an axis-aligned box seen from
inside) with boxes rotated about the vertical axis, tables, vertical cylinders and spheres,
textured with real photographs from scikit-image and lit by an area light with shadows and
specular highlights. Cameras use the ROS optical frame (x right, y down, z forward) and the
world is z-up. Everything is deterministic per seed.

Depth is the z-depth along the optical axis (what depth cameras publish), not the ray length:
rays are scaled so that their camera-frame z component is 1, which makes the hit parameter t
the depth itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from itertools import product

import cv2
import numpy as np

from depth_core.data.sample import DepthSample
from depth_core.geometry import Intrinsics

LAYOUTS = ("room", "tabletop", "open")
_TEXTURES = ("astronaut", "brick", "camera", "chelsea", "coffee", "coins", "grass", "gravel",
             "moon", "page", "rocket", "text", "immunohistochemistry", "hubble_deep_field",
             "retina", "colorwheel", "cell")  # fmt: skip
_TEXTURE_SIZE = 256
_NO_HIT = np.float32(np.inf)
# Linear intensity -> 8-bit display value (gamma 2.2), as a table: far cheaper than a power.
_GAMMA_LUT = (np.linspace(0, 1, 4096) ** (1 / 2.2) * 255 + 0.5).astype(np.uint8)


@cache
def texture_bank() -> np.ndarray:
    """The scikit-image photographs as textures: N x 256 x 256 uint32, each texel RGBA packed
    into 4 bytes so that a texture lookup is one cache-friendly 1-D gather."""
    import skimage.data

    textures = []
    for name in _TEXTURES:
        image = getattr(skimage.data, name)()
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        image = cv2.resize(np.ascontiguousarray(image[..., :3]), (_TEXTURE_SIZE, _TEXTURE_SIZE),
                           interpolation=cv2.INTER_AREA)  # fmt: skip
        rgba = np.concatenate([image, np.zeros_like(image[..., :1])], axis=2)
        textures.append(np.ascontiguousarray(rgba).view(np.uint32)[..., 0])
    return np.stack(textures)


@dataclass
class Camera:
    intrinsics: Intrinsics
    position: np.ndarray  # (3,) world metres
    rotation: np.ndarray  # 3x3 world-from-camera (columns: right, down, forward)

    @classmethod
    def looking(cls, intrinsics: Intrinsics, position, yaw: float, pitch: float) -> Camera:
        """A level camera at `position`, heading `yaw` (radians about z), tilted by `pitch`
        (positive looks up)."""
        forward = np.array([np.cos(yaw) * np.cos(pitch), np.sin(yaw) * np.cos(pitch),
                            np.sin(pitch)])  # fmt: skip
        right = np.array([np.sin(yaw), -np.cos(yaw), 0.0])
        down = np.cross(forward, right)
        return cls(intrinsics, np.asarray(position, dtype=np.float64),
                   np.stack([right, down, forward], axis=1))  # fmt: skip

    def pixel_window(self, centre: np.ndarray, radius: float) -> tuple[slice, slice] | None:
        """Rows and columns whose rays can meet a sphere (None: none can). Conservative: the
        projected corners of the camera-aligned cube around the sphere; the whole image when
        the sphere reaches behind the camera."""
        k = self.intrinsics
        local = (np.asarray(centre) - self.position) @ self.rotation  # camera frame
        if local[2] + radius <= 0:
            return None
        if local[2] - radius <= 1e-3:
            return slice(0, k.height), slice(0, k.width)
        corners = local + radius * np.array(list(product((-1, 1), repeat=3)))
        u = k.fx * corners[:, 0] / corners[:, 2] + k.cx
        v = k.fy * corners[:, 1] / corners[:, 2] + k.cy
        u0, u1 = max(0, int(np.floor(u.min()))), min(k.width, int(np.ceil(u.max())) + 1)
        v0, v1 = max(0, int(np.floor(v.min()))), min(k.height, int(np.ceil(v.max())) + 1)
        if u0 >= u1 or v0 >= v1:
            return None
        return slice(v0, v1), slice(u0, u1)

    def rays(self) -> np.ndarray:
        """World-frame ray directions (H*W x 3) whose camera z component is 1."""
        k = self.intrinsics
        camera_rays = _camera_rays(k.width, k.height, k.fx, k.fy, k.cx, k.cy)
        return camera_rays @ self.rotation.T.astype(np.float32)


@cache
def _camera_rays(width: int, height: int, fx: float, fy: float, cx: float, cy: float):
    """Camera-frame ray directions (H*W x 3, z = 1): the same for every frame of a camera.
    Not `Intrinsics.ray_slopes` (float32): these mixed float32/float64 rays define the
    generated data sets, and any other rounding changes their pixels."""
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    rays = np.stack([(u - cx) / fx, (v - cy) / fy, np.ones_like(u)], axis=-1).reshape(-1, 3)
    rays.flags.writeable = False
    return rays


@dataclass
class Material:
    texture: int  # index into texture_bank()
    tint: np.ndarray  # (3,) multiplies the texture
    texture_scale: float  # texture repeats per metre
    specular: float  # Blinn-Phong weight
    shininess: float


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

    def intersect(self, origin: np.ndarray, rays: np.ndarray) -> np.ndarray:
        """Nearest positive hit parameter per ray (inf where none). Only rays that pass
        through the bounding sphere are tested exactly."""
        centre, radius = self.bounding_sphere()
        offset = (centre - origin).astype(np.float32)
        distance_sq = float(offset @ offset)
        if distance_sq <= radius**2:  # the origin is inside: test every ray
            return _INTERSECT[self.kind](self, origin, rays)
        along = rays @ offset
        lengths_sq = np.einsum("ij,ij->i", rays, rays)
        near = (along > 0) & (distance_sq - along * along / lengths_sq <= radius**2)
        hits = np.full(len(rays), _NO_HIT, dtype=np.float32)
        candidates = np.flatnonzero(near)
        if len(candidates):
            hits[candidates] = _INTERSECT[self.kind](self, origin, rays[candidates])
        return hits

    def surface(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normals (unit, N x 3) and texture coordinates (metres, N x 2) at surface points."""
        return _SURFACE[self.kind](self, points)


def _to_local(shape: Shape, vectors: np.ndarray) -> np.ndarray:
    if shape.yaw == 0.0:
        return vectors
    c, s = np.float32(np.cos(shape.yaw)), np.float32(np.sin(shape.yaw))
    x, y = vectors[..., 0], vectors[..., 1]
    return np.stack([c * x + s * y, -s * x + c * y, vectors[..., 2]], axis=-1)


def _slab(local_origin: np.ndarray, local_rays: np.ndarray, half: np.ndarray):
    """Entry and exit parameters of rays through an axis-aligned box centred at 0 (slab
    test). local_origin: (3,) or N x 3. Axis by axis with fmin/fmax: NaN (0·inf on a face
    plane) never wins, and no slow reduction over a length-3 axis."""
    near = np.full(len(local_rays), -np.inf, dtype=np.float32)
    far = np.full(len(local_rays), np.inf, dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        for axis in range(3):
            inverse = np.float32(1.0) / local_rays[:, axis]
            start = local_origin[..., axis]
            t0 = (np.float32(-half[axis]) - start) * inverse
            t1 = (np.float32(half[axis]) - start) * inverse
            near = np.fmax(near, np.fmin(t0, t1))
            far = np.fmin(far, np.fmax(t0, t1))
    return near, far


def _box_hits(shape: Shape, origin: np.ndarray, rays: np.ndarray):
    local_origin = _to_local(shape, (origin - shape.centre).astype(np.float32))
    near, far = _slab(local_origin, _to_local(shape, rays), shape.half)
    if np.all(np.abs(local_origin) < shape.half):  # inside: the room seen from within
        return np.where(far > 0, far, _NO_HIT)
    return np.where((near <= far) & (near > 0), near, _NO_HIT)


def _box_surface(shape: Shape, points: np.ndarray):
    local = _to_local(shape, points - shape.centre.astype(np.float32)) / shape.half.astype(
        np.float32
    )
    # The face is the axis of largest |local| (ties to the lower axis, as argmax); comparisons
    # instead of argmax and fancy indexing, which cost more than the rest together.
    size = np.abs(local)
    on_x = (size[:, 0] >= size[:, 1]) & (size[:, 0] >= size[:, 2])
    on_z = ~on_x & (size[:, 2] > size[:, 1])
    on_y = ~on_x & ~on_z
    sign = np.sign(local)
    normal_x, normal_y = sign[:, 0] * on_x, sign[:, 1] * on_y
    c, s = np.cos(shape.yaw), np.sin(shape.yaw)
    normal = np.empty_like(local)
    normal[:, 0] = c * normal_x - s * normal_y
    normal[:, 1] = s * normal_x + c * normal_y
    normal[:, 2] = sign[:, 2] * on_z
    metric = local * shape.half.astype(np.float32)
    # Texture plane: the two axes other than the face normal.
    u = np.where(on_x, metric[:, 1], metric[:, 0])
    v = np.where(on_z, metric[:, 1], metric[:, 2])
    return normal, np.stack([u, v], axis=1)


def _length(vectors: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,ij->i", vectors, vectors))


def _quadratic(a, b, c):
    """Smallest positive root of a t² + b t + c (inf where none), in the cancellation-free
    form q = −(b + sign(b)·√disc)/2, roots q/a and c/q: float32 stays exact at grazing rays."""
    disc = b * b - 4 * a * c
    q = -0.5 * (b + np.copysign(np.sqrt(np.maximum(disc, 0)), b))
    with np.errstate(divide="ignore", invalid="ignore"):
        first, second = q / a, c / q
    t_near, t_far = np.minimum(first, second), np.maximum(first, second)
    t = np.where(t_near > 1e-6, t_near, np.where(t_far > 1e-6, t_far, _NO_HIT))
    return np.where(disc >= 0, t, _NO_HIT)


def _sphere_hits(shape: Shape, origin: np.ndarray, rays: np.ndarray):
    offset = (origin - shape.centre).astype(np.float32)
    a = np.einsum("ij,ij->i", rays, rays)
    b = 2 * rays @ offset
    c = np.float32(offset @ offset - shape.half[0] ** 2)
    return _quadratic(a, b, c)


def _sphere_surface(shape: Shape, points: np.ndarray):
    normal = (points - shape.centre.astype(np.float32)) / np.float32(shape.half[0])
    u = np.arctan2(normal[:, 1], normal[:, 0]) * shape.half[0]
    v = np.arcsin(np.clip(normal[:, 2], -1, 1)) * shape.half[0]
    return normal, np.stack([u, v], axis=1)


def _cylinder_hits(shape: Shape, origin: np.ndarray, rays: np.ndarray):
    offset = (origin - shape.centre).astype(np.float32)
    radius, height = shape.half[0], shape.half[2]
    dx, dy = rays[:, 0], rays[:, 1]
    side = _quadratic(dx * dx + dy * dy, 2 * (dx * offset[0] + dy * offset[1]),
                      np.float32(offset[0] ** 2 + offset[1] ** 2 - radius**2))  # fmt: skip
    z = offset[2] + side * rays[:, 2]
    side = np.where((z >= 0) & (z <= height), side, _NO_HIT)
    with np.errstate(divide="ignore", invalid="ignore"):
        top = (height - offset[2]) / rays[:, 2]
        bottom = -offset[2] / rays[:, 2]
    caps = []
    for t in (top, bottom):
        x, y = offset[0] + t * dx, offset[1] + t * dy
        caps.append(np.where((t > 1e-6) & (x * x + y * y <= radius**2), t, _NO_HIT))
    return np.minimum(side, np.minimum(*caps))


def _cylinder_surface(shape: Shape, points: np.ndarray):
    local = points - shape.centre.astype(np.float32)
    radius, height = shape.half[0], shape.half[2]
    radial = np.hypot(local[:, 0], local[:, 1])
    on_cap = (np.abs(local[:, 2] - height) < 1e-3) | (np.abs(local[:, 2]) < 1e-3)
    on_cap &= radial < radius * 0.999
    normal = np.zeros_like(local)
    normal[:, 0] = np.where(on_cap, 0, local[:, 0] / np.maximum(radial, 1e-6))
    normal[:, 1] = np.where(on_cap, 0, local[:, 1] / np.maximum(radial, 1e-6))
    normal[:, 2] = np.where(on_cap, np.sign(local[:, 2] - height / 2), 0)
    u = np.where(on_cap, local[:, 0], np.arctan2(local[:, 1], local[:, 0]) * radius)
    v = np.where(on_cap, local[:, 1], local[:, 2])
    return normal, np.stack([u, v], axis=1)


_INTERSECT = {"box": _box_hits, "sphere": _sphere_hits, "cylinder": _cylinder_hits}
_SURFACE = {"box": _box_surface, "sphere": _sphere_surface, "cylinder": _cylinder_surface}


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
        """RGB (uint8) and exact z-depth (float32 metres) through `camera`."""
        rng = rng or np.random.default_rng(self.seed)
        k = camera.intrinsics
        rays = camera.rays()
        origin = camera.position.astype(np.float32)
        nearest = np.full((k.height, k.width), _NO_HIT, dtype=np.float32)
        owner = np.zeros((k.height, k.width), dtype=np.int32)
        ray_grid = rays.reshape(k.height, k.width, 3)
        for index, shape in enumerate(self.shapes):
            window = camera.pixel_window(*shape.bounding_sphere())
            if window is None:
                continue
            block = ray_grid[window]
            t = shape.intersect(origin, block.reshape(-1, 3)).reshape(block.shape[:2])
            closer = t < nearest[window]
            nearest[window][closer], owner[window][closer] = t[closer], index
        nearest, owner = nearest.reshape(-1), owner.reshape(-1)
        valid = np.isfinite(nearest)
        points = origin + rays * np.where(valid, nearest, 0)[:, None]
        visible = self._shadow_map(points - rays * 1e-3, k.height, k.width, rng)
        colour = self._shade(points, rays, owner, valid, visible, rng)
        image = self._sensor(colour.reshape(k.height, k.width, 3), rng)
        depth = np.where(valid, nearest, 0).reshape(k.height, k.width).astype(np.float32)
        return DepthSample(rgb=image, depth=depth, valid=valid.reshape(k.height, k.width),
                           intrinsics=k, name=f"scene/{self.layout}/{self.seed}")  # fmt: skip

    def _light_samples(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """Jittered points on the square area light: one per pixel gives soft shadows."""
        look = self.appearance
        half_light = look.light_size / 2
        light = np.empty((count, 3), dtype=np.float32)
        light[:, :2] = look.light_centre[:2] + rng.uniform(-half_light, half_light, (count, 2))
        light[:, 2] = look.light_centre[2]
        return light

    def _shadow_map(self, points, height, width, rng) -> np.ndarray:
        """Light visibility (0/1) per pixel, traced at every second pixel and row: shadows are
        soft, and this is the costliest pass."""
        coarse = points.reshape(height, width, 3)[::2, ::2].reshape(-1, 3)
        to_light = self._light_samples(len(coarse), rng) - coarse
        visible = np.ones(len(coarse), dtype=np.float32)
        for shape in self.objects:
            t = _segment_hits(shape, coarse, to_light)
            visible[(t > 1e-4) & (t < 1.0)] = 0
        coarse_map = visible.reshape((height + 1) // 2, (width + 1) // 2)
        return np.repeat(np.repeat(coarse_map, 2, 0), 2, 1)[:height, :width].reshape(-1)

    def _shade(self, points, rays, owner, valid, visibility, rng) -> np.ndarray:
        """Textured Lambert + Blinn-Phong under the area light, plus ambient light."""
        look = self.appearance
        # Pixels grouped by the shape they hit: per-shape work then writes contiguous slices
        # (numpy's scatter of N x 3 rows through an index array is slow).
        hit_index = np.flatnonzero(valid)
        hit_index = hit_index[np.argsort(owner[hit_index], kind="stable")]
        bounds = np.cumsum([0, *np.bincount(owner[hit_index], minlength=len(self.shapes))])
        hit = np.take(points, hit_index, axis=0)  # np.take: rows gathered far faster
        normal = np.empty_like(hit)
        texel_index = np.empty(len(hit), dtype=np.int64)
        tint = np.empty_like(hit)
        specular_weight = np.empty(len(hit), dtype=np.float32)
        shininess = np.empty(len(hit), dtype=np.float32)
        for index, shape in enumerate(self.shapes):
            part = slice(bounds[index], bounds[index + 1])
            if part.start == part.stop:
                continue
            material = shape.material
            normal[part], uv = shape.surface(hit[part])
            texel = np.mod(uv * (material.texture_scale * _TEXTURE_SIZE), _TEXTURE_SIZE)
            texel = texel.astype(np.int64)
            texel_index[part] = (material.texture * _TEXTURE_SIZE + texel[:, 1]) * _TEXTURE_SIZE
            texel_index[part] += texel[:, 0]
            tint[part] = material.tint / np.float32(255)
            specular_weight[part], shininess[part] = material.specular, material.shininess
        view = -np.take(rays, hit_index, axis=0)
        view /= _length(view)[:, None]
        normal *= np.sign(np.einsum("ij,ij->i", normal, view) + np.float32(1e-9))[:, None]
        packed = np.take(texture_bank(), texel_index)
        albedo = packed.view(np.uint8).reshape(-1, 4)[:, :3] * tint
        to_light = self._light_samples(len(hit), rng) - hit
        distance = _length(to_light)
        to_light /= distance[:, None]
        lambert = np.clip(np.einsum("ij,ij->i", normal, to_light), 0, None)
        visible = visibility[hit_index]
        irradiance = look.light_power * lambert * visible / np.maximum(distance**2, 0.25)
        halfway = to_light + view
        halfway /= _length(halfway)[:, None]
        highlight = np.clip(np.einsum("ij,ij->i", normal, halfway), 0, None)
        # x**n as exp(n·log x): numpy's power with per-element exponents is 4x slower.
        with np.errstate(divide="ignore"):
            specular = specular_weight * np.exp(shininess * np.log(highlight)) * visible
        specular *= np.float32(0.1 * look.light_power)
        shaded = albedo * (look.ambient + irradiance)[:, None] + specular[:, None]
        colour = np.zeros_like(points)
        for channel in range(3):  # one 1-D scatter per channel: twice as fast as by rows
            colour[hit_index, channel] = shaded[:, channel]
        return colour

    def _sensor(self, colour: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        look = self.appearance
        linear = colour * look.exposure
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


def _segment_hits(shape: Shape, origins: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Hit parameters of rays with one origin each (shadow rays)."""
    if shape.kind == "sphere":  # as _sphere_hits, with an origin per ray
        offset = origins - shape.centre.astype(np.float32)
        a = np.einsum("ij,ij->i", directions, directions)
        b = 2 * np.einsum("ij,ij->i", directions, offset)
        c = np.einsum("ij,ij->i", offset, offset) - np.float32(shape.half[0] ** 2)
        return _quadratic(a, b, c)
    # Boxes and cylinders: bounding box slab test (a cylinder's shadow is its bounding box's;
    # cheap and close enough for shading).
    if shape.kind == "cylinder":
        box_centre = shape.centre + np.array([0, 0, shape.half[2] / 2])
        half = np.array([shape.half[0], shape.half[0], shape.half[2] / 2], dtype=np.float32)
        yaw = 0.0
    else:
        box_centre, half, yaw = shape.centre, shape.half.astype(np.float32), shape.yaw
    local = Shape("box", np.asarray(box_centre), half, shape.material, yaw)
    near, far = _slab(_to_local(local, origins - local.centre.astype(np.float32)),
                      _to_local(local, directions), half)  # fmt: skip
    return np.where((near <= far) & (far > 0), np.maximum(near, 1e-3), _NO_HIT)


# --------------------------------------------------------------------------------------------
# Procedural layouts


def _material(rng: np.random.Generator, plain: bool = False) -> Material:
    tint = rng.uniform(0.35, 1.0, 3) if not plain else np.full(3, rng.uniform(0.6, 1.0))
    return Material(texture=int(rng.integers(len(_TEXTURES))),
                    tint=(tint * rng.uniform(0.6, 1.0)).astype(np.float32),
                    texture_scale=float(rng.uniform(0.3, 2.5)),
                    specular=float(rng.choice([0.0, 0.1, 0.4, 0.8])),
                    shininess=float(rng.uniform(8, 80)))  # fmt: skip


def _table(rng, centre_xy, top_height, size, yaw) -> list[Shape]:
    material = _material(rng)
    top = Shape("box", np.array([*centre_xy, top_height - 0.02]),
                np.array([size[0] / 2, size[1] / 2, 0.02]), material, yaw)  # fmt: skip
    legs = []
    c, s = np.cos(yaw), np.sin(yaw)
    for sx in (-1, 1):
        for sy in (-1, 1):
            lx, ly = sx * (size[0] / 2 - 0.05), sy * (size[1] / 2 - 0.05)
            x, y = centre_xy[0] + c * lx - s * ly, centre_xy[1] + s * lx + c * ly
            legs.append(Shape("box", np.array([x, y, (top_height - 0.04) / 2]),
                              np.array([0.025, 0.025, (top_height - 0.04) / 2]), material, yaw))
    return [top, *legs]


def _object_on(rng, x, y, z, scale) -> Shape:
    kind = rng.choice(["box", "box", "cylinder", "sphere"])
    if kind == "box":
        half = rng.uniform(0.15, 1.0, 3) * scale
        return Shape("box", np.array([x, y, z + half[2]]), half, _material(rng),
                     float(rng.uniform(0, np.pi)))  # fmt: skip
    if kind == "cylinder":
        radius, height = rng.uniform(0.1, 0.5) * scale, rng.uniform(0.4, 3.0) * scale
        return Shape("cylinder", np.array([x, y, z]), np.array([radius, radius, height]),
                     _material(rng))  # fmt: skip
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
    room = Shape("box", np.array([0.0, 0.0, room_height / 2]),
                 np.array([size_x / 2, size_y / 2, room_height / 2]),
                 _material(rng, plain=True))  # fmt: skip
    hfov = np.radians(rng.uniform(48, 95))
    focal = width / (2 * np.tan(hfov / 2)) * rng.uniform(0.98, 1.02)
    intrinsics = Intrinsics(focal, focal, (width - 1) / 2 + rng.uniform(-0.02, 0.02) * width,
                            (height - 1) / 2 + rng.uniform(-0.02, 0.02) * height, width, height)
    # The floor: its own material, a 1 mm slab over the room's floor.
    objects: list[Shape] = [Shape("box", np.array([0.0, 0.0, 0.0005]),
                                  np.array([size_x / 2, size_y / 2, 0.0005]), _material(rng))]
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
        start = np.array([-np.cos(heading) * distance, -np.sin(heading) * distance,
                          table_height + rng.uniform(0.3, 0.9)])  # fmt: skip
        path = [start + np.array([0.05 * np.sin(0.2 * i), 0.05 * np.cos(0.15 * i), 0.0])
                for i in range(frames)]  # fmt: skip
        cameras = []
        for position in path:
            look = target - position
            yaw = float(np.arctan2(look[1], look[0]))
            pitch = float(np.arctan2(look[2], np.hypot(look[0], look[1])))
            cameras.append(Camera.looking(intrinsics, position, yaw, pitch))
    else:
        camera_height = rng.uniform(0.3, 1.8)
        start = np.array([rng.uniform(-0.3, 0.3) * size_x, rng.uniform(-0.3, 0.3) * size_y,
                          camera_height])  # fmt: skip
        heading = rng.uniform(0, 2 * np.pi)
        velocity = np.array([np.cos(heading), np.sin(heading), 0.0]) * rng.uniform(0.01, 0.04)
        pitch0 = rng.uniform(-0.45, 0.15)
        path, cameras = [], []
        for i in range(frames):
            position = start + velocity * i
            position[:2] = np.clip(position[:2], [-margin_x + 0.3, -margin_y + 0.3],
                                   [margin_x - 0.3, margin_y - 0.3])  # fmt: skip
            path.append(position)
            yaw = heading + 0.4 * np.sin(0.03 * i)
            cameras.append(Camera.looking(intrinsics, position, float(yaw),
                                          float(pitch0 + 0.05 * np.sin(0.05 * i))))  # fmt: skip
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
                candidate = _table(rng, (x, y), rng.uniform(0.6, 0.8), rng.uniform(0.6, 1.6, 2),
                                   float(rng.uniform(0, np.pi)))  # fmt: skip
                reach = float(np.hypot(*candidate[0].half[:2]))
            else:
                candidate = [_object_on(rng, x, y, 0.0, scale=1.0)]
                reach = _footprint(candidate[0])
            clearance = min(np.hypot(*(np.array([x, y]) - p[:2])) for p in path)
            if clearance > reach + 0.4:
                objects += candidate
    light = np.array([rng.uniform(-0.3, 0.3) * size_x, rng.uniform(-0.3, 0.3) * size_y,
                      room_height - 0.05])  # fmt: skip
    appearance = Appearance(
        light_centre=light, light_size=float(rng.uniform(0.1, 1.2)),
        light_power=float(rng.uniform(2.0, 8.0) * (room_height / 2.5) ** 2),
        ambient=float(rng.uniform(0.08, 0.35)), exposure=float(rng.uniform(0.6, 1.6)),
        noise_std=float(rng.uniform(0.0, 0.03)),
        jpeg_quality=int(rng.choice([0, 60, 75, 90])),
    )  # fmt: skip
    return Scene(room, objects, appearance, seed, layout, cameras)


def scene_frame_seed(seed: int, index: int) -> int:
    """The seed of frame `index` of a generated data set `seed` (training, evaluation)."""
    return seed * 1_000_003 + index


def scene_frame(seed: int, index: int, width: int = 320, height: int = 240) -> DepthSample:
    """Frame `index` of the generated data set `seed`: a fresh random scene, first camera."""
    scene = random_scene(scene_frame_seed(seed, index), width, height)
    return scene.render(scene.cameras[0])


def approaching_person(seed: int, width: int = 320, height: int = 240, frames: int = 15,
                       start_m: float = 3.5, end_m: float = 0.6) -> Iterator[DepthSample]:
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
    scene.objects = [o for o in scene.objects if o is scene.objects[0] or min(
        np.hypot(*(o.centre[:2] - p[:2])) for p in path) > _footprint(o) + radius + 0.1]
    material = _material(rng)
    head_material = _material(rng)
    static = list(scene.objects)
    for distance in np.linspace(start_m, end_m, frames):
        feet = origin + lateral + forward * distance
        body = Shape("cylinder", feet.copy(), np.array([radius, radius, 1.5]), material)
        head = Shape("sphere", feet + np.array([0, 0, 1.62]), np.full(3, 0.11), head_material)
        scene.objects = [*static, body, head]
        yield scene.render(camera, np.random.default_rng(seed * 1000 + int(distance * 100)))
