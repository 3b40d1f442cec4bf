"""Early termination end to end: scripted learning curves through ``raysweep.run``.

Each sweep runs a grid over ``curve`` (an index into :data:`CURVES`), one trial at a time, so
the trials run in a known order. The program prints its curve, one ``@raysweep`` line per
step, writes ``last-<curve>`` once it has printed its last step and ``pid-<curve>`` when it
starts. The expected outcome of every trial (status, steps, stop reason) comes from replaying
the same curves in the same order through an oracle that never sees Ray:

* ``hyperband``: W&B's controller (the pure :class:`~raysweep.schedulers.HyperbandRule`),
  one tick after every report. With one trial at a time this *is* W&B's behaviour: a tick
  judges only running runs, and the only running run is the current one. Every other run has
  ended, so its history, hence each band's threshold, moves only when the current run adds a
  value; and the current run's compared value only changes at its own reports (strict: its
  value at the band, fixed; non-strict: its best so far, which only improves). So a tick
  after each report stops a run at exactly the report where any later tick would first stop
  it, and W&B's tick period (5 s locally) only delays the kill.
* ``asha`` / ``median``: the same scheduler class fed the curves by hand.
"""

from __future__ import annotations

import json
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from _procs import alive
from _promotion_oracle import promotion_oracle
from raysweep.schedulers import HyperbandRule, make_scheduler

import raysweep

pytestmark = [
    pytest.mark.ray,
    pytest.mark.skipif(sys.platform == "win32", reason="process groups are POSIX"),
]

# Loss curves, ten steps each. Under strict hyperband (min_iter 1, eta 2: bands 1, 2, 4, 8)
# 0 and 1 run out and 2..5 stop at bands 1, 4, 2 and 8; non-strict keeps 4 (its best, 1, is
# early) and therefore 5 (4's value at band 8 widens that band's pool).
CURVES: list[list[float]] = [
    [5, 4, 3, 2.5, 2, 1.8, 1.6, 1.5, 1.4, 1.3],
    [6, 3, 2.8, 2.6, 2.4, 2.2, 2, 1.9, 1.8, 1.7],
    [7, 6, 5, 4, 3, 2, 1, 0.5, 0.4, 0.3],
    [4, 3.5, 3.4, 3.3, 3.2, 3.1, 3, 2.9, 2.8, 2.7],
    [1, 4.5, 4.4, 4.3, 4.2, 4.1, 4, 3.9, 3.8, 3.7],
    [4.5, 2.9, 2.7, 2.4, 2.2, 2.1, 2.05, 2.0, 1.2, 1.1],
]
# The same runs seen as an accuracy to maximize.
ACCURACY = [[round(1 - v / 10, 3) for v in curve] for curve in CURVES]
BAD = [8.0] * 10

PROGRAM = """
import json, os, sys, time
ARGS = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--"))
CURVE = int(ARGS["curve"])
with open(f"pid-{CURVE}", "w") as f:
    f.write(str(os.getpid()))
values = json.loads(CURVES_JSON)[CURVE]
for step, value in enumerate(values, start=1):
    if step == len(values):
        # A stopped trial is killed long before it gets here.
        time.sleep(0.3)
    print("@raysweep " + json.dumps({METRIC: value}), flush=True)
    time.sleep(0.02)
with open(f"last-{CURVE}", "w") as f:
    f.write("done")
"""

Outcome = tuple[str, int, "str | None"]


def _hyperband_oracle(curves: list[list[float]], rule: HyperbandRule) -> list[Outcome]:
    """W&B's controller on one-at-a-time runs: a tick after every report (see above)."""
    sign = -1.0 if rule.maximize else 1.0
    everyone: dict[int, list[float]] = {}
    outcomes: list[Outcome] = []
    for index, curve in enumerate(curves):
        history = everyone.setdefault(index, [])
        outcome: Outcome = ("finished", len(curve), None)
        for step, value in enumerate(curve, start=1):
            history.append(sign * value)
            decision = rule.evaluate({index: history}, everyone).get(index)
            if decision is not None and decision.stop:
                outcome = ("stopped", step, decision.reason)
                break
        outcomes.append(outcome)
    return outcomes


class _Trial:
    def __init__(self, trial_id: str) -> None:
        self.trial_id = trial_id


