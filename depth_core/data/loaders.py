"""Loaders for the standard depth data sets in their published layouts, and for the frames in
../shared/data. Every loader returns a lazy, indexable sequence of `DepthSample` (depth in
metres, 0 = invalid; validity mask; intrinsics; raw depth where the set has one).

Published intrinsics are used where the data set gives them; where it does not, the value
is a nominal one and the loader's docstring says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

from depth_core.data.sample import DepthSample
from depth_core.geometry import Intrinsics, disparity_to_depth
from depth_core.processing import zero_missing

NYU_INTRINSICS = (518.8579, 519.4696, 325.5824, 253.7362)  # Kinect v1 colour, 640x480
TUM_INTRINSICS = {
    "fr1": (517.3, 516.5, 318.6, 255.3),
    "fr2": (520.9, 521.0, 325.1, 249.7),
    "fr3": (535.4, 539.2, 320.1, 247.6),
    "ros": (525.0, 525.0, 319.5, 239.5),
}
# Not published for the Orbbec frames: a nominal value for a 640x480 consumer structured-light
# camera (58-60° horizontal field of view). Recovery does not use it; it only sets 3D geometry.
ORBBEC_NOMINAL_INTRINSICS = (570.0, 570.0, 319.5, 239.5)


class LazySamples(Sequence):
    """A list of frame descriptions read on access (data sets are too big to hold)."""

    def __init__(self, items: list, read: Callable[..., DepthSample]):
        self.items, self.read = items, read

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return LazySamples(self.items[index], self.read)
        return self.read(self.items[index])


# ------------------------------------------------------------------------------- file formats


def read_image_rgb(path: str | Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path}: not a readable image")
    return np.ascontiguousarray(image[..., ::-1])


def read_depth_png(path: str | Path) -> np.ndarray:
    """A 16-bit single-channel PNG (or TIFF) as uint16."""
    depth = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if depth is None:
        raise ValueError(f"{path}: not a readable depth image")
    if depth.dtype != np.uint16 or depth.ndim != 2:
        raise ValueError(
            f"{path}: expected 16-bit single-channel depth, got {depth.dtype} "
            f"with shape {depth.shape}"
        )
    return depth


def read_pgm(path: str | Path) -> np.ndarray:
    """Netpbm P5 (binary greymap), read to the specification: 16-bit samples are big-endian.
    (OpenCV is not trusted with the byte order of 16-bit PGMs.)"""
    data = Path(path).read_bytes()
    fields, position = [], 0
    while len(fields) < 4:  # magic, width, height, maxval; '#' starts a comment
        match = re.compile(rb"\s*(#[^\n]*\n\s*)*(\S+)").match(data, position)
        if match is None:
            raise ValueError(f"{path}: truncated PGM header")
        fields.append(match.group(2))
        position = match.end()
    if fields[0] != b"P5":
        raise ValueError(f"{path}: not a binary PGM (magic {fields[0]!r})")
    width, height, maxval = (int(f) for f in fields[1:])
    dtype = np.dtype(">u2") if maxval > 255 else np.dtype("u1")
    body = data[position + 1 :]  # one whitespace byte ends the header
    if len(body) < width * height * dtype.itemsize:
        raise ValueError(f"{path}: PGM body shorter than {width}x{height}")
    return (
        np.frombuffer(body, dtype, width * height)
        .reshape(height, width)
        .astype(np.uint16 if maxval > 255 else np.uint8)
    )


def read_pfm(path: str | Path) -> np.ndarray:
    """Portable float map (Middlebury disparities): 'Pf' greyscale, scale < 0 = little-endian,
    rows stored bottom to top."""
    with open(path, "rb") as stream:
        magic = stream.readline().strip()
        if magic not in (b"Pf", b"PF"):
            raise ValueError(f"{path}: not a PFM file (magic {magic!r})")
        width, height = (int(v) for v in stream.readline().split())
        scale = float(stream.readline().strip())
        channels = 3 if magic == b"PF" else 1
        data = np.frombuffer(stream.read(), "<f4" if scale < 0 else ">f4")
    expected = width * height * channels
    if data.size < expected:
        raise ValueError(f"{path}: PFM body shorter than {width}x{height}x{channels}")
    shape = (height, width, channels) if channels == 3 else (height, width)
    return np.flipud(data[:expected].reshape(shape)).astype(np.float32)


def read_middlebury_calib(path: str | Path) -> dict[str, float]:
    """calib.txt: cam0=[f 0 cx; 0 f cy; 0 0 1], doffs, baseline (mm), width, height, ..."""
    values: dict[str, float] = {}
    for line in Path(path).read_text().splitlines():
        if "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        if key == "cam0":
            numbers = [float(n) for n in re.findall(r"[-+0-9.eE]+", value)]
            values["f"], values["cx"], values["cy"] = numbers[0], numbers[2], numbers[5]
        elif key in ("doffs", "baseline", "width", "height"):
            values[key] = float(value)
    missing = {"f", "doffs", "baseline"} - values.keys()
    if missing:
        raise ValueError(f"{path}: calib.txt lacks {', '.join(sorted(missing))}")
    return values


def _sample(rgb, depth_m, intrinsics, name, raw_m=None) -> DepthSample:
    depth_m = zero_missing(depth_m)
    raw = None if raw_m is None else zero_missing(raw_m)
    return DepthSample(
        rgb=rgb, depth=depth_m, valid=depth_m > 0, intrinsics=intrinsics, raw_depth=raw, name=name
    )


def _intrinsics(values, width: int, height: int) -> Intrinsics:
    fx, fy, cx, cy = (float(v) for v in values)
    return Intrinsics(fx, abs(fy), cx, cy, width, height)  # ICL-NUIM gives fy < 0


# ------------------------------------------------------------------------------- data sets


def nyu_labelled_mat(
    path: str | Path, indices: Sequence[int] | None = None, raw: bool = False
) -> LazySamples:
    """NYU Depth v2 `nyu_depth_v2_labeled.mat` (MATLAB v7.3 = HDF5): `images` N x 3 x W x H
    uint8 and `depths` N x W x H float metres (MATLAB's column order, so transposed here);
    `rawDepths` as raw depth with raw=True. `indices` are 0-based (the official split's
    testNdxs are 1-based: subtract 1)."""
    import h5py

    with h5py.File(path, "r") as mat:
        count = mat["images"].shape[0]
    chosen = list(range(count)) if indices is None else [int(i) for i in indices]

    def read(index: int) -> DepthSample:
        with h5py.File(path, "r") as mat:
            rgb = np.ascontiguousarray(mat["images"][index].transpose(2, 1, 0))
            depth = mat["depths"][index].T.astype(np.float32)
            raw_depth = mat["rawDepths"][index].T.astype(np.float32) if raw else None
        height, width = depth.shape
        return _sample(
            rgb, depth, _intrinsics(NYU_INTRINSICS, width, height), f"nyu/{index}", raw_depth
        )

    return LazySamples(chosen, read)


def nyu_eigen(root: str | Path, split: str = "test") -> LazySamples:
    """The widely used Eigen-split folders (BTS/AdaBins layout): train frames in
    `sync/<scene>/rgb_NNNNN.jpg` + `sync_depth_NNNNN.png`, the 654 test frames in
    `official_splits/test/<scene>/`; depth PNGs in millimetres."""
    folder = Path(root) / ("sync" if split == "train" else "official_splits/test")
    images = sorted(folder.glob("*/rgb_*.jpg"))

    def read(image: Path) -> DepthSample:
        depth_path = image.with_name(image.name.replace("rgb_", "sync_depth_")).with_suffix(".png")
        rgb = read_image_rgb(image)
        depth = read_depth_png(depth_path).astype(np.float32) / 1000.0
        height, width = depth.shape
        return _sample(
            rgb,
            depth,
            _intrinsics(NYU_INTRINSICS, width, height),
            f"nyu/{image.parent.name}/{image.stem}",
        )

    return LazySamples(images, read)


def read_kitti_calibration(path: str | Path) -> dict[str, np.ndarray]:
    """Every numeric `KEY: v v ...` line of a KITTI calibration file (raw-data
    calib_cam_to_cam.txt or an object-set calib file); text lines such as calib_time skipped."""
    matrices = {}
    for line in Path(path).read_text().splitlines():
        key, _, value = line.partition(":")
        try:
            numbers = [float(v) for v in value.split()]
        except ValueError:
            continue
        if numbers:
            matrices[key.strip()] = np.array(numbers)
    return matrices


def kitti_calibration(path: str | Path, camera: str = "P_rect_02") -> tuple[float, ...]:
    """(fx, fy, cx, cy) of a camera's 3x4 projection matrix in a KITTI calibration file."""
    matrices = read_kitti_calibration(path)
    if camera not in matrices:
        raise ValueError(f"{path}: no {camera} line")
    p = matrices[camera]
    return p[0], p[5], p[2], p[6]


def kitti_eigen(
    image_root: str | Path, depth_root: str | Path, split_file: str | Path
) -> LazySamples:
    """KITTI Eigen split: lines `<date>/<drive>/image_02/data/N.png <drive>/proj_depth/
    groundtruth/image_02/N.png [focal]` (the BTS split files); ground truth is the 16-bit
    PNG ÷ 256 (0 = no LiDAR point); intrinsics from `<date>/calib_cam_to_cam.txt`."""
    pairs = []
    for line in Path(split_file).read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1] != "None":
            pairs.append((parts[0], parts[1]))

    def read(pair: tuple[str, str]) -> DepthSample:
        image_path = Path(image_root) / pair[0]
        rgb = read_image_rgb(image_path)
        depth = read_depth_png(Path(depth_root) / pair[1]).astype(np.float32) / 256.0
        calib = Path(image_root) / pair[0].split("/")[0] / "calib_cam_to_cam.txt"
        height, width = depth.shape
        return _sample(
            rgb, depth, _intrinsics(kitti_calibration(calib), width, height), f"kitti/{pair[0]}"
        )

    return LazySamples(pairs, read)


