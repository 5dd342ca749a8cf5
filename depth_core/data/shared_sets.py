"""The frames in ../shared/data (see its README): one reader per folder, with each folder's
format traps undone (bit-rotated or 0.1 mm depth, big-endian PGM disparity, half-resolution
PhoXi depth, a negative fy), and the fixed splits of the one sequence long enough to train on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from depth_core.data.loaders import (
    NYU_INTRINSICS,
    ORBBEC_NOMINAL_INTRINSICS,
    TUM_INTRINSICS,
    LazySamples,
    _intrinsics,
    _sample,
    folder_pairs,
    kitti_calibration,
    read_depth_png,
    read_image_rgb,
    read_kitti_calibration,
    read_pgm,
)
from depth_core.data.sample import DepthSample
from depth_core.geometry import Intrinsics, register_depth
from depth_core.processing import resize_colour

# 7-Scenes redkitchen: the last frames are held out for evaluation, and a block before them is
# used by no split, so that no training frame is a near-copy of a held-out one.
SEVENSCENES_HELD_OUT_FRAMES = 150
SEVENSCENES_GAP_FRAMES = 50
SEVENSCENES_SPLITS = ("train", "held_out", "all")


def nyu_raw_disparity_to_metres(raw: np.ndarray) -> np.ndarray:
    """Kinect v1 11-bit disparity -> metres: 351.3 / (1092.5 − raw) for raw < 1084; 2047 and
    anything beyond 1084 is invalid (0)."""
    raw = raw.astype(np.float32)
    with np.errstate(divide="ignore"):
        return np.where(raw < 1084, 351.3 / (1092.5 - raw), 0).astype(np.float32)


def kinect_disparity_pgm(path: str | Path) -> np.ndarray:
    """A raw Kinect disparity PGM. Values are 11-bit; a file whose samples exceed 2047 was
    written with its bytes swapped (little-endian, against Netpbm), so it is swapped back."""
    raw = read_pgm(path)
    if raw.max() > 2047:
        raw = raw.byteswap()
    if raw.max() > 2047:
        raise ValueError(f"{path}: not 11-bit Kinect disparity in either byte order")
    return raw


def kitti_lidar_depth(
    velodyne: str | Path, calib: str | Path, shape: tuple[int, int]
) -> np.ndarray:
    """Sparse metric depth from a KITTI scan: x_img = P2 · R0_rect · Tr_velo_to_cam · X;
    points behind the camera or outside the image are dropped; the nearest point wins."""
    matrices = read_kitti_calibration(calib)
    p2 = matrices["P2"].reshape(3, 4)
    r0 = np.eye(4)
    r0[:3, :3] = matrices["R0_rect"].reshape(3, 3)
    tr = np.eye(4)
    tr[:3, :] = matrices["Tr_velo_to_cam"].reshape(3, 4)
    points = np.fromfile(velodyne, dtype=np.float32).reshape(-1, 4)
    homogeneous = np.c_[points[:, :3], np.ones(len(points))].T
    camera = r0 @ tr @ homogeneous
    image = p2 @ camera
    z = image[2]
    in_front = z > 0.1
    u = np.round(image[0, in_front] / z[in_front]).astype(int)
    v = np.round(image[1, in_front] / z[in_front]).astype(int)
    z = z[in_front]
    height, width = shape
    inside = (u >= 0) & (u < width) & (v >= 0) & (v < height)
    u, v, z = u[inside], v[inside], z[inside]
    depth = np.zeros(shape, dtype=np.float32)
    order = np.argsort(-z)  # far first: the nearest point is written last and wins
    depth[v[order], u[order]] = z[order]
    return depth


def bit_rotated_depth(values: np.ndarray, units_per_metre: float) -> np.ndarray:
    """Depth stored rotated left by 3 bits (SUN RGB-D, the APC toolbox): v = (d << 3) | (d >>
    13) in 16 bits, so d = (v >> 3) | (v << 13); metres = d / units_per_metre."""
    v = values.astype(np.uint32)
    return ((((v >> 3) | (v << 13)) & 0xFFFF) / units_per_metre).astype(np.float32)


def sun_depth_png(path: str | Path) -> np.ndarray:
    """SUN RGB-D depth: bit-rotated uint16 millimetres."""
    return bit_rotated_depth(read_depth_png(path), 1000.0)


def read_matrix_file(path: str | Path) -> list[tuple[str, np.ndarray]]:
    """A text file of `# title` lines each followed by rows of numbers (the APC toolbox's
    cam.info.txt): (title, matrix) in file order; titles without numbers after them are
    skipped."""
    sections: list[tuple[str, list[list[float]]]] = []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line.startswith("#"):
            sections.append((line.lstrip("# ").strip(), []))
        elif line and sections:
            sections[-1][1].append([float(value) for value in line.split()])
    return [(title, np.array(rows)) for title, rows in sections if rows]


def _k_intrinsics(k: np.ndarray, width: int, height: int) -> Intrinsics:
    return Intrinsics(float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2]), width, height)


def sevenscenes(root: str | Path, split: str = "all") -> LazySamples:
    """Microsoft 7-Scenes, one sequence folder: `frame-NNNNNN.color.jpg`, `.depth.png` (uint16
    mm, 0 and 65535 invalid), `.pose.txt` (4x4 camera-to-world). Intrinsics from
    `camera-intrinsics.txt` (the source uses them for colour and depth alike).

    split: "train" (all but the last SEVENSCENES_HELD_OUT_FRAMES + SEVENSCENES_GAP_FRAMES),
    "held_out" (the last SEVENSCENES_HELD_OUT_FRAMES) or "all"."""
    if split not in SEVENSCENES_SPLITS:
        raise ValueError(f"7-Scenes split must be one of {SEVENSCENES_SPLITS}, got {split!r}")
    root = Path(root)
    stems = sorted(p.name[: -len(".color.jpg")] for p in root.glob("frame-*.color.jpg"))
    if split == "train":
        stems = stems[: max(0, len(stems) - SEVENSCENES_HELD_OUT_FRAMES - SEVENSCENES_GAP_FRAMES)]
    elif split == "held_out":
        stems = stems[-SEVENSCENES_HELD_OUT_FRAMES:]
    k = np.loadtxt(root / "camera-intrinsics.txt")

    def read(stem: str) -> DepthSample:
        millimetres = read_depth_png(root / f"{stem}.depth.png")
        depth = np.where(millimetres == 65535, 0, millimetres).astype(np.float32) / 1000.0
        height, width = depth.shape
        sample = _sample(
            read_image_rgb(root / f"{stem}.color.jpg"),
            depth,
            _k_intrinsics(k, width, height),
            f"7scenes/{stem}",
        )
        sample.pose = np.loadtxt(root / f"{stem}.pose.txt").reshape(4, 4)
        return sample

    return LazySamples(stems, read)


def apc_shelf(root: str | Path) -> LazySamples:
    """APC shelf (Intel SR300): `frame-N.color.png`; `frame-N.depth.png`, depth registered to
    colour, is the reference; `raw/frame-N.depth.png`, the sensor's depth in its own camera,
    is registered to colour through `cam.info.txt` (depth K, colour K, depth-to-colour
    extrinsic) and becomes `raw_depth`. Both are bit-rotated 0.1 mm units. `pose` is the
    frame's camera-to-world matrix from `cam.info.txt`."""
    root = Path(root)
    sections = read_matrix_file(root / "cam.info.txt")
    matrices = dict(sections)
    colour_k = matrices["Color camera intrinsic matrix"]
    depth_k = matrices["Depth camera intrinsic matrix"]
    colour_from_depth = matrices["Depth-to-color camera extrinsic matrix"]
    poses = {title.split()[-1]: m for title, m in sections if title.startswith("Camera-to-world")}
    stems = sorted(p.name[: -len(".color.png")] for p in root.glob("frame-*.color.png"))

    def read(stem: str) -> DepthSample:
        depth = bit_rotated_depth(read_depth_png(root / f"{stem}.depth.png"), 1e4)
        height, width = depth.shape
        colour = _k_intrinsics(colour_k, width, height)
        raw_path = root / "raw" / f"{stem}.depth.png"
        raw = None
        if raw_path.is_file():
            raw_own = bit_rotated_depth(read_depth_png(raw_path), 1e4)
            own = _k_intrinsics(depth_k, raw_own.shape[1], raw_own.shape[0])
            raw = register_depth(raw_own, own, colour, colour_from_depth)
        sample = _sample(
            read_image_rgb(root / f"{stem}.color.png"), depth, colour, f"apc_shelf/{stem}", raw
        )
        sample.pose = poses.get(stem)
        return sample

    return LazySamples(stems, read)


