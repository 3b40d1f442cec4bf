"""A sweep on a fake 3-node cluster with shared storage (``ray.cluster_utils.Cluster``).

The head has no GPUs; two worker nodes have 2 fake GPUs each. Every trial asks for 2 GPUs, so
one trial fits on a worker node at a time and concurrent trials must spread over both. The
cluster runs in a subprocess (``_cluster/multinode_sweep.py``) with its own ``RAY_TMPDIR``,
never in the test session's Ray; afterwards none of its processes may be left.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from _cluster import HERE, kill_cluster, ray_env, remove_tmpdir, short_tmpdir, wait_gone

import raysweep

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]

# Reports loss = (x - 1)^2 + 1/step over 3 steps (slowly, so that trials overlap), and where it
# ran: the raylet that started its Ray worker (one per node) and the GPUs Ray gave it.
PROGRAM = textwrap.dedent(
    """
    import json, os, sys, time
    x = float(dict(a[2:].split("=", 1) for a in sys.argv[1:])["x"])
    with open(os.path.join(os.environ["RAYSWEEP_TRIAL_DIR"], "where.json"), "w") as f:
        json.dump({"raylet": int(os.environ["RAY_RAYLET_PID"]),
                   "gpus": os.environ.get("CUDA_VISIBLE_DEVICES")}, f)
    for step in (1, 2, 3):
        print("@raysweep " + json.dumps({"loss": (x - 1) ** 2 + 1 / step}), flush=True)
        time.sleep(0.7)  # long enough for the trials to overlap
    """
)


def test_sweep_over_worker_nodes_has_complete_tables(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(PROGRAM, encoding="utf-8")
    sweep = {
        "program": "train.py",
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"values": [0.0, 0.5, 1.0, 1.5]}},
        "raysweep": {"resources": {"cpu": 1, "gpu": 2}},
    }
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(sweep), encoding="utf-8")
    storage = tmp_path / "shared"
    tmpdir = short_tmpdir("rswm")
    try:
        proc = subprocess.run(
            [sys.executable, str(HERE / "multinode_sweep.py"), str(tmp_path / "sweep.yaml"),
             str(storage)],
            env=ray_env(tmpdir), capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-5000:]
        out = json.loads(lines[-1][len("RESULT ") :])
        assert wait_gone(tmpdir) == {}, "the cluster left processes behind"
    finally:
        left = kill_cluster(tmpdir)
        remove_tmpdir(tmpdir)
    assert left == {}

    # A trial that no node can hold fails at once, naming what it asked for and what exists.
    assert out["infeasible"] == (
        "no node of the Ray cluster can ever run a trial: a trial asks for {CPU: 1, GPU: 4} on "
        "one node, and the nodes have {CPU: 2, GPU: 2} x2, {CPU: 1, GPU: 0}. Lower "
        "`raysweep.resources` (or --cpu/--gpu), or add a node that has them"
    )

    result = raysweep.results(out["sweep"])
    trials = result.trials
    assert sorted(trials["x"]) == [0.0, 0.5, 1.0, 1.5]
    assert set(trials["status"]) == {"finished"}
    assert list(trials["steps"]) == [3, 3, 3, 3]
    assert trials["loss_best"].tolist() == pytest.approx([1 / 3, 0.25 + 1 / 3, 0.25 + 1 / 3,
                                                           1 + 1 / 3])  # fmt: skip
    assert trials["node"].notna().all()
    assert set(trials["gpus"]) == {"0,1"}  # both GPUs of one node, for every trial
    assert len(result.history) == 12 and set(result.history["trial_id"]) == set(trials["trial_id"])
    assert result.best is not None and result.best["config"] == {"x": 1.0}

    # Trial files of the worker nodes are in the shared sweep directory.
    raylets = out["raylets"]
    where = [
        json.loads((Path(out["sweep"]) / f"trial_{tid}" / "where.json").read_text())
        for tid in trials["trial_id"]
    ]
    ran_on = {w["raylet"] for w in where}
    assert ran_on == {raylets["worker1"], raylets["worker2"]}, (ran_on, raylets)
    for tid in trials["trial_id"]:
        assert (Path(out["sweep"]) / f"trial_{tid}" / "program.log").is_file()
