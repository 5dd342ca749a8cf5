"""`monocular_depth` and `depth_recovery`: thin rclpy nodes around `DepthEstimator`.

Callbacks only convert and queue: each frame goes into a one-slot buffer and inference runs on
a worker thread, so a slow model drops frames instead of building latency. Every output copies
the RGB frame's header.

Both are managed (lifecycle) nodes: configure loads the model and creates the inputs, outputs
and workers; activate starts inference and publishing; deactivate stops them; cleanup releases
everything. With `autostart` (the default) a node configures and activates itself at start, so
it runs as a plain node unless a lifecycle manager brings the robot's sensors up in order.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import (
    FloatingPointRange,
    IntegerRange,
    ParameterDescriptor,
    SetParametersResult,
)
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import (
    LifecycleNode,
    LifecyclePublisher,
    LifecycleState,
    TransitionCallbackReturn,
)
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.timer import Timer
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from stereo_msgs.msg import DisparityImage

from depth_core.pointcloud import depth_to_points
from depth_core.processing import resize_colour
from depth_core.runtime import DepthEstimator, threads_per_worker
from depth_core.runtime.estimator import DepthResult
from depth_core.runtime.plane_scale import GroundPlane, PlaneScale
from depth_core.runtime.realtime import LatestSlot, ReasonCounter, RollingStats, StampPairer
from depth_core.runtime.temporal import TemporalFilter, TemporalSettings, TemporalStats
from depth_core.visualize import colourise_depth
from depth_ros.conversions import (
    ImageFormatError,
    array_to_image,
    camera_info_to_intrinsics,
    disparity_message_to_depth,
    image_to_array,
    scaled_camera_info,
    to_depth_metres,
    to_rgb8,
)
from depth_ros.parameters import NODE_PARAMETERS, Param
from depth_ros.pointcloud import points_to_cloud
from depth_ros.shipped import shipped_model

OUTPUT_QOS = QoSProfile(depth=5)  # reliable: heard by reliable and best-effort subscribers
ASPECT_TOLERANCE = 0.01


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


@dataclass
class Frame:
    rgb_msg: Image
    rgb: np.ndarray
    info: CameraInfo
    received: float  # monotonic seconds at arrival
    raw: np.ndarray | None = None


class DepthNode(LifecycleNode):
    """What both depth nodes share: parameters, estimator, inputs, outputs, worker, diagnostics,
    and the lifecycle that creates and releases them."""

    output_prefix = "depth/estimated"

    def __init__(self, name: str, **kwargs):
        super().__init__(name, **kwargs)
        try:
            self.params = declare_parameters(self, NODE_PARAMETERS[name], self._load_time_refusal)
        except ParameterError:
            Node.destroy_node(self)  # nothing else was started yet
            raise
        self.rejected = ReasonCounter()
        self.dropped = ReasonCounter()
        # output_stats: rate, and latency from the frame's arrival here (the node's own share);
        # stamp_latency: from the frame's header stamp (what the depth's age is when published).
        self.input_stats, self.output_stats = RollingStats(), RollingStats()
        self.stamp_latency = RollingStats()
        self.estimator_stats = RollingStats()
        self._scale: tuple[str, PlaneScale | None] = ("none yet", None)  # the last frame's
        self._temporal: TemporalFilter | None = None
        self._temporal_stats = TemporalStats(0.0, True)
        self._logged: set[str] = set()
        self.estimators: list[DepthEstimator] = []
        self._configured = self._active = self._running = False
        self._configure_error = ""
        self._entities: list = []  # what configure creates: subscriptions, publishers, timer
        self._threads: list[threading.Thread] = []
        self._slot: LatestSlot[Frame] = LatestSlot()
        self._outbox: LatestSlot[tuple] = LatestSlot()
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        if self.params["autostart"]:
            if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
                self.destroy_node()
                raise ParameterError(self._configure_error)
            self.trigger_activate()

    # --- lifecycle --------------------------------------------------------------------------
    def _load_time_refusal(self, name: str) -> str | None:
        if not self._configured:
            return None  # applies at the next configure
        return (
            f"{name} is read-only while the node is configured (it applies when the model "
            f"loads): cleanup, set it, configure again"
        )

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._configure()
        except Exception as error:  # a model that does not load, or anything unforeseen
            message = (
                str(error)
                if isinstance(error, ParameterError)
                else (f"{self.get_name()}: configure failed: {error!r}")
            )
            self._configure_error = message
            self.get_logger().error(message)
            self._release()
            return TransitionCallbackReturn.FAILURE
        return super().on_configure(state)

    def _configure(self) -> None:
        """Load the model, then create the inputs, outputs, diagnostics timer and workers."""
        # One model instance per worker: backends with static I/O buffers (CUDA graphs,
        # TensorRT) must not run two frames at once.
        self.estimators = [self._load_estimator() for _ in range(self.params["workers"])]
        self.check_model(self.estimator)
        self._camera_info: CameraInfo | None = None
        self._last_stamp = -math.inf
        self._last_published_stamp = -math.inf
        self._entities = self.create_inputs()
        prefix = self.output_prefix
        self.depth_pub = self.create_lifecycle_publisher(Image, prefix, OUTPUT_QOS)
        self.sigma_pub = self.create_lifecycle_publisher(Image, f"{prefix}/uncertainty", OUTPUT_QOS)
        self.info_pub = self.create_lifecycle_publisher(
            CameraInfo, f"{prefix}/camera_info", OUTPUT_QOS
        )
        self.preview_pub = self.create_lifecycle_publisher(Image, f"{prefix}/preview", OUTPUT_QOS)
        self.points_pub = self.create_lifecycle_publisher(
            PointCloud2, f"{prefix}/points", OUTPUT_QOS
        )
        self._entities += [
            self.depth_pub,
            self.sigma_pub,
            self.info_pub,
            self.preview_pub,
            self.points_pub,
            self.create_timer(self.params["diagnostics_period"], self._publish_diagnostics),
        ]
        # Inference and publication overlap: while one frame is serialised into DDS the next
        # is already being inferred (ONNX Runtime and torch release the GIL). With several
        # workers, frames overlap too, and a frame is never kept waiting for a busy model.
        self._slot, self._outbox = LatestSlot(), LatestSlot()
        self._running = True
        name = self.get_name()
        self._threads = [
            threading.Thread(
                target=self._work, args=(estimator,), daemon=True, name=f"{name}-inference-{index}"
            )
            for index, estimator in enumerate(self.estimators)
        ]
        self._threads.append(
            threading.Thread(target=self._publish_results, daemon=True, name=f"{name}-publish")
        )
        for thread in self._threads:
            thread.start()
        self._configured = True
        backend = self.estimator.backend
        self.get_logger().info(
            f"configured: {self.model_path} on {backend.name} "
            f"({backend.precision}); outputs {prefix}"
        )

    def create_inputs(self) -> list:
        qos = input_qos(self.params["rgb_reliability"], self.params["rgb_queue_depth"])
        return [
            self.create_subscription(Image, "camera/color/image_raw", self._on_image, qos),
            self.create_subscription(
                CameraInfo, "camera/color/camera_info", self._on_camera_info, qos
            ),
        ]

    def check_model(self, estimator: DepthEstimator) -> None:
        """Raise ParameterError when the loaded model cannot serve this node."""

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_activate(state)  # enables the output publishers
        self._active = True
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._slot.take(timeout=0)  # a waiting frame is not inferred after deactivation
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()  # back to unconfigured, from where configure may be tried again
        return TransitionCallbackReturn.SUCCESS

    def _release(self) -> None:
        """Stop the workers and destroy what configure created (safe to repeat)."""
        self._active = self._running = False
        self._slot.close()
        self._outbox.close()
        for thread in self._threads:
            thread.join(timeout=5)
        for entity in self._entities:
            if isinstance(entity, LifecyclePublisher):
                self.destroy_lifecycle_publisher(entity)
            elif isinstance(entity, Timer):
                self.destroy_timer(entity)
            else:
                self.destroy_subscription(entity)
        self._threads, self._entities, self.estimators = [], [], []
        self._configured = False

    @property
    def estimator(self) -> DepthEstimator:
        """The first worker's model: metadata, backend and precision are the same for all."""
        return self.estimators[0]

    def _load_estimator(self) -> DepthEstimator:
        """model_path, or the package's shipped model for this node when it is empty."""
        name = self.get_name()
        try:
            self.model_path = self.params["model_path"] or str(shipped_model(name))
            return DepthEstimator.load(
                self.model_path,
                backend=self.params["backend"],
                device=self.params["device"],
                threads=self.params["threads"] or threads_per_worker(self.params["workers"]),
                precision=self.params["precision"],
            )
        except (OSError, ValueError, RuntimeError, ImportError) as error:
            raise ParameterError(f"{name}: cannot load model_path: {error}") from None

    # --- inputs (executor thread: convert, check, queue; never infer) -------------------------
    def _log_once(self, reason: str, message: str) -> None:
        """First occurrence of each reason logged; every occurrence counted in diagnostics."""
        if reason not in self._logged:
            self._logged.add(reason)
            self.get_logger().warning(
                f"{message} (further '{reason}' cases only counted in /diagnostics)"
            )

    def reject(self, reason: str, message: str) -> None:
        self.rejected.add(reason)
        self._log_once(reason, message)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            camera_info_to_intrinsics(msg)
        except ImageFormatError as error:
            self.reject(error.reason, f"camera_info rejected: {error}")
            return
        self._camera_info = msg

    def _on_image(self, msg: Image) -> None:
        self.input_stats.add()
        received = time.monotonic()
        if not self._active:
            return  # configured but not active: heard, not inferred
        if not self.params["always_run"] and not self._has_subscribers():
            return  # lazy: nobody listens, nothing to compute
        try:
            rgb = to_rgb8(msg)
        except ImageFormatError as error:
            self.reject(error.reason, f"RGB frame rejected: {error}")
            return
        stamp = stamp_seconds(msg)
        if stamp < self._last_stamp:
            self.reject(
                "out_of_order",
                f"RGB stamp {stamp:.3f} older than the last {self._last_stamp:.3f}; frame dropped",
            )
            return
        info = self._camera_info
        if info is None:
            self.reject("no_camera_info", "no camera_info received yet; frame dropped")
            return
        if (info.width, info.height) != (msg.width, msg.height):
            self.reject(
                "camera_info_mismatch",
                f"camera_info is {info.width}x{info.height}, "
                f"image {msg.width}x{msg.height}; frame dropped",
            )
            return
        self._last_stamp = stamp
        self.submit(Frame(msg, rgb, info, received))

    def submit(self, frame: Frame) -> None:
        """Hand a frame to the worker; one waiting frame at most, the newest wins."""
        if self._slot.put(frame):
            self.dropped.add("replaced_by_newer")

    def _has_subscribers(self) -> bool:
        return any(
            p.get_subscription_count()
            for p in (
                self.depth_pub,
                self.sigma_pub,
                self.info_pub,
                self.preview_pub,
                self.points_pub,
            )
        )

    # --- inference (worker thread) -------------------------------------------------------------
    def _work(self, estimator: DepthEstimator) -> None:
        while self._running:
            frame = self._slot.take(timeout=0.1)
            if frame is None:
                continue
            try:
                self._infer_and_publish(frame, estimator)
            except Exception as error:  # keep serving: one bad frame must not stop the node
                self.reject("inference_error", f"inference failed: {error}")

    def predict(self, frame: Frame, output_size: tuple[int, int], estimator: DepthEstimator):
        intrinsics = camera_info_to_intrinsics(frame.info)
        return estimator.predict(frame.rgb, frame.raw, intrinsics, output_size)

    def _infer_and_publish(self, frame: Frame, estimator: DepthEstimator) -> None:
        scale = self.params["output_scale"]
        height, width = frame.rgb.shape[:2]
        out_w, out_h = max(1, round(width * scale)), max(1, round(height * scale))
        start = time.monotonic()
        result = self.predict(frame, (out_h, out_w), estimator)
        self.estimator_stats.add(time.monotonic() - start)
        self._scale = (result.scale_source, result.plane)
        if self._outbox.put((frame, result, out_w, out_h)):
            self.dropped.add("publish_backlog")

    def _publish_results(self) -> None:
        while self._running:
            item = self._outbox.take(timeout=0.1)
            if item is None:
                continue
            frame, result, out_w, out_h = item
            if not self._active:
                continue  # deactivated while this frame was inferred
            stamp = stamp_seconds(frame.rgb_msg)
            if stamp < self._last_published_stamp:  # a faster worker already sent a newer one
                self.dropped.add("superseded")
                continue
            self._last_published_stamp = stamp
            result = self._temporal_step(result, stamp)
            header = frame.rgb_msg.header
            try:
                self.depth_pub.publish(array_to_image(result.depth, "32FC1", header))
                self.sigma_pub.publish(array_to_image(result.sigma, "32FC1", header))
                self.info_pub.publish(scaled_camera_info(frame.info, out_w, out_h, header))
                if self.preview_pub.get_subscription_count():
                    preview = colourise_depth(result.depth)
                    self.preview_pub.publish(array_to_image(preview, "bgr8", header))
                if self.points_pub.get_subscription_count():
                    self.points_pub.publish(self._point_cloud(frame, result, header))
            except Exception as error:  # e.g. publishing while the node shuts down
                self.reject("publish_error", f"publishing failed: {error}")
                continue
            now = time.monotonic()  # one instant for both: their windows hold the same frames
            self.output_stats.add(now - frame.received, now)
            age = self.get_clock().now().nanoseconds * 1e-9 - stamp
            self.stamp_latency.add(age, now)

    def _temporal_step(self, result: DepthResult, stamp: float) -> DepthResult:
        """The temporal filter (depth_core.runtime.temporal) when `temporal_filter` is on, in
        stamp order (this thread publishes in stamp order)."""
        if not self.params["temporal_filter"]:
            self._temporal = None
            return result
        settings = TemporalSettings(
            self.params["temporal_strength"], self.params["temporal_motion_sigmas"]
        )
        if self._temporal is None:
            self._temporal = TemporalFilter(settings)
        self._temporal.settings = settings  # a run-time change keeps the history
        depth, sigma, self._temporal_stats = self._temporal.update(
            result.depth, result.sigma, stamp
        )
        return replace(result, depth=depth, sigma=sigma)

    def _point_cloud(self, frame: Frame, result, header) -> PointCloud2:
        height, width = result.depth.shape
        intrinsics = camera_info_to_intrinsics(frame.info).resized(width, height)
        points = depth_to_points(
            result.depth,
            intrinsics,
            resize_colour(frame.rgb, width, height),
            result.sigma,
            self.params["point_cloud_decimation"],
            self.params["point_cloud_organised"],
        )
        return points_to_cloud(points, header)

    # --- diagnostics ----------------------------------------------------------------------------
    def mode(self) -> str:
        return "normal"

    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        p50, p99 = self.stamp_latency.latency_percentiles(now)
        n50, n99 = self.output_stats.latency_percentiles(now)
        e50, _ = self.estimator_stats.latency_percentiles()
        backend = self.estimator.backend
        values = {
            "input_rate_hz": f"{self.input_stats.rate():.2f}",
            "output_rate_hz": f"{self.output_stats.rate():.2f}",
            "latency_p50_ms": f"{p50 * 1000:.1f}",
            "latency_p99_ms": f"{p99 * 1000:.1f}",
            "node_latency_p50_ms": f"{n50 * 1000:.1f}",
            "node_latency_p99_ms": f"{n99 * 1000:.1f}",
            "estimator_p50_ms": f"{e50 * 1000:.1f}",
            "state": "active" if self._active else "inactive",
            "mode": self.mode(),
            "backend": backend.name,
            "precision": backend.precision,
            "model": self.estimator.metadata.model_name,
            "model_path": self.model_path,
        }
        temporal = self._temporal  # the publishing thread may drop it meanwhile
        if temporal is not None:
            values["temporal_held_share"] = f"{self._temporal_stats.held_share:.3f}"
            values["temporal_resets"] = str(temporal.resets)
        source, plane = self._scale
        values["scale_source"] = source
        if plane is not None:
            values["plane_share"] = f"{plane.plane_share:.3f}"
            values["plane_pixels"] = str(plane.plane_pixels)
            values["plane_relative_sigma"] = f"{plane.relative_sigma:.4f}"
            values["plane_not_found"] = plane.reason
        values.update({f"dropped.{k}": str(v) for k, v in self.dropped.snapshot().items()})
        values.update({f"rejected.{k}": str(v) for k, v in self.rejected.snapshot().items()})
        degraded = self.mode() != "normal"
        status = DiagnosticStatus(
            level=DiagnosticStatus.WARN if degraded else DiagnosticStatus.OK,
            name=f"{self.get_fully_qualified_name()}: depth",
            message=f"{self.mode()} mode" if degraded else "ok",
            hardware_id=backend.name,
            values=[KeyValue(key=k, value=v) for k, v in values.items()],
        )
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics_pub.publish(array)

    def destroy_node(self) -> None:
        self._release()
        super().destroy_node()