def _scheduler_oracle(curves: list[list[float]], early_terminate: dict[str, Any]) -> list[Outcome]:
    """The scheduler raysweep builds, fed the curves one trial at a time by hand."""
    # Built as a sweep file would give it: validated and defaulted by the config layer.
    cfg = raysweep.from_dict({"method": "random", "metric": {"name": "loss", "goal": "minimize"},
                              "parameters": {"x": {"value": 1}},
                              "early_terminate": early_terminate})
    scheduler = make_scheduler(cfg.early_terminate, cfg.metric)
    assert scheduler is not None
    outcomes: list[Outcome] = []
    for index, curve in enumerate(curves):
        trial = _Trial(str(index))
        scheduler.on_trial_add(None, trial)
        outcome: Outcome = ("finished", len(curve), None)
        for step, value in enumerate(curve, start=1):
            result = {"loss": value, "training_iteration": step}
            if scheduler.on_trial_result(None, trial, result) == "STOP":
                outcome = ("stopped", step, scheduler.stop_reasons[trial.trial_id])
                break
        scheduler.on_trial_complete(None, trial, result)
        outcomes.append(outcome)
    return outcomes


def _write_sweep(
    tmp_path: Path,
    curves: list[list[float]],
    early_terminate: dict[str, Any],
    metric: str = "loss",
    goal: str = "minimize",
) -> Path:
    """The program that prints ``curves`` and a grid over them, one trial at a time."""
    (tmp_path / "prog.py").write_text(
        textwrap.dedent(PROGRAM)
        .replace("METRIC", repr(metric))
        .replace("CURVES_JSON", repr(json.dumps(curves))),
        encoding="utf-8",
    )
    sweep = {
        "program": "prog.py",
        "method": "grid",
        "metric": {"name": metric, "goal": goal},
        "parameters": {"curve": {"values": list(range(len(curves)))}},
        "early_terminate": early_terminate,
        "raysweep": {"max_concurrent_trials": 1},
    }
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep, sort_keys=False), encoding="utf-8")
    return path


def _run(
    tmp_path: Path,
    curves: list[list[float]],
    early_terminate: dict[str, Any],
    metric: str = "loss",
    goal: str = "minimize",
) -> list[Outcome]:
    """Run the sweep; return each curve's (status, steps, stop_reason) from the results."""
    path = _write_sweep(tmp_path, curves, early_terminate, metric, goal)
    result = raysweep.run(path, storage=tmp_path / "results", name="sweep")
    trials = result.trials.set_index("curve").sort_index()
    assert list(trials.index) == list(range(len(curves)))
    outcomes: list[Outcome] = []
    for index, row in trials.iterrows():
        reason = row["stop_reason"] if isinstance(row["stop_reason"], str) else None
        outcomes.append((row["status"], int(row["steps"]), reason))
        pid = int((tmp_path / f"pid-{index}").read_text())
        if row["status"] == "stopped":
            # Killed as it was stopped: gone, and it never printed its last step.
            deadline = time.monotonic() + 1.0
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not alive(pid), f"curve {index}: program {pid} still runs"
            assert not (tmp_path / f"last-{index}").exists(), f"curve {index} ran on"
        else:
            assert (tmp_path / f"last-{index}").exists()
    return outcomes


@pytest.mark.parametrize(
    ("early_terminate", "expected_steps"),
    [
        pytest.param({"min_iter": 1, "eta": 2}, [10, 10, 1, 4, 2, 8], id="strict_default"),
        pytest.param(
            {"min_iter": 1, "eta": 2, "strict": False}, [10, 10, 1, 4, 10, 10], id="not_strict"
        ),
        # Bands int(9 / 3) = 3 and int(9 / 9) = 1; max_iter itself is not a band.
        pytest.param({"max_iter": 9, "s": 2, "eta": 3}, [10, 1, 1, 3, 3, 10], id="max_iter_s"),
    ],
)
def test_hyperband_stops_each_trial_where_wandb_would(
    tmp_path: Path, early_terminate: dict[str, Any], expected_steps: list[int]
) -> None:
    rule = HyperbandRule.from_config(
        **{k: v for k, v in early_terminate.items() if k != "strict"},
        strict=early_terminate.get("strict", True),
    )
    expected = _hyperband_oracle(CURVES, rule)
    # The curves exercise what they should (stops at several bands, survivors).
    assert [steps for _, steps, _ in expected] == expected_steps
    got = _run(tmp_path, CURVES, {"type": "hyperband", **early_terminate})
    assert got == expected


def test_hyperband_on_a_maximized_metric(tmp_path: Path) -> None:
    rule = HyperbandRule.from_config(min_iter=2, eta=3, maximize=True)  # bands 2, 6, 18
    expected = _hyperband_oracle(ACCURACY, rule)
    assert expected[1] == ("stopped", 6, "stopped at band 6: 0.78 < threshold 0.82")
    assert [steps for _, steps, _ in expected] == [10, 6, 2, 6, 2, 10]
    got = _run(
        tmp_path, ACCURACY, {"type": "hyperband", "min_iter": 2, "eta": 3}, "acc", "maximize"
    )
    assert got == expected


