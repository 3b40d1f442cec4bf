"""Mistakes `raysweep run` reports before starting Ray: a clear error, fast, no traceback."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

import raysweep
from raysweep.errors import RaysweepError

SWEEP: dict[str, Any] = {
    "method": "grid",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {"x": {"values": [1, 2]}},
}


def _train(config: dict[str, Any]) -> None:
    raysweep.log({"loss": config["x"]})


def test_a_results_folder_that_cannot_be_created_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    expected = r"cannot create the results folder .*file/sub.*--storage"
    with pytest.raises(RaysweepError, match=expected):
        raysweep.run(SWEEP, function=_train, storage=blocker / "sub")


def test_an_address_nobody_answers_at_fails_fast(tmp_path: Path) -> None:
    # A port that was free a moment ago: connecting is refused at once.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    expected = rf"cannot reach the Ray cluster at '127.0.0.1:{port}'"
    with pytest.raises(RaysweepError, match=expected):
        raysweep.run(SWEEP, function=_train, storage=tmp_path, address=f"127.0.0.1:{port}")
    assert time.monotonic() - started < 10  # Ray itself would retry for minutes


def test_a_local_ray_size_ray_cannot_take_is_refused(tmp_path: Path) -> None:
    # Ray counts a node's CPUs and GPUs in whole units; it would fail later with its own
    # ValueError.
    with pytest.raises(RaysweepError, match=r"num_gpus must be a whole number >= 0, got 1.5"):
        raysweep.run(SWEEP, function=_train, storage=tmp_path, num_gpus=1.5)
    with pytest.raises(RaysweepError, match=r"num_cpus must be a whole number >= 1, got 0"):
        raysweep.run(SWEEP, function=_train, storage=tmp_path, num_cpus=0)
    from click.testing import CliRunner

    from raysweep.cli import main

    sweep = tmp_path / "sweep.yaml"
    sweep.write_text("method: grid\nparameters: {x: {values: [1]}}\nprogram: p.py\n",
                     encoding="utf-8")
    res = CliRunner().invoke(main, ["run", str(sweep), "--num-gpus", "1.5"])
    assert res.exit_code == 2
    assert "--num-gpus" in res.output and "1.5" in res.output
    assert "Traceback" not in res.output


@pytest.mark.parametrize("damage", ["missing", "not text", "not a sweep"])
def test_resume_names_a_missing_or_damaged_saved_sweep_yaml(tmp_path: Path, damage: str) -> None:
    from click.testing import CliRunner

    from raysweep.api import resume
    from raysweep.cli import main
    from raysweep.errors import SweepConfigError

    # The sweep was started from another file; the saved copy is what resume reads.
    meta = {"name": "s", "source": str(tmp_path / "elsewhere" / "sweep.yaml")}
    (tmp_path / "raysweep.json").write_text(json.dumps(meta), encoding="utf-8")
    if damage == "not text":
        (tmp_path / "sweep.yaml").write_bytes(b"\xff\xfe\x00method")
    elif damage == "not a sweep":
        (tmp_path / "sweep.yaml").write_text("method: grdi\n", encoding="utf-8")
    expected = r"unknown method 'grdi'" if damage == "not a sweep" else (
        r"cannot read the sweep's configuration .*sweep\.yaml .*raysweep resume needs"
    )
    error = SweepConfigError if damage == "not a sweep" else RaysweepError
    # Raised before Ray starts (a missing file used to surface as FileNotFoundError).
    with pytest.raises(error, match=expected) as caught:
        resume(tmp_path)
    if damage == "not a sweep":
        assert caught.value.source == str(tmp_path / "sweep.yaml")
    res = CliRunner().invoke(main, ["resume", str(tmp_path)])
    assert res.exit_code == 2
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert "Traceback" not in res.output
    wanted = "unknown method 'grdi'" if damage == "not a sweep" else "raysweep resume needs"
    assert wanted in " ".join(res.output.split())


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"count": 0}, r"count must be a whole number >= 1, got 0"),
        ({"count": "3"}, r"count must be a whole number >= 1, got '3'"),
        ({"seed": -1}, r"seed must be a whole number >= 0, got -1"),
        ({"max_concurrent_trials": 0}, r"max_concurrent_trials must be a whole number >= 1"),
        ({"max_failures": -2}, r"max_failures must be a whole number >= -1, got -2"),
        ({"function": 3}, r"function must be a Python function train\(config\).*got int 3"),
        ({"resources": {"cpu": -1}}, r"resources=\{'cpu': -1\} .*cpu must be a non-negative"),
        ({"resources": {"gpu": "a"}}, r"gpu must be a non-negative number, got the string 'a'"),
        ({"resources": [1]}, r"resources=\[1\] .*it must be a mapping"),
        ({"resources": {"gpu": 1.5}}, r"gpu fractions are only allowed below 1 GPU, got 1.5"),
        ({"name": "../elsewhere"}, r"name must be a folder name .*got '\.\./elsewhere'"),
        ({"name": ".."}, r"name must be a folder name"),
        ({"wandb": "bogus"}, r"wandb must be 'shim' .* or 'real' .*got 'bogus'"),
    ],
)
def test_api_arguments_the_cli_would_refuse_are_refused(
    tmp_path: Path, kwargs: dict[str, Any], expected: str
) -> None:
    # count=0 used to run a sweep of no trials, max_concurrent_trials=0 meant "no limit", a
    # non-callable function ran (and failed) every trial, seed=-1 failed inside numpy, bad
    # resources failed inside Ray or with a bare ValueError, and a name with '/' put the sweep
    # directory outside the storage folder.
    kwargs.setdefault("function", _train)
    with pytest.raises(RaysweepError, match=expected):
        raysweep.run(SWEEP, storage=tmp_path, **kwargs)
    assert not any(tmp_path.iterdir())  # refused before a sweep directory was made


@pytest.mark.parametrize("command", ["preview", "run"])
def test_a_negative_seed_is_refused_by_the_cli(tmp_path: Path, command: str) -> None:
    from click.testing import CliRunner

    from raysweep.cli import main

    sweep = tmp_path / "sweep.yaml"
    sweep.write_text("method: random\nparameters: {x: {min: 0.0, max: 1.0}}\nprogram: p.py\n",
                     encoding="utf-8")
    res = CliRunner().invoke(main, [command, str(sweep), "--seed", "-1"])
    assert res.exit_code == 2
    assert "-1 is not in the range x>=0" in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)


def test_a_fractional_gpu_count_above_one_per_trial_is_refused_by_the_cli(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from raysweep.cli import main

    sweep = tmp_path / "sweep.yaml"
    sweep.write_text("method: grid\nparameters: {x: {values: [1]}}\nprogram: p.py\n",
                     encoding="utf-8")
    res = CliRunner().invoke(main, ["run", str(sweep), "--gpu", "1.5"])
    assert res.exit_code == 2
    assert "--gpu 1.5: fractions are only allowed below 1 GPU, got 1.5" in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)


def test_a_sweep_of_the_wrong_type_is_named() -> None:
    with pytest.raises(TypeError, match=r"a sweep is a YAML file path, a dict or a SweepConfig, "
                                        r"got int 123"):
        raysweep.run(123)  # type: ignore[arg-type]


def _no_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make starting Ray fail loudly, whether or not this process already runs one."""
    import ray

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("Ray must not start")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", refuse)


def test_remote_storage_is_refused_before_ray_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_ray(monkeypatch)
    with pytest.raises(RaysweepError, match=r"remote storage URIs are not supported yet "
                                             r"\(s3://bucket/x\); use a folder"):
        raysweep.run(SWEEP, function=_train, storage="s3://bucket/x")


def test_resume_refuses_what_run_refuses_before_ray_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`resume(..., wandb="bogus")` used to start the sweep, and every trial failed."""
    from raysweep.api import resume

    _no_ray(monkeypatch)
    (tmp_path / "raysweep.json").write_text(json.dumps({"name": "s"}), encoding="utf-8")
    (tmp_path / "sweep.yaml").write_text(json.dumps(SWEEP), encoding="utf-8")
    with pytest.raises(RaysweepError, match=r"wandb must be 'shim' .*got 'bogus'"):
        resume(tmp_path, function=_train, wandb="bogus")
    (tmp_path / "raysweep.json").write_text(json.dumps({"name": "s", "wandb": "nope"}),
                                            encoding="utf-8")
    with pytest.raises(RaysweepError, match=r"wandb must be 'shim' .*got 'nope'"):
        resume(tmp_path, function=_train)  # a damaged record of how the sweep started
