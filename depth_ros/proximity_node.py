"""`proximity_monitor`: per-zone nearest and conservative (d − k·σ) distance, and a zone state.

ADVISORY ONLY: a perception signal for planners and operators, not a certified safety
function. Inputs are `depth`, `depth/uncertainty` and `depth/camera_info` (remap them to the
estimated or the recovered depth). Per zone it publishes `proximity/<zone>/nearest` and
`proximity/<zone>/conservative` (sensor_msgs/Range, the depth's header; NaN = no data, as
REP 117 defines an invalid reading) and, per frame, `proximity/state`: a DiagnosticArray with
one status per zone (OK clear, WARN warning, ERROR protective stop, STALE no data).
"""

from __future__ import annotations

import math
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import QoSProfile
from sensor_msgs.msg import CameraInfo, Image, Range

from depth_core.proximity import Reading, Zone, ZoneMask, ZoneState, zone_reading
from depth_core.runtime.realtime import ReasonCounter, RollingStats
from depth_ros.conversions import ImageFormatError, camera_info_to_intrinsics, image_to_array
from depth_ros.node_support import (
    OUTPUT_QOS,
    ParameterError,
    declare_parameters,
    diagnostic_status,
    input_qos,
    publish_diagnostics,
    run_node,
    stamp_seconds,
)
from depth_ros.parameters import NODE_PARAMETERS

STATE_LEVEL = {
    "clear": DiagnosticStatus.OK,
    "warning": DiagnosticStatus.WARN,
    "stop": DiagnosticStatus.ERROR,
    "no_data": DiagnosticStatus.STALE,
}
SEVERITY = ("clear", "warning", "no_data", "stop")  # the node's summary is its worst zone


def declare_zones(node: Node, names: list[str]) -> list[Zone]:
    """zone.<name>.kind and zone.<name>.region for every name; errors name the zone."""
    if not names or len(set(names)) != len(names):
        raise ParameterError(
            f"{node.get_name()}: zones must be a non-empty list of distinct names, got {names}"
        )
    zones = []
    for name in names:
        kind = node.declare_parameter(
            f"zone.{name}.kind",
            "image",
            ParameterDescriptor(
                description="image (region in fractions of the image) or box (metres, optical "
                "frame)",
                read_only=True,
            ),
        ).value
        region = node.declare_parameter(
            f"zone.{name}.region", [0.25, 0.25, 0.75, 0.75], ParameterDescriptor(read_only=True)
        ).value
        try:
            zones.append(Zone(name, kind, tuple(float(v) for v in region)))
        except (TypeError, ValueError) as error:
            raise ParameterError(
                f"{node.get_name()}: invalid parameter zone.{name}: {error}"
            ) from None
    return zones