@pytest.mark.parametrize(
    ("early_terminate", "curves", "prefix"),
    [
        pytest.param(
            {"type": "asha", "min_iter": 1, "eta": 2}, CURVES, "stopped at rung", id="asha"
        ),
        pytest.param(
            {"type": "median", "min_iter": 2}, [*CURVES, BAD], "stopped at step", id="median"
        ),
    ],
)
def test_ray_schedulers_mark_their_stops(
    tmp_path: Path, early_terminate: dict[str, Any], curves: list[list[float]], prefix: str
) -> None:
    expected = _scheduler_oracle(curves, early_terminate)
    stopped = [o for o in expected if o[0] == "stopped"]
    assert len(stopped) >= 2 and all(reason.startswith(prefix) for _, _, reason in stopped)
    assert _run(tmp_path, curves, early_terminate) == expected


def test_promotion_reruns_the_best_configurations_to_the_next_rung(tmp_path: Path) -> None:
    # Rungs int(8 / 2) = 4 and int(8 / 4) = 2; promoted past rung 4, a trial runs to its end.
    expected = promotion_oracle(CURVES, [2, 4], 2)
    # Hand-checked: curve 1 (3 at step 2) goes on first; 1 and 5 end up trained in full.
    assert expected == [
        ("stopped", 2, "0"), ("stopped", 2, "1"), ("stopped", 4, "1"), ("stopped", 2, "2"),
        ("stopped", 2, "3"), ("stopped", 4, "3"), ("finished", 10, "1"), ("stopped", 2, "4"),
        ("stopped", 2, "5"), ("stopped", 4, "5"), ("finished", 10, "5"),
    ]
    path = _write_sweep(tmp_path, CURVES, {"type": "promotion", "max_iter": 8, "s": 2, "eta": 2})
    result = raysweep.run(path, storage=tmp_path / "results", name="sweep")
    trials = result.trials.set_index("trial_id").loc[result.trial_order]
    got = [(row["status"], int(row["steps"]), str(row["curve"])) for _, row in trials.iterrows()]
    assert got == expected
    reasons = [r for r in trials["stop_reason"] if isinstance(r, str)]
    assert reasons[2].startswith("stopped at rung 4 (re-run of trial ")
    assert len(reasons) == 9
    # Every re-run names its configuration's first trial; first trials name none.
    first: dict[int, str] = {}
    for trial_id, row in trials.iterrows():
        curve = int(row["curve"])
        rerun_of = row["rerun_of"] if isinstance(row["rerun_of"], str) else None
        assert rerun_of == first.get(curve), trial_id
        first.setdefault(curve, str(trial_id))
    assert trials["rerun_of"].notna().sum() == len(expected) - len(CURVES)


def test_promotion_with_two_trials_at_a_time_ends_and_reruns_only_what_ran(
    tmp_path: Path,
) -> None:
    # Random search proposes ahead (Tune keeps one pending trial per free CPU): the searcher
    # must still put re-runs first, wait for running trials instead of finishing, and end.
    def train(config: dict[str, Any]) -> None:
        for step in range(1, 10):
            raysweep.log({"loss": (config["x"] - 0.3) ** 2 + 1.0 / step})
            time.sleep(0.01)

    sweep = {
        "method": "random",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"min": 0.0, "max": 1.0}},
        "early_terminate": {"type": "promotion", "min_iter": 1, "eta": 3},  # rungs 1, 3, 9
    }
    result = raysweep.run(sweep, function=train, count=24, storage=tmp_path, name="p", seed=1)
    trials = result.trials.set_index("trial_id").loc[result.trial_order]
    assert len(trials) == 24
    first_of: dict[float, str] = {}
    for trial_id, row in trials.iterrows():
        reason = row["stop_reason"] if isinstance(row["stop_reason"], str) else ""
        if row["x"] not in first_of:  # a configuration's first trial: one report
            first_of[row["x"]] = str(trial_id)
            assert (row["status"], row["steps"]) == ("stopped", 1), reason
            assert "re-run" not in reason
        else:  # a re-run trains to rung 3, or past rung 9 to its end (9 reports)
            assert row["steps"] in (3, 9), (trial_id, row["steps"])
            if row["status"] == "stopped":
                assert f"(re-run of trial {first_of[row['x']]})" in reason
    reruns = len(trials) - len(first_of)
    assert 2 <= reruns <= len(first_of)  # about n / 3 + n / 9 of the n configurations
