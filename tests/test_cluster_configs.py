"""The example cluster files (``examples/cluster/*.yaml``) pass Ray's own cluster-config checks,
as ``ray up`` runs them (``validate_config(prepare_config(...))``), and set up what the guide
promises: GPU worker types that scale from zero, spot where the provider has it, raysweep and
the project installed on every node, the same auth token everywhere."""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

import raysweep

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "cluster"
CLOUDS = ["aws-gpu.yaml", "gcp-gpu.yaml"]
FILES = [*CLOUDS, "onprem-local.yaml"]

jsonschema = pytest.importorskip("jsonschema")


def _load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((EXAMPLE / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _prepare(config: dict[str, Any]) -> dict[str, Any]:
    from ray.autoscaler._private.util import prepare_config, validate_config

    logging.getLogger("ray.autoscaler").setLevel(logging.WARNING)
    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    return dict(prepared)


def test_every_cluster_file_is_tested() -> None:
    assert sorted(p.name for p in EXAMPLE.glob("*.yaml") if p.name != "sweep.yaml") == sorted(
        FILES
    )


@pytest.mark.parametrize("name", FILES)
def test_cluster_file_passes_ray_validation(name: str) -> None:
    _prepare(_load(name))


def test_validation_catches_a_typo() -> None:
    # The check above means something: Ray's schema rejects unknown keys.
    config = _load("aws-gpu.yaml")
    config["available_node_types"]["gpu_1x"]["max_wokers"] = 3
    with pytest.raises(jsonschema.ValidationError, match="max_wokers"):
        _prepare(config)


@pytest.mark.parametrize("name", CLOUDS)
def test_cloud_gpu_workers_scale_from_zero_on_spot(name: str) -> None:
    config = _prepare(_load(name))
    types = config["available_node_types"]
    head = types[config["head_node_type"]]
    assert head["resources"]["GPU"] == 0  # no trial that needs a GPU waits for the head
    gpus = {n: t for n, t in types.items() if t.get("resources", {}).get("GPU", 0) > 0}
    assert {t["resources"]["GPU"] for t in gpus.values()} == {1, 4}  # one- and multi-GPU nodes
    for node_type in gpus.values():
        assert node_type["min_workers"] == 0 and node_type["max_workers"] > 0
        node_config = node_type["node_config"]
        if name.startswith("aws"):
            assert node_config["InstanceMarketOptions"]["MarketType"] == "spot"
        else:
            assert {"preemptible": True} in node_config["scheduling"]
            assert {"onHostMaintenance": "TERMINATE"} in node_config["scheduling"]
            assert node_config["guestAccelerators"][0]["acceleratorCount"] == (
                node_type["resources"]["GPU"]
            )
    assert any("--num-gpus=0" in c for c in config["head_start_ray_commands"])


@pytest.mark.parametrize("name", FILES)
def test_every_node_gets_raysweep_the_project_and_the_token(name: str) -> None:
    config = _load(name)
    mounts = config["file_mounts"]
    # Local paths are relative to the raysweep checkout, where the guide runs `ray up`.
    assert (REPO / mounts["~/raysweep"] / "pyproject.toml").is_file()
    assert (REPO / mounts["~/project"] / "sweep.yaml").is_file()
    assert mounts["~/.ray/auth_token"] == "~/.ray/auth_token"
    setup = " ".join(config["setup_commands"])
    assert "pip install -q -e ~/raysweep" in setup and "~/project/requirements.txt" in setup
    starts = config["head_start_ray_commands"] + config["worker_start_ray_commands"]
    assert all("RAY_AUTH_MODE=token" in c for c in starts if " start " in c)


def test_cluster_sweep_example_is_valid() -> None:
    cfg = raysweep.load(EXAMPLE / "sweep.yaml")
    assert cfg.options.resources.gpu == 1
    assert (EXAMPLE / str(cfg.program)).is_file()
