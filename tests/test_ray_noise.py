"""Tune's own trial lines stay off raysweep's output: raysweep shows every trial itself.

Tune adds a progress callback to every run and, whatever the verbosity, prints
``Trial ... completed. Last result: `` when a trial that reported nothing ends.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest
from _cli import private_ray_env, run_cli

import raysweep
from raysweep.execution.ray_session import quiet_callbacks

NOISE = "Last result"


class _Trial:
    """What Tune's progress callback reads of a trial that reported nothing."""

    last_result: dict[str, Any] = {}

    def __str__(self) -> str:
        return "trial_0001"


def _end_silent_trial(callback: Any) -> None:
    trial = _Trial()
    callback.on_trial_result(0, [trial], trial, {})
    callback.on_trial_error(0, [trial], trial)
    callback.on_trial_complete(0, [trial], trial)


def test_tunes_default_callback_prints_the_noise(capsys: pytest.CaptureFixture[str]) -> None:
    # The baseline the next test removes: Tune's own callback prints the line.
    from ray.tune.progress_reporter import TrialProgressCallback

    trial = _Trial()
    TrialProgressCallback().on_trial_complete(0, [trial], trial)
    assert "Trial trial_0001 completed. Last result: " in capsys.readouterr().out


def test_the_quiet_callback_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    from ray.tune.progress_reporter import TrialProgressCallback

    [callback] = quiet_callbacks()
    # Tune adds its own progress callback only where the run has none of this type.
    assert isinstance(callback, TrialProgressCallback)
    _end_silent_trial(callback)
    assert capsys.readouterr() == ("", "")


def test_the_quiet_callback_pickles() -> None:
    # Tune saves a run's callbacks (tuner.pkl).
    [callback] = quiet_callbacks()
    assert type(pickle.loads(pickle.dumps(callback))) is type(callback)


SILENT_PROGRAM = 'print("working, reporting nothing")\n'


def _write_sweep(directory: Path) -> Path:
    (directory / "prog.py").write_text(SILENT_PROGRAM, encoding="utf-8")
    path = directory / "sweep.yaml"
    path.write_text("method: grid\nparameters: {x: {values: [1, 2]}}\nprogram: prog.py\n",
                    encoding="utf-8")
    return path


@pytest.mark.ray
def test_a_silent_trial_leaves_no_tune_line_in_the_api(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    result = raysweep.run(_write_sweep(tmp_path), storage=tmp_path / "results", name="quiet")
    out, err = capfd.readouterr()
    assert list(result.trials["status"]) == ["finished", "finished"]
    assert NOISE not in out + err



@pytest.mark.ray
@pytest.mark.slow
def test_a_silent_trial_leaves_no_tune_line_on_the_command_line(tmp_path: Path) -> None:
    path = _write_sweep(tmp_path)
    with private_ray_env("rsn") as env:
        run = run_cli(["run", str(path), "--num-cpus", "2", "--storage",
                       str(tmp_path / "results"), "--name", "quiet"], cwd=tmp_path, env=env)
    assert "2 finished" in run.stdout, run.stdout + run.stderr
    assert NOISE not in run.stdout + run.stderr