def _meta_frames(root: Path) -> tuple[dict, list[dict]]:
    meta = json.loads((root / "meta.json").read_text())
    return meta, meta["frames"]


def _registered_png_frames(
    root: Path, label: str, units_per_metre: float, intrinsics: list[dict]
) -> LazySamples:
    """`meta.json` frames of uint16 depth registered to colour, with each frame's K."""
    _, frames = _meta_frames(root)

    def read(item) -> DepthSample:
        frame, k = item
        depth = read_depth_png(root / frame["depth"]).astype(np.float32) / units_per_metre
        height, width = depth.shape
        return _sample(
            read_image_rgb(root / frame["rgb"]),
            depth,
            Intrinsics(k["fx"], k["fy"], k["cx"], k["cy"], width, height),
            f"{label}/{Path(frame['depth']).stem}",
        )

    return LazySamples(list(zip(frames, intrinsics, strict=True)), read)


def arc2017_bins(root: str | Path) -> LazySamples:
    """ARC 2017 picking bins (Intel SR300): frames and per-frame K listed in `meta.json`;
    depth registered to colour, uint16 in 0.1 mm (not millimetres)."""
    meta, _ = _meta_frames(Path(root))
    return _registered_png_frames(Path(root), "arc2017", 1e4, meta["K_per_frame"])