class MonocularDepthNode(DepthNode):
    """RGB -> metric depth; with `ground_plane`, scaled to the support plane it sees."""

    def __init__(self, **kwargs):
        super().__init__("monocular_depth", **kwargs)

    def predict(self, frame: Frame, output_size: tuple[int, int], estimator: DepthEstimator):
        coefficients = self.params["ground_plane"]  # validated when set
        plane = (
            GroundPlane.from_coefficients([float(v) for v in coefficients])
            if coefficients
            else None
        )
        intrinsics = camera_info_to_intrinsics(frame.info)
        return estimator.predict(frame.rgb, None, intrinsics, output_size, plane)


class DepthRecoveryNode(DepthNode):
    """RGB + ToF depth or stereo disparity -> recovered depth. Without raw depth for
    `raw_timeout` seconds it keeps publishing from RGB alone (degraded mode), scaled to the last
    paired output and with σ raised, and says so in /diagnostics."""

    output_prefix = "depth/recovered"

    def __init__(self, **kwargs):
        super().__init__("depth_recovery", **kwargs)

    def check_model(self, estimator: DepthEstimator) -> None:
        if "raw_depth" not in estimator.metadata.inputs:
            raise ParameterError(
                f"{self.get_name()}: {self.model_path} is a "
                f"{estimator.metadata.model_name} model without raw depth "
                f"input"
            )

    def create_inputs(self) -> list:
        """RGB and camera_info, and the raw depth; pairing and scale state start afresh."""
        self.pairer: StampPairer[np.ndarray] = StampPairer(self.params["sync_slop"])
        self._last_raw_arrival = -math.inf
        # Scale carry-over state, shared by the inference workers (`workers` > 1).
        self._scale_lock = threading.Lock()
        self._degraded_scale: float | None = None  # set on the first degraded frame
        self._last_paired_depth: np.ndarray | None = None
        self._last_paired_stamp = -math.inf
        qos = input_qos(self.params["raw_reliability"], self.params["raw_queue_depth"])
        if self.params["raw_source"] == "tof":
            raw = self.create_subscription(Image, "tof/depth/image_raw", self._on_raw_depth, qos)
        else:
            raw = self.create_subscription(
                DisparityImage, "stereo/disparity", self._on_disparity, qos
            )
        return [*super().create_inputs(), raw]

    def _on_raw_depth(self, msg: Image) -> None:
        try:
            depth = to_depth_metres(msg)
        except ImageFormatError as error:
            self.reject(error.reason, f"raw depth rejected: {error}")
            return
        self._store_raw(msg, depth, msg.encoding == "32FC1" and _has_inf_or_negative(msg))

    def _on_disparity(self, msg: DisparityImage) -> None:
        try:
            depth = disparity_message_to_depth(msg)
        except ImageFormatError as error:
            self.reject(error.reason, f"disparity rejected: {error}")
            return
        self._store_raw(msg, depth, False)

    def _store_raw(self, msg, depth: np.ndarray, had_invalid_values: bool) -> None:
        if had_invalid_values:
            self.reject(
                "raw_invalid_values",
                "raw depth holds inf or negative values; they are treated as missing",
            )
        self._last_raw_arrival = time.monotonic()
        self.pairer.slop = self.params["sync_slop"]
        pair, dropped = self.pairer.add_secondary(stamp_seconds(msg), depth)
        self._submit_pair(pair, dropped)

    def raw_timed_out(self) -> bool:
        return time.monotonic() - self._last_raw_arrival > self.params["raw_timeout"]

    def mode(self) -> str:
        return "degraded" if self.raw_timed_out() else "normal"

    def submit(self, frame: Frame) -> None:
        if self.raw_timed_out():  # degraded mode: RGB alone, nothing to wait for
            for _ in self.pairer.take_unpaired():
                self.dropped.add("unpaired")
            super().submit(frame)
            return
        self.pairer.slop = self.params["sync_slop"]
        pair, dropped = self.pairer.add_primary(stamp_seconds(frame.rgb_msg), frame)
        self._submit_pair(pair, dropped)

    def _submit_pair(self, pair: tuple[Frame, np.ndarray] | None, dropped: int) -> None:
        for _ in range(dropped):
            self.dropped.add("unpaired")
        if pair is None:
            return
        frame, raw = pair
        rgb_h, rgb_w = frame.rgb.shape[:2]
        if abs(raw.shape[1] / raw.shape[0] - rgb_w / rgb_h) > ASPECT_TOLERANCE * rgb_w / rgb_h:
            self.reject(
                "raw_aspect_mismatch",
                f"raw depth {raw.shape[1]}x{raw.shape[0]} does "
                f"not cover the RGB {rgb_w}x{rgb_h} field of view (aspect ratio "
                f"differs); frame dropped",
            )
            return
        frame.raw = raw
        super().submit(frame)

    def predict(self, frame: Frame, output_size: tuple[int, int], estimator: DepthEstimator):
        stamp = stamp_seconds(frame.rgb_msg)
        if frame.raw is not None:
            result = super().predict(frame, output_size, estimator)
            with self._scale_lock:
                if stamp >= self._last_paired_stamp:  # a slower worker's older frame: not it
                    self._last_paired_depth, self._last_paired_stamp = result.depth, stamp
                    self._degraded_scale = None
            return result
        frame.raw = np.zeros(frame.rgb.shape[:2], np.float32)  # no measurement anywhere
        result = super().predict(frame, output_size, estimator)
        with self._scale_lock:
            if self._degraded_scale is None:
                # Scale carried over: the last paired output against this first RGB-only one.
                self._degraded_scale = _median_ratio(self._last_paired_depth, result.depth)
            factor = np.float32(self._degraded_scale)
        result.depth *= factor
        result.sigma *= factor * np.float32(self.params["degraded_sigma_scale"])
        return result


def _has_inf_or_negative(msg: Image) -> bool:
    """32FC1 depth may hold NaN for "no return" (REP-118); inf or negative is bad input."""
    values = image_to_array(msg)
    return bool(np.any(np.isinf(values) | (values < 0)))


def _median_ratio(reference: np.ndarray | None, estimate: np.ndarray) -> float:
    if reference is None or reference.shape != estimate.shape:
        return 1.0
    valid = np.isfinite(reference) & np.isfinite(estimate) & (estimate > 0) & (reference > 0)
    return float(np.median(reference[valid] / estimate[valid])) if valid.any() else 1.0


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


def monocular_main() -> None:
    run_node(MonocularDepthNode)


def recovery_main() -> None:
    run_node(DepthRecoveryNode)
