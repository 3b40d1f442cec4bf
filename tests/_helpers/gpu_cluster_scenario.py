"""Run two GPU sweeps on a fake three-node Ray cluster; print what each program saw as JSON.

Used by ``tests/test_gpu_placement.py`` in a subprocess of its own: a
``ray.cluster_utils.Cluster`` cannot share a process with the test session's Ray.

Usage: ``python gpu_cluster_scenario.py WORKDIR``. The cluster has a head with 1 CPU and no
GPU and two workers with 2 CPUs and 2 fake GPUs each; worker ``a`` also has the custom
resource ``node_a``. Sweeps:

- ``one_gpu``: 4 trials asking ``{cpu: 1, gpu: 1}``;
- ``half_gpu``: 6 trials asking ``{cpu: 0.5, gpu: 0.5, node_a: 1}`` (all on worker ``a``).

Each program records its start and end time, ``CUDA_VISIBLE_DEVICES`` and its node (the PID of
the node's raylet, which every Ray worker passes to its children as ``RAY_RAYLET_PID``), and
waits until ``BARRIER`` programs of its sweep have started (or 30 s), so that concurrency shows.
The last line of standard output is one JSON object::

    {"nodes": {raylet_pid: "head" | "a" | "b"},
     "<sweep>": {"programs": [...], "trials": [...]}}

The cluster is always shut down, and its temp dir removed, whatever happens.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

PROGRAM = textwrap.dedent(
    """
    import json, os, sys, time
    args = dict(a[2:].split("=", 1) for a in sys.argv[1:])
    here = os.path.join("records", args["sweep"])
    os.makedirs(os.path.join(here, "started"), exist_ok=True)
    record = {
        "i": int(args["i"]),
        "pid": os.getpid(),
        "start": time.time(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "raylet_pid": os.environ.get("RAY_RAYLET_PID"),
    }
    open(os.path.join(here, "started", args["i"]), "w").close()
    deadline = time.time() + 30
    barrier = int(args["barrier"])
    while len(os.listdir(os.path.join(here, "started"))) < barrier and time.time() < deadline:
        time.sleep(0.05)
    record["barrier_ok"] = len(os.listdir(os.path.join(here, "started"))) >= barrier
    time.sleep(float(args["hold"]))
    record["end"] = time.time()
    with open(os.path.join(here, f"{os.getpid()}.json"), "w") as f:
        json.dump(record, f)
    print("@raysweep " + json.dumps({"loss": record["i"]}), flush=True)
    """
)

SWEEPS: dict[str, dict[str, Any]] = {
    "one_gpu": {"n": 4, "barrier": 4, "hold": 0.5, "resources": {"cpu": 1, "gpu": 1}},
    "half_gpu": {
        "n": 6,
        "barrier": 4,
        "hold": 0.5,
        "resources": {"cpu": 0.5, "gpu": 0.5, "node_a": 1},
    },
}


def _sweep(workdir: Path, name: str, spec: dict[str, Any]) -> Path:
    import yaml

    path = workdir / f"{name}.yaml"
    doc = {
        "program": "prog.py",
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {
            "sweep": {"value": name},
            "i": {"values": list(range(spec["n"]))},
            "barrier": {"value": spec["barrier"]},
            "hold": {"value": spec["hold"]},
        },
        "raysweep": {"resources": spec["resources"]},
    }
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _raylet_pid(node: Any) -> str:
    from ray._private import ray_constants

    return str(node.all_processes[ray_constants.PROCESS_TYPE_RAYLET][0].process.pid)


def main(workdir: Path) -> dict[str, Any]:
    # A short temp dir of its own: Ray's socket paths must stay under the AF_UNIX limit, and
    # nothing may touch the default /tmp/ray of other Ray instances.
    ray_tmp = tempfile.mkdtemp(prefix="rsg", dir="/tmp")
    os.environ["RAY_TMPDIR"] = ray_tmp
    os.environ.pop("RAY_ADDRESS", None)
    from raysweep.execution.ray_session import RAY_QUIET_ENV, WORKER_ENV

    for key, value in {**RAY_QUIET_ENV, **WORKER_ENV}.items():
        os.environ.setdefault(key, value)
    import ray
    from ray.cluster_utils import Cluster

    import raysweep

    (workdir / "prog.py").write_text(PROGRAM, encoding="utf-8")
    cluster = None
    t0 = time.monotonic()

    def tick(what: str) -> None:
        print(f"{time.monotonic() - t0:6.1f}s {what}", file=sys.stderr, flush=True)

    try:
        cluster = Cluster()
        head = cluster.add_node(num_cpus=1, num_gpus=0)  # the first node is the head
        node_a = cluster.add_node(num_cpus=2, num_gpus=2, resources={"node_a": 100})
        node_b = cluster.add_node(num_cpus=2, num_gpus=2)
        cluster.wait_for_nodes()
        tick("cluster up")
        out: dict[str, Any] = {
            "nodes": {
                _raylet_pid(head): "head",
                _raylet_pid(node_a): "a",
                _raylet_pid(node_b): "b",
            }
        }
        ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False,
                 runtime_env={"env_vars": dict(WORKER_ENV)})
        for name, spec in SWEEPS.items():
            result = raysweep.run(_sweep(workdir, name, spec), storage=workdir / "results",
                                  name=name)
            tick(f"sweep {name} done")
            records = workdir / "records" / name
            out[name] = {
                "programs": [json.loads(p.read_text()) for p in sorted(records.glob("*.json"))],
                "trials": json.loads(result.trials.to_json(orient="records")),
            }
        return out
    finally:
        ray.shutdown()
        if cluster is not None:
            cluster.shutdown()
        shutil.rmtree(ray_tmp, ignore_errors=True)
        tick("cluster down")


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]).resolve())))
