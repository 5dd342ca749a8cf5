"""Compiled per-pixel kernels of the scene generator (numba): primary rays, shadow rays and
shading. `scene_render.py` describes scenes; this module only sees shapes packed into arrays.

The work of one pixel is written once (`nearest_hit`, `light_visible`, `shade_pixel` and
their helpers), as numba functions inlined into their callers. The CPU kernels here loop over
the pixels of one frame; `raycast_cuda` calls the same functions from CUDA kernels over a
batch of frames, one thread per pixel (numba-cuda compiles a CPU jit function called from a
kernel as a device function).

Why compiled loops: a frame is 76,800 rays against up to ~40 shapes. As numpy array passes
every shape costs a dozen full-image temporaries, and the generator ran at 11–14 frames/s on
one core; a loop per pixel keeps everything in registers.

Why one long file: it is one kernel. A pixel's whole path (ray, hit, shadow, texel, shade)
reads top to bottom here, and it is the code the CPU loops and `raycast_cuda` share; split
across modules, a change to one step would be checked against the others less easily.

Arithmetic is float64 per pixel; depth is stored as float32. Shapes (`kind`): BOX (centre,
half extents, yaw about z), SPHERE (half[0] = radius) and CYLINDER (vertical; centre = bottom
of the axis, half[0] = radius, half[2] = height). Rays are scaled so that their camera-frame z
component is 1: the hit parameter t is the z-depth.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

BOX, SPHERE, CYLINDER = 0, 1, 2
NO_HIT = np.inf
_EPSILON = 1e-6


@njit(cache=True, inline="always")
def _to_local(x, y, cos_yaw, sin_yaw):
    return cos_yaw * x + sin_yaw * y, -sin_yaw * x + cos_yaw * y


@njit(cache=True, inline="always")
def _slab(ox, oy, oz, dx, dy, dz, hx, hy, hz):
    """Entry and exit parameters of the line o + t·d through the box |x| ≤ h centred at 0.
    A direction component of 0 is parallel to that slab: inside it or missing it."""
    near, far = -np.inf, np.inf
    for start, direction, half in ((ox, dx, hx), (oy, dy, hy), (oz, dz, hz)):
        if direction == 0.0:
            if abs(start) > half:
                return np.inf, -np.inf
            continue
        t0, t1 = (-half - start) / direction, (half - start) / direction
        near = max(near, min(t0, t1))
        far = min(far, max(t0, t1))
    return near, far


@njit(cache=True, inline="always")
def _smallest_positive_root(a, b, c):
    """Smallest root > ε of a t² + b t + c (inf where none), in the cancellation-free form
    q = −(b + sign(b)·√disc)/2, roots q/a and c/q."""
    disc = b * b - 4.0 * a * c
    if disc < 0.0 or a == 0.0:
        return NO_HIT
    q = -0.5 * (b + math.copysign(math.sqrt(disc), b))
    if q == 0.0:
        return NO_HIT
    first, second = q / a, c / q
    t_near, t_far = min(first, second), max(first, second)
    if t_near > _EPSILON:
        return t_near
    return t_far if t_far > _EPSILON else NO_HIT


@njit(cache=True, inline="always")
def _sphere_hit(ox, oy, oz, dx, dy, dz, radius):
    """Smallest positive t where o + t·d meets the sphere of `radius` centred at 0."""
    return _smallest_positive_root(
        dx * dx + dy * dy + dz * dz,
        2.0 * (dx * ox + dy * oy + dz * oz),
        ox * ox + oy * oy + oz * oz - radius * radius,
    )


@njit(cache=True, inline="always")
def _box_slab(ox, oy, oz, dx, dy, dz, hx, hy, hz, cos_yaw, sin_yaw):
    """Entry and exit parameters of o + t·d through the box |x| ≤ h centred at 0 and turned
    by yaw about z, and whether o lies inside it."""
    lx, ly = _to_local(ox, oy, cos_yaw, sin_yaw)
    ldx, ldy = _to_local(dx, dy, cos_yaw, sin_yaw)
    near, far = _slab(lx, ly, oz, ldx, ldy, dz, hx, hy, hz)
    return near, far, abs(lx) < hx and abs(ly) < hy and abs(oz) < hz


@njit(cache=True, inline="always")
def _hit(kind, centre, half, cos_yaw, sin_yaw, px, py, pz, dx, dy, dz):
    """Nearest hit parameter > 0 of the ray p + t·d with one shape (inf: none). A box that
    holds the ray's origin (the room seen from within) is hit at its exit."""
    ox, oy, oz = px - centre[0], py - centre[1], pz - centre[2]
    if kind == BOX:
        near, far, inside = _box_slab(
            ox, oy, oz, dx, dy, dz, half[0], half[1], half[2], cos_yaw, sin_yaw
        )
        if inside:
            return far if far > 0.0 else NO_HIT
        return near if near <= far and near > 0.0 else NO_HIT
    if kind == SPHERE:
        return _sphere_hit(ox, oy, oz, dx, dy, dz, half[0])
    # Cylinder: the side (within its height) and the two caps.
    radius, height = half[0], half[2]
    best = _smallest_positive_root(
        dx * dx + dy * dy, 2.0 * (dx * ox + dy * oy), ox * ox + oy * oy - radius * radius
    )
    if best != NO_HIT:
        z = oz + best * dz
        if z < 0.0 or z > height:
            best = NO_HIT
    if dz != 0.0:
        for cap in (height, 0.0):
            t = (cap - oz) / dz
            x, y = ox + t * dx, oy + t * dy
            if _EPSILON < t < best and x * x + y * y <= radius * radius:
                best = t
    return best


