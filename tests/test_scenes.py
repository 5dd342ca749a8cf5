"""The scene generator's depth is exact: checked against analytic depth for a plane and a
sphere, and it is deterministic per seed."""

import numpy as np
import pytest

pytest.importorskip("skimage", reason="scikit-image holds the texture photographs")

from depth_core.data.scene_render import (  # noqa: E402
    Appearance,
    Camera,
    Material,
    Scene,
    Shape,
)
from depth_core.data.scene_textures import texture_bank, texture_mips  # noqa: E402
from depth_core.data.scenes import LAYOUTS, closing_camera, random_scene  # noqa: E402
from depth_core.geometry import Intrinsics  # noqa: E402

INTRINSICS = Intrinsics(400.0, 400.0, 79.5, 59.5, 160, 120)
PLAIN = Material(
    texture=0, tint=np.ones(3, dtype=np.float32), texture_scale=1.0, specular=0.0, shininess=10.0
)
LIGHT = Appearance(np.array([0.0, 0.0, 2.9]), 0.2, 4.0, 0.2, 1.0, 0.0, 0)


def room(wall_distance: float) -> Shape:
    """A room whose +x wall is `wall_distance` from the origin."""
    return Shape("box", np.array([0.0, 0.0, 1.5]), np.array([wall_distance, 6.0, 1.5]), PLAIN)


def back_project(depth: np.ndarray, camera: Camera) -> np.ndarray:
    k = camera.intrinsics
    v, u = np.mgrid[0 : k.height, 0 : k.width]
    rays = np.stack([(u - k.cx) / k.fx, (v - k.cy) / k.fy, np.ones(u.shape)], axis=-1)
    return (rays * depth[..., None]) @ camera.rotation.T + camera.position


def test_a_wall_facing_the_camera_has_constant_z_depth():
    camera = Camera.looking(INTRINSICS, [0.0, 0.0, 1.5], yaw=0.0, pitch=0.0)
    sample = Scene(room(2.5), [], LIGHT, seed=0, layout="room").render(camera)
    assert sample.valid.all()
    # z-depth, not ray length: the same 2.5 m at the centre and in the corners.
    np.testing.assert_allclose(sample.depth, 2.5, atol=1e-5)
    assert sample.rgb.shape == (120, 160, 3) and sample.rgb.dtype == np.uint8


def test_a_tilted_camera_sees_the_floor_where_geometry_puts_it():
    camera = Camera.looking(INTRINSICS, [0.0, 0.0, 1.2], yaw=0.3, pitch=-0.5)
    sample = Scene(room(20.0), [], LIGHT, seed=0, layout="room").render(camera)
    points = back_project(sample.depth.astype(np.float64), camera)
    bottom_rows = points[-20:]  # looking down at 0.5 rad: the floor fills the lower image
    np.testing.assert_allclose(bottom_rows[..., 2], 0.0, atol=1e-4)


def test_sphere_depth_matches_the_analytic_intersection():
    centre, radius = np.array([4.0, 0.2, 1.6]), 0.5
    sphere = Shape("sphere", centre, np.full(3, radius), PLAIN)
    camera = Camera.looking(INTRINSICS, [0.0, 0.0, 1.5], yaw=0.0, pitch=0.0)
    sample = Scene(room(5.0), [sphere], LIGHT, seed=0, layout="room").render(camera)
    k = INTRINSICS
    v, u = np.mgrid[0 : k.height, 0 : k.width]
    # Analytic: camera ray (x right, y down, z forward) in the world is (z, -x, -y).
    direction = np.stack([np.ones(u.shape), -(u - k.cx) / k.fx, -(v - k.cy) / k.fy], axis=-1)
    offset = camera.position - centre
    a = (direction**2).sum(-1)
    b = 2 * direction @ offset
    c = offset @ offset - radius**2
    disc = b * b - 4 * a * c
    hits = disc >= 0
    analytic = (-b - np.sqrt(np.where(hits, disc, 0))) / (2 * a)
    assert 0.05 < hits.mean() < 0.6
    # float64 per pixel, stored as float32: a few µm at 4 m.
    np.testing.assert_allclose(sample.depth[hits], analytic[hits], atol=1e-5)
    np.testing.assert_allclose(sample.depth[~hits], 5.0, rtol=1e-5)  # the wall behind
    on_surface = np.linalg.norm(back_project(sample.depth, camera) - centre, axis=-1)
    np.testing.assert_allclose(on_surface[hits], radius, atol=1e-4)


