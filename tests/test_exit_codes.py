"""The exit codes of `raysweep run` and `resume`, one driver per sweep, and a resume with
nothing left to do. Sweeps are tiny program trials driven through the CLI."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from raysweep.cli import main
from raysweep.cli.common import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    exit_code,
)
from raysweep.files import LOCK_FILE

PROGRAM = textwrap.dedent(
    """
    import argparse, json, os, pathlib, signal, subprocess, sys, time
    p = argparse.ArgumentParser()
    p.add_argument("--x", type=int); p.add_argument("--act", default="")
    p.add_argument("--driver", type=int, default=0)
    a = p.parse_args()
    sweep = pathlib.Path(os.environ["RAYSWEEP_TRIAL_DIR"]).parent
    if a.x < 0:
        sys.exit(3)
    if a.x == 1 and a.act in ("STOP", "CANCEL"):
        (sweep / a.act).write_text("requested by the test")
    if a.x == 1 and a.act == "SIGINT":
        os.kill(a.driver, signal.SIGINT)  # Ctrl-C at the driver
    if a.x == 1 and a.act == "resume":
        # A second driver for this sweep while this one runs.
        r = subprocess.run([sys.executable, "-m", "raysweep", "resume", str(sweep)],
                           capture_output=True, text=True)
        (sweep.parent / "resume.json").write_text(json.dumps([r.returncode, r.stdout + r.stderr]))
    for i in range(3):
        time.sleep(0.5 if a.act else 0)
        print("@raysweep " + json.dumps({"loss": a.x + i}), flush=True)
    """
)


def _sweep(tmp_path: Path, xs: list[int], act: str = "") -> Path:
    (tmp_path / "prog.py").write_text(PROGRAM, encoding="utf-8")
    doc: dict[str, Any] = {
        "program": "prog.py",
        "method": "grid",
        "metric": {"name": "loss"},
        "parameters": {"x": {"values": xs}, "act": {"value": act},
                       "driver": {"value": os.getpid()}},
        "raysweep": {"max_concurrent_trials": 1},
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _run(tmp_path: Path, sweep: Path, *more: str) -> Result:
    return CliRunner().invoke(
        main, ["run", str(sweep), "--storage", str(tmp_path / "r"), "--name", "s", *more],
        env={"COLUMNS": "200"},
    )


def _said(res: Result) -> str:
    return " ".join(res.output.split())


@pytest.mark.parametrize(
    ("ended_by", "statuses", "code"),
    [
        pytest.param(None, ["finished", "stopped"], EXIT_OK, id="all_ended_normally"),
        pytest.param("stop", ["finished"], EXIT_OK, id="raysweep_stop"),
        pytest.param("nothing", ["finished"], EXIT_OK, id="resume_with_nothing_to_do"),
        pytest.param(None, ["finished", "failed"], EXIT_FAILED, id="a_trial_failed"),
        pytest.param("nothing", ["failed"], EXIT_FAILED, id="a_kept_trial_failed"),
        pytest.param("guard", ["failed"] * 3, EXIT_FAILED, id="failure_guard"),
        pytest.param(None, ["finished", "interrupted"], EXIT_FAILED, id="cut_short_unasked"),
        pytest.param("cancel", ["finished", "interrupted"], EXIT_CANCELLED, id="cancel"),
        pytest.param("cancel", ["failed"], EXIT_CANCELLED, id="cancel_wins_over_failures"),
        pytest.param("interrupt", ["failed"], EXIT_INTERRUPTED, id="ctrl_c_wins"),
    ],
)
def test_the_exit_code_follows_how_the_sweep_ended(
    ended_by: str | None, statuses: list[str], code: int
) -> None:
    assert exit_code(ended_by, statuses) == code


def test_an_invalid_sweep_exits_2_before_anything_runs(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text("method: grdi\nparameters: {x: {values: [1]}}\nprogram: p.py\n",
                     encoding="utf-8")
    assert _run(tmp_path, sweep).exit_code == EXIT_INVALID
    assert not (tmp_path / "r").exists()


def test_wandb_real_without_the_package_is_refused_before_ray(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    import ray

    real_find_spec = importlib.util.find_spec

    def no_wandb(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name == "wandb" else real_find_spec(name, *args, **kwargs)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("Ray must not start")

    monkeypatch.setattr(importlib.util, "find_spec", no_wandb)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", refuse)
    res = _run(tmp_path, _sweep(tmp_path, [1]), "--wandb", "real")
    assert res.exit_code == EXIT_INVALID
    assert "the installed wandb package, but it is not installed" in _said(res)
    assert "pip install wandb" in _said(res)


@pytest.mark.ray
def test_all_trials_ending_normally_exit_0(tmp_path: Path) -> None:
    res = _run(tmp_path, _sweep(tmp_path, [0, 2]))
    assert res.exit_code == EXIT_OK, res.output
    assert "2 finished" in res.output
    assert not (tmp_path / "r" / "s" / LOCK_FILE).exists()  # released at the end


@pytest.mark.ray
@pytest.mark.parametrize("xs", [[0, -1], [-1, -2]], ids=["one_failed", "all_failed"])
def test_failed_trials_exit_1(tmp_path: Path, xs: list[int]) -> None:
    res = _run(tmp_path, _sweep(tmp_path, xs))
    assert res.exit_code == EXIT_FAILED, res.output
    assert "first failure" in res.output


@pytest.mark.ray
def test_the_failure_guard_exits_1(tmp_path: Path) -> None:
    res = _run(tmp_path, _sweep(tmp_path, [-1, -2, -3, 0]))
    assert res.exit_code == EXIT_FAILED, res.output
    assert "the first 3 trials all failed" in _said(res)


@pytest.mark.ray
def test_raysweep_stop_exits_0_and_says_how_to_continue(tmp_path: Path) -> None:
    res = _run(tmp_path, _sweep(tmp_path, [0, 1, 2, 3], act="STOP"))
    assert res.exit_code == EXIT_OK, res.output
    assert f"continue it with: raysweep resume {tmp_path / 'r' / 's'}" in _said(res)


@pytest.mark.ray
def test_raysweep_cancel_exits_3(tmp_path: Path) -> None:
    res = _run(tmp_path, _sweep(tmp_path, [0, 1, 2], act="CANCEL"))
    assert res.exit_code == EXIT_CANCELLED, res.output
    assert "cancelled: `raysweep cancel` was requested" in res.output
    assert f"continue it with: raysweep resume {tmp_path / 'r' / 's'}" in _said(res)


@pytest.mark.ray
def test_ctrl_c_exits_130_and_says_how_to_continue(tmp_path: Path) -> None:
    res = _run(tmp_path, _sweep(tmp_path, [0, 1, 2, 3], act="SIGINT"))
    assert res.exit_code == EXIT_INTERRUPTED, res.output
    said = _said(res)
    assert "interrupted (Ctrl-C)" in said
    assert f"continue it with: raysweep resume {tmp_path / 'r' / 's'}" in said
    import raysweep

    statuses = raysweep.results(tmp_path / "r" / "s").trials["status"].tolist()
    assert statuses[0] == "finished" and "interrupted" in statuses
    assert not (tmp_path / "r" / "s" / LOCK_FILE).exists()


@pytest.mark.ray
def test_resume_is_refused_while_the_sweeps_driver_runs(tmp_path: Path) -> None:
    res = _run(tmp_path, _sweep(tmp_path, [0, 1, 2], act="resume"))
    # The sweep itself ran every trial once: the second driver changed nothing.
    assert res.exit_code == EXIT_OK, res.output
    assert "3 finished" in res.output
    code, output = json.loads((tmp_path / "r" / "resume.json").read_text(encoding="utf-8"))
    said = " ".join(output.split())
    assert code == EXIT_INVALID
    assert f"another driver is running the sweep in {tmp_path / 'r' / 's'}" in said
    assert f"pid {os.getpid()} on " in said
    assert "Traceback" not in output


@pytest.mark.ray
def test_resume_with_nothing_left_starts_no_ray_and_count_extends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sweep = _sweep(tmp_path, [0, 2, 3, 4])
    first = _run(tmp_path, sweep, "--count", "2")
    assert first.exit_code == EXIT_OK, first.output
    assert "method grid, metric loss (minimize), 4 combinations, --count 2" in first.output
    where = str(tmp_path / "r" / "s")
    more = CliRunner().invoke(main, ["resume", where, "--count", "3"])
    assert more.exit_code == EXIT_OK, more.output
    assert "3 finished" in more.output
    done = CliRunner().invoke(main, ["resume", where])
    assert done.exit_code == EXIT_OK, done.output
    assert "4 finished" in done.output
    import ray

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("Ray must not start")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", refuse)
    for args, why in [(["--count", "3"], "all 3 trials it may run have ended"),
                      ([], "every one of the grid's 4 combinations has ended")]:
        res = CliRunner().invoke(main, ["resume", where, *args])
        assert res.exit_code == EXIT_OK, res.output
        assert f"nothing left to do: {why}" in _said(res)
        assert "done: 4 finished" in res.output
        assert "resuming" not in res.output  # the sweep did not start
