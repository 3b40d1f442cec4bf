"""``raysweep resume --rerun-failed``: the failed trials run again with their configurations.

Each failed trial is replaced by a new trial of its configuration, run first; its entry moves
to ``rerun_failed.jsonl``; the reruns take the failed trials' places toward ``run_cap``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from raysweep.search import make_proposer

import raysweep
from raysweep.analysis.tables import read_trials
from raysweep.execution.resume import nothing_left, reconcile, rerun_room
from raysweep.files import RERUN_FAILED_FILE
from raysweep.sweep.config import from_dict

GRID = {"method": "grid", "metric": {"name": "loss"},
        "parameters": {"a": {"values": [1, 2, 3, 4]}}}


def _sweep_dir(tmp_path: Path) -> Path:
    sweep = tmp_path / "s"
    sweep.mkdir()
    (sweep / "raysweep.json").write_text(json.dumps({"metric": "loss", "parameters": ["a"]}))
    entries = [
        {"trial_id": "t1", "status": "finished", "config": {"a": 1}, "last": 1.0},
        {"trial_id": "t2", "status": "failed", "config": {"a": 2}, "error": "boom"},
        {"trial_id": "t3", "status": "finished", "config": {"a": 3}, "last": 3.0},
        {"trial_id": "t4", "status": "failed", "config": {"a": 4}, "error": "bang"},
    ]
    (sweep / "trials.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    (sweep / "history.jsonl").write_text("".join(
        json.dumps({"trial_id": t, "step": 1, "loss": 1.0}) + "\n" for t in ("t1", "t2", "t3")))
    return sweep


def test_reconcile_drops_the_failed_trials_and_keeps_their_entries(tmp_path: Path) -> None:
    sweep = _sweep_dir(tmp_path)
    plan = reconcile(sweep, rerun_failed=True)
    assert plan.ended == 2  # the reruns take the failed trials' places toward run_cap
    assert plan.dropped_ids == {"t2", "t4"}
    assert plan.dropped_configs == {"t2": {"a": 2}, "t4": {"a": 4}}
    assert [e["trial_id"] for e in read_trials(sweep)] == ["t1", "t3"]
    history = [json.loads(line)["trial_id"]
               for line in (sweep / "history.jsonl").read_text().splitlines()]
    assert history == ["t1", "t3"]
    kept = [json.loads(line) for line in (sweep / RERUN_FAILED_FILE).read_text().splitlines()]
    assert [(e["trial_id"], e["error"]) for e in kept] == [("t2", "boom"), ("t4", "bang")]
    cfg = from_dict(GRID)
    assert nothing_left(sweep, cfg, plan, cap=-1) is None
    assert nothing_left(sweep, cfg, plan, cap=2) == "all 2 trials it may run have ended"


def test_reconcile_cuts_a_partial_line_a_crash_left_in_the_kept_failures(
    tmp_path: Path,
) -> None:
    # An earlier resume killed while appending left half a record: the new records must
    # start on lines of their own, or both would be lost to a reader.
    sweep = _sweep_dir(tmp_path)
    earlier = json.dumps({"trial_id": "t0", "status": "failed", "error": "old"}) + "\n"
    (sweep / RERUN_FAILED_FILE).write_text(earlier + '{"trial_id": "t9", "sta')
    reconcile(sweep, rerun_failed=True)
    kept = [json.loads(line) for line in (sweep / RERUN_FAILED_FILE).read_text().splitlines()]
    assert [(e["trial_id"], e["error"]) for e in kept] == [
        ("t0", "old"), ("t2", "boom"), ("t4", "bang")
    ]


def test_rerun_failed_without_room_under_the_cap_keeps_the_failed_entries(
    tmp_path: Path,
) -> None:
    # 2 finished + 2 failed with --count 2: a rerun would exceed the cap, so nothing runs, and
    # the failed trials must stay in the results rather than move to rerun_failed.jsonl.
    import yaml

    sweep = _sweep_dir(tmp_path)
    (sweep / "sweep.yaml").write_text(yaml.safe_dump(GRID))
    assert rerun_room(sweep, cap=-1) and rerun_room(sweep, cap=3)
    assert not rerun_room(sweep, cap=2)
    result = raysweep.resume(sweep, count=2, rerun_failed=True)
    assert result.meta["ended_by"] == "nothing"
    assert "raise --count" in result.meta["end_reason"]
    assert len(read_trials(sweep)) == 4 and not (sweep / RERUN_FAILED_FILE).exists()


def test_without_the_flag_failed_trials_stay(tmp_path: Path) -> None:
    sweep = _sweep_dir(tmp_path)
    plan = reconcile(sweep)
    assert plan.ended == 4 and not plan.dropped_ids
    assert len(read_trials(sweep)) == 4
    assert not (sweep / RERUN_FAILED_FILE).exists()


def test_bayes_replaces_a_failure_when_the_configuration_runs_again() -> None:
    cfg = from_dict({"method": "bayes", "metric": {"name": "loss"},
                     "parameters": {"x": {"min": 0.0, "max": 1.0}}})
    bo = make_proposer(cfg, seed=0)
    first, second = bo.propose(), bo.propose()
    assert first is not None and second is not None
    bo.observe(first, None)
    bo.observe(second, 0.5)
    bo.observe(dict(first), 0.25)  # the rerun of the failed one
    state = bo.get_state()
    assert [loss for _, loss in state["observations"]] == [0.25, 0.5]
    # A state restored before the rerun also knows the failure to replace.
    again = make_proposer(cfg, seed=0)
    again.observe(first, None)
    restored = make_proposer(cfg, seed=0)
    restored.set_state(again.get_state())
    restored.observe(dict(first), 0.1)
    assert [loss for _, loss in restored.get_state()["observations"]] == [0.1]


@pytest.mark.ray
def test_resume_rerun_failed_runs_the_failed_configurations_again(tmp_path: Path) -> None:
    marks = str(tmp_path / "marks")
    Path(marks).mkdir()

    def train(config: dict[str, Any]) -> None:
        import os

        import raysweep

        mark = os.path.join(marks, str(config["a"]))
        if config["a"] in (2, 4) and not os.path.exists(mark):
            open(mark, "w").close()  # noqa: SIM115 - a marker: fails the first time only
            raise RuntimeError(f"first try of a={config['a']} fails")
        raysweep.log({"loss": float(config["a"])})

    first = raysweep.run(GRID, function=train, storage=tmp_path / "res", name="g")
    assert sorted(first.trials["status"]) == ["failed", "failed", "finished", "finished"]
    # Without the flag there is nothing left to do in a grid whose every combination ended.
    assert raysweep.resume(first.path, function=train).meta["ended_by"] == "nothing"

    again = raysweep.resume(first.path, function=train, rerun_failed=True)
    trials = again.trials
    assert len(trials) == 4
    assert (trials["status"] == "finished").all()
    assert sorted(trials["a"]) == [1, 2, 3, 4]
    failed_ids = set(first.trials.loc[first.trials["status"] == "failed", "trial_id"])
    assert not failed_ids & set(trials["trial_id"])  # new trials replaced them
    kept = [json.loads(line) for line in (first.path / RERUN_FAILED_FILE).read_text()
            .splitlines()]
    assert {e["trial_id"] for e in kept} == failed_ids
    assert all("first try" in e["error"] for e in kept)
    assert sorted(set(again.history["trial_id"])) == sorted(trials["trial_id"])


def test_rerun_failed_is_refused_for_a_define_by_run_space(tmp_path: Path) -> None:
    # scheduler.search_space picks each trial's parameters: nothing can rebuild a failed
    # trial's configuration outside the study, so the flag is refused before anything moves.
    from raysweep.errors import RaysweepError
    from raysweep.execution.tuner import write_meta

    (tmp_path / "hooks.py").write_text("def space(trial):\n    trial.suggest_float('x', 0, 1)\n")
    cfg = from_dict({"method": "custom", "metric": {"name": "loss"},
                     "scheduler": {"engine": "optuna", "source": str(tmp_path / "hooks.py"),
                                   "search_space": "space"}})
    assert cfg.define_by_run
    sweep = tmp_path / "s"
    write_meta(sweep, cfg, "s")
    (sweep / "trials.jsonl").write_text(json.dumps(
        {"trial_id": "t1", "status": "failed", "config": {"x": 0.5}, "error": "boom"}) + "\n")
    with pytest.raises(RaysweepError, match="define-by-run space"):
        raysweep.resume(sweep, function=print, rerun_failed=True)
    assert len(read_trials(sweep)) == 1 and not (sweep / RERUN_FAILED_FILE).exists()
