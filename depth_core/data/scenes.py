"""Generated indoor scenes for pretraining, tests and the demo stream: random layouts ("room",
"tabletop", "open"), the frames of a generated data set, a person walking at a still
camera, and a camera closing in on a still scene. The scene model and its renderer are in
`scene_render`. Deterministic per seed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np

from depth_core.data.sample import DepthSample
from depth_core.data.scene_render import (
    Appearance,
    Camera,
    Material,
    Scene,
    Shape,
    render_batch,
)
from depth_core.data.scene_textures import TEXTURE_NAMES
from depth_core.geometry import Intrinsics

LAYOUTS = ("room", "tabletop", "open")
FLOOR_TOP = 0.001  # world z of the floor slab's upper surface, metres


def _material(rng: np.random.Generator, plain: bool = False) -> Material:
    tint = rng.uniform(0.35, 1.0, 3) if not plain else np.full(3, rng.uniform(0.6, 1.0))
    return Material(
        texture=int(rng.integers(len(TEXTURE_NAMES))),
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


def closing_camera(
    seed: int,
    width: int = 320,
    height: int = 240,
    frames: int = 30,
    step: float = 0.015,
    layout: str = "tabletop",
) -> list[DepthSample]:
    """A camera moving straight ahead along its optical axis in a generated scene (an arm's
    camera closing in on a table), by `step` times the first frame's median depth per frame.
    The travel is capped at half the first frame's 1st-percentile depth, so the camera never
    reaches a surface it sees. Each frame carries its pose (camera-to-world)."""
    scene = random_scene(seed, width, height, frames=1, layout=layout)
    camera = scene.cameras[0]
    first = scene.render(camera, np.random.default_rng(seed)).depth
    seen = first[np.isfinite(first) & (first > 0)]
    per_frame = min(step * np.median(seen), 0.5 * np.percentile(seen, 1) / max(frames - 1, 1))
    samples = []
    for index in range(frames):
        moved = Camera(
            camera.intrinsics,
            camera.position + camera.rotation[:, 2] * per_frame * index,
            camera.rotation,
        )
        pose = np.eye(4)
        pose[:3, :3], pose[:3, 3] = moved.rotation, moved.position
        sample = scene.render(moved, np.random.default_rng(seed * 1000 + index))
        samples.append(replace(sample, pose=pose))
    return samples