def phoxi_bins(root: str | Path) -> LazySamples:
    """Photoneo PhoXi bin clutter: depth `.npy` float32 metres (H x W x 1) at half the texture
    image's resolution. The texture image is averaged down to the depth's resolution, where
    the published intrinsics (`meta.json` K_depth) hold."""
    root = Path(root)
    meta, frames = _meta_frames(root)
    k = meta["K_depth"]

    def read(frame: dict) -> DepthSample:
        depth = np.load(root / frame["depth"]).astype(np.float32)
        depth = depth[..., 0] if depth.ndim == 3 else depth
        height, width = depth.shape
        rgb = resize_colour(read_image_rgb(root / frame["rgb"]), width, height)
        intrinsics = Intrinsics(k["fx"], k["fy"], k["cx"], k["cy"], width, height)
        return _sample(rgb, depth, intrinsics, f"phoxi/{Path(frame['depth']).stem}")

    return LazySamples(frames, read)


def office_ceiling(root: str | Path) -> LazySamples:
    """A RealSense looking up at an office ceiling: uint16 mm registered to colour (clipped at
    0.3 m); intrinsics estimated by COLMAP (`meta.json` K_approx)."""
    meta, frames = _meta_frames(Path(root))
    return _registered_png_frames(
        Path(root), "office_ceiling", 1000.0, [meta["K_approx"]] * len(frames)
    )


def orbbec_person(root: str | Path, group: str | None = None) -> LazySamples:
    """DDRNet's Orbbec frames: raw sensor depth (`depth_map/`) against the fused reference of
    the same frame (`high_quality_depth/`), millimetres; nominal intrinsics."""
    groups = [g for g in sorted(Path(root).glob("group*")) if group is None or g.name == group]
    items = [(g, p.stem) for g in groups for p in sorted((g / "color_map").glob("*.png"))]

    def read(item) -> DepthSample:
        folder, stem = item
        reference = read_depth_png(folder / "high_quality_depth" / f"{stem}.png") / 1000.0
        raw = read_depth_png(folder / "depth_map" / f"{stem}.png") / 1000.0
        height, width = reference.shape
        return _sample(
            read_image_rgb(folder / "color_map" / f"{stem}.png"),
            reference,
            _intrinsics(ORBBEC_NOMINAL_INTRINSICS, width, height),
            f"orbbec/{folder.name}/{stem}",
            raw,
        )

    return LazySamples(items, read)


