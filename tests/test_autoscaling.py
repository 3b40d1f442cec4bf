"""Autoscaling clusters: which resources a trial can ever get, and a sweep that makes Ray's
autoscaler add GPU nodes.

Unit tests feed :mod:`~raysweep.execution.cluster` fake node lists and node types (no Ray). The
slow
test starts a head without GPUs whose autoscaler launches ``fake_multinode`` GPU worker nodes
(local raylets), runs the cluster example's GPU sweep on it with ``--address auto``, and checks
that every trial completed on an added GPU node and that no process of the cluster is left.
"""

from __future__ import annotations

import doctest
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _cluster import BIN, REPO, kill_cluster, ray_env, remove_tmpdir, short_tmpdir
from _cluster import start_fake_autoscaling_head as start_head

import raysweep
from raysweep.execution import cluster as raysweep_cluster
from raysweep.execution.cluster import (
    ClusterShape,
    NodeType,
    node_types_from_config,
    unfit_message,
)

EXAMPLE = REPO / "examples" / "cluster"
HEAD = {"CPU": 8.0, "GPU": 0.0, "memory": 3e10, "node:__internal_head__": 1.0}
GPU_1X = NodeType("gpu_1x", {"CPU": 4.0, "GPU": 1.0}, max_workers=8)
GPU_4X = NodeType("gpu_4x", {"CPU": 48.0, "GPU": 4.0}, max_workers=2)


def test_doctests() -> None:
    assert doctest.testmod(raysweep_cluster).failed == 0


@pytest.mark.parametrize(
    "request_, nodes",
    [
        pytest.param({"CPU": 1.0}, [HEAD], id="cpu-on-head"),
        pytest.param({"CPU": 1.0, "GPU": 2.0}, [HEAD, {"CPU": 2.0, "GPU": 2.0}], id="2-gpus"),
        pytest.param({"CPU": 1.0, "GPU": 0.5}, [HEAD, {"CPU": 1.0, "GPU": 1.0}], id="fraction"),
        pytest.param({"CPU": 1.0, "slot": 1.0}, [{"CPU": 1.0, "slot": 4.0}], id="custom"),
        pytest.param({"CPU": 0.0, "GPU": 1.0}, [{"GPU": 1.0}], id="zero-is-not-asked"),
    ],
)
def test_fixed_cluster_fits_when_one_node_has_everything(
    request_: dict[str, float], nodes: list[dict[str, float]]
) -> None:
    assert unfit_message(request_, ClusterShape(tuple(nodes), autoscaling=False)) is None


def test_fixed_cluster_needs_one_node_with_all_gpus() -> None:
    # 4 GPUs in total, but a trial runs on one node: it can never start.
    nodes = (HEAD, {"CPU": 2.0, "GPU": 2.0}, {"CPU": 2.0, "GPU": 2.0})
    assert unfit_message({"CPU": 1.0, "GPU": 4.0}, ClusterShape(nodes)) == (
        "no node of the Ray cluster can ever run a trial: a trial asks for {CPU: 1, GPU: 4} on "
        "one node, and the nodes have {CPU: 2, GPU: 2} x2, {CPU: 8, GPU: 0}. Lower "
        "`raysweep.resources` (or --cpu/--gpu), or add a node that has them"
    )


def test_fixed_cluster_names_a_missing_custom_resource() -> None:
    message = unfit_message({"CPU": 1.0, "tpu_v4": 1.0}, ClusterShape((HEAD,)))
    assert message is not None and "{CPU: 1, tpu_v4: 1}" in message
    assert "the nodes have {CPU: 8, tpu_v4: 0}" in message


def test_autoscaling_cluster_fits_when_a_node_type_can() -> None:
    shape = ClusterShape((HEAD,), autoscaling=True, node_types=(GPU_1X, GPU_4X))
    assert unfit_message({"CPU": 1.0, "GPU": 1.0}, shape) is None
    assert unfit_message({"CPU": 4.0, "GPU": 4.0}, shape) is None


def test_autoscaling_cluster_fails_when_no_node_type_can() -> None:
    shape = ClusterShape((HEAD,), autoscaling=True, node_types=(GPU_1X, GPU_4X))
    assert unfit_message({"CPU": 1.0, "GPU": 8.0}, shape) == (
        "no node type of the autoscaling Ray cluster can ever run a trial: a trial asks for "
        "{CPU: 1, GPU: 8} on one node; the live nodes have {CPU: 8, GPU: 0} and the node types "
        "it may add are gpu_1x {CPU: 4, GPU: 1} (up to 8), gpu_4x {CPU: 48, GPU: 4} (up to 2). "
        "Lower `raysweep.resources` (or --cpu/--gpu), or add a node type that has them to the "
        "cluster config (`available_node_types`)"
    )


