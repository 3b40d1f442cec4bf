"""Run a sweep on a fake 2-worker cluster and remove one worker node mid-sweep.

Usage: python node_loss.py WORKDIR. Prints one JSON line: the trials table as records.
The cluster is always shut down, even on failure.
"""

from __future__ import annotations

import json
import sys
import textwrap
import threading
import time
from pathlib import Path

import ray
from ray.cluster_utils import Cluster

import raysweep
from raysweep.analysis.tables import read_trials

PROGRAM = textwrap.dedent(
    """
    import json, sys, time
    x = int(sys.argv[1].split("=")[1])
    for i in range(6):
        time.sleep(0.7)
        print("@raysweep " + json.dumps({"loss": x + i}), flush=True)
    """
)


def main() -> None:
    work = Path(sys.argv[1])
    (work / "prog.py").write_text(PROGRAM, encoding="utf-8")
    sweep = {
        "program": "prog.py",
        "method": "grid",
        "metric": {"name": "loss"},
        "parameters": {"x": {"values": [0, 1, 2, 3, 4, 5]}},
        "raysweep": {"max_failures": 3, "resources": {"cpu": 1}},
    }
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "temp_dir": str(work / "ray")},
    )
    try:
        cluster.add_node(num_cpus=2, resources={"node_a": 1})
        node_b = cluster.add_node(num_cpus=2, resources={"node_b": 1})
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)

        def kill_b() -> None:
            # Wait until 4 trials run (2 CPUs per worker node: both nodes busy), then let
            # them report once more before node B goes away.
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                running = [t for t in read_trials(work / "res" / "nl")
                           if t["status"] == "running"]
                if len(running) >= 4:
                    break
                time.sleep(0.2)
            time.sleep(1.0)
            print(f"removing node B; running: {len(running)}", file=sys.stderr, flush=True)
            cluster.remove_node(node_b)

        threading.Thread(target=kill_b, daemon=True).start()
        cfg = raysweep.sweep.config.from_dict(sweep, path=work / "sweep.yaml")
        result = raysweep.run(cfg, storage=str(work / "res"), name="nl")
        print(json.dumps(result.trials.to_dict(orient="records"), default=str))
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main()