def rgbdd(root: str | Path, split: str = "test") -> LazySamples:
    """RGB-D-D (He et al., CVPR 2021): `<split>/<scene>/<scene>_RGB.jpg`, the ToF raw depth
    `<scene>_LR_fill_depth.png` (upsampled, filled) or `<scene>_TOF.png`, and the ground truth
    `<scene>_HR_gt.png`, all in millimetres; intrinsics are not published per frame (nominal
    phone camera values scaled to the image)."""
    folder = Path(root) / split.capitalize()
    scenes = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

    def read(scene: Path) -> DepthSample:
        rgb = read_image_rgb(scene / f"{scene.name}_RGB.jpg")
        gt = read_depth_png(scene / f"{scene.name}_HR_gt.png").astype(np.float32) / 1000.0
        raw_path = next(
            (
                scene / f"{scene.name}_{s}.png"
                for s in ("TOF", "LR_fill_depth")
                if (scene / f"{scene.name}_{s}.png").is_file()
            ),
            None,
        )
        if raw_path is None:
            raise ValueError(f"{scene}: no _TOF.png or _LR_fill_depth.png raw depth")
        raw = read_depth_png(raw_path).astype(np.float32) / 1000.0
        height, width = gt.shape
        focal = 0.8 * width  # nominal
        return _sample(
            rgb,
            gt,
            Intrinsics(focal, focal, (width - 1) / 2, (height - 1) / 2, width, height),
            f"rgbdd/{scene.name}",
            raw,
        )

    return LazySamples(scenes, read)


