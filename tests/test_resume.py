"""Reliability: a killed driver resumes without losing or repeating trials; Ctrl-C leaves no
trial process behind. Each scenario drives the CLI in its own process with its own Ray."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _procs import alive
from _promotion_oracle import promotion_oracle
from raysweep.schedulers import HyperbandRule

import raysweep
from raysweep.analysis.tables import read_trials

pytestmark = pytest.mark.slow

PROGRAM = textwrap.dedent(
    """
    import argparse, json, os, sys, time
    p = argparse.ArgumentParser()
    p.add_argument("--x", type=float); p.add_argument("--y", type=float)
    p.add_argument("--steps", type=int, default=3); p.add_argument("--curve", type=int, default=-1)
    p.add_argument("--sleep", type=float, default=0.3)
    a = p.parse_args()
    pids = os.environ["PID_DIR"]
    open(os.path.join(pids, str(os.getpid())), "w").close()
    curves = json.loads(os.environ.get("CURVES", "[]"))
    for i in range(a.steps):
        time.sleep(a.sleep)
        value = curves[a.curve][i] if a.curve >= 0 else (a.x - 2) ** 2 + a.y + 0.1 * i
        print("@raysweep " + json.dumps({"loss": value}), flush=True)
    """
)


@pytest.fixture()
def workdir() -> Iterator[Path]:
    # Short paths: Ray's socket paths must fit the AF_UNIX limit.
    path = Path(tempfile.mkdtemp(prefix="rsr", dir="/tmp"))
    (path / "pids").mkdir()
    (path / "prog.py").write_text(PROGRAM, encoding="utf-8")
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=False)


def _env(workdir: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(RAY_TMPDIR=str(workdir), PID_DIR=str(workdir / "pids"), **extra)
    env.pop("RAY_ADDRESS", None)
    return env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "raysweep", *args]


def _statuses(sweep: Path) -> list[str]:
    return [t["status"] for t in read_trials(sweep)]


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def _programs_alive(workdir: Path) -> list[int]:
    return [int(p.name) for p in (workdir / "pids").iterdir() if alive(int(p.name))]


def _kill_driver_then_resume(workdir: Path, sweep_file: Path, n_ended: int,
                             env: dict[str, str], running: bool = False) -> Path:
    """Kill the driver once ``n_ended`` trials ended (and, with ``running``, exactly that
    many, while the next one shows as running), then resume the sweep."""
    storage = workdir / "res"
    driver = subprocess.Popen(
        _cli("run", str(sweep_file), "--storage", str(storage), "--name", "s", "--num-cpus", "2"),
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    sweep = storage / "s"
    try:
        def ready() -> bool:
            statuses = _statuses(sweep)
            ended = sum(s in ("finished", "stopped") for s in statuses)
            if running:
                return ended == n_ended and "running" in statuses
            return ended >= n_ended

        _wait(ready, 150, f"{n_ended} ended trials")
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and its private Ray, no cleanup
        driver.wait()
    _wait(lambda: not _programs_alive(workdir), 30, "programs of the killed driver to end")
    resumed = subprocess.run(
        _cli("resume", str(sweep), "--num-cpus", "2"), env=env, capture_output=True,
        text=True, timeout=300,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    return sweep


def test_grid_killed_with_sigkill_resumes_each_combination_exactly_once(workdir: Path) -> None:
    sweep_file = workdir / "grid.yaml"
    sweep_file.write_text(
        "program: prog.py\nmethod: grid\nmetric: {name: loss}\n"
        "parameters:\n  x: {values: [0, 1, 2, 3]}\n  y: {values: [0, 1, 2]}\n",
        encoding="utf-8",
    )
    sweep = _kill_driver_then_resume(workdir, sweep_file, 4, _env(workdir))
    result = raysweep.results(sweep)
    combos = [(row.x, row.y) for row in result.trials.itertuples()]
    assert len(combos) == 12
    assert sorted(combos) == sorted({(x, y) for x in (0, 1, 2, 3) for y in (0, 1, 2)})
    assert set(result.trials["status"]) == {"finished"}
    # Every trial has its complete history, none doubled by the interruption.
    assert result.history.groupby("trial_id").size().tolist() == [3] * 12
    assert result.best["config"] == {"x": 2, "y": 0}
    assert not _programs_alive(workdir)


def test_bayes_killed_with_sigkill_resumes_within_run_cap(workdir: Path) -> None:
    sweep_file = workdir / "bayes.yaml"
    sweep_file.write_text(
        "program: prog.py\nmethod: bayes\nmetric: {name: loss}\nrun_cap: 10\n"
        "raysweep: {seed: 3}\n"
        "parameters:\n  x: {min: 0.0, max: 4.0}\n  y: {min: 0.0, max: 1.0}\n",
        encoding="utf-8",
    )
    sweep = _kill_driver_then_resume(workdir, sweep_file, 4, _env(workdir))
    result = raysweep.results(sweep)
    assert len(result.trials) == 10  # run_cap counts every trial that ever ended
    assert set(result.trials["status"]) == {"finished"}
    configs = {(round(r.x, 12), round(r.y, 12)) for r in result.trials.itertuples()}
    assert len(configs) == 10  # no configuration ran twice
    state = json.loads((sweep / "searcher.json").read_text(encoding="utf-8"))
    assert not state["live"]  # every proposal was observed


CURVES = [
    [5, 4, 3, 2, 1, 1, 1, 1, 1],
    [4, 3, 2, 2, 2, 2, 2, 2, 2],
    [9, 9, 9, 9, 9, 9, 9, 9, 9],
    [3, 3, 3, 3, 3, 3, 3, 3, 3],
    [1, 1, 1, 1, 1, 1, 1, 1, 1],
    [8, 2, 8, 0.5, 8, 8, 8, 8, 8],
]


def _curves_sweep(workdir: Path, early_terminate: str, sleep: float) -> Path:
    """A grid over :data:`CURVES`, one trial at a time, 9 reports ``sleep`` s apart."""
    sweep_file = workdir / "curves.yaml"
    sweep_file.write_text(
        "program: prog.py\nmethod: grid\nmetric: {name: loss}\n"
        f"early_terminate: {early_terminate}\n"
        "raysweep: {max_concurrent_trials: 1}\n"
        "parameters:\n  curve: {values: [0, 1, 2, 3, 4, 5]}\n  steps: {value: 9}\n"
        f"  sleep: {{value: {sleep}}}\n",
        encoding="utf-8",
    )
    return sweep_file


def _expected_stops(rule: HyperbandRule) -> dict[int, int]:
    """Replay W&B's controller: trials run one at a time in grid order; the running trial is
    judged after each report against every earlier trial. Returns curve -> steps run."""
    done: dict[str, list[float]] = {}
    steps = {}
    for i, curve in enumerate(CURVES):
        history: list[float] = []
        for value in curve:
            history.append(value)
            decision = rule.evaluate({"t": history}, {**done, "t": history}).get("t")
            if decision is not None and decision.stop:
                break
        steps[i] = len(history)
        done[str(i)] = list(history)
    return steps


def test_hyperband_decisions_survive_a_killed_driver(workdir: Path) -> None:
    sweep_file = _curves_sweep(workdir, "{type: hyperband, min_iter: 1, eta: 2}", 0.15)
    env = _env(workdir, CURVES=json.dumps(CURVES))
    sweep = _kill_driver_then_resume(workdir, sweep_file, 3, env)
    cfg = raysweep.load(sweep_file)
    et = cfg.early_terminate
    rule = HyperbandRule.from_config(eta=et.eta, strict=et.strict, min_iter=et.min_iter)
    expected = _expected_stops(rule)
    result = raysweep.results(sweep)
    got = {int(r.curve): int(r.steps) for r in result.trials.itertuples()}
    assert got == expected
    stopped = {int(r.curve) for r in result.trials.itertuples() if r.status == "stopped"}
    assert stopped == {c for c, n in expected.items() if n < len(CURVES[c])}


def test_ctrl_c_twice_leaves_no_trial_process(workdir: Path) -> None:
    sweep_file = workdir / "slow.yaml"
    sweep_file.write_text(
        "program: prog.py\nmethod: grid\nmetric: {name: loss}\n"
        "parameters:\n  x: {values: [1, 2, 3, 4]}\n  y: {value: 0}\n  steps: {value: 200}\n",
        encoding="utf-8",
    )
    storage = workdir / "res"
    driver = subprocess.Popen(
        _cli("run", str(sweep_file), "--storage", str(storage), "--name", "c", "--num-cpus", "2"),
        env=_env(workdir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        _wait(lambda: len(list((workdir / "pids").iterdir())) >= 2, 120, "two programs")
        driver.send_signal(signal.SIGINT)
        time.sleep(0.5)
        driver.send_signal(signal.SIGINT)
        out, _ = driver.communicate(timeout=90)
    finally:
        if driver.poll() is None:
            driver.kill()
    _wait(lambda: not _programs_alive(workdir), 20, "every trial program to end")
    assert "Traceback" not in out
    # What ran is on disk and readable.
    result = raysweep.results(storage / "c")
    assert len(result.trials) >= 2


def test_promotion_resumes_its_ladder_without_repeating_or_losing_a_rerun(workdir: Path) -> None:
    sweep_file = _curves_sweep(workdir, "{type: promotion, max_iter: 8, s: 2, eta: 2}", 0.5)
    env = _env(workdir, CURVES=json.dumps(CURVES))
    expected = promotion_oracle(CURVES, [2, 4], 2)
    # Killed while the 6th trial, a re-run (curve 3 to rung 4, 2 s), runs: resume must hand
    # it out again as a re-run, not queue its configuration as a new one.
    assert expected[5] == ("stopped", 4, "3") and len(expected) == 13
    sweep = _kill_driver_then_resume(workdir, sweep_file, 5, env, running=True)
    result = raysweep.results(sweep)
    trials = result.trials.set_index("trial_id").loc[result.trial_order]
    got = [(r.status, int(r.steps), str(int(r.curve))) for r in trials.itertuples()]
    assert got == expected
    assert not _programs_alive(workdir)
