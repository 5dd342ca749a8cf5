"""The measuring end of `depth-ros demo` and `depth-ros bench`: a subscriber to the outputs
that records each message's arrival and stamp latency, keeps the last ones by stamp (for a
picture of one instant) and the nodes' diagnostics, and reports rates and latencies."""

from __future__ import annotations

import argparse
import time

import numpy as np

from depth_ros.shipped import shipped_model

RECENT_MESSAGES = 90  # per topic, for the demo picture's common stamp
OUTPUTS = (
    "depth/estimated",
    "depth/estimated/uncertainty",
    "depth/recovered",
    "depth/recovered/uncertainty",
)


def chosen_models(args: argparse.Namespace) -> dict[str, str]:
    """--monocular-model/--recovery-model, or the shipped models."""
    if args.monocular_model:
        return {"monocular": args.monocular_model, "recovery": args.recovery_model}
    return {
        "monocular": str(shipped_model("monocular_depth")),
        "recovery": str(shipped_model("depth_recovery")),
    }


class Listener:
    """Subscribes to the outputs; records arrival time, stamp latency and the last message."""

    def __init__(self, node, topics=OUTPUTS):
        from diagnostic_msgs.msg import DiagnosticArray
        from sensor_msgs.msg import Image

        self.node = node
        self.samples: dict[str, list[tuple[float, float]]] = {t: [] for t in topics}
        self.last: dict[str, object] = {}
        self.recent: dict[str, dict[float, object]] = {}  # topic -> stamp -> message
        self.diagnostics: dict[str, dict[str, str]] = {}  # each node's latest status
        self.diagnostics_history: dict[str, list[tuple[float, dict[str, str]]]] = {}
        for topic in topics:
            node.create_subscription(Image, topic, self._recorder(topic), 10)
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)

    def _recorder(self, topic):
        from depth_ros.node_support import stamp_seconds

        def record(msg):
            now = time.time()  # stamps come from the camera's (replay's) wall clock
            self.samples[topic].append((now, now - stamp_seconds(msg)))
            self.last[topic] = msg
            self.keep(topic, msg)

        return record

    def keep(self, topic: str, msg) -> None:
        """The topic's last messages by stamp, so that pictures can show one instant."""
        from depth_ros.node_support import stamp_seconds

        recent = self.recent.setdefault(topic, {})
        recent[stamp_seconds(msg)] = msg
        while len(recent) > RECENT_MESSAGES:
            del recent[min(recent)]

    def newest_common_stamp(self, topics) -> float | None:
        """The newest stamp every topic has a message for, or None."""
        stamps = [set(self.recent.get(t, {})) for t in topics]
        common = set.intersection(*stamps) if stamps else set()
        return max(common) if common else None

    def _on_diagnostics(self, array):
        now = time.time()
        for status in array.status:
            name, values = status.name.split(":")[0], {kv.key: kv.value for kv in status.values}
            self.diagnostics[name] = values
            self.diagnostics_history.setdefault(name, []).append((now, values))

    def node_median(self, name: str, key: str, since: float) -> float:
        """Median over the node's statuses received since `since` of one numeric value. Each
        status covers the node's last few seconds; their median covers the measured period,
        as the listener's own figures do (the latest status alone covers only its end)."""
        values = [
            float(v.get(key, "nan"))
            for t, v in self.diagnostics_history.get(name, [])
            if t >= since
        ]
        values = [v for v in values if v == v]
        return round(float(np.median(values)), 2) if values else float("nan")

    def report(self, since: float) -> dict[str, dict]:
        report = {}
        for topic, samples in self.samples.items():
            recent = [s for s in samples if s[0] >= since]
            latencies = np.array([s[1] for s in recent]) * 1000
            span = recent[-1][0] - recent[0][0] if len(recent) > 1 else 0.0
            report[topic] = {
                "messages": len(recent),
                "rate_hz": round((len(recent) - 1) / span, 2) if span else 0.0,
                "latency_p50_ms": round(float(np.percentile(latencies, 50)), 1) if recent else None,
                "latency_p99_ms": round(float(np.percentile(latencies, 99)), 1) if recent else None,
            }
        return report


def print_table(report: dict[str, dict], extra_columns: tuple[str, ...] = ()) -> None:
    columns = ("messages", "rate_hz", "latency_p50_ms", "latency_p99_ms", *extra_columns)
    print("| topic | " + " | ".join(columns) + " |")
    print("|" + " --- |" * (len(columns) + 1))
    for topic, row in report.items():
        print(f"| {topic} | " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