def kitti_object(root: str | Path) -> LazySamples:
    """KITTI object frames with sparse LiDAR depth projected into `image_2`."""
    root = Path(root)
    stems = sorted(p.stem for p in (root / "image_2").glob("*.png"))

    def read(stem: str) -> DepthSample:
        rgb = read_image_rgb(root / "image_2" / f"{stem}.png")
        calib = root / "calib" / f"{stem}.txt"
        depth = kitti_lidar_depth(root / "velodyne" / f"{stem}.bin", calib, rgb.shape[:2])
        intrinsics = _intrinsics(kitti_calibration(calib, "P2"), rgb.shape[1], rgb.shape[0])
        return _sample(rgb, depth, intrinsics, f"kitti_object/{stem}")

    return LazySamples(stems, read)


def single_frames(root: str | Path) -> LazySamples:
    """One frame each of NYU Depth v2 (raw Kinect disparity PGM), SUN RGB-D (bit-rotated mm)
    and TUM."""
    folder = Path(root)

    def read(which: str) -> DepthSample:
        if which == "nyu":
            depth = nyu_raw_disparity_to_metres(kinect_disparity_pgm(folder / "NYU_depth.pgm"))
            rgb, k = read_image_rgb(folder / "NYU_color.ppm"), NYU_INTRINSICS
        elif which == "sun":  # SUN RGB-D's Kinect v1 frames: NYU's calibration (assumed)
            depth = sun_depth_png(folder / "SUN_depth.png")
            rgb, k = read_image_rgb(folder / "SUN_color.jpg"), NYU_INTRINSICS
        else:
            depth = read_depth_png(folder / "TUM_depth.png").astype(np.float32) / 5000.0
            rgb, k = read_image_rgb(folder / "TUM_color.png"), TUM_INTRINSICS["ros"]
        height, width = depth.shape
        return _sample(rgb, depth, _intrinsics(k, width, height), f"single/{which}")

    return LazySamples(["nyu", "sun", "tum"], read)


SHARED_SETS: dict[str, Callable[[Path], LazySamples]] = {
    "tum_fr1": lambda folder: folder_pairs(folder, 5000.0, TUM_INTRINSICS["fr2"]),
    "kinect_poses": lambda folder: folder_pairs(folder, 1000.0, (518.0, 519.0, 325.5, 253.5)),
    "icl_nuim": lambda folder: folder_pairs(folder, 5000.0, (481.2, -480.0, 319.5, 239.5)),
    "icl_rendered": lambda folder: folder_pairs(folder, 1000.0, TUM_INTRINSICS["ros"]),
    "orbbec_person": orbbec_person,
    "kitti_object": kitti_object,
    "single_frames": single_frames,
    "sevenscenes_redkitchen": sevenscenes,
    "apc_shelf": apc_shelf,
    "arc2017_bins": arc2017_bins,
    "phoxi_bins": phoxi_bins,
    "office_ceiling": office_ceiling,
}


def shared_frames(root: str | Path, name: str) -> LazySamples:
    """A set of ../shared/data by folder name; `folder/part` picks a part where a set has
    them: an Orbbec group (`orbbec_person/group1`) or a 7-Scenes split
    (`sevenscenes_redkitchen/train`, `.../held_out`)."""
    folder, _, part = name.partition("/")
    if folder not in SHARED_SETS:
        raise ValueError(f"unknown shared set {name!r}; choose from {', '.join(SHARED_SETS)}")
    path = Path(root) / folder
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such folder")
    if part:
        if folder not in ("orbbec_person", "sevenscenes_redkitchen"):
            raise ValueError(f"{folder} has no parts; got {name!r}")
        return SHARED_SETS[folder](path, part)
    return SHARED_SETS[folder](path)