def middlebury2014(root: str | Path) -> LazySamples:
    """Middlebury 2014 scenes: `<scene>/im0.png`, `disp0GT.pfm` (or `disp0.pfm`) and
    `calib.txt`; depth = baseline·f / (d + doffs), inf disparity = invalid."""
    scenes = sorted(p.parent for p in Path(root).glob("*/calib.txt"))

    def read(scene: Path) -> DepthSample:
        calib = read_middlebury_calib(scene / "calib.txt")
        pfm = scene / "disp0GT.pfm" if (scene / "disp0GT.pfm").is_file() else scene / "disp0.pfm"
        disparity = read_pfm(pfm)
        depth = disparity_to_depth(
            disparity, calib["f"], calib["baseline"] / 1000.0, calib["doffs"]
        )
        height, width = disparity.shape
        intrinsics = Intrinsics(calib["f"], calib["f"], calib["cx"], calib["cy"], width, height)
        return _sample(
            read_image_rgb(scene / "im0.png"), depth, intrinsics, f"middlebury/{scene.name}"
        )

    return LazySamples(scenes, read)


def _timestamped(path: Path) -> list[tuple[float, str]]:
    rows = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            stamp, name = line.split()[:2]
            rows.append((float(stamp), name))
    return rows


def tum_associations(root: Path, max_difference: float = 0.02) -> list[tuple[str, str]]:
    """(rgb, depth) file pairs: from associate.txt (t rgb t depth) if present, else by
    nearest timestamp between rgb.txt and depth.txt (each depth used once)."""
    associate = root / "associate.txt"
    if associate.is_file():
        pairs = []
        for line in associate.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 4 and not line.startswith("#"):
                pairs.append((parts[1], parts[3]))
        return pairs
    depth_rows = _timestamped(root / "depth.txt")
    depth_stamps = np.array([t for t, _ in depth_rows])
    pairs, used = [], set()
    for stamp, rgb in _timestamped(root / "rgb.txt"):
        nearest = int(np.argmin(np.abs(depth_stamps - stamp)))
        if abs(depth_stamps[nearest] - stamp) <= max_difference and nearest not in used:
            used.add(nearest)
            pairs.append((rgb, depth_rows[nearest][1]))
    return pairs


