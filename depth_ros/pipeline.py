"""The pipeline, described once: which nodes, executables, launch arguments, remappings and
parameter overrides. `launch/pipeline.launch.py` builds its launch description from this, and
`depth-ros-pipeline` (for machines without `ros2 launch`) runs the same node classes with the
same YAML and the same `name:=value` arguments in one process.

That process spins every node on one SingleThreadedExecutor; inference and publication run on
each node's own threads, and the nodes' callbacks only convert and queue. rclpy's
MultiThreadedExecutor would cost more than it gives: while a callback it has handed to its
pool has not started, its wait loop spins in Python holding the GIL (ros2/rclpy issue 1452),
and the inference threads wait for the GIL (measured in docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

import yaml

from depth_ros.parameters import DEPTH_NODES  # what a "*.parameter" argument sets

PACKAGE = "depth_ros"
SOURCE_CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"


@dataclass(frozen=True)
class NodeSpec:
    name: str
    executable: str  # console script in lib/depth_ros
    node_class: str  # "module:Class", what the executable runs
    condition: str | None = None  # launch argument that must be true to start it


@dataclass(frozen=True)
class LaunchArgument:
    name: str
    default: str
    description: str
    remaps: str | None = None  # the node-relative topic this argument remaps
    parameter: str | None = None  # "node.parameter" it overrides when not "" (* = depth nodes)
    boolean: bool = False  # true/false (or 1/0); "" too where the default is "" (params file)


NODES = (
    NodeSpec(
        "monocular_depth",
        "monocular_depth",
        "depth_ros.monocular_node:MonocularDepthNode",
        condition="monocular",
    ),
    NodeSpec(
        "depth_recovery",
        "depth_recovery",
        "depth_ros.recovery_node:DepthRecoveryNode",
        condition="recovery",
    ),
    NodeSpec("replay", "replay", "depth_ros.replay:ReplayNode", condition="replay"),
    NodeSpec(
        "proximity_monitor",
        "proximity_monitor",
        "depth_ros.proximity_node:ProximityMonitorNode",
        condition="proximity",
    ),
)


LAUNCH_ARGUMENTS = (
    LaunchArgument("namespace", "", "namespace of every node"),
    LaunchArgument(
        "params_file", "", "parameter YAML (empty: the package's config/depth_ros.yaml)"
    ),
    LaunchArgument(
        "camera_image", "camera/color/image_raw", "RGB image topic", remaps="camera/color/image_raw"
    ),
    LaunchArgument(
        "camera_info",
        "camera/color/camera_info",
        "RGB camera_info topic",
        remaps="camera/color/camera_info",
    ),
    LaunchArgument(
        "tof_depth",
        "tof/depth/image_raw",
        "raw ToF depth topic (16UC1 or 32FC1)",
        remaps="tof/depth/image_raw",
    ),
    LaunchArgument(
        "stereo_disparity",
        "stereo/disparity",
        "stereo_msgs/DisparityImage topic",
        remaps="stereo/disparity",
    ),
    LaunchArgument(
        "monocular_model",
        "",
        "model_path of monocular_depth (empty: from the params file)",
        parameter="monocular_depth.model_path",
    ),
    LaunchArgument(
        "recovery_model",
        "",
        "model_path of depth_recovery (empty: from the params file)",
        parameter="depth_recovery.model_path",
    ),
    LaunchArgument(
        "backend",
        "",
        "backend of both depth nodes (empty: from the params file)",
        parameter="*.backend",
    ),
    LaunchArgument(
        "raw_source",
        "",
        "tof or stereo (empty: from the params file)",
        parameter="depth_recovery.raw_source",
    ),
    LaunchArgument("monocular", "true", "start monocular_depth", boolean=True),
    LaunchArgument("recovery", "true", "start depth_recovery", boolean=True),
    LaunchArgument(
        "threads",
        "",
        "CPU inference threads of both depth nodes (empty: from the params file)",
        parameter="*.threads",
    ),
    LaunchArgument(
        "workers",
        "",
        "inference workers of both depth nodes (empty: from the params file)",
        parameter="*.workers",
    ),
    LaunchArgument(
        "autostart",
        "",
        "false: the depth nodes wait unconfigured for a lifecycle "
        "manager (empty: from the params file)",
        parameter="*.autostart",
        boolean=True,
    ),
    LaunchArgument("replay", "false", "also start the replay source", boolean=True),
    LaunchArgument(
        "replay_source",
        "",
        "replay source: scenes, middlebury, a folder or a bag (empty: from the params file)",
        parameter="replay.source",
    ),
    LaunchArgument("proximity", "false", "also start proximity_monitor (advisory)", boolean=True),
    LaunchArgument(
        "proximity_source", "recovered", "depth the monitor watches: estimated or recovered"
    ),
)
PROXIMITY_SOURCES = ("estimated", "recovered")


def parameter_overrides(arguments: dict[str, str], node: str) -> dict[str, Any]:
    """The node's parameters set by non-empty launch arguments (YAML-typed, as launch does)."""
    overrides = {}
    for argument in LAUNCH_ARGUMENTS:
        value = arguments.get(argument.name, argument.default)
        if argument.parameter is None or value == "":
            continue
        target, parameter = argument.parameter.split(".")
        if node in (DEPTH_NODES if target == "*" else (target,)):
            overrides[parameter] = yaml.safe_load(value)
    return overrides


