"""Loaders read tiny files written here in each official format, and the ../shared/data
formats with their traps; values are checked against what was written."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from depth_core.data import loaders
from depth_core.data.loaders import read_pfm, read_pgm
from depth_core.data.shared_sets import (
    SEVENSCENES_GAP_FRAMES,
    SEVENSCENES_HELD_OUT_FRAMES,
    bit_rotated_depth,
    kinect_disparity_pgm,
    kitti_lidar_depth,
    nyu_raw_disparity_to_metres,
    read_matrix_file,
    shared_frames,
    sun_depth_png,
)
from depth_core.geometry import Intrinsics, register_depth

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
RNG = np.random.default_rng(0)
NEEDS_SHARED = pytest.mark.skipif(
    not SHARED.is_dir(), reason=f"{SHARED} (../shared/data) is absent"
)


def write_rgb(path: Path, rgb: np.ndarray, jpeg: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 100] if jpeg else [])


def write_u16(path: Path, values: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), values.astype(np.uint16))


def test_nyu_labelled_mat_is_transposed_from_matlab_order(tmp_path):
    h5py = pytest.importorskip("h5py")
    rgb = RNG.integers(0, 255, (2, 6, 8, 3), dtype=np.uint8)
    depth = RNG.uniform(0.5, 9.0, (2, 6, 8)).astype(np.float32)
    path = tmp_path / "nyu_depth_v2_labeled.mat"
    with h5py.File(path, "w") as mat:  # MATLAB v7.3 stores arrays column-major
        mat["images"] = rgb.transpose(0, 3, 2, 1)  # N x 3 x W x H
        mat["depths"] = depth.transpose(0, 2, 1)  # N x W x H
        mat["rawDepths"] = (depth * 1.01).transpose(0, 2, 1)
    samples = loaders.nyu_labelled_mat(path, indices=[1], raw=True)
    assert len(samples) == 1
    sample = samples[0]
    np.testing.assert_array_equal(sample.rgb, rgb[1])
    np.testing.assert_allclose(sample.depth, depth[1])
    np.testing.assert_allclose(sample.raw_depth, depth[1] * 1.01, rtol=1e-6)
    assert sample.intrinsics.fx == pytest.approx(518.8579) and sample.valid.all()


def test_nyu_eigen_folders_read_millimetres(tmp_path):
    depth_mm = RNG.integers(500, 9000, (6, 8))
    depth_mm[0, 0] = 0
    for folder in ("official_splits/test/kitchen", "sync/kitchen_0001"):
        write_rgb(tmp_path / folder / "rgb_00012.jpg", np.full((6, 8, 3), 90, np.uint8), True)
        write_u16(tmp_path / folder / "sync_depth_00012.png", depth_mm)
    for split in ("test", "train"):
        samples = loaders.nyu_eigen(tmp_path, split)
        assert len(samples) == 1
        np.testing.assert_allclose(samples[0].depth, depth_mm / 1000.0, rtol=1e-6)
        assert not samples[0].valid[0, 0] and samples[0].valid.sum() == 47


def test_kitti_eigen_divides_by_256_and_reads_the_calibration(tmp_path):
    gt = np.zeros((5, 12), dtype=np.uint16)
    gt[2, 3], gt[4, 11] = 256 * 10 + 128, 256 * 70  # 10.5 m, 70 m
    date, drive = "2011_09_26", "2011_09_26_drive_0002_sync"
    image = f"{date}/{drive}/image_02/data/0000000069.png"
    depth = f"{drive}/proj_depth/groundtruth/image_02/0000000069.png"
    write_rgb(tmp_path / "raw" / image, np.zeros((5, 12, 3), np.uint8))
    write_u16(tmp_path / "gt" / depth, gt)
    (tmp_path / "raw" / date / "calib_cam_to_cam.txt").write_text(
        "S_rect_02: 1.2e+03 3.7e+02\nP_rect_02: 721.5 0 609.6 44.9 0 721.5 172.8 0.2 0 0 1 0\n"
    )
    (tmp_path / "split.txt").write_text(f"{image} {depth} 721.5377\n{image} None 721.5\n")
    samples = loaders.kitti_eigen(tmp_path / "raw", tmp_path / "gt", tmp_path / "split.txt")
    assert len(samples) == 1
    sample = samples[0]
    assert sample.depth[2, 3] == pytest.approx(10.5) and sample.depth[4, 11] == 70.0
    assert sample.valid.sum() == 2
    k = sample.intrinsics
    assert (k.fx, k.fy, k.cx, k.cy) == (721.5, 721.5, 609.6, 172.8)


def test_rgbdd_reads_tof_and_ground_truth(tmp_path):
    scene = tmp_path / "Test" / "20200518160957"
    gt, tof = RNG.integers(400, 4000, (6, 8)), RNG.integers(400, 4000, (6, 8))
    write_rgb(scene / "20200518160957_RGB.jpg", np.zeros((6, 8, 3), np.uint8), True)
    write_u16(scene / "20200518160957_HR_gt.png", gt)
    write_u16(scene / "20200518160957_TOF.png", tof)
    sample = loaders.rgbdd(tmp_path, "test")[0]
    np.testing.assert_allclose(sample.depth, gt / 1000.0, rtol=1e-6)
    np.testing.assert_allclose(sample.raw_depth, tof / 1000.0, rtol=1e-6)


def write_pfm(path: Path, values: np.ndarray, little_endian: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = f"Pf\n{values.shape[1]} {values.shape[0]}\n{-1.0 if little_endian else 1.0}\n"
    data = np.flipud(values).astype("<f4" if little_endian else ">f4").tobytes()
    path.write_bytes(header.encode() + data)


def test_middlebury2014_pfm_and_calib_give_metric_depth(tmp_path):
    disparity = np.array([[100.0, 150.0, np.inf], [200.0, 50.0, 75.0]], dtype=np.float32)
    scene = tmp_path / "Motorcycle-perfect"
    write_pfm(scene / "disp0GT.pfm", disparity)
    write_rgb(scene / "im0.png", np.zeros((2, 3, 3), np.uint8))
    (scene / "calib.txt").write_text(
        "cam0=[3979.911 0 1244.772; 0 3979.911 1019.507; 0 0 1]\n"
        "cam1=[3979.911 0 1369.115; 0 3979.911 1019.507; 0 0 1]\n"
        "doffs=124.343\nbaseline=193.001\nwidth=2964\nheight=1988\nndisp=280\n"
    )
    np.testing.assert_array_equal(read_pfm(scene / "disp0GT.pfm"), disparity)
    write_pfm(tmp_path / "big.pfm", disparity, little_endian=False)
    np.testing.assert_array_equal(read_pfm(tmp_path / "big.pfm"), disparity)
    sample = loaders.middlebury2014(tmp_path)[0]
    expected = 0.193001 * 3979.911 / (100.0 + 124.343)  # baseline·f/(d + doffs)
    assert sample.depth[0, 0] == pytest.approx(expected, rel=1e-5)
    assert not sample.valid[0, 2] and sample.valid.sum() == 5
    assert sample.intrinsics.cx == pytest.approx(1244.772)


def test_tum_lists_are_associated_by_timestamp_and_divided_by_5000(tmp_path):
    for stamp in ("1305031102.175304", "1305031102.211214"):
        write_rgb(tmp_path / "rgb" / f"{stamp}.png", np.zeros((4, 4, 3), np.uint8))
    write_u16(tmp_path / "depth" / "1305031102.160407.png", np.full((4, 4), 5000))
    write_u16(tmp_path / "depth" / "1305031102.194330.png", np.full((4, 4), 10000))
    header = "# images\n# file: 'x.bag'\n# timestamp filename\n"
    rgb_lines = [f"{t} rgb/{t}.png" for t in ("1305031102.175304", "1305031102.211214")]
    depth_lines = [f"{t} depth/{t}.png" for t in ("1305031102.160407", "1305031102.194330")]
    (tmp_path / "rgb.txt").write_text(header + "\n".join(rgb_lines) + "\n")
    (tmp_path / "depth.txt").write_text(header + "\n".join(depth_lines) + "\n")
    samples = loaders.tum_rgbd(tmp_path, "fr1")
    assert [s.depth[0, 0] for s in samples] == [1.0, 2.0]  # nearest stamps: 15 ms and 17 ms
    assert samples[0].intrinsics.fx == 517.3
    (tmp_path / "associate.txt").write_text(f"{rgb_lines[0]} {depth_lines[1]}\n")
    assert [s.depth[0, 0] for s in loaders.tum_rgbd(tmp_path, "fr1")] == [2.0]


def test_generic_folder_pairs_by_stem_with_declared_scale_and_negative_fy(tmp_path):
    write_rgb(tmp_path / "rgb" / "10.jpg", np.zeros((4, 6, 3), np.uint8))
    write_rgb(tmp_path / "rgb" / "2.jpg", np.zeros((4, 6, 3), np.uint8))
    write_u16(tmp_path / "depth" / "2.png", np.full((4, 6), 1500))
    write_u16(tmp_path / "depth" / "10.png", np.full((4, 6), 3000))
    write_u16(tmp_path / "depth" / "11.png", np.full((4, 6), 3000))  # no image: skipped
    samples = loaders.folder_pairs(tmp_path, 1000.0, (481.2, -480.0, 319.5, 239.5))
    assert [s.name for s in samples] == [f"{tmp_path.name}/2", f"{tmp_path.name}/10"]
    assert samples[0].depth[0, 0] == 1.5 and samples[1].depth[0, 0] == 3.0
    assert samples[0].intrinsics.fy == 480.0


def write_pgm(path: Path, values: np.ndarray, byteorder: str = ">") -> None:
    header = f"P5\n# a comment\n{values.shape[1]} {values.shape[0]}\n65535\n".encode()
    path.write_bytes(header + values.astype(f"{byteorder}u2").tobytes())


def test_pgm_is_big_endian_and_nyu_disparity_is_unswapped_and_converted(tmp_path):
    values = np.array([[1000, 2047], [500, 1083]], dtype=np.uint16)
    write_pgm(tmp_path / "be.pgm", values)
    np.testing.assert_array_equal(read_pgm(tmp_path / "be.pgm"), values)
    write_pgm(tmp_path / "le.pgm", values, "<")  # the trap: bytes swapped against Netpbm
    np.testing.assert_array_equal(kinect_disparity_pgm(tmp_path / "le.pgm"), values)
    np.testing.assert_array_equal(kinect_disparity_pgm(tmp_path / "be.pgm"), values)
    metres = nyu_raw_disparity_to_metres(values)
    assert metres[0, 0] == pytest.approx(351.3 / 92.5, rel=1e-6)
    assert metres[0, 1] == 0  # 2047 = no reading
    assert metres[1, 1] == pytest.approx(351.3 / 9.5, rel=1e-6)


def test_sun_depth_bit_rotation(tmp_path):
    millimetres = np.array([[1234, 0], [4000, 65535 >> 3]], dtype=np.uint32)
    stored = ((millimetres << 3) | (millimetres >> 13)) & 0xFFFF  # how SUN RGB-D writes it
    write_u16(tmp_path / "sun.png", stored)
    np.testing.assert_allclose(sun_depth_png(tmp_path / "sun.png"), millimetres / 1000.0)


def test_kitti_lidar_projection_by_hand(tmp_path):
    # Identity extrinsics; P2 = [f 0 cx 0; 0 f cy 0; 0 0 1 0] with f = 100, cx = 5, cy = 4.
    (tmp_path / "calib.txt").write_text(
        "P2: 100 0 5 0 0 100 4 0 0 0 1 0\nR0_rect: 1 0 0 0 1 0 0 0 1\n"
        "Tr_velo_to_cam: 1 0 0 0 0 1 0 0 0 0 1 0\n"
    )
    points = np.array(
        [
            [0.2, 0.1, 10.0, 0.5],  # -> u = 5 + 2 = 7, v = 4 + 1 = 5, z = 10
            [0.1, 0.05, 5.0, 0.5],  # same pixel, nearer: wins
            [0.0, 0.0, -3.0, 0.5],  # behind the camera
            [5.0, 0.0, 1.0, 0.5],
        ],  # outside the image
        dtype=np.float32,
    )
    points.tofile(tmp_path / "scan.bin")
    depth = kitti_lidar_depth(tmp_path / "scan.bin", tmp_path / "calib.txt", (8, 10))
    assert depth[5, 7] == 5.0 and (depth > 0).sum() == 1


@NEEDS_SHARED
def test_shared_frames_decode_to_plausible_metres():
    expected_median = {
        "tum_fr1": (1.2, 2.0),
        "kinect_poses": (2.0, 3.5),
        "icl_nuim": (1.0, 4.0),
        "icl_rendered": (1.5, 2.5),
        "orbbec_person": (1.2, 1.5),
        "kitti_object": (5.0, 20.0),
        "single_frames": (2.0, 4.0),
    }
    for name, (lo, hi) in expected_median.items():
        samples = shared_frames(SHARED, name)
        sample = samples[0]
        assert lo < np.median(sample.depth[sample.valid]) < hi, name
        assert sample.rgb.shape[:2] == sample.depth.shape
    orbbec = shared_frames(SHARED, "orbbec_person")
    assert len(orbbec) == 22 and orbbec[0].raw_depth is not None
    nyu, sun, _ = shared_frames(SHARED, "single_frames")
    assert nyu.depth.max() < 10 and sun.depth.max() < 10  # the traps are undone
    assert shared_frames(SHARED, "icl_nuim")[0].intrinsics.fy == 480.0


def test_bit_rotation_is_undone():
    depth = np.array([[0, 1, 5496, 0xFFFF]], dtype=np.uint32)
    stored = ((depth << 3) | (depth >> 13)) & 0xFFFF  # how the APC toolbox writes it
    np.testing.assert_allclose(
        bit_rotated_depth(stored.astype(np.uint16), 1e4), depth / 1e4, rtol=1e-6
    )


def test_register_depth_moves_a_point_by_the_extrinsic_and_keeps_the_nearest():
    camera = Intrinsics(100.0, 100.0, 4.0, 4.0, 9, 9)
    depth = np.zeros((9, 9), np.float32)
    depth[4, 4] = 2.0  # the ray through the centre: (0, 0, 2)
    depth[4, 5] = 1.0  # (0.01, 0, 1)
    shift = np.eye(4)
    shift[0, 3] = 0.02  # the target camera sees everything 2 cm further right
    moved = register_depth(depth, camera, camera, shift)
    # (0.02, 0, 2) -> u = 100 * 0.01 + 4 = 5; (0.03, 0, 1) -> u = 7
    assert moved[4, 5] == 2.0 and moved[4, 7] == 1.0 and (moved > 0).sum() == 2
    collide = np.zeros((9, 9), np.float32)
    collide[4, 4], collide[4, 5] = 2.0, 1.0  # (0, 0, 2), (0.01, 0, 1): both land on u = 4
    assert (
        register_depth(collide, camera, Intrinsics(20.0, 20.0, 4.0, 4.0, 9, 9), np.eye(4))[4, 4]
        == 1.0
    )


def test_read_matrix_file_keeps_titles_and_rows(tmp_path):
    (tmp_path / "cam.info.txt").write_text(
        "# Environment: shelf\n\n# K\n 1 0 2\n 0 3 4\n\n# pose for frame-000001\n 1 2\n"
    )
    sections = read_matrix_file(tmp_path / "cam.info.txt")
    assert [title for title, _ in sections] == ["K", "pose for frame-000001"]
    np.testing.assert_array_equal(sections[0][1], [[1, 0, 2], [0, 3, 4]])


def median_valid(sample) -> float:
    return float(np.median(sample.depth[sample.valid]))


@NEEDS_SHARED
def test_sevenscenes_splits_intrinsics_and_pose():
    every = shared_frames(SHARED, "sevenscenes_redkitchen")
    train = shared_frames(SHARED, "sevenscenes_redkitchen/train")
    held_out = shared_frames(SHARED, "sevenscenes_redkitchen/held_out")
    assert len(every) == 1000 and len(held_out) == SEVENSCENES_HELD_OUT_FRAMES
    assert len(train) == 1000 - SEVENSCENES_HELD_OUT_FRAMES - SEVENSCENES_GAP_FRAMES
    assert train.items[-1] == "frame-000799" and held_out.items[0] == "frame-000850"
    frame = every[0]
    assert (frame.intrinsics.fx, frame.intrinsics.cx, frame.intrinsics.cy) == (585, 320, 240)
    assert 0.85 < frame.valid.mean() < 0.95 and 1.7 < median_valid(frame) < 2.0
    assert frame.depth[frame.valid].min() > 0.5 and frame.depth.max() < 4.0
    # frame-000000.pose.txt, first row and translation, as published
    np.testing.assert_allclose(frame.pose[0], [0.9093129, 0.27262229, -0.31422433, -0.34045634])
    np.testing.assert_allclose(frame.pose[3], [0, 0, 0, 1])
    rotation = frame.pose[:3, :3]
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-3)  # KinectFusion
    with pytest.raises(ValueError, match="split"):
        shared_frames(SHARED, "sevenscenes_redkitchen/test")


@NEEDS_SHARED
def test_apc_shelf_undoes_bit_rotation_and_registers_raw_depth_to_colour():
    frames = shared_frames(SHARED, "apc_shelf")
    frame = frames[0]
    assert len(frames) == 15 and frame.rgb.shape == (480, 640, 3)
    assert frame.intrinsics.fx == pytest.approx(615.19519) and frame.intrinsics.cx == pytest.approx(
        298.442688
    )
    assert 0.2 < frame.valid.mean() < 0.35 and 0.45 < median_valid(frame) < 0.65
    assert frame.depth.max() < 2.0  # read as plain uint16 these would be metres in the hundreds
    np.testing.assert_allclose(frame.pose[:3, 3], [1.17166368, -0.163230649, 1.15679915])
    # The sensor's own depth, moved into the colour camera, lands on the registered reference.
    both = (frame.raw_depth > 0) & frame.valid
    assert both.mean() > 0.1
    assert np.median(np.abs(frame.raw_depth - frame.depth)[both]) < 0.01


@NEEDS_SHARED
def test_arc_phoxi_and_office_ceiling_read_their_units_and_intrinsics():
    arc = shared_frames(SHARED, "arc2017_bins")
    assert len(arc) == 6
    assert 0.55 < arc[0].valid.mean() < 0.8 and 0.6 < median_valid(arc[0]) < 1.0  # 0.1 mm
    assert arc[1].intrinsics.fx == pytest.approx(616.849915)  # per frame, from meta.json
    phoxi = shared_frames(SHARED, "phoxi_bins")
    frame = phoxi[0]
    assert len(phoxi) == 10 and frame.depth.shape == (386, 516) == frame.rgb.shape[:2]
    assert (frame.intrinsics.fx, frame.intrinsics.cx) == (552.5, 255.5)
    assert 0.6 < frame.valid.mean() < 0.75 and 0.7 < median_valid(frame) < 0.85
    office = shared_frames(SHARED, "office_ceiling")
    assert len(office) == 9 and office[0].intrinsics.fy == pytest.approx(526.5651)
    assert 0.5 < office[0].valid.mean() < 0.7 and office[0].depth[office[0].valid].min() >= 0.3