def tum_rgbd(root: str | Path, camera: str = "fr1") -> LazySamples:
    """A TUM RGB-D sequence folder: associate.txt or rgb.txt + depth.txt; depth PNG ÷ 5000.
    `camera`: fr1, fr2, fr3 (the published calibrations) or ros (the default 525 px)."""
    root = Path(root)
    pairs = tum_associations(root)

    def read(pair: tuple[str, str]) -> DepthSample:
        depth = read_depth_png(root / pair[1]).astype(np.float32) / 5000.0
        height, width = depth.shape
        return _sample(
            read_image_rgb(root / pair[0]),
            depth,
            _intrinsics(TUM_INTRINSICS[camera], width, height),
            f"tum/{Path(pair[0]).stem}",
        )

    return LazySamples(pairs, read)


def read_depth_file(path: Path) -> np.ndarray:
    """16-bit PNG/TIFF, binary PGM (big-endian, per Netpbm) or .npy (already metres)."""
    if path.suffix == ".pgm":
        return read_pgm(path)
    if path.suffix == ".npy":
        return np.load(path)
    return read_depth_png(path)


def folder_pairs(
    root: str | Path,
    depth_scale: float,
    intrinsics: Sequence[float],
    rgb_dir: str = "rgb",
    depth_dir: str = "depth",
    raw_dir: str | None = None,
) -> LazySamples:
    """A generic folder: `rgb/<stem>.*` + `depth/<stem>.*` (+ `raw_dir/<stem>.*`), matched by
    file stem; depth value / `depth_scale` = metres; intrinsics [fx, fy, cx, cy] (|fy|)."""
    root = Path(root)

    def by_stem(folder: Path) -> dict[str, Path]:
        return (
            {p.stem: p for p in sorted(folder.iterdir()) if p.is_file()} if folder.is_dir() else {}
        )

    images, depths = by_stem(root / rgb_dir), by_stem(root / depth_dir)
    raws = by_stem(root / raw_dir) if raw_dir else {}
    stems = sorted(set(images) & set(depths), key=lambda s: (len(s), s))

    def read(stem: str) -> DepthSample:
        depth = read_depth_file(depths[stem]).astype(np.float32) / np.float32(depth_scale)
        raw = None
        if stem in raws:
            raw = read_depth_file(raws[stem]).astype(np.float32) / np.float32(depth_scale)
        height, width = depth.shape
        return _sample(
            read_image_rgb(images[stem]),
            depth,
            _intrinsics(intrinsics, width, height),
            f"{root.name}/{stem}",
            raw,
        )

    return LazySamples(stems, read)