@njit(cache=True, inline="always")
def bound_clearances(origin, bound_centres, bound_radii, count, offsets, clearance_sq):
    """Per shape (of the first `count`): its bounding centre − the ray origin (into
    `offsets`) and |offset|² − radius² (into `clearance_sq`; ≤ 0: the origin is inside)."""
    for s in range(count):
        for axis in range(3):
            offsets[s, axis] = bound_centres[s, axis] - origin[axis]
        clearance_sq[s] = (
            offsets[s, 0] ** 2 + offsets[s, 1] ** 2 + offsets[s, 2] ** 2 - bound_radii[s] ** 2
        )


@njit(cache=True, inline="always")
def camera_ray(rotation, fx, fy, cx, cy, u, v):
    """World-frame direction of pixel (u, v), scaled to camera z = 1. rotation:
    world-from-camera."""
    cam_x, cam_y = (u - cx) / fx, (v - cy) / fy
    dx = rotation[0, 0] * cam_x + rotation[0, 1] * cam_y + rotation[0, 2]
    dy = rotation[1, 0] * cam_x + rotation[1, 1] * cam_y + rotation[1, 2]
    dz = rotation[2, 0] * cam_x + rotation[2, 1] * cam_y + rotation[2, 2]
    return dx, dy, dz


@njit(cache=True, inline="always")
def nearest_hit(
    origin, dx, dy, dz, count, kinds, centres, halves, cos_yaws, sin_yaws, offsets, clearance_sq
):
    """Hit parameter (inf: none) and index of the nearest of the first `count` shapes along
    origin + t·d. Only rays through a shape's bounding sphere (`bound_clearances`) test it."""
    length_sq = dx * dx + dy * dy + dz * dz
    best, best_shape = NO_HIT, 0
    for s in range(count):
        if clearance_sq[s] > 0.0:
            along = dx * offsets[s, 0] + dy * offsets[s, 1] + dz * offsets[s, 2]
            if along <= 0.0 or along * along < clearance_sq[s] * length_sq:
                continue
        t = _hit(
            kinds[s],
            centres[s],
            halves[s],
            cos_yaws[s],
            sin_yaws[s],
            origin[0],
            origin[1],
            origin[2],
            dx,
            dy,
            dz,
        )
        if t < best:
            best, best_shape = t, s
    return best, best_shape