def test_scenes_are_deterministic_per_seed_and_cover_every_layout():
    first, again = random_scene(11, 96, 72), random_scene(11, 96, 72)
    a, b = first.render(first.cameras[0]), again.render(again.cameras[0])
    np.testing.assert_array_equal(a.rgb, b.rgb)
    np.testing.assert_array_equal(a.depth, b.depth)
    other = random_scene(12, 96, 72)
    assert not np.array_equal(other.render(other.cameras[0]).depth, a.depth)
    for layout in LAYOUTS:
        scene = random_scene(3, 96, 72, frames=3, layout=layout)
        frames = list(scene.frames())
        assert len(frames) == 3 and all(f.valid.all() for f in frames)  # closed rooms
        assert 0.05 < np.median(frames[0].depth) < 15
        assert not np.array_equal(frames[0].depth, frames[2].depth)  # the camera moves


def test_a_box_turned_45_degrees_shows_its_front_edge_at_the_analytic_depth():
    # A cube of half side h turned 45° about z, centred d ahead at the camera's height: in
    # the middle row its front faces are x = d − h√2 + |y|, so a ray of slope s = (u − cx)/fx
    # meets them at z = (d − h√2) / (1 − |s|).
    d, h = 4.0, 0.3
    cube = Shape("box", np.array([d, 0.0, 1.5]), np.full(3, h), PLAIN, yaw=np.pi / 4)
    camera = Camera.looking(INTRINSICS, [0.0, 0.0, 1.5], yaw=0.0, pitch=0.0)
    k = INTRINSICS
    middle = Intrinsics(k.fx, k.fy, k.cx, 60.0, k.width, k.height)  # row 60 is level
    camera = Camera(middle, camera.position, camera.rotation)
    sample = Scene(room(6.0), [cube], LIGHT, seed=0, layout="room").render(camera)
    slope = np.abs((np.arange(k.width) - k.cx) / k.fx)
    analytic = (d - h * np.sqrt(2)) / (1 - slope)
    on_cube = sample.depth[60] < 5.0
    assert 10 < on_cube.sum() < k.width - 10
    np.testing.assert_allclose(sample.depth[60][on_cube], analytic[on_cube], atol=1e-4)


def test_shadow_rays_are_blocked_by_spheres_boxes_and_cylinders_between_point_and_light():
    from depth_core.data import raycast

    light = np.array([0.0, 0.0, 3.0])
    points = np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 2.5], [0.0, 0.0, 3.5]])
    lights = np.repeat(light[None], len(points), axis=0)
    kinds_and_shapes = [
        (raycast.SPHERE, [0.0, 0.0, 1.0], [0.3, 0.3, 0.3], 0.0),
        (raycast.BOX, [0.0, 0.0, 1.0], [0.2, 0.2, 0.2], 0.7),
        (raycast.CYLINDER, [0.0, 0.0, 0.8], [0.2, 0.2, 0.4], 0.0),  # z 0.8 .. 1.2
    ]
    for kind, centre, half, yaw in kinds_and_shapes:
        kinds = np.array([raycast.BOX, kind])
        centres = np.array([[0.0, 0, 1.5], centre])
        halves = np.array([[5.0, 5, 1.5], half])
        cos_yaws, sin_yaws = np.cos([0.0, yaw]), np.sin([0.0, yaw])
        visible = [
            raycast.light_visible(
                *point, *light, kinds, centres, halves, cos_yaws, sin_yaws, 1, len(kinds)
            )
            for point, light in zip(points, lights, strict=True)
        ]
        # Under the occluder: dark. Off to the side, above it, or beyond the light: lit.
        assert visible == [0.0, 1.0, 1.0, 1.0], kind


