"""The depth nodes over real rclpy + Fast DDS (loopback, the test run's own domain): outputs,
headers, CameraInfo, stereo, recovery accuracy on clean raw depth, bad input, degraded mode,
lazy inference and parameters."""

import math
import os
import time

import numpy as np
import pytest

pytest.importorskip("skimage", reason="scikit-image holds the Middlebury pair")
rclpy = pytest.importorskip("rclpy", reason="ROS 2 rclpy is needed for node tests")

from rclpy.parameter import Parameter  # noqa: E402
from ros_harness import (  # noqa: E402
    HeaderOnly,
    Probe,
    Spinner,
    camera_frame,
    wait_until,
)
from sensor_msgs.msg import Image  # noqa: E402
from std_msgs.msg import Header  # noqa: E402
from stereo_msgs.msg import DisparityImage  # noqa: E402

from depth_core.data.simulation import simulate_tof  # noqa: E402
from depth_core.runtime.temporal import WAITING_FOR_MOTION  # noqa: E402
from depth_ros.conversions import (  # noqa: E402
    array_to_image,
    image_to_array,
    intrinsics_to_camera_info,
)
from depth_ros.depth_node import Frame  # noqa: E402
from depth_ros.monocular_node import MonocularDepthNode  # noqa: E402
from depth_ros.node_support import ParameterError, stamp_seconds  # noqa: E402
from depth_ros.recovery_node import DepthRecoveryNode  # noqa: E402

ESTIMATED = (
    "depth/estimated",
    "depth/estimated/uncertainty",
    "depth/estimated/camera_info",
    "depth/estimated/preview",
)
RECOVERED = tuple(t.replace("estimated", "recovered") for t in ESTIMATED)


pytestmark = pytest.mark.usefixtures("ros_module_context")


@pytest.fixture(scope="module")
def models(node_models):
    return node_models


@pytest.fixture(scope="module")
def scene():
    rgb, depth, intrinsics = camera_frame()
    raw = simulate_tof(depth, np.random.default_rng(1))  # 160x108: registered, lower resolution
    return rgb, depth, intrinsics, raw


def overrides(**values):
    return [Parameter(name, value=value) for name, value in values.items()]


