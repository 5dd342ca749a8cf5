"""One pipeline description: the launch file and `depth-ros-pipeline` start the same nodes,
executables and parameters; the YAML holds the declared defaults; and the pipeline runs in
its own process, talking to this one over DDS."""

import ast
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("skimage", reason="scikit-image holds the Middlebury pair")
rclpy = pytest.importorskip("rclpy", reason="ROS 2 rclpy is needed for pipeline tests")

from ros_harness import Probe, Spinner, camera_frame, wait_until  # noqa: E402

from depth_core.data.simulation import simulate_tof  # noqa: E402
from depth_ros.parameters import NODE_PARAMETERS  # noqa: E402
from depth_ros.pipeline import (  # noqa: E402
    LAUNCH_ARGUMENTS,
    NODES,
    enabled_nodes,
    load_params_file,
    parameter_overrides,
    parse_arguments,
    remappings,
)

ROOT = Path(__file__).resolve().parent.parent
LAUNCH_FILE = ROOT / "launch" / "pipeline.launch.py"


# Subprocesses, soak runs and training: `make test-fast` leaves these out.
pytestmark = pytest.mark.slow


def test_yaml_holds_every_declared_default():
    from_yaml = load_params_file(ROOT / "config" / "depth_ros.yaml")
    assert set(from_yaml) == set(NODE_PARAMETERS)
    # The monitor's zones are parameters declared per zone name (zone.<name>.kind/region).
    zones = {k: v for k, v in from_yaml["proximity_monitor"].items() if k.startswith("zone.")}
    assert zones == {"zone.front.kind": "image", "zone.front.region": [0.3, 0.33, 0.7, 1.0]}
    for node, params in NODE_PARAMETERS.items():
        declared = {k: v for k, v in from_yaml[node].items() if k not in zones}
        # A parameter file cannot hold an empty list: such defaults stay out of it.
        assert declared == {p.name: p.default for p in params if p.default != []}, node
        for param in params:
            assert param.description and param.check(param.default) is None


def test_launch_file_builds_its_nodes_from_the_shared_description():
    tree = ast.parse(LAUNCH_FILE.read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "depth_ros.pipeline"
        for alias in node.names
    }
    assert {"LAUNCH_ARGUMENTS", "enabled_nodes", "parameter_overrides", "remappings"} <= imported
    calls = {
        ast.unparse(c.func): {k.arg: ast.unparse(k.value) for k in c.keywords}
        for c in ast.walk(tree)
        if isinstance(c, ast.Call)
    }
    node_call = calls["Node"]
    assert node_call["executable"] == "spec.executable" and node_call["name"] == "spec.name"
    assert node_call["package"] == "PACKAGE"
    assert node_call["parameters"] == "[params_file, parameter_overrides(arguments, spec.name)]"
    assert node_call["remappings"] == "remappings(arguments)"
    assert node_call["namespace"] == "arguments['namespace']"
    assert node_call["additional_env"] == "environment"  # the large-image DDS profile
    assert calls["DeclareLaunchArgument"]["default_value"] == "a.default"
    # No topic, executable or parameter is written into the launch file itself.
    literals = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    assert not literals & {s.executable for s in NODES} - {None}
    assert not literals & {a.remaps for a in LAUNCH_ARGUMENTS if a.remaps}


def test_every_node_executable_is_a_console_script_running_its_class():
    tree = ast.parse((ROOT / "setup.py").read_text())
    scripts = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and " = " in node.value:
            name, target = node.value.split(" = ")
            scripts[name] = target
    for spec in NODES:
        module, function = scripts[spec.executable].split(":")
        source = (ROOT / (module.replace(".", "/") + ".py")).read_text()
        class_name = spec.node_class.split(":")[1]
        body = ast.get_source_segment(
            source,
            next(
                n
                for n in ast.parse(source).body
                if isinstance(n, ast.FunctionDef) and n.name == function
            ),
        )
        assert class_name in body, (spec.executable, body)
    assert scripts["depth-ros-pipeline"] == "depth_ros.pipeline:main"