@njit(cache=True)
def trace_primary(
    rotation,
    origin,
    fx,
    fy,
    cx,
    cy,
    height,
    width,
    kinds,
    centres,
    halves,
    cos_yaws,
    sin_yaws,
    bound_centres,
    bound_radii,
):
    """Depth (H x W float32, inf: no hit), the index of the shape hit (int32) and the
    world-frame ray of every pixel (H x W x 3, camera z = 1). rotation: world-from-camera."""
    depth = np.full((height, width), np.float32(NO_HIT), dtype=np.float32)
    owner = np.zeros((height, width), dtype=np.int32)
    rays = np.empty((height, width, 3), dtype=np.float64)
    count = len(kinds)
    offsets = np.empty((count, 3))
    clearance_sq = np.empty(count)
    bound_clearances(origin, bound_centres, bound_radii, count, offsets, clearance_sq)
    for v in range(height):
        for u in range(width):
            dx, dy, dz = camera_ray(rotation, fx, fy, cx, cy, u, v)
            rays[v, u, 0], rays[v, u, 1], rays[v, u, 2] = dx, dy, dz
            depth[v, u], owner[v, u] = nearest_hit(
                origin,
                dx,
                dy,
                dz,
                count,
                kinds,
                centres,
                halves,
                cos_yaws,
                sin_yaws,
                offsets,
                clearance_sq,
            )
    return depth, owner, rays


@njit(cache=True, inline="always")
def light_visible(
    px, py, pz, lx, ly, lz, kinds, centres, halves, cos_yaws, sin_yaws, first_occluder, count
):
    """Visibility (1/0) of light point l from surface point p against shapes
    `first_occluder` .. `count` − 1. Boxes and spheres exactly; a cylinder casts its bounding
    box's shadow (cheap and close enough for shading)."""
    dx, dy, dz = lx - px, ly - py, lz - pz
    for s in range(first_occluder, count):
        ox, oy, oz = px - centres[s, 0], py - centres[s, 1], pz - centres[s, 2]
        if kinds[s] == SPHERE:
            t = _sphere_hit(ox, oy, oz, dx, dy, dz, halves[s, 0])
        else:
            hx, hy, hz = halves[s, 0], halves[s, 1], halves[s, 2]
            cos_yaw, sin_yaw = cos_yaws[s], sin_yaws[s]
            if kinds[s] == CYLINDER:  # its bounding box: centred half-way up the axis
                hy, hz = hx, hz / 2
                oz -= hz
                cos_yaw, sin_yaw = 1.0, 0.0
            near, far, _ = _box_slab(ox, oy, oz, dx, dy, dz, hx, hy, hz, cos_yaw, sin_yaw)
            t = max(near, 1e-3) if near <= far and far > 0.0 else NO_HIT
        if 1e-4 < t < 1.0:
            return 0.0
    return 1.0


# Shadows are soft, so shadow rays are traced at every second pixel and row only; a pixel
# takes the visibility of (v // 2, u // 2).
SHADOW_STRIDE = 2


