"""The base of `monocular_depth` and `depth_recovery`: a thin rclpy lifecycle node around
`DepthEstimator`.

Callbacks only convert and queue: each frame goes into a one-slot buffer and inference runs on
a worker thread, so a slow model drops frames instead of building latency. Every output copies
the RGB frame's header.

With `camera_mount` set, the node also listens to `odom` (nav_msgs/Odometry): the camera's
pose at each frame's stamp (odometry times the mount) gives its motion between frames, with
which the temporal filter carries its history. Without it, frames whose images show a still
camera (`temporal_detect_still`) keep the history in place.

Both are managed (lifecycle) nodes: configure loads the model and creates the inputs, outputs
and workers; activate starts inference and publishing; deactivate stops them; cleanup releases
everything. With `autostart` (the default) a node configures and activates itself at start, so
it runs as a plain node unless a lifecycle manager brings the robot's sensors up in order.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, replace

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from nav_msgs.msg import Odometry
from rclpy.lifecycle import (
    LifecycleNode,
    LifecyclePublisher,
    LifecycleState,
    TransitionCallbackReturn,
)
from rclpy.node import Node
from rclpy.timer import Timer
from sensor_msgs.msg import CameraInfo, Image

from depth_core.runtime import DepthEstimator, threads_per_worker
from depth_core.runtime.motion import PoseTrack, pose_matrix
from depth_core.runtime.plane_scale import PlaneScale
from depth_core.runtime.realtime import LatestSlot, ReasonCounter, RollingStats
from depth_core.runtime.temporal import TemporalSettings, TemporalStage
from depth_ros.conversions import (
    ImageFormatError,
    camera_info_to_intrinsics,
    to_rgb8,
)
from depth_ros.depth_outputs import DepthOutputs
from depth_ros.node_support import (
    ParameterError,
    declare_parameters,
    diagnostic_status,
    input_qos,
    publish_diagnostics,
    stamp_seconds,
)
from depth_ros.parameters import NODE_PARAMETERS
from depth_ros.shipped import shipped_model


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
        self._temporal = TemporalStage(
            warm=self.params["temporal_filter"] and self.filters_every_frame()
        )
        # Camera poses from odometry (camera_mount set): written by the executor, read by the
        # publishing thread.
        self._poses: PoseTrack | None = None
        self._poses_lock = threading.Lock()
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
            if isinstance(error, ParameterError):
                message = str(error)
            else:
                message = f"{self.get_name()}: configure failed: {error!r}"
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
        self.outputs = DepthOutputs(self, self.output_prefix)
        self._entities += [
            *self.outputs.publishers,
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
            f"({backend.precision}); outputs {self.output_prefix}"
        )

    def create_inputs(self) -> list:
        qos = input_qos(self.params["rgb_reliability"], self.params["rgb_queue_depth"])
        inputs = [
            self.create_subscription(Image, "camera/color/image_raw", self._on_image, qos),
            self.create_subscription(
                CameraInfo, "camera/color/camera_info", self._on_camera_info, qos
            ),
        ]
        mount = self.params["camera_mount"]  # validated when set
        self._poses = None
        if mount:
            self._mount = pose_matrix(mount[:3], mount[3:])
            self._poses = PoseTrack()
            # Best effort matches reliable and best-effort publishers alike.
            odometry_qos = input_qos("best_effort", 50)
            inputs.append(
                self.create_subscription(Odometry, "odom", self._on_odometry, odometry_qos)
            )
        return inputs

    def filters_every_frame(self) -> bool:
        """Whether the temporal filter, when on, runs on every frame from the start (and so
        loads its kernels at construction, not on the first frame it filters)."""
        return True

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

    def _on_odometry(self, msg: Odometry) -> None:
        position, orientation = msg.pose.pose.position, msg.pose.pose.orientation
        try:
            base = pose_matrix(
                (position.x, position.y, position.z),
                (orientation.x, orientation.y, orientation.z, orientation.w),
            )
        except ValueError as error:
            self.reject("bad_odometry", f"odometry rejected: {error}")
            return
        with self._poses_lock:
            if self._poses is not None:
                self._poses.add(stamp_seconds(msg), base @ self._mount)

    def _camera_motion_between(self, previous: float, stamp: float) -> np.ndarray | None:
        """new_from_previous (4x4) of the camera between two stamps, where odometry covers
        both."""
        with self._poses_lock:
            return None if self._poses is None else self._poses.motion(previous, stamp)

    def _on_image(self, msg: Image) -> None:
        self.input_stats.add()
        received = time.monotonic()
        if not self._active:
            return  # configured but not active: heard, not inferred
        if not self.params["always_run"] and not self.outputs.has_subscribers():
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
        if self._outbox.put((frame, result)):
            self.dropped.add("publish_backlog")

    def _publish_results(self) -> None:
        while self._running:
            item = self._outbox.take(timeout=0.1)
            if item is None:
                continue
            frame, result = item
            if not self._active:
                continue  # deactivated while this frame was inferred
            stamp = stamp_seconds(frame.rgb_msg)
            if stamp < self._last_published_stamp:  # a faster worker already sent a newer one
                self.dropped.add("superseded")
                continue
            previous, self._last_published_stamp = self._last_published_stamp, stamp
            settings = None  # temporal_filter off
            if self.params["temporal_filter"]:
                settings = TemporalSettings(
                    self.params["temporal_strength"],
                    self.params["temporal_moving_strength"],
                    self.params["temporal_motion_sigmas"],
                    detect_still=self.params["temporal_detect_still"],
                )
            depth, sigma = self._temporal.filter_frame(
                result,
                frame.rgb,
                camera_info_to_intrinsics(frame.info),
                stamp,
                settings,
                self._camera_motion_between(previous, stamp),
            )
            result = replace(result, depth=depth, sigma=sigma)
            try:
                self.outputs.publish(
                    result,
                    frame.rgb,
                    frame.info,
                    frame.rgb_msg.header,
                    self.params["point_cloud_decimation"],
                    self.params["point_cloud_organised"],
                )
            except Exception as error:  # e.g. publishing while the node shuts down
                self.reject("publish_error", f"publishing failed: {error}")
                continue
            now = time.monotonic()  # one instant for both: their windows hold the same frames
            self.output_stats.add(now - frame.received, now)
            age = self.get_clock().now().nanoseconds * 1e-9 - stamp
            self.stamp_latency.add(age, now)

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
        values.update(self._temporal.diagnostics())
        source, plane = self._scale
        values["scale_source"] = source
        if plane is not None:
            values.update(plane.diagnostics())
        values.update({f"dropped.{k}": str(v) for k, v in self.dropped.snapshot().items()})
        values.update({f"rejected.{k}": str(v) for k, v in self.rejected.snapshot().items()})
        degraded = self.mode() != "normal"
        status = diagnostic_status(
            DiagnosticStatus.WARN if degraded else DiagnosticStatus.OK,
            f"{self.get_fully_qualified_name()}: depth",
            f"{self.mode()} mode" if degraded else "ok",
            backend.name,
            values,
        )
        publish_diagnostics(self, self.diagnostics_pub, status)

    def destroy_node(self) -> None:
        self._release()
        super().destroy_node()
