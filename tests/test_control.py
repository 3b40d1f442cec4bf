"""Sweep control through marker files, and the guard against a broken program."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import raysweep

pytestmark = pytest.mark.ray

PROGRAM = textwrap.dedent(
    """
    import argparse, json, os, pathlib, sys, time
    p = argparse.ArgumentParser(); p.add_argument("--x", type=int)
    p.add_argument("--marker", default="")
    a = p.parse_args()
    if a.x < 0:
        print("something is broken", flush=True)
        sys.exit(3)
    if a.marker and a.x == 1:
        # The sweep directory is the parent of this trial's directory.
        sweep = pathlib.Path(os.environ["RAYSWEEP_TRIAL_DIR"]).parent
        (sweep / a.marker).write_text("requested by the test")
    for i in range(4):
        time.sleep(0.3)
        print("@raysweep " + json.dumps({"loss": a.x + i}), flush=True)
    """
)


def _sweep(tmp_path: Path, xs: list[int], marker: str = "") -> raysweep.SweepConfig:
    (tmp_path / "prog.py").write_text(PROGRAM, encoding="utf-8")
    return raysweep.sweep.config.from_dict(
        {
            "program": "prog.py",
            "method": "grid",
            "metric": {"name": "loss"},
            "parameters": {"x": {"values": xs}, "marker": {"value": marker}},
            "raysweep": {"max_concurrent_trials": 1},
        },
        path=tmp_path / "sweep.yaml",
    )


def test_first_failures_end_the_sweep_with_the_first_error(tmp_path: Path) -> None:
    result = raysweep.run(_sweep(tmp_path, [-1, -2, -3, -4, -5, 1]), storage=tmp_path / "r")
    statuses = result.trials["status"].tolist()
    assert statuses.count("failed") == 3
    assert "finished" not in statuses  # trial x=1 never ran
    assert "first 3 trials all failed" in result.meta["end_reason"]
    errors = result.trials.loc[result.trials["status"] == "failed", "error"]
    assert all("something is broken" in e and "status 3" in e for e in errors)


def test_stop_marker_lets_running_trials_finish_and_starts_no_more(tmp_path: Path) -> None:
    result = raysweep.run(_sweep(tmp_path, [0, 1, 2, 3, 4], marker="STOP"),
                          storage=tmp_path / "r")
    # Trial x=1 wrote STOP while running: it finishes, later ones never start.
    finished = sorted(result.trials.loc[result.trials["status"] == "finished", "x"])
    assert finished == [0, 1]
    assert result.meta["end_reason"].startswith("stopped: `raysweep stop`")


def test_cancel_marker_stops_the_running_trial(tmp_path: Path) -> None:
    result = raysweep.run(_sweep(tmp_path, [0, 1, 2, 3], marker="CANCEL"),
                          storage=tmp_path / "r")
    by_x = dict(zip(result.trials["x"], result.trials["steps"], strict=True))
    assert by_x[0] == 4
    assert by_x.get(1, 0) < 4  # cancelled mid-run
    assert 2 not in by_x or by_x[2] == 0
    assert result.meta["end_reason"].startswith("cancelled")