def test_node_types_that_may_never_launch_do_not_count() -> None:
    off = NodeType("gpu_4x", {"CPU": 48.0, "GPU": 4.0}, max_workers=0)
    shape = ClusterShape((HEAD,), autoscaling=True, node_types=(GPU_1X, off))
    assert unfit_message({"GPU": 4.0}, shape) is not None


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(ClusterShape((HEAD,), autoscaling=None), id="unknown-if-autoscaling"),
        pytest.param(ClusterShape((HEAD,), autoscaling=True), id="node-types-unknown"),
        pytest.param(
            ClusterShape((HEAD,), True, (GPU_1X, NodeType("big", None, max_workers=4))),
            id="a-type-left-to-the-provider",
        ),
        pytest.param(ClusterShape(()), id="no-nodes-seen"),
    ],
)
def test_no_error_when_it_cannot_be_known(shape: ClusterShape) -> None:
    # Ray waits for nodes that may come; raysweep must never refuse a sweep that could run.
    assert unfit_message({"CPU": 1.0, "GPU": 8.0}, shape) is None


def test_on_premise_types_are_judged_by_their_nodes_once_all_are_up() -> None:
    # The local provider leaves resources to Ray's detection: min == max workers.
    onprem = NodeType("local.cluster.node", None, max_workers=2, min_workers=2)
    worker = {"CPU": 16.0, "GPU": 2.0}
    starting = ClusterShape((HEAD, worker), autoscaling=True, node_types=(onprem,))
    assert unfit_message({"GPU": 4.0}, starting) is None
    up = ClusterShape((HEAD, worker, worker), autoscaling=True, node_types=(onprem,))
    assert unfit_message({"GPU": 4.0}, up) is not None
    assert unfit_message({"GPU": 2.0}, up) is None


@pytest.mark.parametrize(
    "name, fits, unfit",
    [
        pytest.param("aws-gpu.yaml", {"CPU": 8.0, "GPU": 4.0}, {"GPU": 8.0}, id="aws"),
        pytest.param("gcp-gpu.yaml", {"CPU": 8.0, "GPU": 4.0}, {"GPU": 8.0}, id="gcp"),
    ],
)
def test_example_cluster_node_types(
    name: str, fits: dict[str, float], unfit: dict[str, float]
) -> None:
    from ray.autoscaler._private.util import prepare_config

    config = prepare_config(yaml.safe_load((EXAMPLE / name).read_text(encoding="utf-8")))
    types = node_types_from_config(config)
    assert {t.name for t in types} == {"gpu_1x", "gpu_4x"}
    head_cpu_only = {"CPU": 8.0, "GPU": 0.0}
    shape = ClusterShape((head_cpu_only,), autoscaling=True, node_types=types)
    assert unfit_message(fits, shape) is None
    assert unfit_message(unfit, shape) is not None


def test_on_premise_example_is_judged_once_its_machines_are_up() -> None:
    from ray.autoscaler._private.util import prepare_config

    config = prepare_config(yaml.safe_load((EXAMPLE / "onprem-local.yaml").read_text()))
    types = node_types_from_config(config)  # one type, resources detected by Ray: unknown
    machine = {"CPU": 16.0, "GPU": 1.0}
    starting = ClusterShape((machine,), autoscaling=True, node_types=types)
    assert unfit_message({"GPU": 2.0}, starting) is None
    up = ClusterShape((machine,) * 3, autoscaling=True, node_types=types)
    message = unfit_message({"GPU": 2.0}, up)
    assert message is not None and message.startswith("no node of the Ray cluster")
    assert unfit_message({"GPU": 1.0}, up) is None


def test_monitor_of_another_cluster_is_not_ours() -> None:
    argv = [
        "python", "-u", "/x/ray/autoscaler/v2/monitor.py", "--gcs-address=127.0.0.1:6390",
        "--autoscaling-config=/tmp/a.yaml",
    ]  # fmt: skip
    local = {"127.0.0.1", "10.0.0.5"}
    find = raysweep_cluster.monitor_config_path
    assert find("10.0.0.5:6390", [argv], local) == (True, "/tmp/a.yaml")  # same host
    assert find("10.0.0.6:6390", [argv], local) == (False, None)  # another host
    assert find("127.0.0.1:6379", [argv], local) == (False, None)  # another port
    readonly = [a for a in argv if not a.startswith("--autoscaling")]
    assert find("127.0.0.1:6390", [readonly], local) == (True, None)  # a fixed cluster


