"""What every depth_ros node shares, free of any one node: parameter declaration and
validation, input and output QoS, header stamps, and the console entry point with its clean
shutdown."""

from __future__ import annotations

from collections.abc import Callable

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

from depth_ros.parameters import Param

OUTPUT_QOS = QoSProfile(depth=5)  # reliable: heard by reliable and best-effort subscribers


class ParameterError(ValueError):
    """An invalid parameter at start-up; the message names it."""


def stamp_seconds(msg) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def declare_parameters(
    node: Node,
    params: tuple[Param, ...],
    load_time_refusal: Callable[[str], str | None] | None = None,
) -> dict:
    """Declare with descriptors (description, range, read-only) and validate every value.

    A managed node passes `load_time_refusal`: its read-only parameters (those that apply when
    the model loads) stay settable, and a change is refused with the reason this returns, None
    while the node is unconfigured, so that the next configure applies it."""
    values = {}
    for param in params:
        descriptor = ParameterDescriptor(
            description=param.description,
            read_only=param.read_only and not load_time_refusal,
            # An empty list has no element type in ROS: let it become a typed array later.
            dynamic_typing=param.default == [],
        )
        constraints = [f"one of: {', '.join(param.choices)}"] if param.choices else []
        if param.read_only and load_time_refusal:
            constraints.append("settable only while the node is unconfigured")
        descriptor.additional_constraints = "; ".join(constraints)
        if param.low is not None and isinstance(param.default, int):
            descriptor.integer_range = [
                IntegerRange(from_value=int(param.low), to_value=int(param.high), step=1)
            ]
        elif param.low is not None:
            descriptor.floating_point_range = [
                FloatingPointRange(
                    from_value=float(param.low), to_value=float(param.high), step=0.0
                )
            ]
        try:
            value = node.declare_parameter(param.name, param.default, descriptor).value
        except Exception as error:  # rclpy raises several types for out-of-range / wrong type
            raise ParameterError(
                f"{node.get_name()}: invalid parameter {param.name}: {error}"
            ) from None
        problem = param.check(value)
        if problem:
            raise ParameterError(f"{node.get_name()}: invalid parameter {problem}")
        values[param.name] = value
    by_name = {p.name: p for p in params}

    def on_change(changes) -> SetParametersResult:
        for change in changes:
            param = by_name.get(change.name)
            problem = param.check(change.value) if param else None
            if not problem and param and param.read_only and load_time_refusal:
                problem = load_time_refusal(param.name)
            if problem:
                return SetParametersResult(successful=False, reason=problem)
        for change in changes:  # run-time parameters take effect with the next frame
            if change.name in values:
                values[change.name] = change.value
        return SetParametersResult(successful=True)

    node.add_on_set_parameters_callback(on_change)
    return values


def input_qos(reliability: str, depth: int) -> QoSProfile:
    qos = QoSProfile(
        depth=depth,
        reliability=qos_profile_sensor_data.reliability,
        durability=qos_profile_sensor_data.durability,
    )
    if reliability == "reliable":
        qos.reliability = ReliabilityPolicy.RELIABLE
    return qos


def spin_until_shutdown(executor) -> None:
    """Spin until SIGINT or SIGTERM. rclpy's signal handler invalidates the context while a
    callback may be publishing; what that callback then raises is part of the shutdown, not
    a failure, and is not shown. Errors while the context is still valid propagate."""
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        if rclpy.ok():
            raise


def run_node(node_class) -> None:
    """Console entry point body: one node, its own executor, clean shutdown on Ctrl-C."""
    rclpy.init()
    try:
        node = node_class()
    except Exception as error:
        stopped = not rclpy.ok()  # a signal arrived while the node was starting
        if not stopped and not isinstance(error, ParameterError):
            raise
        if not stopped:
            rclpy.logging.get_logger("depth_ros").fatal(str(error))
        rclpy.try_shutdown()
        raise SystemExit(0 if stopped else 2) from None
    except KeyboardInterrupt:
        rclpy.try_shutdown()
        return
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        spin_until_shutdown(executor)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


def diagnostic_status(
    level: bytes, name: str, message: str, hardware_id: str, values: dict[str, str]
) -> DiagnosticStatus:
    return DiagnosticStatus(
        level=level,
        name=name,
        message=message,
        hardware_id=hardware_id,
        values=[KeyValue(key=k, value=v) for k, v in values.items()],
    )


def publish_diagnostics(node: Node, publisher, *statuses: DiagnosticStatus) -> None:
    """One DiagnosticArray stamped with the node's clock now."""
    array = DiagnosticArray(status=list(statuses))
    array.header.stamp = node.get_clock().now().to_msg()
    publisher.publish(array)
