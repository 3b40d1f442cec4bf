"""Run sweeps on a fake 3-node cluster (``ray.cluster_utils.Cluster``); print a JSON summary.

Usage: ``python multinode_sweep.py SWEEP_YAML STORAGE`` with ``RAY_TMPDIR`` set to a private
temp dir. The head has no GPUs; two worker nodes have 2 CPUs and 2 fake GPUs each. Prints
``{"raylets": {"head": pid, "worker1": pid, "worker2": pid}, "infeasible": message, "sweep":
path}``. The cluster is always shut down, also on errors.
"""

from __future__ import annotations

import json
import sys

import ray
from ray._private import ray_constants
from ray.cluster_utils import Cluster

import raysweep
from raysweep.errors import RaysweepError

NODE_ARGS = {"object_store_memory": 100 * 1024**2, "include_dashboard": False}


def raylet_pid(node: object) -> int:
    return int(node.all_processes[ray_constants.PROCESS_TYPE_RAYLET][0].process.pid)  # type: ignore[attr-defined]


def main(sweep: str, storage: str) -> None:
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "num_gpus": 0, **NODE_ARGS}
    )
    try:
        workers = [cluster.add_node(num_cpus=2, num_gpus=2, **NODE_ARGS) for _ in range(2)]
        cluster.wait_for_nodes()
        out: dict[str, object] = {
            "raylets": {
                "head": raylet_pid(cluster.head_node),
                **{f"worker{i + 1}": raylet_pid(w) for i, w in enumerate(workers)},
            }
        }
        try:  # 4 GPUs on one node: no node has them, so it must fail at once
            raysweep.run(sweep, address=cluster.address, storage=storage, name="too-big",
                         resources={"gpu": 4})  # fmt: skip
            out["infeasible"] = None
        except RaysweepError as exc:
            out["infeasible"] = str(exc)
        result = raysweep.run(sweep, address=cluster.address, storage=storage, name="multi")
        out["sweep"] = str(result.path)
        print("RESULT " + json.dumps(out), flush=True)
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