def test_mip_levels_are_area_averages_down_to_the_texture_mean():
    textures = texture_bank().astype(np.float64)
    mip, offsets = texture_mips()
    side = textures.shape[1]
    level1 = mip[:, offsets[1] : offsets[1] + (side // 2) ** 2].reshape(
        len(textures), side // 2, side // 2, 3
    )
    np.testing.assert_allclose(
        level1[:, 3, 5], textures[:, 6:8, 10:12].mean(axis=(1, 2)), rtol=1e-5
    )
    np.testing.assert_allclose(mip[:, offsets[-1]], textures.mean(axis=(1, 2)), rtol=1e-4)


def test_a_far_fine_texture_is_averaged_over_each_pixel_not_point_sampled():
    # 200 repeats per metre at 4 m: each pixel (1 cm) covers ~500 texels, so a camera sees the
    # texture's mean colour; one point sample per pixel would give speckle.
    fine = Material(
        texture=0, tint=np.ones(3, np.float32), texture_scale=200.0, specular=0.0, shininess=10.0
    )
    wall = Shape("box", np.array([0.0, 0.0, 1.5]), np.array([4.0, 6.0, 1.5]), fine)
    ambient_only = Appearance(np.array([0.0, 0.0, 2.9]), 0.2, 0.0, 0.5, 1.0, 0.0, 0)
    camera = Camera.looking(INTRINSICS, [0.0, 0.0, 1.5], yaw=0.0, pitch=0.0)
    rgb = Scene(wall, [], ambient_only, seed=0, layout="room").render(camera).rgb
    linear = texture_bank()[0].reshape(-1, 3).mean(axis=0) / 255.0 * 0.5  # albedo x ambient
    expected = linear ** (1 / 2.2) * 255  # the sensor's gamma
    np.testing.assert_allclose(rgb.reshape(-1, 3).mean(axis=0), expected, atol=1.0)
    assert rgb.reshape(-1, 3).std(axis=0).max() < 1.0


def test_grain_octaves_fade_out_below_the_pixel_footprint():
    from depth_core.data import raycast

    u, v, salt, longest = 0.37, 1.91, 5, 0.02
    # Every octave at or below 2 footprints is dropped: a footprint of half the longest
    # wavelength leaves nothing, a quarter leaves exactly the first octave at full weight.
    assert raycast.grain(u, v, longest / 2, salt, longest) == 0.0
    assert raycast.grain(u, v, longest / 4, salt, longest) == pytest.approx(
        raycast._value_noise(u / longest, v / longest, salt * 16)
    )
    # Halfway (in log2) between 2 and 4 footprints, an octave counts half.
    assert raycast.grain(u, v, longest / 2**1.5, salt, longest) == pytest.approx(
        0.5 * raycast._value_noise(u / longest, v / longest, salt * 16)
    )
    # The normalisation constant is the noise's own spread.
    points = np.random.default_rng(0).uniform(-50, 50, (20000, 2))
    values = [raycast._value_noise(x, y, 3) for x, y in points]
    assert np.std(values) == pytest.approx(raycast.VALUE_NOISE_STD, rel=0.03)


def test_grain_gives_a_near_magnified_surface_fine_detail_and_leaves_far_ones_as_they_were():
    # 0.3 texture repeats per metre: 13 mm texels, magnified about 8x on a wall 0.3 m away
    # (1.6 mm pixels at f = 190 px), so the photograph alone is blurry there.
    import cv2

    intrinsics = Intrinsics(190.0, 190.0, 79.5, 59.5, 160, 120)
    ambient_only = Appearance(np.array([0.0, 0.0, 2.9]), 0.2, 0.0, 0.6, 1.0, 0.0, 0)
    camera = Camera.looking(intrinsics, [0.0, 0.0, 1.5], yaw=0.0, pitch=0.0)

    def render(distance: float, grain: float) -> np.ndarray:
        material = Material(
            texture=0,
            tint=np.ones(3, np.float32),
            texture_scale=0.3,
            specular=0.0,
            shininess=10.0,
            grain=grain,
        )
        wall = Shape("box", np.array([0.0, 0.0, 1.5]), np.array([distance, 20.0, 10.0]), material)
        return Scene(wall, [], ambient_only, seed=0, layout="room").render(camera).rgb

    def fine_contrast(rgb: np.ndarray) -> float:
        grey = rgb.astype(np.float32).mean(axis=-1)
        return float(np.abs(grey - cv2.GaussianBlur(grey, (0, 0), 1.0)).mean() / grey.mean())

    assert fine_contrast(render(0.3, 1.0)) > 3 * fine_contrast(render(0.3, 0.0))
    # At 5 m a pixel (26 mm) is wider than a texel: every grain octave is below it.
    np.testing.assert_array_equal(render(5.0, 1.0), render(5.0, 0.0))


def test_a_closing_camera_moves_straight_ahead_and_never_reaches_a_surface():
    frames = closing_camera(11, 64, 48, frames=6, step=0.05)
    first, last = frames[0], frames[-1]
    forward = first.pose[:3, 2]
    travel = last.pose[:3, 3] - first.pose[:3, 3]
    np.testing.assert_allclose(np.cross(travel, forward), 0, atol=1e-9)  # along the axis
    assert travel @ forward > 0
    np.testing.assert_array_equal(last.pose[:3, :3], first.pose[:3, :3])
    medians = [np.median(f.depth[f.valid]) for f in frames]
    assert all(a > b for a, b in zip(medians, medians[1:], strict=False))
    # Capped at half the first frame's 1st-percentile depth: the nearest surface stays ahead.
    assert np.linalg.norm(travel) <= 0.5 * np.percentile(first.depth[first.valid], 1) + 1e-6
    assert last.depth[last.valid].min() > 0