@njit(cache=True)
def shadow_grid(height, width):
    """Rows and columns of the shadow rays traced for an image of height x width."""
    return -(-height // SHADOW_STRIDE), -(-width // SHADOW_STRIDE)


@njit(cache=True, inline="always")
def shadow_ray_start(origin, rays, depth, v, u):
    """The point a shadow ray leaves from for pixel (v, u): 1 mm in front of the surface
    (depth − 1 mm in float32, as the depth is stored), or the camera where nothing was hit."""
    t = depth[v, u]
    if not t < NO_HIT:
        t = np.float32(0.0)
    t = np.float32(t - np.float32(1e-3))
    return (
        origin[0] + rays[v, u, 0] * t,
        origin[1] + rays[v, u, 1] * t,
        origin[2] + rays[v, u, 2] * t,
    )


# Shape 0 is the room, seen from inside: it casts no shadow into itself.
FIRST_OCCLUDER = 1


@njit(cache=True)
def trace_shadows(origin, rays, depth, lights, kinds, centres, halves, cos_yaws, sin_yaws):
    """Light visibility (ceil(H/2) x ceil(W/2) float32, 1/0) at every second pixel and row,
    each towards its own light sample (`lights`, one per traced pixel in raster order),
    against every shape but the room."""
    rows, columns = shadow_grid(depth.shape[0], depth.shape[1])
    visible = np.empty((rows, columns), dtype=np.float32)
    for row in range(rows):
        for column in range(columns):
            px, py, pz = shadow_ray_start(
                origin, rays, depth, row * SHADOW_STRIDE, column * SHADOW_STRIDE
            )
            light = lights[row * columns + column]
            visible[row, column] = light_visible(
                px,
                py,
                pz,
                light[0],
                light[1],
                light[2],
                kinds,
                centres,
                halves,
                cos_yaws,
                sin_yaws,
                FIRST_OCCLUDER,
                len(kinds),
            )
    return visible


@njit(cache=True, inline="always")
def _surface(kind, centre, half, cos_yaw, sin_yaw, x, y, z):
    """Unit outward normal and texture coordinates (metres) at a surface point."""
    lx, ly, lz = x - centre[0], y - centre[1], z - centre[2]
    if kind == BOX:
        bx, by = _to_local(lx, ly, cos_yaw, sin_yaw)
        sx, sy, sz = bx / half[0], by / half[1], lz / half[2]
        # The face is the axis of largest |scaled coordinate| (ties to the lower axis).
        if abs(sx) >= abs(sy) and abs(sx) >= abs(sz):
            normal_x, normal_y, nz = math.copysign(1.0, sx), 0.0, 0.0
            u, v = by, lz
        elif abs(sz) > abs(sy):
            normal_x, normal_y, nz = 0.0, 0.0, math.copysign(1.0, sz)
            u, v = bx, by
        else:
            normal_x, normal_y, nz = 0.0, math.copysign(1.0, sy), 0.0
            u, v = bx, lz
        nx = cos_yaw * normal_x - sin_yaw * normal_y
        ny = sin_yaw * normal_x + cos_yaw * normal_y
        return nx, ny, nz, u, v
    radius = half[0]
    if kind == SPHERE:
        nx, ny, nz = lx / radius, ly / radius, lz / radius
        return nx, ny, nz, math.atan2(ny, nx) * radius, math.asin(min(max(nz, -1.0), 1.0)) * radius
    radial = math.hypot(lx, ly)
    height = half[2]
    on_cap = (abs(lz - height) < 1e-3 or abs(lz) < 1e-3) and radial < radius * 0.999
    if on_cap:
        return 0.0, 0.0, math.copysign(1.0, lz - height / 2), lx, ly
    scale = 1.0 / max(radial, 1e-6)
    return lx * scale, ly * scale, 0.0, math.atan2(ly, lx) * radius, lz


@njit(cache=True, inline="always")
def _bilinear(mip, texture, offset, size, x, y):
    """(r, g, b) at continuous level coordinates (x, y), wrapping (textures repeat). The
    corner indices and weights are found once for the three channels."""
    x, y = x - 0.5, y - 0.5
    x0, y0 = math.floor(x), math.floor(y)
    fx, fy = x - x0, y - y0
    c0, c1 = int(x0) % size, int(x0 + 1) % size
    r0, r1 = int(y0) % size, int(y0 + 1) % size
    i00, i01 = offset + r0 * size + c0, offset + r0 * size + c1
    i10, i11 = offset + r1 * size + c0, offset + r1 * size + c1
    corners = mip[texture]
    return (
        _blend_corners(corners, i00, i01, i10, i11, 0, fx, fy),
        _blend_corners(corners, i00, i01, i10, i11, 1, fx, fy),
        _blend_corners(corners, i00, i01, i10, i11, 2, fx, fy),
    )


@njit(cache=True, inline="always")
def _blend_corners(corners, i00, i01, i10, i11, k, fx, fy):
    """Channel k bilinearly between four texels (i00 at weight (1 − fx)(1 − fy))."""
    top = corners[i00, k] * (1 - fx) + corners[i01, k] * fx
    bottom = corners[i10, k] * (1 - fx) + corners[i11, k] * fx
    return top * (1 - fy) + bottom * fy


@njit(cache=True, inline="always")
def _filtered_texel(mip, mip_offsets, texture, u, v, texels_per_pixel):
    """Trilinear mip-map lookup, (r, g, b), at level-0 texel coordinates (u, v): the texture
    averaged over a footprint of `texels_per_pixel` texels, as a camera pixel integrates
    light, instead of one point sample that aliases far surfaces into high-frequency speckle."""
    top = mip_offsets.shape[0] - 1
    level = min(max(math.log2(max(texels_per_pixel, 1.0)), 0.0), float(top))
    low = int(level)
    high = min(low + 1, top)
    blend = level - low
    a = _bilinear(mip, texture, mip_offsets[low], 1 << (top - low), u / (1 << low), v / (1 << low))
    b = _bilinear(
        mip, texture, mip_offsets[high], 1 << (top - high), u / (1 << high), v / (1 << high)
    )
    return (
        a[0] * (1 - blend) + b[0] * blend,
        a[1] * (1 - blend) + b[1] * blend,
        a[2] * (1 - blend) + b[2] * blend,
    )


# Fine surface detail below a photograph's texels ("grain"), as detail textures do in games:
# magnified texels are blurry, so without it near surfaces look soft and far ones sharp, and
# a network learns sharpness as a depth cue. The grain is value noise in octaves from the
# photograph's finest wavelength (2 texels) downwards, each octave with the contrast of the
# photograph's finest octave: the texture's statistics continue below its resolution.
# Octaves finer than the pixel's footprint fade out, so far surfaces are left as they were.
GRAIN_OCTAVES = 8  # from 2 texels (3–26 mm) to 1/128 of that: below any footprint here
VALUE_NOISE_STD = 0.429  # of one octave (_value_noise), over many lattice cells
_GRAIN_TURN_COS, _GRAIN_TURN_SIN = math.cos(2.39996), math.sin(2.39996)  # golden angle


@njit(cache=True, inline="always")
def _lattice(ix, iy, salt):
    """A reproducible pseudo-random value in [-1, 1] per integer lattice point."""
    h = (ix * 374761393 + iy * 668265263 + salt * 1442695041) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * 1274126177) & 0xFFFFFFFF
    h ^= h >> 16
    return h / 2147483647.5 - 1.0


