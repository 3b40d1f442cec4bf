"""GPU placement on a fake multi-node cluster: whole GPUs are not shared, fractions are.

The cluster (a head without GPUs, two workers with 2 fake GPUs each) cannot share this process
with the session's Ray, so ``_helpers/gpu_cluster_scenario.py`` runs both sweeps in a
subprocess and prints what each program saw: ``CUDA_VISIBLE_DEVICES``, its node, its start and
end time, and whether it saw the expected number of programs running at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from _procs import alive

HELPER = Path(__file__).with_name("_helpers") / "gpu_cluster_scenario.py"

pytestmark = [
    pytest.mark.ray,
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fake cluster on Linux"),
]


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    workdir = tmp_path_factory.mktemp("gpu")
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_TMPDIR")}
    proc = subprocess.run(
        [sys.executable, str(HELPER), str(workdir)],
        env=env, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return data


def _max_overlap(windows: list[tuple[float, float]]) -> int:
    """Largest number of ``(start, end)`` windows open at one moment."""
    events = sorted([(s, 1) for s, _ in windows] + [(e, -1) for _, e in windows])
    most = now = 0
    for _, delta in events:  # at a tie, an end (-1) sorts before a start (+1)
        now += delta
        most = max(most, now)
    return most


def test_one_gpu_trials_run_at_once_on_distinct_gpus(seen: dict[str, Any]) -> None:
    programs = seen["one_gpu"]["programs"]
    nodes = seen["nodes"]
    assert len(programs) == 4
    # Each program waited until all four had started: they ran concurrently.
    assert all(p["barrier_ok"] for p in programs)
    assert max(p["start"] for p in programs) < min(p["end"] for p in programs)
    placements = [(nodes[p["raylet_pid"]], p["cuda_visible_devices"]) for p in programs]
    assert sorted(placements) == [("a", "0"), ("a", "1"), ("b", "0"), ("b", "1")]
    trials = seen["one_gpu"]["trials"]
    assert [t["status"] for t in trials] == ["finished"] * 4
    assert sorted(t["gpus"] for t in trials) == ["0", "0", "1", "1"]
    assert all(not alive(p["pid"]) for p in programs)


def test_half_gpu_trials_share_a_gpu_two_at_most(seen: dict[str, Any]) -> None:
    programs = seen["half_gpu"]["programs"]
    nodes = seen["nodes"]
    assert len(programs) == 6
    assert all(p["barrier_ok"] for p in programs)
    # The custom resource `node_a` pins every trial to worker a (2 GPUs, so 4 half slots).
    assert {nodes[p["raylet_pid"]] for p in programs} == {"a"}
    by_gpu: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for p in programs:
        by_gpu[p["cuda_visible_devices"]].append((p["start"], p["end"]))
    assert set(by_gpu) == {"0", "1"}
    # Four programs ran at once on two GPUs: two of them saw the same GPU at the same time,
    # and no GPU ever had more than two.
    assert all(_max_overlap(windows) == 2 for windows in by_gpu.values())
    trials = seen["half_gpu"]["trials"]
    assert [t["status"] for t in trials] == ["finished"] * 6
    assert all(not alive(p["pid"]) for p in programs)