def remappings(arguments: dict[str, str]) -> list[tuple[str, str]]:
    """Topic remaps of every node: the input topics, and the monitor's depth/uncertainty/
    camera_info onto the chosen depth node's outputs (exact names: no depth node's topic is
    called plain "depth")."""
    rules = [(a.remaps, arguments.get(a.name, a.default)) for a in LAUNCH_ARGUMENTS if a.remaps]
    source = arguments.get("proximity_source") or "recovered"
    if source not in PROXIMITY_SOURCES:
        raise ValueError(f"proximity_source must be one of {PROXIMITY_SOURCES}, got {source!r}")
    rules += [
        (f"depth{suffix}", f"depth/{source}{suffix}")
        for suffix in ("", "/uncertainty", "/camera_info")
    ]
    return rules


BOOLEAN_VALUES = {"true": "true", "1": "true", "false": "false", "0": "false"}


def boolean_value(name: str, value: str) -> str:
    """A boolean argument's value as "true" or "false" ("" stays ""); anything else is an
    error naming the choices, as launch's conditions refuse it."""
    if value == "":
        return value
    normalised = BOOLEAN_VALUES.get(value.strip().lower())
    if normalised is None:
        raise ValueError(f"{name} must be true or false (or 1 or 0), got {value!r}")
    return normalised


def is_true(value: str) -> bool:
    return boolean_value("argument", value) == "true"


def enabled_nodes(arguments: dict[str, str]) -> list[NodeSpec]:
    defaults = {a.name: a.default for a in LAUNCH_ARGUMENTS}
    return [
        n
        for n in NODES
        if n.condition is None or is_true(arguments.get(n.condition, defaults[n.condition]))
    ]


def installed_config(name: str = "depth_ros.yaml") -> Path:
    """A file of config/: from the ament index when installed, else from the source tree."""
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory(PACKAGE)) / "config" / name
    except Exception:  # no ament index: a pip install (data files under the prefix) or a checkout
        installed = Path(sys.prefix) / "share" / PACKAGE / "config" / name
        return installed if installed.is_file() else SOURCE_CONFIG_DIR / name


DDS_PROFILE_VARIABLE = "FASTDDS_DEFAULT_PROFILES_FILE"


def large_image_environment(environ: dict[str, str]) -> dict[str, str]:
    """What the pipeline's processes add to their environment: Fast DDS's large-image profile
    (config/fastdds_large_images.xml: its usual transports, a shared-memory segment that holds
    camera-sized images), unless the user already chose a profile. Other RMWs ignore it."""
    if environ.get(DDS_PROFILE_VARIABLE):
        return {}
    return {DDS_PROFILE_VARIABLE: str(installed_config("fastdds_large_images.xml"))}


