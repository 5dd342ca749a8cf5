"""The ROS-free real-time plumbing: one-slot buffer, stamp pairing, rolling statistics."""

import threading

import pytest

from depth_core.runtime.realtime import LatestSlot, ReasonCounter, RollingStats, StampPairer


def test_latest_slot_keeps_only_the_newest_and_counts_the_rest():
    slot = LatestSlot()
    assert slot.put(1) is False
    assert slot.put(2) is True and slot.put(3) is True
    assert slot.dropped == 2 and slot.take(timeout=0) == 3 and slot.take(timeout=0) is None


def test_latest_slot_wakes_a_waiting_taker_and_closes():
    slot, taken = LatestSlot(), []
    worker = threading.Thread(target=lambda: taken.append(slot.take(timeout=5)))
    worker.start()
    slot.put("frame")
    worker.join(timeout=5)
    assert taken == ["frame"]
    slot.close()
    assert slot.take(timeout=5) is None  # returns at once once closed


def test_pairer_matches_whichever_arrives_first_within_the_slop():
    pairer = StampPairer(slop=0.01)
    assert pairer.add_primary(1.000, "rgb1") == (None, 0)  # raw not here yet: waits
    assert pairer.add_secondary(1.005, "raw1") == (("rgb1", "raw1"), 0)
    assert pairer.add_secondary(2.000, "raw2") == (None, 0)
    assert pairer.add_primary(2.008, "rgb2") == (("rgb2", "raw2"), 0)
    assert pairer.add_primary(3.000, "rgb3") == (None, 0)
    assert pairer.add_secondary(3.050, "raw3") == (None, 1)  # rgb3 can never pair now


def test_pairer_queues_are_bounded():
    pairer = StampPairer(slop=0.001, queue_size=3)
    dropped = sum(pairer.add_primary(float(i), i)[1] for i in range(10))
    assert dropped == 7 and len(pairer.take_unpaired()) == 3


def test_rolling_stats_by_hand():
    stats = RollingStats(window=1.0)
    for i in range(11):
        stats.add(latency=0.01 * (i + 1), now=10 + 0.1 * i)  # 10 Hz, 10..110 ms
    assert stats.rate(now=11.0) == pytest.approx(10.0)
    p50, p99 = stats.latency_percentiles(now=11.0)
    assert p50 == pytest.approx(0.06) and p99 == pytest.approx(0.109)
    assert stats.rate(now=30.0) == 0.0  # the window has passed
    assert stats.mean_latency() == pytest.approx(0.06)  # the whole run, window or not


def test_reason_counter():
    counter = ReasonCounter()
    for reason in ("a", "b", "a"):
        counter.add(reason)
    assert counter.snapshot() == {"a": 2, "b": 1}