def test_outputs_carry_the_input_header_encoding_size_and_camera_info(models, scene):
    rgb, _, intrinsics, raw = scene
    mono = MonocularDepthNode(parameter_overrides=overrides(model_path=str(models["mono"])))
    recovery = DepthRecoveryNode(
        parameter_overrides=overrides(model_path=str(models["recovery"]), output_scale=0.5)
    )
    probe = Probe(outputs=ESTIMATED + RECOVERED)
    spinner = Spinner(mono, recovery, probe)
    try:
        assert wait_until(lambda: mono.outputs.depth.get_subscription_count() > 0)
        sent = []
        for i in range(6):
            sent.append(
                probe.publish_frame(rgb, intrinsics, 100.0 + i * 0.1, raw, frame_id="cam_optical")
            )
            time.sleep(0.4)
        assert wait_until(lambda: all(probe.received[t] for t in ESTIMATED + RECOVERED))
    finally:
        spinner.close()
    sent_stamps = {stamp_seconds(HeaderOnly(h)) for h in sent}
    height, width = rgb.shape[:2]
    for topic in ESTIMATED + RECOVERED:
        for msg in probe.received[topic]:
            assert msg.header.frame_id == "cam_optical"
            assert stamp_seconds(msg) in sent_stamps  # the RGB frame's own stamp
    for prefix, (w, h) in (
        ("depth/estimated", (width, height)),
        ("depth/recovered", (width // 2, height // 2)),
    ):
        depth = probe.received[prefix][-1]
        sigma = probe.received[f"{prefix}/uncertainty"][-1]
        info = probe.received[f"{prefix}/camera_info"][-1]
        preview = probe.received[f"{prefix}/preview"][-1]
        assert (depth.encoding, sigma.encoding, preview.encoding) == ("32FC1", "32FC1", "bgr8")
        assert (depth.width, depth.height) == (sigma.width, sigma.height) == (w, h)
        assert (info.width, info.height) == (w, h)
        scale = w / width
        assert info.k[0] == pytest.approx(intrinsics.fx * scale)
        assert info.k[2] == pytest.approx((intrinsics.cx + 0.5) * scale - 0.5)
        assert (image_to_array(sigma) > 0).all()


def test_several_workers_share_the_frames_and_publish_in_stamp_order(models, scene):
    rgb, _, intrinsics, _ = scene
    node = MonocularDepthNode(parameter_overrides=overrides(model_path=str(models["mono"])))
    # The defaults: two workers, the usable cores shared among them.
    assert len(node.estimators) == 2
    expected_threads = max(1, len(os.sched_getaffinity(0)) // 2)
    for estimator in node.estimators:  # ONNX Runtime (auto on a CPU): a pool per instance
        options = estimator.backend.session.get_session_options()
        assert options.intra_op_num_threads == expected_threads
    used_by = []

    def recording(estimator):  # notes which model instance served each frame
        predict = estimator.predict

        def recorded(*args, **kwargs):
            used_by.append(id(estimator))
            return predict(*args, **kwargs)

        return recorded

    for estimator in node.estimators:
        estimator.predict = recording(estimator)
    probe = Probe(outputs=("depth/estimated",))
    spinner = Spinner(node, probe)
    instances = {id(e) for e in node.estimators}  # destroy_node releases them
    try:
        assert len(instances) == 2
        assert wait_until(lambda: node.outputs.depth.get_subscription_count() > 0)
        sent = []
        for i in range(12):
            sent.append(probe.publish_frame(rgb, intrinsics, 300.0 + i * 0.05))
            time.sleep(0.03)
        assert wait_until(lambda: len(used_by) >= 2 and probe.received["depth/estimated"])
        time.sleep(0.5)  # the last frames finish
    finally:
        spinner.close()
    stamps = [stamp_seconds(m) for m in probe.received["depth/estimated"]]
    assert stamps == sorted(set(stamps))  # strictly increasing: never an older frame after a newer
    assert set(stamps) <= {stamp_seconds(HeaderOnly(h)) for h in sent}
    assert set(used_by) == instances  # both workers inferred


def _recovered_follows_raw(probe, raw_metres):
    """Median |recovered − raw| / raw over pixels where the raw depth is valid."""
    import cv2

    recovered = image_to_array(probe.received["depth/recovered"][-1])
    reference = cv2.resize(raw_metres, recovered.shape[::-1], interpolation=cv2.INTER_NEAREST)
    valid = reference > 0
    return float(np.median(np.abs(recovered[valid] - reference[valid]) / reference[valid]))


@pytest.mark.parametrize("raw_source", ["tof", "stereo"])
def test_recovered_depth_follows_clean_raw_depth_from_tof_and_stereo(models, scene, raw_source):
    rgb, _, intrinsics, raw = scene
    node = DepthRecoveryNode(
        parameter_overrides=overrides(model_path=str(models["recovery"]), raw_source=raw_source)
    )
    probe = Probe(outputs=("depth/recovered",))
    spinner = Spinner(node, probe)
    focal, baseline = intrinsics.resized(*raw.shape[::-1]).fx, 0.05
    try:
        assert wait_until(lambda: node.outputs.depth.get_subscription_count() > 0)
        for i in range(8):  # 10 Hz: raw keeps arriving within raw_timeout (normal mode)
            header = probe.publish_frame(
                rgb, intrinsics, 200.0 + i * 0.1, raw if raw_source == "tof" else None
            )
            if raw_source == "stereo":
                with np.errstate(divide="ignore"):
                    disparity = np.where(raw > 0, focal * baseline / raw, 0).astype(np.float32)
                probe.disparity_pub.publish(
                    DisparityImage(
                        header=header,
                        image=array_to_image(disparity, "32FC1", header),
                        f=focal,
                        t=baseline,
                        min_disparity=0.5,
                        max_disparity=1000.0,
                    )
                )
            time.sleep(0.1)
        assert wait_until(lambda: len(probe.received["depth/recovered"]) >= 2)
    finally:
        spinner.close()
    # depth = f·T/d recovers the ToF depth, and the model (a correction of its raw input)
    # follows it: median error under 3% on the pixels with a raw measurement.
    assert _recovered_follows_raw(probe, raw) < 0.03


def test_recovery_filters_by_default_and_its_history_follows_the_sensor_scale(models, scene):
    rgb, _, intrinsics, raw = scene
    node = DepthRecoveryNode(
        parameter_overrides=overrides(model_path=str(models["recovery"]), diagnostics_period=0.2)
    )
    assert node.params["temporal_filter"]
    probe = Probe(outputs=("depth/recovered",))
    spinner = Spinner(node, probe)

    middle = float(np.median(raw[raw > 0]))

    def followed() -> list[float]:
        """Per report, how far the alignment moved the history at the scene's median depth."""
        reports = probe.diagnostics("depth_recovery")
        aligned = [
            (float(d["temporal_scale"]), float(d["temporal_offset_m"]))
            for d in reports
            if "temporal_scale" in d
        ]
        return [(a * middle + b) / middle for a, b in aligned if (a, b) != (1.0, 0.0)]

    try:
        assert wait_until(lambda: node.outputs.depth.get_subscription_count() > 0)
        for i in range(20):  # the ToF closes in by 2% per 30 Hz frame
            closer = raw * np.float32(0.98**i)
            probe.publish_frame(rgb, intrinsics, 500.0 + i / 30, closer)
            time.sleep(0.1)
        assert wait_until(lambda: any(r < 0.995 for r in followed()), timeout=5)
    finally:
        spinner.close()
    # Each published frame's history is brought nearer by 2% for every frame since the last
    # published one (a loaded machine may skip a frame, or time the raw input out).
    assert 0.98**3 < float(np.median(followed())) < 0.99
    assert _recovered_follows_raw(probe, closer) < 0.03


def _bad_then_good(probe, node, rgb, intrinsics, raw, send_bad, reason, capfd, stamp):
    """Send the bad input twice, then good frames; the node must count the reason, log it
    once, and publish a good output afterwards."""
    before = len(probe.received[f"{node.output_prefix}"])
    send_bad(stamp)
    send_bad(stamp + 0.05)
    for i in range(3):
        probe.publish_frame(rgb, intrinsics, stamp + 1 + i * 0.1, raw)
        time.sleep(0.3)
    assert wait_until(lambda: len(probe.received[node.output_prefix]) > before), reason
    assert wait_until(lambda: node.rejected.snapshot().get(reason, 0) >= 1), reason
    assert wait_until(
        lambda: any(d.get(f"rejected.{reason}") for d in probe.diagnostics(node.get_name())),
        timeout=5,
    ), reason
    logged = capfd.readouterr().err
    assert logged.count(f"further '{reason}' cases") == 1, (reason, logged[-2000:])


def test_bad_input_is_counted_logged_once_and_the_node_keeps_serving(models, scene, capfd):
    rgb, _, intrinsics, raw = scene
    node = DepthRecoveryNode(
        parameter_overrides=overrides(model_path=str(models["recovery"]), diagnostics_period=0.2)
    )
    probe = Probe(outputs=("depth/recovered",))
    spinner = Spinner(node, probe)
    try:
        assert wait_until(lambda: node.outputs.depth.get_subscription_count() > 0)
        # Missing camera_info: an image before any camera_info.
        probe.rgb_pub.publish(array_to_image(rgb, "rgb8", probe.header(290.0)))

        def image_with(stamp, **change):
            msg = array_to_image(rgb, "rgb8", probe.header(stamp))
            for key, value in change.items():
                setattr(msg, key, value)
            probe.info_pub.publish(intrinsics_to_camera_info(intrinsics, probe.header(stamp)))
            probe.rgb_pub.publish(msg)

        def bad_raw(stamp, values):
            header = probe.header(stamp)
            probe.info_pub.publish(intrinsics_to_camera_info(intrinsics, header))
            probe.rgb_pub.publish(array_to_image(rgb, "rgb8", header))
            probe.raw_pub.publish(array_to_image(values, "32FC1", header))

        poisoned = np.where(raw > 0, raw, np.nan).astype(np.float32)
        poisoned[:10, :10], poisoned[10:20, :10] = np.inf, -1.0
        cases = [
            (lambda s: None, "no_camera_info"),
            (lambda s: image_with(s, encoding="yuv422"), "unknown_encoding"),
            (lambda s: image_with(s, data=b"\x00" * 100), "short_data"),
            (lambda s: image_with(s, width=0), "empty_image"),
            (lambda s: bad_raw(s, poisoned), "raw_invalid_values"),
            (lambda s: bad_raw(s, np.ones((100, 100), np.float32)), "raw_aspect_mismatch"),
            (lambda s: image_with(s - 250), "out_of_order"),
        ]
        stamp = 300.0
        for send_bad, reason in cases:
            _bad_then_good(probe, node, rgb, intrinsics, raw, send_bad, reason, capfd, stamp)
            stamp += 10
        # A publisher that disappears and comes back: frames flow again afterwards.
        count = len(probe.received["depth/recovered"])
        probe.destroy_publisher(probe.rgb_pub)
        time.sleep(0.5)
        probe.rgb_pub = probe.create_publisher(
            Image, "camera/color/image_raw", rclpy.qos.qos_profile_sensor_data
        )
        assert wait_until(lambda: probe.rgb_pub.get_subscription_count() > 0)
        for i in range(3):
            probe.publish_frame(rgb, intrinsics, stamp + i * 0.1, raw)
            time.sleep(0.3)
        assert wait_until(lambda: len(probe.received["depth/recovered"]) > count)
    finally:
        spinner.close()


def test_degraded_mode_when_tof_stops_and_back_when_it_returns(models, scene):
    rgb, _, intrinsics, raw = scene
    node = DepthRecoveryNode(
        parameter_overrides=overrides(
            model_path=str(models["recovery"]), raw_timeout=0.5, diagnostics_period=0.1
        )
    )
    probe = Probe(outputs=("depth/recovered", "depth/recovered/uncertainty"))
    spinner = Spinner(node, probe)

    def stream(seconds, with_raw, start):
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            probe.publish_frame(
                rgb, intrinsics, start + time.monotonic() - t0, raw if with_raw else None
            )
            time.sleep(0.1)

    def modes():
        return [d["mode"] for d in probe.diagnostics("depth_recovery")]

    try:
        assert wait_until(lambda: node.outputs.depth.get_subscription_count() > 0)
        stream(2.0, True, 400.0)
        assert wait_until(lambda: modes() and modes()[-1] == "normal")
        outputs_before = len(probe.received["depth/recovered"])
        stream(2.5, False, 410.0)  # ToF stopped: RGB alone
        assert wait_until(lambda: "degraded" in modes())
        degraded = [d for d in probe.diagnostics("depth_recovery") if d["mode"] == "degraded"]
        assert degraded[-1]["level"] == 1 and degraded[-1]["message"] == "degraded mode"  # WARN
        assert len(probe.received["depth/recovered"]) > outputs_before  # still publishing
        stream(2.0, True, 420.0)  # ToF back
        assert wait_until(lambda: modes()[-1] == "normal")
    finally:
        spinner.close()
    sequence = [m for i, m in enumerate(modes()) if i == 0 or modes()[i - 1] != m]
    assert sequence[-3:] == ["normal", "degraded", "normal"]


def test_degraded_scale_comes_from_the_newest_paired_frame_whatever_order_workers_finish(
    models, scene
):
    # With several workers an older paired frame can finish after a newer one; the scale
    # carried into degraded mode must still come from the newest paired output.
    rgb, _, intrinsics, raw = scene
    node = DepthRecoveryNode(parameter_overrides=overrides(model_path=str(models["recovery"])))
    info = intrinsics_to_camera_info(intrinsics, Header(frame_id="camera"))

    def frame(stamp: float, raw_depth) -> Frame:
        header = Header(frame_id="camera")
        header.stamp.sec, header.stamp.nanosec = int(stamp), int(stamp % 1 * 1e9)
        return Frame(array_to_image(rgb, "rgb8", header), rgb, info, 0.0, raw_depth)

    try:
        size = rgb.shape[:2]
        newer = node.predict(frame(2.0, raw * 1.5), size, node.estimator).depth.copy()
        older = node.predict(frame(1.0, raw), size, node.estimator).depth.copy()
        degraded = node.predict(frame(3.0, None), size, node.estimator).depth
    finally:
        node.destroy_node()
    assert np.median(newer) / np.median(older) > 1.3  # the two paired outputs differ
    assert np.median(degraded) == pytest.approx(np.median(newer), rel=0.02)


def test_no_inference_without_subscribers_unless_forced(models, scene):
    rgb, _, intrinsics, _ = scene
    lazy = MonocularDepthNode(parameter_overrides=overrides(model_path=str(models["mono"])))
    probe = Probe()  # watches /diagnostics only
    spinner = Spinner(lazy, probe)
    try:
        assert wait_until(lambda: probe.rgb_pub.get_subscription_count() > 0)
        for i in range(5):
            probe.publish_frame(rgb, intrinsics, 500.0 + i * 0.1)
            time.sleep(0.1)
        assert wait_until(lambda: float(lazy.input_stats.rate()) > 0)
        time.sleep(0.5)
        assert math.isnan(lazy.estimator_stats.latency_percentiles()[0])  # never ran
        lazy.set_parameters([Parameter("always_run", value=True)])
        for i in range(5):
            probe.publish_frame(rgb, intrinsics, 501.0 + i * 0.1)
            time.sleep(0.2)
        assert wait_until(lambda: not math.isnan(lazy.estimator_stats.latency_percentiles()[0]))
    finally:
        spinner.close()


def test_diagnostics_latency_runs_from_the_header_stamp_and_node_latency_from_arrival(
    models, scene
):
    """A camera whose stamps are 2 s old: the stamp -> publish latency carries those 2 s (the
    depth's age when published), the node's own latency (arrival -> publish) does not."""
    rgb, _, intrinsics, _ = scene
    node = MonocularDepthNode(
        parameter_overrides=overrides(model_path=str(models["mono"]), diagnostics_period=0.2)
    )
    probe = Probe(outputs=("depth/estimated",))
    spinner = Spinner(node, probe)
    age = 2.0
    try:
        assert wait_until(lambda: node.outputs.depth.get_subscription_count() > 0)
        for _ in range(5):
            now = node.get_clock().now().nanoseconds * 1e-9
            probe.publish_frame(rgb, intrinsics, now - age)
            time.sleep(0.2)
        assert wait_until(lambda: len(probe.received["depth/estimated"]) >= 3)
        assert wait_until(
            lambda: any(d["latency_p50_ms"] != "nan" for d in probe.diagnostics("monocular_depth"))
        )
    finally:
        spinner.close()
    report = [d for d in probe.diagnostics("monocular_depth") if d["latency_p50_ms"] != "nan"][-1]
    stamp_p50, node_p50 = float(report["latency_p50_ms"]), float(report["node_latency_p50_ms"])
    # Per frame, stamp -> publish = (stamp -> arrival) + (arrival -> publish), and stamp ->
    # arrival >= 2 s; both statistics cover the same frames, so their medians differ by >= 2 s.
    assert node_p50 > 0
    assert stamp_p50 - node_p50 >= age * 1000 - 0.2  # two values rounded to 0.1 ms
    assert stamp_p50 < (age + 60) * 1000  # the stamps' age, not their value since the epoch


def test_parameters_are_validated_and_read_only_ones_refuse_changes(models):
    with pytest.raises(ParameterError, match="output_scale"):
        MonocularDepthNode(
            parameter_overrides=overrides(model_path=str(models["mono"]), output_scale=5.0)
        )
    with pytest.raises(ParameterError, match="backend must be one of"):
        MonocularDepthNode(
            parameter_overrides=overrides(model_path=str(models["mono"]), backend="magic")
        )
    with pytest.raises(ParameterError, match="missing.onnx: no such model file"):
        MonocularDepthNode(parameter_overrides=overrides(model_path="/nowhere/missing.onnx"))
    with pytest.raises(ParameterError, match="without raw depth input"):
        DepthRecoveryNode(parameter_overrides=overrides(model_path=str(models["mono"])))
    node = MonocularDepthNode(parameter_overrides=overrides(model_path=str(models["mono"])))
    try:
        result = node.set_parameters([Parameter("backend", value="torch")])[0]
        assert not result.successful and "read-only" in result.reason
        result = node.set_parameters([Parameter("output_scale", value=0.5)])[0]
        assert result.successful and node.get_parameter("output_scale").value == 0.5
        descriptor = node.describe_parameter("output_scale")
        assert descriptor.description and descriptor.floating_point_range[0].to_value == 1.0
    finally:
        node.destroy_node()


def test_managed_node_loads_on_configure_serves_while_active_and_releases_on_cleanup(models, scene):
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState, GetState

    rgb, _, intrinsics, _ = scene
    node = MonocularDepthNode(
        parameter_overrides=overrides(model_path="/nowhere/missing.onnx", autostart=False)
    )
    probe = Probe(outputs=("depth/estimated",))
    change_state = probe.create_client(ChangeState, "monocular_depth/change_state")
    get_state = probe.create_client(GetState, "monocular_depth/get_state")
    spinner = Spinner(node, probe)

    def call(client, request):
        assert client.wait_for_service(timeout_sec=10)
        future = client.call_async(request)
        assert wait_until(future.done)
        return future.result()

    def transition(transition_id: int) -> bool:
        return call(
            change_state, ChangeState.Request(transition=Transition(id=transition_id))
        ).success

    def state() -> str:
        return call(get_state, GetState.Request()).current_state.label

    def depth_arrives(first_stamp: float, timeout: float) -> bool:
        before = len(probe.received["depth/estimated"])
        for i in range(4):
            probe.publish_frame(rgb, intrinsics, first_stamp + i * 0.1)
            time.sleep(0.15)
        return wait_until(lambda: len(probe.received["depth/estimated"]) > before, timeout)

    def node_threads() -> list:
        import threading

        return [t for t in threading.enumerate() if t.name.startswith("monocular_depth-")]

    try:
        assert state() == "unconfigured" and node.estimators == [] and node_threads() == []
        assert not transition(Transition.TRANSITION_CONFIGURE)  # the model does not load
        assert state() == "unconfigured"  # and the node still answers
        # Load-time parameters may change while unconfigured, and apply at configure.
        assert node.set_parameters([Parameter("model_path", value=str(models["mono"]))])[
            0
        ].successful
        assert transition(Transition.TRANSITION_CONFIGURE)
        assert state() == "inactive" and len(node.estimators) == 2 and len(node_threads()) == 3
        assert wait_until(lambda: probe.rgb_pub.get_subscription_count() == 1)
        refused = node.set_parameters([Parameter("backend", value="torch")])[0]
        assert not refused.successful and "cleanup" in refused.reason
        assert not depth_arrives(600.0, timeout=2.0)  # inactive: heard, not inferred
        assert node.input_stats.rate() > 0
        assert math.isnan(node.estimator_stats.latency_percentiles()[0])

        assert transition(Transition.TRANSITION_ACTIVATE) and state() == "active"
        assert depth_arrives(601.0, timeout=20.0)
        assert 601.0 <= stamp_seconds(probe.received["depth/estimated"][-1]) < 601.4

        assert transition(Transition.TRANSITION_DEACTIVATE) and state() == "inactive"
        time.sleep(0.5)  # a frame inferred at the moment of deactivation is not published
        assert not depth_arrives(602.0, timeout=2.0)

        assert transition(Transition.TRANSITION_CLEANUP) and state() == "unconfigured"
        assert node.estimators == [] and node_threads() == []
        assert wait_until(lambda: probe.rgb_pub.get_subscription_count() == 0)
        # From unconfigured it comes up again, with fresh workers.
        assert transition(Transition.TRANSITION_CONFIGURE)
        assert transition(Transition.TRANSITION_ACTIVATE)
        assert depth_arrives(603.0, timeout=20.0)
    finally:
        spinner.close()
    assert node_threads() == []  # destroy_node released the second configuration too


def test_ground_plane_is_validated_and_reported_in_diagnostics(models, scene):
    rgb, _, intrinsics, _ = scene
    with pytest.raises(ParameterError, match="ground_plane"):
        MonocularDepthNode(
            parameter_overrides=overrides(
                model_path=str(models["mono"]), ground_plane=[0.0, -1.0, 0.0]
            )
        )
    node = MonocularDepthNode(
        parameter_overrides=overrides(model_path=str(models["mono"]), diagnostics_period=0.2)
    )
    probe = Probe(outputs=("depth/estimated",))
    spinner = Spinner(node, probe)

    def latest_report() -> dict:
        """Frames until one comes back, then a diagnostics report made after it."""
        before = len(probe.received["depth/estimated"])
        for i in range(50):
            probe.publish_frame(rgb, intrinsics, 200.0 + time.monotonic() + i)
            if wait_until(lambda: len(probe.received["depth/estimated"]) > before, 0.3):
                break
        assert len(probe.received["depth/estimated"]) > before
        time.sleep(0.5)  # beyond one diagnostics period
        return probe.diagnostics("monocular_depth")[-1]

    try:
        assert wait_until(lambda: node.outputs.depth.get_subscription_count() > 0)
        learned = latest_report()
        assert learned["scale_source"] == "learned" and "plane_share" not in learned
        refused = node.set_parameters([Parameter("ground_plane", value=[0.0, 1.0, 0.0, -1.0])])
        assert not refused[0].successful and "d must be > 0" in refused[0].reason
        # Set at run time, as a robot whose arm moved would: the next frame uses it. The test
        # network's depth is arbitrary, so the plane is either found or not, and said which.
        plane = [0.0, -1.0, 0.0, 1.2]
        assert node.set_parameters([Parameter("ground_plane", value=plane)])[0].successful
        anchored = latest_report()
        assert "plane_share" in anchored and "plane_pixels" in anchored
        assert anchored["scale_source"] == "plane" or anchored["plane_not_found"]
        assert node.set_parameters([Parameter("ground_plane", value=[])])[0].successful
        assert "plane_share" not in latest_report()
    finally:
        spinner.close()


OPTICAL_MOUNT = [0.0, 0.0, 0.0, -0.5, 0.5, -0.5, 0.5]  # a forward camera at base_link


def test_monocular_filter_waits_for_the_motion_then_carries_a_still_scene_and_switches_off(
    models, scene
):
    rgb, _, intrinsics, _ = scene
    node = MonocularDepthNode(
        parameter_overrides=overrides(
            model_path=str(models["mono"]),
            diagnostics_period=0.2,
            camera_mount=OPTICAL_MOUNT,
            temporal_detect_still=False,  # the probe repeats one image: a still camera
        )
    )
    assert node.params["temporal_filter"]  # on by default
    probe = Probe(outputs=("depth/estimated",))
    spinner = Spinner(node, probe)
    stamp = [300.0]

    def frames_until_output(count: int, odometry: bool) -> None:
        before = len(probe.received["depth/estimated"])
        for _ in range(200):
            stamp[0] += 1 / 30  # a 30 Hz camera: no stamp gap resets the filter
            if odometry:  # a robot standing still
                probe.publish_odometry(stamp[0])
            probe.publish_frame(rgb, intrinsics, stamp[0])
            time.sleep(0.05)
            if len(probe.received["depth/estimated"]) >= before + count:
                return
        raise AssertionError("no output")

    try:
        assert wait_until(lambda: node.outputs.depth.get_subscription_count() > 0)
        assert wait_until(lambda: probe.odom_pub.get_subscription_count() > 0)
        frames_until_output(2, odometry=False)
        time.sleep(0.5)
        waiting = probe.diagnostics("monocular_depth")[-1]
        assert waiting["temporal_state"] == WAITING_FOR_MOTION
        assert "temporal_held_share" not in waiting  # a learned scale, no motion: unfiltered
        frames_until_output(4, odometry=True)
        time.sleep(0.5)
        report = probe.diagnostics("monocular_depth")[-1]
        assert report["temporal_state"] == "filtering"
        assert report["temporal_carried"] == "true"
        assert float(report["temporal_held_share"]) == 1.0  # the same frame: nothing moved
        filtered = image_to_array(probe.received["depth/estimated"][-1])
        # The base 0.1 m ahead along x: the camera's optical z, so a point ahead of it is
        # 0.1 m nearer.
        probe.publish_odometry(400.0)
        probe.publish_odometry(401.0, x=0.1)
        assert wait_until(lambda: node._camera_motion_between(400.0, 401.0) is not None)
        np.testing.assert_allclose(
            node._camera_motion_between(400.0, 401.0)[:3, 3], (0.0, 0.0, -0.1), atol=1e-9
        )
        # No odometry, but the images show a still camera: filtered, the history kept in place.
        assert node.set_parameters([Parameter("temporal_detect_still", value=True)])[0].successful
        frames_until_output(3, odometry=False)
        time.sleep(0.5)
        still = probe.diagnostics("monocular_depth")[-1]
        assert still["temporal_state"] == "filtering" and still["temporal_carried"] == "true"
        assert node.set_parameters([Parameter("temporal_filter", value=False)])[0].successful
        frames_until_output(2, odometry=True)
        time.sleep(0.5)
        off = probe.diagnostics("monocular_depth")[-1]
        assert off["temporal_state"] == "off" and "temporal_held_share" not in off
        unfiltered = image_to_array(probe.received["depth/estimated"][-1])
    finally:
        spinner.close()
    # One frame over and over: the fused depth is that frame's own depth, so on and off agree.
    np.testing.assert_allclose(filtered, unfiltered, rtol=1e-5)


def test_a_camera_mount_that_is_not_a_pose_is_refused(models):
    with pytest.raises(ParameterError, match=r"camera_mount: x y z qx qy qz qw \(7 numbers\)"):
        MonocularDepthNode(
            parameter_overrides=overrides(model_path=str(models["mono"]), camera_mount=[1.0, 2.0])
        )