@pytest.mark.skipif(
    importlib.util.find_spec("launch_ros") is None,
    reason="launch and launch_ros are not installable here (no ROS 2 install)",
)
def test_launch_file_loads_under_a_real_ros_install():
    spec = importlib.util.spec_from_file_location("pipeline_launch", LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    names = [getattr(e, "name", None) for e in description.entities]
    assert [a.name for a in LAUNCH_ARGUMENTS] == names[: len(LAUNCH_ARGUMENTS)]


def test_arguments_map_to_the_same_nodes_parameters_and_remappings():
    arguments = parse_arguments(
        [
            "replay:=true",
            "backend:=onnxruntime",
            "camera_image:=/front/image",
            "recovery_model:=r.onnx",
        ]
    )
    assert [n.name for n in enabled_nodes(arguments)] == [
        "monocular_depth",
        "depth_recovery",
        "replay",
    ]
    assert [n.name for n in enabled_nodes({})] == ["monocular_depth", "depth_recovery"]
    assert parameter_overrides(arguments, "monocular_depth") == {"backend": "onnxruntime"}
    assert parameter_overrides(arguments, "depth_recovery") == {
        "backend": "onnxruntime",
        "model_path": "r.onnx",
    }
    assert parameter_overrides(arguments, "replay") == {}
    assert ("camera/color/image_raw", "/front/image") in remappings(arguments)
    with pytest.raises(ValueError, match="unknown argument 'model:=x'"):
        parse_arguments(["model:=x"])


def test_entry_point_builds_the_nodes_with_yaml_overrides_and_remaps(
    ros_context, untrained_node_models
):
    from depth_ros.pipeline import build_nodes

    models = untrained_node_models
    nodes = []
    try:
        nodes = build_nodes(
            {
                "monocular_model": str(models["mono"]),
                "recovery_model": str(models["recovery"]),
                "namespace": "robot",
                "camera_image": "/front/image",
                "raw_source": "stereo",
            }
        )
        by_name = {n.get_name(): n for n in nodes}
        assert set(by_name) == {"monocular_depth", "depth_recovery"}
        mono, recovery = by_name["monocular_depth"], by_name["depth_recovery"]
        assert mono.get_namespace() == "/robot"
        assert mono.get_parameter("model_path").value == str(models["mono"])
        assert recovery.get_parameter("raw_source").value == "stereo"
        assert recovery.get_parameter("sync_slop").value == 0.02  # from the YAML
        assert mono.resolve_topic_name("camera/color/image_raw") == "/front/image"
        info_topic = mono.resolve_topic_name("camera/color/camera_info")
        assert info_topic == "/robot/camera/color/camera_info"
    finally:
        for node in nodes:
            node.destroy_node()


def test_pipeline_in_another_process_serves_this_one(ros_context, untrained_node_models):
    models = untrained_node_models
    rgb, depth, intrinsics = camera_frame()
    raw = simulate_tof(depth, np.random.default_rng(0))
    executable = Path(sys.executable).parent / "depth-ros-pipeline"
    process = subprocess.Popen(
        [
            str(executable),
            f"monocular_model:={models['mono']}",
            f"recovery_model:={models['recovery']}",
            "replay:=false",
        ],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    probe = Probe("probe_cross_process", outputs=("depth/estimated", "depth/recovered"))
    spinner = Spinner(probe)
    try:
        assert wait_until(lambda: probe.rgb_pub.get_subscription_count() >= 2, timeout=60)
        assert wait_until(lambda: probe.count_publishers("depth/recovered") >= 1, timeout=30)
        sent = set()
        deadline = time.monotonic() + 40
        topics = ("depth/estimated", "depth/recovered")
        while time.monotonic() < deadline and not all(probe.received[t] for t in topics):
            header = probe.publish_frame(rgb, intrinsics, 600.0 + len(sent) * 0.1, raw)
            sent.add((header.stamp.sec, header.stamp.nanosec))
            time.sleep(0.3)
        for topic in topics:
            assert probe.received[topic], topic
            msg = probe.received[topic][-1]
            assert (msg.header.stamp.sec, msg.header.stamp.nanosec) in sent
            assert (msg.encoding, msg.width, msg.height) == ("32FC1", *rgb.shape[1::-1])
    finally:
        spinner.close()
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=30)[0]
    assert process.returncode == 0, output[-3000:]
    # The name:=value arguments are the pipeline's, not rcl remap rules for every node.
    assert "Found remap rule" not in output


def test_pipeline_refuses_bad_arguments_and_missing_models():
    executable = Path(sys.executable).parent / "depth-ros-pipeline"
    bad = subprocess.run([str(executable), "model:=x"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown argument 'model:=x'" in bad.stderr
    missing = subprocess.run(
        [str(executable), "monocular_model:=/nowhere/missing.onnx"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "missing.onnx: no such model file" in missing.stderr


def test_demo_with_a_model_that_does_not_load_says_which_and_exits_2(tmp_path):
    executable = Path(sys.executable).parent / "depth-ros"
    result = subprocess.run(
        [
            str(executable),
            "demo",
            "--seconds",
            "1",
            "--out",
            str(tmp_path),
            "--monocular-model",
            "/nowhere/mono.onnx",
            "--recovery-model",
            "/nowhere/recovery.onnx",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert (
        "depth-ros demo: monocular_depth: cannot load model_path: /nowhere/mono.onnx: "
        "no such model file" in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_bench_stops_and_says_why_when_the_pipeline_process_exits():
    executable = Path(sys.executable).parent / "depth-ros"
    result = subprocess.run(
        [
            str(executable),
            "bench",
            "--warmup",
            "2",
            "--seconds",
            "1",
            "--monocular-model",
            "/nowhere/mono.onnx",
            "--recovery-model",
            "/nowhere/recovery.onnx",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr.strip().endswith(
        "depth-ros bench: depth-ros-pipeline exited with code 2: depth-ros-pipeline: "
        "monocular_depth: cannot load model_path: /nowhere/mono.onnx: no such model file"
    ), result.stderr[-2000:]


def test_readme_demo_runs_the_pipeline_and_writes_the_mosaic(tmp_path):
    import cv2

    from depth_ros.shipped import shipped_model

    executable = Path(sys.executable).parent / "depth-ros"
    result = subprocess.run(
        [str(executable), "demo", "--seconds", "6", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    summary = json.loads(result.stdout[: result.stdout.rindex("}") + 1])
    for topic, row in summary["topics"].items():
        assert row["messages"] > 0 and row["rate_hz"] > 0, topic
    # It says what it ran: the shipped models.
    assert summary["models"] == {
        "monocular": str(shipped_model("monocular_depth")),
        "recovery": str(shipped_model("depth_recovery")),
    }
    picture = cv2.imread(str(tmp_path / "pipeline_mosaic.png"))
    assert picture.shape[0] == 240 and picture.shape[1] > 4 * 240  # five panels side by side


def test_readme_parameter_tables_match_the_declarations():
    from depth_ros.parameters import markdown_table

    readme = (ROOT / "README.md").read_text()
    for node in NODE_PARAMETERS:
        assert markdown_table(node) in readme, f"README table of {node} is out of date"


def test_entry_point_starts_the_monitor_next_to_the_depth_nodes(ros_context, untrained_node_models):
    from depth_ros.pipeline import build_nodes

    models = untrained_node_models
    nodes = []
    try:
        nodes = build_nodes(
            {
                "monocular_model": str(models["mono"]),
                "recovery": "false",
                "proximity": "true",
                "proximity_source": "estimated",
                "namespace": "robot",
            }
        )
        by_name = {n.get_name(): n for n in nodes}
        assert set(by_name) == {"monocular_depth", "proximity_monitor"}
        monitor = by_name["proximity_monitor"]
        assert {s.topic_name for s in monitor.subscriptions} == {
            "/robot/depth/estimated",
            "/robot/depth/estimated/uncertainty",
            "/robot/depth/estimated/camera_info",
        }
        assert monitor.get_parameter("zone.front.region").value == [0.3, 0.33, 0.7, 1.0]
        with pytest.raises(ValueError, match="proximity_source"):
            build_nodes({"proximity_source": "sideways", "monocular": "false", "recovery": "false"})
    finally:
        for node in nodes:
            node.destroy_node()


def test_pipeline_ends_cleanly_on_sigint_and_sigterm_every_time():
    """Every node running, replay on: a signal mid-stream ends the process with 0 and no
    traceback (a callback publishing while the context goes away used to raise), 20 of 20."""
    executable = Path(sys.executable).parent / "depth-ros-pipeline"
    failures = []
    for run in range(20):
        process = subprocess.Popen(
            [str(executable), "replay:=true", "proximity:=true", "proximity_source:=estimated"],
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        time.sleep(4.0 + 0.1 * (run % 10))  # models loaded, frames flowing; a varied moment
        process.send_signal(signal.SIGINT if run % 2 == 0 else signal.SIGTERM)
        try:
            output = process.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            process.kill()
            output = process.communicate()[0] + "\n(did not end within 30 s)"
        if process.returncode != 0 or "Traceback" in output:
            failures.append((run, process.returncode, output[-2000:]))
    assert not failures, failures


def test_boolean_arguments_take_true_false_1_0_and_refuse_anything_else():
    assert parse_arguments(["replay:=1", "proximity:=FALSE", "autostart:="]) == {
        "replay": "true",
        "proximity": "false",
        "autostart": "",
    }
    assert parse_arguments(["autostart:=0"]) == {"autostart": "false"}
    for bad in ("replay:=maybe", "monocular:=yes", "recovery:="):
        with pytest.raises(ValueError, match="must be true or false \\(or 1 or 0\\)"):
            parse_arguments([bad])


def test_pipeline_processes_get_the_large_image_profile_unless_one_is_chosen():
    from depth_ros.pipeline import large_image_environment

    added = large_image_environment({})
    profile = Path(added["FASTDDS_DEFAULT_PROFILES_FILE"])
    assert profile.name == "fastdds_large_images.xml" and profile.is_file()
    assert "<segment_size>" in profile.read_text()
    assert large_image_environment({"FASTDDS_DEFAULT_PROFILES_FILE": "/mine.xml"}) == {}