@njit(cache=True, inline="always")
def _value_noise(x, y, salt):
    x0, y0 = math.floor(x), math.floor(y)
    fx, fy = x - x0, y - y0
    sx, sy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
    ix, iy = int(x0), int(y0)
    top = _lattice(ix, iy, salt) * (1 - sx) + _lattice(ix + 1, iy, salt) * sx
    bottom = _lattice(ix, iy + 1, salt) * (1 - sx) + _lattice(ix + 1, iy + 1, salt) * sx
    return top * (1 - sy) + bottom * sy


@njit(cache=True, inline="always")
def grain(u, v, footprint, salt, longest):
    """Band-limited fractal noise at surface point (u, v) (metres) seen with a pixel
    footprint of `footprint` metres, octaves of unit amplitude from wavelength `longest`
    down. An octave of wavelength λ counts fully where λ ≥ 4 footprints and not at all at
    λ ≤ 2 footprints (the Nyquist limit), fading linearly in log2 between."""
    total = 0.0
    wavelength = longest
    for octave in range(GRAIN_OCTAVES):
        weight = min(max(math.log2(wavelength / footprint) - 1.0, 0.0), 1.0)
        if weight == 0.0:
            break  # this octave and all finer ones are below the footprint
        total += weight * _value_noise(u / wavelength, v / wavelength, salt * 16 + octave)
        # Turn each octave's lattice so that the grids of the octaves do not line up.
        u, v = (
            _GRAIN_TURN_COS * u - _GRAIN_TURN_SIN * v,
            _GRAIN_TURN_SIN * u + _GRAIN_TURN_COS * v,
        )
        wavelength *= 0.5
    return total


