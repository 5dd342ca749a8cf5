"""The package itself: metadata, installed files, and the ROS-free core."""

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_package_xml_is_format_3_and_names_depth_ros():
    root = ET.parse(REPO / "package.xml").getroot()
    assert root.tag == "package" and root.get("format") == "3"
    assert root.findtext("name") == "depth_ros"
    exec_depends = {element.text for element in root.findall("exec_depend")}
    assert {
        "rclpy",
        "sensor_msgs",
        "stereo_msgs",
        "diagnostic_msgs",
        "std_msgs",
        "lifecycle_msgs",
        "nav_msgs",
    } <= exec_depends
    assert "python3-pytest" in {element.text for element in root.findall("test_depend")}
    assert root.find("export/build_type").text == "ament_python"


def _build_wheel(source: Path, out: Path) -> zipfile.ZipFile:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(source),
        ],
        check=True,
    )
    (wheel,) = out.glob("depth_ros-*.whl")
    return zipfile.ZipFile(wheel)


def test_setup_installs_every_launch_and_config_file(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(
            ".venv",
            ".git",
            "build",
            "*.egg-info",
            "__pycache__",
            "demo_output",
            "tests",
            "training",
            "runs",
        ),
    )
    # Files added later must be picked up without editing setup.py.
    (source / "launch" / "probe.launch.py").write_text("# probe\n")
    (source / "config" / "probe.yaml").write_text("probe: 1\n")
    names = set(_build_wheel(source, tmp_path / "dist").namelist())
    data = "depth_ros-0.1.0.data/data/share/"
    expected = {
        data + "ament_index/resource_index/packages/depth_ros",
        data + "depth_ros/package.xml",
    }
    for folder in ("launch", "config"):
        for path in (source / folder).iterdir():
            expected.add(f"{data}depth_ros/{folder}/{path.name}")
    assert expected <= names, sorted(expected - names)
    assert "depth_core/__init__.py" in names and "depth_ros/__init__.py" in names


def test_importing_depth_core_loads_no_ros_module():
    # Import every depth_core module in a fresh interpreter, then look for ROS modules.
    code = (
        "import importlib, pkgutil, sys\n"
        "import depth_core\n"
        "for info in pkgutil.walk_packages(depth_core.__path__, 'depth_core.'):\n"
        "    importlib.import_module(info.name)\n"
        "tops = {m.split('.')[0] for m in sys.modules}\n"
        "ros = sorted(t for t in tops if t.startswith(('rcl', 'rmw', 'rosidl')) or "
        "t.endswith('_msgs'))\n"
        "print(len([m for m in sys.modules if m.startswith('depth_core')]))\n"
        "print(','.join(ros))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    count, ros_modules = result.stdout.splitlines()
    assert int(count) >= 4
    assert ros_modules == ""


def test_the_demo_and_node_path_needs_no_training_package():
    # `make demo` installs no torch (requirements/runtime.txt, ros.txt, scenes.txt): the
    # nodes, the pipeline, the CLI and replay of a generated room must not import it.
    code = (
        "import sys\n"
        "import depth_ros.cli, depth_ros.pipeline, depth_ros.monocular_node\n"
        "import depth_ros.recovery_node, depth_ros.proximity_node, depth_ros.pointcloud\n"
        "from depth_ros.replay import scene_frames\n"
        "from depth_core.runtime import DepthEstimator\n"
        "from depth_ros.shipped import shipped_model\n"
        "frames = scene_frames(64, 48, count=2)\n"
        "e = DepthEstimator.load(shipped_model('depth_recovery'))\n"
        "e.predict(frames[0].rgb, frames[0].raw_depth, frames[0].intrinsics)\n"
        "training = ('torch', 'timm', 'torchvision', 'tensorboard', 'matplotlib', 'onnx')\n"
        "print(','.join(sorted(m for m in training if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_depth_core_and_depth_ros_import():
    import depth_core
    import depth_ros

    assert depth_core.__version__ == "0.1.0"
    assert depth_ros.__doc__


def test_every_subcommand_help_opens_with_a_sentence_and_shows_defaults(capsys):
    import pytest

    from depth_core.cli import main as depth_core_main
    from depth_ros.cli import main as depth_ros_main

    cases = [
        (depth_core_main, ["bench"], "(default: 100)"),
        (depth_core_main, ["export"], "(default: 17)"),
        (depth_core_main, ["demo"], "(default: demo_output)"),
        (depth_core_main, ["reconfigure"], "training checkpoint"),
        (depth_ros_main, ["demo"], "(default: 10.0)"),
        (depth_ros_main, ["bench"], "(default: 30.0)"),
    ]
    for main, words, expected in cases:
        with pytest.raises(SystemExit) as stop:
            main([*words, "--help"])
        assert stop.value.code == 0
        text = capsys.readouterr().out
        description = text.split("\n\n")[1]  # after the usage block
        assert description[0].isupper() and description.rstrip().endswith("."), words
        assert expected in text, words
