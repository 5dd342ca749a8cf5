"""ament_python package `depth_ros`: the ROS 2 nodes plus the ROS-free `depth_core` library.

Builds with `colcon build` in a ROS 2 workspace and with `pip install .` elsewhere. Exact
version pins live in requirements/*.txt (the set-up), not here, so the package also installs
next to a GPU machine's own torch.
"""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "depth_ros"


def share_files(folder: str) -> list[str]:
    """Every plain file directly under `folder`, sorted so builds are reproducible."""
    return sorted(path for path in glob(f"{folder}/*") if not path.endswith("__pycache__"))


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=["depth_core", "depth_core.*", "depth_ros", "depth_ros.*"]),
    package_data={
        "depth_core.export": ["tensorrt_onnx_ops.txt"],
        "depth_ros": ["models/*.onnx", "models/*.pt"],
    },
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", share_files("launch")),
        (f"share/{PACKAGE}/config", share_files("config")),
    ],
    python_requires=">=3.10",
    install_requires=["numpy", "pyyaml"],
    zip_safe=True,
    maintainer="depth_ros developers",
    maintainer_email="depth-ros@example.com",
    description="Real-time metric depth with per-pixel uncertainty for human-robot interaction",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "depth-core = depth_core.cli:main",
            "depth-ros = depth_ros.cli:main",
            "depth-ros-pipeline = depth_ros.pipeline:main",
            "monocular_depth = depth_ros.monocular_node:main",
            "depth_recovery = depth_ros.recovery_node:main",
            "replay = depth_ros.replay:main",
            "proximity_monitor = depth_ros.proximity_node:main",
        ],
    },
)