@njit(cache=True, inline="always")
def shade_pixel(
    origin,
    t,
    s,
    dx,
    dy,
    dz,
    lit,
    light_x,
    light_y,
    light_z,
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
    light_power,
    ambient,
    focal,
):
    """Linear (r, g, b) of the pixel whose ray d hit shape `s` at t: textured Lambert +
    Blinn-Phong under one light sample, times its visibility `lit`, plus ambient light.
    Textures are mip-mapped (`mip`: each texture's levels packed row-major from
    `mip_offsets[level]`, level 0 square with a power-of-two side) and sampled over the
    pixel's footprint on the surface (t / `focal` metres, widened on oblique surfaces); the
    albedo is then multiplied by exp(`grains[s]` · grain), the grain's octaves starting at 2
    texels."""
    size = 1 << (mip_offsets.shape[0] - 1)
    x, y, z = origin[0] + t * dx, origin[1] + t * dy, origin[2] + t * dz
    nx, ny, nz, tu, tv = _surface(
        kinds[s], centres[s], halves[s], cos_yaws[s], sin_yaws[s], x, y, z
    )
    inverse = 1.0 / math.sqrt(dx * dx + dy * dy + dz * dz)
    wx, wy, wz = -dx * inverse, -dy * inverse, -dz * inverse  # towards the viewer
    if nx * wx + ny * wy + nz * wz < -1e-9:  # two-sided: face the viewer
        nx, ny, nz = -nx, -ny, -nz
    repeat = texture_scales[s] * size  # texels per metre
    facing = max(abs(nx * wx + ny * wy + nz * wz), 0.05)
    # One pixel covers t/focal metres across the ray, stretched by 1/cos along the slope of
    # an oblique surface: the geometric mean of the two axes.
    footprint = t / focal / math.sqrt(facing)
    albedo = _filtered_texel(
        mip, mip_offsets, texture_index[s], tu * repeat, tv * repeat, footprint * repeat
    )
    detail = 1.0
    if grains[s] > 0.0:
        detail = math.exp(grains[s] * grain(tu, tv, footprint, s, 2.0 / repeat))
    lx, ly, lz = light_x - x, light_y - y, light_z - z
    distance_sq = lx * lx + ly * ly + lz * lz
    inverse = 1.0 / math.sqrt(distance_sq)
    lx, ly, lz = lx * inverse, ly * inverse, lz * inverse
    lambert = max(nx * lx + ny * ly + nz * lz, 0.0)
    irradiance = light_power * lambert * lit / max(distance_sq, 0.25)
    hx, hy, hz = lx + wx, ly + wy, lz + wz
    half_length = math.sqrt(hx * hx + hy * hy + hz * hz)
    highlight = max((nx * hx + ny * hy + nz * hz) / max(half_length, 1e-12), 0.0)
    specular = 0.0
    if speculars[s] > 0.0 and highlight > 0.0 and lit > 0.0:
        specular = speculars[s] * highlight ** shininesses[s] * 0.1 * light_power
    gain = ambient + irradiance
    return (
        albedo[0] * detail * tints[s, 0] * gain + specular,
        albedo[1] * detail * tints[s, 1] * gain + specular,
        albedo[2] * detail * tints[s, 2] * gain + specular,
    )


@njit(cache=True)
def shade(
    origin,
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
    light_power,
    ambient,
    focal,
):
    """Linear RGB (H x W x 3 float32, 0 where no hit) by `shade_pixel`, each hit pixel under
    its own light sample (`lights`, one per hit pixel in raster order) and the visibility of
    its shadow ray (`visibility`, from `trace_shadows`)."""
    height, width = depth.shape
    colour = np.zeros((height, width, 3), dtype=np.float32)
    sample = 0
    for v in range(height):
        for u in range(width):
            t = depth[v, u]
            if not t < NO_HIT:
                continue
            light = lights[sample]
            sample += 1
            colour[v, u, 0], colour[v, u, 1], colour[v, u, 2] = shade_pixel(
                origin,
                t,
                owner[v, u],
                rays[v, u, 0],
                rays[v, u, 1],
                rays[v, u, 2],
                visibility[v // SHADOW_STRIDE, u // SHADOW_STRIDE],
                light[0],
                light[1],
                light[2],
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
                light_power,
                ambient,
                focal,
            )
    return colour