class ProximityMonitorNode(Node):
    def __init__(self, **kwargs):
        super().__init__("proximity_monitor", **kwargs)
        try:
            self.params = declare_parameters(self, NODE_PARAMETERS["proximity_monitor"])
            if self.params["stop_distance"] >= self.params["warning_distance"]:
                raise ParameterError(
                    f"{self.get_name()}: invalid parameter stop_distance "
                    f"({self.params['stop_distance']}) must be below "
                    f"warning_distance ({self.params['warning_distance']})"
                )
            self.zones = declare_zones(self, list(self.params["zones"]))
        except ParameterError:
            self.destroy_node()  # nothing else was started yet
            raise
        self.states = {
            zone.name: ZoneState(
                self.params["warning_distance"],
                self.params["stop_distance"],
                self.params["hysteresis"],
            )
            for zone in self.zones
        }
        self.masks: dict[str, ZoneMask] = {}
        self._mask_key = None
        qos = input_qos(self.params["input_reliability"], 5)
        self.create_subscription(Image, "depth", self.on_depth, qos)
        self.create_subscription(Image, "depth/uncertainty", self.on_sigma, qos)
        self.create_subscription(CameraInfo, "depth/camera_info", self.on_info, qos)
        self.range_pubs = {
            zone.name: (
                self.create_publisher(Range, f"proximity/{zone.name}/nearest", OUTPUT_QOS),
                self.create_publisher(Range, f"proximity/{zone.name}/conservative", OUTPUT_QOS),
            )
            for zone in self.zones
        }
        self.state_pub = self.create_publisher(DiagnosticArray, "proximity/state", OUTPUT_QOS)
        self.diagnostics_pub = self.create_publisher(
            DiagnosticArray, "/diagnostics", QoSProfile(depth=10)
        )
        self.pending: dict[str, dict[float, Image]] = {"depth": {}, "sigma": {}}
        self.info: CameraInfo | None = None
        self.stats, self.monitor_time = RollingStats(), RollingStats()
        self.rejected = ReasonCounter()
        self._logged: set[str] = set()
        self.create_timer(self.params["diagnostics_period"], self._publish_diagnostics)
        self.get_logger().info(
            f"monitoring zones {[z.name for z in self.zones]} (advisory, not a safety function)"
        )

    # --- inputs -------------------------------------------------------------------------------
    def _reject(self, reason: str, message: str) -> None:
        self.rejected.add(reason)
        if reason not in self._logged:
            self._logged.add(reason)
            self.get_logger().warning(f"{message} (logged once; counted as rejected.{reason})")

    def on_info(self, msg: CameraInfo) -> None:
        self.info = msg

    def on_depth(self, msg: Image) -> None:
        self._add("depth", msg)

    def on_sigma(self, msg: Image) -> None:
        self._add("sigma", msg)

    def _add(self, kind: str, msg: Image) -> None:
        stamp = stamp_seconds(msg)
        queue = self.pending[kind]
        queue[stamp] = msg
        while len(queue) > 5:  # a partner that never comes: drop the oldest
            queue.pop(min(queue))
            self.rejected.add("unpaired")
        other = self.pending["sigma" if kind == "depth" else "depth"]
        if stamp in other:  # depth and σ of one frame carry the same stamp
            depth_msg = msg if kind == "depth" else other[stamp]
            sigma_msg = other[stamp] if kind == "depth" else msg
            for older in [s for s in list(queue) + list(other) if s <= stamp]:
                queue.pop(older, None)
                other.pop(older, None)
            self._process(depth_msg, sigma_msg)

    def _process(self, depth_msg: Image, sigma_msg: Image) -> None:
        started = time.monotonic()
        if self.info is None:
            self._reject("missing_camera_info", "no depth/camera_info received yet")
            return
        try:
            if depth_msg.encoding != "32FC1" or sigma_msg.encoding != "32FC1":
                raise ImageFormatError(
                    "unknown_encoding",
                    f"32FC1 depth and uncertainty "
                    f"expected, got {depth_msg.encoding!r} and "
                    f"{sigma_msg.encoding!r}",
                )
            depth, sigma = image_to_array(depth_msg), image_to_array(sigma_msg)
            if depth.shape != sigma.shape:
                raise ImageFormatError(
                    "size_mismatch",
                    f"depth {depth.shape} and uncertainty {sigma.shape} differ in size",
                )
            intrinsics = camera_info_to_intrinsics(self.info)
            if (intrinsics.height, intrinsics.width) != depth.shape:
                intrinsics = intrinsics.resized(depth.shape[1], depth.shape[0])
        except ImageFormatError as error:
            self._reject(error.reason, str(error))
            return
        key = (intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy, depth.shape)
        if key != self._mask_key:
            self.masks = {zone.name: ZoneMask(zone, intrinsics) for zone in self.zones}
            self._mask_key = key
        p = self.params
        state_array = DiagnosticArray(header=depth_msg.header)
        for zone in self.zones:
            reading = zone_reading(
                depth, sigma, self.masks[zone.name], p["k"], p["percentile"], p["min_pixels"]
            )
            state = self.states[zone.name].update(reading)
            nearest_pub, conservative_pub = self.range_pubs[zone.name]
            fov = self._field_of_view(zone, intrinsics)
            nearest_pub.publish(self._range(depth_msg, reading.nearest, fov))
            conservative_pub.publish(self._range(depth_msg, reading.conservative, fov))
            state_array.status.append(self._status(zone, reading, state))
        self.state_pub.publish(state_array)
        self.monitor_time.add(time.monotonic() - started)
        self.stats.add(0.0)

    def _range(self, depth_msg: Image, value: float, fov: float) -> Range:
        return Range(
            header=depth_msg.header,
            radiation_type=Range.INFRARED,
            field_of_view=fov,
            min_range=0.0,
            max_range=float(self.params["max_range"]),
            range=float(value),
        )

    @staticmethod
    def _field_of_view(zone: Zone, intrinsics) -> float:
        """Horizontal angle the zone spans (radians)."""
        if zone.kind == "image":
            u0, u1 = zone.region[0] * intrinsics.width, zone.region[2] * intrinsics.width
            return float(
                abs(
                    math.atan((u1 - intrinsics.cx) / intrinsics.fx)
                    - math.atan((u0 - intrinsics.cx) / intrinsics.fx)
                )
            )
        x0, _, z0, x1, _, z1 = zone.region
        near = max(z0, 1e-3)
        return float(abs(math.atan2(x1, near) - math.atan2(x0, near)))

    def _status(self, zone: Zone, reading: Reading, state: str) -> DiagnosticStatus:
        values = {
            "state": state,
            "nearest_m": f"{reading.nearest:.3f}",
            "conservative_m": f"{reading.conservative:.3f}",
            "pixels": str(reading.pixels),
            "k": str(self.params["k"]),
        }
        message = state.replace("_", " ") if state != "stop" else "protective stop"
        return diagnostic_status(
            STATE_LEVEL[state], f"proximity: {zone.name}", message, self.get_name(), values
        )

    def _publish_diagnostics(self) -> None:
        p50, p99 = self.monitor_time.latency_percentiles()
        values = {
            "rate_hz": f"{self.stats.rate():.2f}",
            "monitor_p50_ms": f"{p50 * 1000:.2f}",
            "monitor_p99_ms": f"{p99 * 1000:.2f}",
            **{f"zone.{n}": s.state for n, s in self.states.items()},
            **{f"rejected.{k}": str(v) for k, v in self.rejected.snapshot().items()},
        }
        worst = max((s.state for s in self.states.values()), key=SEVERITY.index)
        summary = ", ".join(f"{name} {state.state}" for name, state in self.states.items())
        name = f"{self.get_fully_qualified_name()}: proximity (advisory)"
        status = diagnostic_status(STATE_LEVEL[worst], name, summary, self.get_name(), values)
        publish_diagnostics(self, self.diagnostics_pub, status)


def main() -> None:
    run_node(ProximityMonitorNode)
