"""ros2 launch depth_ros pipeline.launch.py [replay:=true] [monocular_model:=...] ...

Starts monocular_depth and depth_recovery (and, with replay:=true, the replay source). The
nodes, executables, arguments, remappings and parameter overrides come from
depth_ros.pipeline, the description `depth-ros-pipeline` runs too, so both start the same thing.
"""

import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from depth_ros.pipeline import (
    LAUNCH_ARGUMENTS,
    PACKAGE,
    enabled_nodes,
    installed_config,
    large_image_environment,
    parameter_overrides,
    remappings,
)


def launch_nodes(context):
    environment = large_image_environment(dict(os.environ))
    arguments = {a.name: LaunchConfiguration(a.name).perform(context) for a in LAUNCH_ARGUMENTS}
    params_file = arguments["params_file"] or str(installed_config())
    return [
        Node(
            package=PACKAGE,
            executable=spec.executable,
            name=spec.name,
            namespace=arguments["namespace"],
            parameters=[params_file, parameter_overrides(arguments, spec.name)],
            remappings=remappings(arguments),
            additional_env=environment,
            output="screen",
            emulate_tty=True,
        )
        for spec in enabled_nodes(arguments)
    ]


def generate_launch_description():
    declared = [
        DeclareLaunchArgument(a.name, default_value=a.default, description=a.description)
        for a in LAUNCH_ARGUMENTS
    ]
    return LaunchDescription([*declared, OpaqueFunction(function=launch_nodes)])
