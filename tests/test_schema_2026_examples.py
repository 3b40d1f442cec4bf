"""The runnable examples of W&B's 2026 schema (``examples/schema-2026``), as a user runs them.

Ray-free: ``raysweep validate`` accepts each file, and the hooks give the study and the
conditional space the README describes. Slow: ``raysweep run`` of each file on its own private
Ray, then the results a user reads (a branch's parameters only, a Pareto front).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
from pathlib import Path
from types import ModuleType

import optuna
import pytest
from _cli import private_ray_env, run_cli
from optuna.storages.journal import JournalFileBackend

import raysweep

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "schema-2026"
DEFINE_BY_RUN = EXAMPLES / "optuna_define_by_run.yaml"
MULTI_OBJECTIVE = EXAMPLES / "multi_objective.yaml"

# Each branch of hooks.search_space and the parameters it defines.
BRANCHES = {"sgd": {"optimizer", "lr", "momentum"}, "adam": {"optimizer", "lr", "beta1"}}


def test_the_folder_holds_the_two_sweeps_the_readme_names() -> None:
    assert sorted(EXAMPLES.glob("*.yaml")) == sorted([DEFINE_BY_RUN, MULTI_OBJECTIVE])
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    for path in [*EXAMPLES.glob("*.yaml"), *EXAMPLES.glob("*.py")]:
        assert f"`{path.name}`" in readme, path.name


@pytest.mark.parametrize(
    ("sweep", "objectives", "hooks"),
    [
        pytest.param(DEFINE_BY_RUN, [("val_loss", "minimize")],
                     {"optimizer": "optimizer", "search_space": "search_space"},
                     id="define_by_run"),
        pytest.param(MULTI_OBJECTIVE, [("val_loss", "minimize"), ("n_params", "minimize")],
                     {"optimizer": None, "search_space": None}, id="multi_objective"),
    ],
)
def test_raysweep_validate_accepts_each_example(
    sweep: Path, objectives: list[tuple[str, str]], hooks: dict[str, str | None]
) -> None:
    r = run_cli(["validate", "--json", str(sweep)], cwd=EXAMPLES, env=dict(os.environ),
                timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    (report,) = json.loads(r.stdout)
    assert report["valid"] and report["supported"], report
    assert (report["issues"], report["warnings"]) == ([], [])
    assert (report["method"], report["engine"]) == ("custom", "optuna")
    assert [(o["name"], o["goal"]) for o in report["objectives"]] == objectives
    scheduler = report["scheduler"]
    assert {k: scheduler[k] for k in hooks} == hooks
    if hooks["optimizer"] is not None:
        assert scheduler["source"] == str(EXAMPLES / "hooks.py")


def _hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("schema_2026_hooks", EXAMPLES / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_hooks_give_a_pruning_tpe_study_and_a_conditional_space() -> None:
    hooks = _hooks()
    study = hooks.optimizer()
    assert isinstance(study.sampler, optuna.samplers.TPESampler)
    assert isinstance(study.pruner, optuna.pruners.MedianPruner)
    assert study.direction == optuna.study.StudyDirection.MINIMIZE  # the file's goal
    seen = set()
    for _ in range(16):
        trial = study.ask()
        config = hooks.search_space(trial)
        assert config == trial.params and set(config) == BRANCHES[config["optimizer"]]
        assert 1e-3 <= config["lr"] <= 0.3
        seen.add(config["optimizer"])
        study.tell(trial, config["lr"])
    assert seen == set(BRANCHES)


@pytest.mark.slow
def test_each_example_runs_through_the_cli(tmp_path: Path) -> None:
    storage = tmp_path / "results"
    with private_ray_env("rs26") as env:
        runs = {
            name: run_cli(["run", str(sweep), "--num-cpus", "2", "--storage", str(storage),
                           "--name", name], cwd=tmp_path, env=env, timeout=120)
            for name, sweep in [("dbr", DEFINE_BY_RUN), ("moo", MULTI_OBJECTIVE)]
        }
        front_cli = run_cli(["results", str(storage / "moo"), "--pareto", "--format", "json"],
                            cwd=tmp_path, env=env, timeout=60)
    for r in runs.values():
        assert r.returncode == 0, r.stdout + r.stderr

    # Define-by-run: each trial has its branch's parameters and no other's.
    trials = raysweep.results(storage / "dbr").trials
    assert len(trials) == 12 and set(trials["status"]) <= {"finished", "stopped"}
    for _, row in trials.iterrows():
        present = {k for k in ("optimizer", "lr", "momentum", "beta1")
                   if isinstance(row[k], str) or not math.isnan(row[k])}
        assert present == BRANCHES[row["optimizer"]], row.to_dict()
    stopped = trials[trials["status"] == "stopped"]
    assert all(reason.startswith("pruned by MedianPruner at step ")
               for reason in stopped["stop_reason"])
    # The study in the sweep folder: one trial per run, the pruned ones told PRUNED.
    journal = optuna.storages.JournalStorage(
        JournalFileBackend(str(storage / "dbr" / "optuna.journal")))
    (name,) = optuna.get_all_study_names(journal)
    states = [t.state for t in optuna.load_study(study_name=name, storage=journal).trials]
    assert len(states) == 12
    assert states.count(optuna.trial.TrialState.PRUNED) == len(stopped)

    # Two objectives: a non-empty front, the same from the CLI as from the Python API.
    moo = raysweep.results(storage / "moo")
    assert len(moo.trials) == 16 and (moo.trials["status"] == "finished").all()
    front = moo.pareto
    assert len(front) >= 1 and front["pareto"].all()
    assert (front["n_params"] == front["width"]).all()  # the script logs its width as size
    assert front_cli.returncode == 0, front_cli.stderr
    assert [row["trial_id"] for row in json.loads(front_cli.stdout)] == front["trial_id"].tolist()