def test_cluster_shape_takes_the_first_source_that_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ray

    nodes = [{"Alive": True, "Resources": {"CPU": 1.0}}, {"Alive": False, "Resources": {}}]
    monkeypatch.setattr(ray, "nodes", lambda: nodes)

    def broken() -> None:
        raise RuntimeError("private API changed")

    monkeypatch.setattr(raysweep_cluster, "_own_head_view", broken)
    monkeypatch.setattr(raysweep_cluster, "_gcs_config_view", lambda: None)
    monkeypatch.setattr(raysweep_cluster, "_monitor_view", lambda: (True, (GPU_1X,)))
    monkeypatch.setattr(raysweep_cluster, "_status_view", lambda: (False, None))
    assert raysweep_cluster.cluster_shape() == ClusterShape(({"CPU": 1.0},), True, (GPU_1X,))
    monkeypatch.setattr(raysweep_cluster, "_monitor_view", lambda: None)
    assert raysweep_cluster.cluster_shape() == ClusterShape(({"CPU": 1.0},), False, None)
    monkeypatch.setattr(raysweep_cluster, "_status_view", lambda: None)
    assert raysweep_cluster.cluster_shape() == ClusterShape(({"CPU": 1.0},), None, None)


@pytest.mark.ray
def test_a_local_ray_is_a_fixed_cluster(tmp_path: Path) -> None:
    # The session's Ray (2 CPUs, 2 fake GPUs) was started by this process: no autoscaler.
    shape = raysweep_cluster.cluster_shape()
    assert shape.autoscaling is False and shape.nodes[0]["GPU"] == 2.0
    sweep = {"method": "grid", "parameters": {"x": {"values": [1, 2]}}}
    with pytest.raises(raysweep.RaysweepError) as info:
        raysweep.run(sweep, function=lambda config: None, storage=tmp_path,
                     resources={"gpu": 4})  # fmt: skip
    assert str(info.value).startswith(
        "no node of the Ray cluster can ever run a trial: a trial asks for {CPU: 1, GPU: 4}"
    )


# ---------------------------------------------------------------------------------------------
# Ray's autoscaler with the fake_multinode provider: GPU nodes come while the sweep waits.

GPU_WORKER = {
    "gpu_worker": {
        "resources": {"CPU": 2, "GPU": 2, "object_store_memory": 100 * 1024**2},
        "node_config": {},
        "min_workers": 0,
        "max_workers": 2,
    }
}


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_gpu_sweep_scales_fake_gpu_nodes_from_zero(tmp_path: Path) -> None:
    # The example's sweep and program; every trial runs to its end (no early termination).
    sweep = yaml.safe_load((EXAMPLE / "sweep.yaml").read_text(encoding="utf-8"))
    sweep.pop("early_terminate")
    sweep["program"] = str(EXAMPLE / "train.py")
    sweep["parameters"]["epochs"] = {"value": 3}
    sweep["run_cap"] = 4
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(sweep), encoding="utf-8")
    raysweep_cli = [str(BIN / "raysweep"), "run", str(tmp_path / "sweep.yaml")]
    storage = ["--storage", str(tmp_path / "results")]

    tmpdir = short_tmpdir("rswa")
    head = run = None
    try:
        head, _address = start_head(tmpdir, GPU_WORKER)
        env = ray_env(tmpdir)  # `--address auto` finds this cluster through RAY_TMPDIR
        # The head has no GPU: each trial waits until the autoscaler adds a GPU node.
        run = subprocess.Popen(
            [*raysweep_cli, "--address", "auto", *storage, "--name", "gpus"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        # Meanwhile: no node type has 4 GPUs, so that sweep fails at once instead of waiting.
        too_big = subprocess.run(
            [*raysweep_cli, "--address", "auto", *storage, "--name", "too-big", "--gpu", "4"],
            env=env, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        stdout, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stdout[-3000:] + stderr[-5000:] + head.output[-2000:]
        assert too_big.returncode != 0, too_big.stdout + too_big.stderr
        said = " ".join(too_big.stderr.split())  # rich wraps long lines
        assert "no node type of the autoscaling Ray cluster can ever run a trial" in said, said
        assert "asks for {CPU: 1, GPU: 4}" in said and "gpu_worker {CPU: 2, GPU: 2}" in said
    finally:
        roots = [p.pid for p in (run, head.proc if head else None) if p is not None]
        left = kill_cluster(tmpdir, roots)
        remove_tmpdir(tmpdir)
    assert left == {}, f"processes of the fake cluster survived: {left}"

    result = raysweep.results(tmp_path / "results" / "gpus")
    trials = result.trials
    assert len(trials) == 4
    assert set(trials["status"]) == {"finished"}
    assert list(trials["steps"]) == [3, 3, 3, 3]
    assert trials["val_loss"].notna().all()
    # Every trial got one fake GPU, which only the added worker nodes have.
    assert set(trials["gpus"]) <= {"0", "1"}, trials["gpus"]
    assert len(result.history) == 12
    for tid in trials["trial_id"]:
        log = (tmp_path / "results" / "gpus" / f"trial_{tid}" / "program.log").read_text()
        assert "GPUs none" not in log and "epoch 3" in log