def load_params_file(path: str | Path) -> dict[str, dict[str, Any]]:
    """{node name: parameters} from a ROS 2 parameter YAML (`node: ros__parameters: {...}`)."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"{path}: cannot read the parameter file: {error}") from None
    # Keys are "/**/node" (any namespace), "/node" or "node": the node name is the last part.
    return {
        name.rsplit("/", 1)[-1]: flatten((body or {}).get("ros__parameters", {}))
        for name, body in document.items()
    }


def flatten(parameters: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested parameter maps to dotted names, as rcl reads a parameter file
    (zone: {front: {kind: image}} -> zone.front.kind: image)."""
    flat = {}
    for key, value in parameters.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def parse_arguments(tokens: list[str]) -> dict[str, str]:
    """`name:=value` tokens, as `ros2 launch` takes them; unknown names are an error."""
    known = {a.name for a in LAUNCH_ARGUMENTS}
    arguments = {}
    for token in tokens:
        name, separator, value = token.partition(":=")
        if not separator or name not in known:
            raise ValueError(
                f"unknown argument {token!r}; arguments are name:=value with name "
                f"in {', '.join(sorted(known))}"
            )
        argument = next(a for a in LAUNCH_ARGUMENTS if a.name == name)
        if argument.boolean:
            if value == "" and argument.default != "":
                raise ValueError(f"{name} must be true or false (or 1 or 0), got ''")
            value = boolean_value(name, value)
        arguments[name] = value
    return arguments


def build_nodes(arguments: dict[str, str]) -> list:
    """Instantiate the enabled nodes (rclpy must be initialised) with YAML + overrides."""
    from rclpy.parameter import Parameter

    params_file = arguments.get("params_file") or installed_config()
    from_yaml = load_params_file(params_file)
    remap_args = [
        item for source, target in remappings(arguments) for item in ("-r", f"{source}:={target}")
    ]
    nodes = []
    for spec in enabled_nodes(arguments):
        values = {**from_yaml.get(spec.name, {}), **parameter_overrides(arguments, spec.name)}
        module, class_name = spec.node_class.split(":")
        node_class = getattr(import_module(module), class_name)
        nodes.append(
            node_class(
                namespace=arguments.get("namespace", ""),
                cli_args=["--ros-args", *remap_args],
                parameter_overrides=[Parameter(k, value=v) for k, v in values.items()],
            )
        )
    return nodes


def main(argv: list[str] | None = None) -> int:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from depth_ros.node_support import ParameterError, spin_until_shutdown

    parser = argparse.ArgumentParser(
        prog="depth-ros-pipeline",
        description="Run the depth_ros pipeline (the nodes of pipeline.launch.py) in one "
        "process, without ros2 launch.",
        epilog="arguments (name:=value):\n"
        + "\n".join(
            f"  {a.name:<18} {a.description} (default {a.default!r})" for a in LAUNCH_ARGUMENTS
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "arguments",
        nargs="*",
        help="name:=value, as for ros2 launch; "
        "anything after --ros-args goes to rclpy (e.g. --log-level debug)",
    )
    argv = sys.argv[1:] if argv is None else argv
    # Only what follows --ros-args goes to rclpy: rcl would read the name:=value launch
    # arguments as (deprecated) remap rules for every node.
    split = argv.index("--ros-args") if "--ros-args" in argv else len(argv)
    try:
        arguments = parse_arguments(parser.parse_args(argv[:split]).arguments)
    except ValueError as error:
        parser.error(str(error))
    os.environ.update(large_image_environment(dict(os.environ)))  # before DDS starts
    rclpy.init(args=[parser.prog, *argv[split:]])
    nodes = []
    try:
        nodes = build_nodes(arguments)
        executor = SingleThreadedExecutor()  # see the module docstring
        for node in nodes:
            executor.add_node(node)
        spin_until_shutdown(executor)
    except KeyboardInterrupt:
        pass
    except Exception as error:
        if not rclpy.ok():
            pass  # a signal arrived while the nodes were starting: a clean stop all the same
        elif isinstance(error, (ParameterError, ValueError)):
            print(f"depth-ros-pipeline: {error}", file=sys.stderr)
            return 2
        else:
            raise
    finally:
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
