import cv2
import numpy as np
import pytest

pytest.importorskip("skimage", reason="scikit-image (requirements/scenes.txt) holds the pair")

from depth_core.cli import main, run_demo  # noqa: E402
from depth_core.data.middlebury import load_motorcycle  # noqa: E402


def test_motorcycle_depth_matches_calibration():
    from skimage.data import stereo_motorcycle

    sample = load_motorcycle()
    disparity = stereo_motorcycle()[2]
    row, col = 250, 370
    assert np.isfinite(disparity[row, col])
    expected = 0.193001 * 994.978 / (disparity[row, col] + 31.086)
    assert sample.depth[row, col] == pytest.approx(expected, rel=1e-6)
    assert sample.valid.sum() == np.isfinite(disparity).sum()
    assert sample.rgb.shape == (500, 741, 3) and sample.rgb.dtype == np.uint8


def test_demo_writes_a_mosaic_and_reports_measured_values(tmp_path, capsys):
    report = run_demo(tmp_path)
    picture = cv2.imread(report["mosaic"])
    assert picture.shape[0] == 240 and picture.shape[2] == 3
    assert 0.5 < report["valid_fraction"] <= 1.0
    assert report["depth_m"]["min"] < report["depth_m"]["median"] < report["depth_m"]["max"]
    assert main(["demo", "--out", str(tmp_path / "cli")]) == 0
    assert '"valid_fraction"' in capsys.readouterr().out
