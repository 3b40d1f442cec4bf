"""ClusterSlots: how many trials can run at once, read from the nodes at most once a ttl.
Unit tests: nodes are given, no Ray."""

from __future__ import annotations

from collections.abc import Mapping

from raysweep.execution.slots import ClusterSlots, slots_on


def test_a_trial_runs_on_one_node_so_leftovers_do_not_add_up() -> None:
    nodes = [{"CPU": 3.0, "GPU": 1.0}, {"CPU": 3.0, "GPU": 1.0}]
    assert slots_on(nodes, {"CPU": 2.0}) == 2  # 6 CPUs in all, but 1 left on each node
    assert slots_on(nodes, {"CPU": 1.0, "GPU": 0.5}) == 4
    assert slots_on(nodes, {"custom": 1.0}) == 0
    assert slots_on([], {"CPU": 1.0}) == 0


def test_readings_are_cached_for_the_ttl_and_never_below_one() -> None:
    calls: list[int] = []
    nodes: list[Mapping[str, float]] = []

    def read() -> list[Mapping[str, float]]:
        calls.append(1)
        return nodes

    cached = ClusterSlots({"CPU": 1.0}, ttl=3600, nodes=read)
    assert cached() == 1  # no node yet: one trial may still wait for one
    nodes.append({"CPU": 4.0})
    assert cached() == 1 and len(calls) == 1
    fresh = ClusterSlots({"CPU": 1.0}, ttl=0, nodes=read)
    assert fresh() == 4
    growing = ClusterSlots({"CPU": 1.0}, can_grow=True, ttl=0, nodes=read)
    assert growing() == 5  # one more waits, so the autoscaler sees demand
