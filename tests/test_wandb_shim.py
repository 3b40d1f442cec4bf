"""raysweep's stand-in ``wandb``: W&B's config, logging and summary rules, and soft no-ops.

Pure rules are tested on their modules in ``raysweep.program``; the stand-in package is
imported in this process (under its real name, ``wandb``) with a collecting reporter, and run
as a subprocess with the environment of a program trial. No Ray.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from _standin import enter_trial, stand_in_imported

from raysweep.errors import RaysweepWarning
from raysweep.execution.trainable import ProgramSpec, trial_environment
from raysweep.program.metrics import parse_report_line, set_function_reporter
from raysweep.program.once import reset_warnings
from raysweep.program.wandb_agent import (
    agent_environment,
    function_trial,
    write_param_file,
)
from raysweep.program.wandb_config import (
    Config,
    ConfigError,
    config_values,
    merge_dicts,
    read_config_file,
)
from raysweep.program.wandb_history import History, reportable
from raysweep.program.wandb_init import init_config, sweep_values
from raysweep.program.wandb_package import SHIM_DIR, pythonpath_with_shim
from raysweep.program.wandb_summary import MetricDefinition, Summary

LOCKED = "Config item '{}' was locked by 'sweep' (ignored update)."


@pytest.fixture(autouse=True)
def fresh_warnings() -> Iterator[None]:
    """Every test sees each once-only warning afresh."""
    reset_warnings()
    yield
    reset_warnings()


# --- the parameter file and merging ---------------------------------------------------------


def test_param_file_round_trips_as_the_agent_writes_it(tmp_path: Path) -> None:
    values = {"lr": 1e-05, "opt": {"name": "adam", "betas": [0.9, 0.99]}, "flag": True, "n": None}
    path = write_param_file(tmp_path, "run1", values)

    assert path.name == "config-run1.yaml"
    assert path.read_text().startswith("wandb_version: 1\nlr:\n  value: 1.0e-05\n")
    assert read_config_file(path) == values
    assert sweep_values({"WANDB_SWEEP_PARAM_PATH": str(path)}) == values
    assert sweep_values({}) == {}


def test_agent_environment_points_runs_at_the_parameter_file(tmp_path: Path) -> None:
    env = agent_environment({"lr": 0.5}, trial_id="t3", trial_dir=tmp_path, sweep_id="s",
                            mode="real")
    assert env == {
        "WANDB_SWEEP_ID": "s",
        "WANDB_RUN_ID": "t3",
        "WANDB_SWEEP_PARAM_PATH": str(tmp_path / "config-t3.yaml"),
        "RAYSWEEP_TRIAL_DIR": str(tmp_path),
        "RAYSWEEP_WANDB": "real",
    }
    assert sweep_values(env) == {"lr": 0.5}
    with pytest.raises(ValueError, match="wandb mode must be one of shim, real"):
        agent_environment({}, trial_id="t4", trial_dir=tmp_path, sweep_id="s", mode="off")
    assert not (tmp_path / "config-t4.yaml").exists()


def test_init_config_filters_the_script_keys_and_locks_the_sweep_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config-defaults.yaml").write_text("epochs:\n  value: 3\n")
    path = write_param_file(tmp_path, "r", {"lr": 0.5})
    config = init_config({"lr": 0.1, "bs": 8, "seed": 1}, include_keys=["lr", "bs", "epochs"],
                         exclude_keys=["bs"], environ={"WANDB_SWEEP_PARAM_PATH": str(path)})
    assert config.as_dict() == {"epochs": 3, "lr": 0.5}
    assert config.locked_keys() == {"lr": "sweep"}


def test_config_values_accepts_plain_and_wrapped_entries() -> None:
    doc = {"wandb_version": 1, "_wandb": {"value": {}}, "a": {"value": 1, "desc": None}, "b": 2}
    assert config_values(doc) == {"a": 1, "b": 2}


def test_merge_dicts_is_recursive_and_does_not_mutate() -> None:
    base = {"opt": {"lr": 0.1, "sched": {"kind": "cos", "warmup": 5}}, "bs": 8}
    merged = merge_dicts(base, {"opt": {"sched": {"warmup": 0}}, "new": 1})
    assert merged == {"opt": {"lr": 0.1, "sched": {"kind": "cos", "warmup": 0}}, "bs": 8,
                      "new": 1}
    assert base["opt"]["sched"]["warmup"] == 5  # type: ignore[index]


def test_a_non_dict_sweep_value_replaces_a_dict_default() -> None:
    assert merge_dicts({"opt": {"lr": 0.1}}, {"opt": "adam"}) == {"opt": "adam"}


# --- wandb.config ---------------------------------------------------------------------------


def _sweep_config() -> Config:
    config = Config()
    config.set_defaults({"lr": 0.1, "epochs": 3, "opt": {"name": "sgd", "m": 0.9}})
    config.merge_locked({"lr": 0.01, "opt": {"name": "adam"}}, user="sweep")
    return config


def test_sweep_values_override_defaults_and_merge_nested_dicts() -> None:
    config = _sweep_config()
    assert config.as_dict() == {"lr": 0.01, "epochs": 3, "opt": {"name": "adam", "m": 0.9}}
    assert config.locked_keys() == {"lr": "sweep", "opt": "sweep"}


@pytest.mark.parametrize(
    "update",
    [
        pytest.param(lambda c: c.update({"lr": 0.5}), id="update"),
        pytest.param(lambda c: c.update({"lr": 0.5}, allow_val_change=True), id="allow"),
        pytest.param(lambda c: setattr(c, "lr", 0.5), id="attribute"),
        pytest.param(lambda c: c.__setitem__("lr", 0.5), id="item"),
        pytest.param(lambda c: c.update({"--lr": 0.5}), id="dashes"),
    ],
)
def test_updating_a_sweep_key_is_ignored_with_the_wandb_warning(update: Any) -> None:
    config = _sweep_config()
    with pytest.warns(RaysweepWarning, match=re.escape(LOCKED.format("lr"))):
        update(config)
    assert config.lr == 0.01


def test_update_sets_free_keys_and_skips_locked_ones() -> None:
    config = _sweep_config()
    with pytest.warns(RaysweepWarning, match=re.escape(LOCKED.format("opt"))):
        config.update({"opt": {"name": "rmsprop"}, "seed": 1, "epochs": 3})
    assert config.seed == 1 and config.opt == {"name": "adam", "m": 0.9}


def test_changing_a_value_needs_allow_val_change_as_in_wandb() -> None:
    config = _sweep_config()
    with pytest.raises(ConfigError, match='change value of key "epochs" from 3 to 4'):
        config.update({"epochs": 4})
    with pytest.raises(ConfigError):
        config.epochs = 4
    config.update({"epochs": 4}, allow_val_change=True)
    assert config["epochs"] == 4


def test_config_reads_like_wandb_config() -> None:
    config = _sweep_config()
    assert config.lr == config["lr"] == config.get("lr") == 0.01
    assert config.get("missing", 7) == 7
    assert "lr" in config and "missing" not in config
    assert list(config) == list(config.keys()) == ["lr", "epochs", "opt"]
    assert dict(config) == dict(config.items()) == config.as_dict()
    assert len(config) == 3
    assert getattr(config, "missing", None) is None
    assert not hasattr(config, "missing")
    with pytest.raises(KeyError):
        config["missing"]
    with pytest.raises(KeyError):
        config.missing  # noqa: B018 - W&B raises KeyError here too


def test_setdefaults_and_namespaces() -> None:
    config = _sweep_config()
    config.setdefaults({"lr": 1.0, "dropout": 0.2})
    config.update(argparse.Namespace(batch=32))
    assert (config.lr, config.dropout, config.batch) == (0.01, 0.2, 32)
    with pytest.raises(TypeError, match="config must be a dict"):
        config.update(42)


# --- history rows ---------------------------------------------------------------------------

LOG_CASES = [
    pytest.param([({"a": 1}, None, None), ({"a": 2}, None, None)],
                 [(0, {"a": 1}), (1, {"a": 2})], 2, id="each-call-one-row"),
    pytest.param([({"a": 1}, None, False), ({"b": 2}, None, False), ({"c": 3}, None, None)],
                 [(0, {"a": 1, "b": 2, "c": 3})], 1, id="commit-false-accumulates"),
    pytest.param([({"a": 1}, None, False), ({}, None, True)],
                 [(0, {"a": 1})], 1, id="commit-true-flushes"),
    pytest.param([({"a": 1}, 3, None), ({"b": 2}, 3, None), ({"a": 5}, 4, None)],
                 [(3, {"a": 1, "b": 2})], 4, id="step-commits-when-it-grows"),
    pytest.param([({"a": 1}, 3, True), ({"a": 2}, None, None)],
                 [(3, {"a": 1}), (4, {"a": 2})], 5, id="step-with-commit"),
    pytest.param([({"a": 1}, None, None), ({"a": 9}, 0, None), ({"a": 2}, None, None)],
                 [(0, {"a": 1}), (1, {"a": 2})], 2, id="lower-step-ignored"),
]


@pytest.mark.parametrize(("calls", "rows", "step"), LOG_CASES)
def test_history_commits_rows_by_wandb_step_rules(
    calls: list[tuple[dict[str, Any], int | None, bool | None]],
    rows: list[tuple[int, dict[str, Any]]],
    step: int,
) -> None:
    history = History()
    committed = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for data, at, commit in calls:
            committed.extend(history.log(data, step=at, commit=commit))
    assert committed == rows
    assert history.step == step
    lower = [str(w.message) for w in caught]
    assert lower == (
        ["Tried to log to step 0 that is less than the current step 1. Steps must be "
         "monotonically increasing, so this data will be ignored."]
        if any(at == 0 for _, at, _ in calls) else []
    )


def test_finish_flushes_the_row_being_built() -> None:
    history = History()
    assert history.log({"a": 1}, step=7) == []
    assert history.flush() == (7, {"a": 1})
    assert history.flush() is None


# --- summary and define_metric --------------------------------------------------------------


def test_summary_keeps_last_values_and_define_metric_aggregates() -> None:
    definitions = [
        MetricDefinition("loss", summary="min,mean"),
        MetricDefinition("val/*", summary="max"),
        MetricDefinition("acc", summary="best", goal="maximize"),
        MetricDefinition("noise", summary="none"),
    ]
    summary = Summary(definitions)
    for row in ({"loss": 3.0, "val/acc": 0.5, "acc": 0.7, "noise": 1, "epoch": 0},
                {"loss": 1.0, "val/acc": 0.4, "acc": 0.9, "noise": 2, "epoch": 1}):
        summary.observe(row)
    assert summary.as_dict() == {
        "loss": {"min": 1.0, "mean": 2.0},
        "val/acc": {"max": 0.5},
        "acc": {"best": 0.9},
        "epoch": 1,
    }


def test_explicit_summary_values_until_the_key_is_logged() -> None:
    summary = Summary()
    summary["test_acc"] = 0.9
    summary.update({"best": 1})
    summary.best_epoch = 4
    assert summary.unlogged() == {"test_acc": 0.9, "best": 1, "best_epoch": 4}
    summary.observe({"best": 2})
    assert summary.best == 2 and summary.unlogged() == {"test_acc": 0.9, "best_epoch": 4}


def test_bad_define_metric_arguments_warn_and_are_ignored() -> None:
    with pytest.warns(RaysweepWarning, match="unknown summary 'median'"):
        definition = MetricDefinition("loss", summary="median,min")
    assert definition.summary == ("min",)
    with pytest.warns(RaysweepWarning, match="goal must be 'minimize' or 'maximize'"):
        assert MetricDefinition("loss", goal="maximise").goal is None


def test_reportable_keeps_scalars_and_unwraps_numpy() -> None:
    row = {
        "loss": np.float32(0.5),
        "n": np.int64(3),
        "ok": np.bool_(True),
        "one": np.array([2.5]),
        "arr": np.arange(3),
        "img": object(),
        "hist": [1, 2],
        "val": {"acc": 1.0, "cm": np.eye(2)},
        "_step": 4,
    }
    clean, dropped = reportable(row)
    assert clean == {"loss": 0.5, "n": 3, "ok": True, "one": 2.5, "val": {"acc": 1.0}}
    assert all(type(v) in (float, int, bool) for k, v in clean.items() if k != "val")
    assert dropped == ["arr", "img", "hist", "val/cm"]


def test_pythonpath_puts_the_stand_in_first_once() -> None:
    shim = str(SHIM_DIR)
    assert pythonpath_with_shim(None) == shim
    assert pythonpath_with_shim(f"/a{os.pathsep}{shim}") == f"{shim}{os.pathsep}/a"
    assert (SHIM_DIR / "wandb" / "__init__.py").is_file()


# --- the stand-in package, imported in this process --------------------------------------


@pytest.fixture
def trial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A trial's environment and a reporter that collects what raysweep would receive."""
    trial_dir = enter_trial(tmp_path, monkeypatch)
    reports: list[dict[str, Any]] = []
    previous = set_function_reporter(reports.append)
    try:
        yield {"dir": trial_dir, "reports": reports}
    finally:
        set_function_reporter(previous)


def _sweep_params(trial: dict[str, Any], values: dict[str, Any], monkeypatch: Any) -> None:
    path = write_param_file(trial["dir"], "t1", values)
    monkeypatch.setenv("WANDB_SWEEP_PARAM_PATH", str(path))


@pytest.fixture
def wandb(trial: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The stand-in, imported as ``wandb``; forgotten again afterwards."""
    with stand_in_imported(monkeypatch) as module:
        yield module


def test_stand_in_is_the_package_imported(wandb: ModuleType) -> None:
    assert wandb.__file__ == str(SHIM_DIR / "wandb" / "__init__.py")
    assert wandb.run is None


def test_init_gives_sweep_values_over_defaults(
    wandb: ModuleType, trial: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _sweep_params(trial, {"lr": 0.01, "opt": {"name": "adam"}}, monkeypatch)
    run = wandb.init(config={"lr": 0.1, "epochs": 2, "opt": {"name": "sgd", "m": 0.9}},
                     project="p")
    assert wandb.run is run and wandb.config is run.config and wandb.summary is run.summary
    assert dict(wandb.config) == {"lr": 0.01, "epochs": 2, "opt": {"name": "adam", "m": 0.9}}
    assert (run.id, run.sweep_id, run.project, run.dir) == ("t1", "sweep-1", "p",
                                                              str(trial["dir"]))
    with pytest.warns(RaysweepWarning, match=re.escape(LOCKED.format("lr"))):
        wandb.config.lr = 1.0
    assert wandb.config.lr == 0.01


def test_config_defaults_yaml_is_read_first(
    wandb: ModuleType, trial: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("config-defaults.yaml").write_text("a:\n  value: 1\nb: 2\nc: 3\n")
    _sweep_params(trial, {"c": 30}, monkeypatch)
    wandb.init(config={"b": 20})
    assert dict(wandb.config) == {"a": 1, "b": 20, "c": 30}


def test_each_committed_log_call_is_one_report(
    wandb: ModuleType, trial: dict[str, Any]
) -> None:
    wandb.init()
    wandb.log({"loss": 0.5, "epoch": 0})
    wandb.log({"acc": 0.1}, commit=False)
    wandb.log({"loss": 0.4})
    wandb.run.log({"loss": 0.3}, step=5)
    wandb.log({"acc": 0.2}, step=5)
    assert trial["reports"] == [
        {"loss": 0.5, "epoch": 0, "_step": 0},
        {"acc": 0.1, "loss": 0.4, "_step": 1},
    ]
    wandb.finish()
    assert trial["reports"][2:] == [{"loss": 0.3, "acc": 0.2, "_step": 5}]
    assert wandb.run is None


def test_finish_writes_the_summary_and_reports_summary_only_metrics(
    wandb: ModuleType, trial: dict[str, Any]
) -> None:
    run = wandb.init()
    wandb.define_metric("loss", summary="min")
    for loss in (0.5, 0.2, 0.4):
        wandb.log({"loss": loss})
    run.summary["test_acc"] = 0.9
    wandb.summary.update({"note": "done"})
    wandb.finish(exit_code=0)

    assert json.loads((trial["dir"] / "summary.json").read_text()) == {
        "loss": {"min": 0.2}, "test_acc": 0.9, "note": "done"}
    assert trial["reports"][-1] == {"test_acc": 0.9, "note": "done"}
    wandb.finish()  # twice is fine
    assert len(trial["reports"]) == 4


def test_context_manager_finishes_the_run(wandb: ModuleType, trial: dict[str, Any]) -> None:
    with wandb.init() as run:
        run.log({"x": 1}, step=0)
    assert trial["reports"] == [{"x": 1, "_step": 0}]
    assert wandb.run is None
    with pytest.raises(RuntimeError), wandb.init() as run:
        run.log({"x": 2}, step=0)
        raise RuntimeError("boom")
    assert trial["reports"][-1] == {"x": 2, "_step": 0}  # W&B flushes a failed run too


def test_init_twice_returns_the_active_run_unless_reinit(wandb: ModuleType) -> None:
    first = wandb.init()
    with pytest.warns(RaysweepWarning, match="returning that run"):
        assert wandb.init() is first
    second = wandb.init(reinit=True)
    assert second is not first and wandb.run is second
    with pytest.warns(RaysweepWarning, match=f"Run {first.id} is finished"):
        first.log({"a": 1})


def test_id_argument_is_ignored_in_a_sweep(wandb: ModuleType) -> None:
    with pytest.warns(RaysweepWarning, match="Ignored wandb.init\\(\\) arg id when running a "
                                             "sweep."):
        run = wandb.init(id="mine")
    assert run.id == "t1"


def test_run_outside_the_sweep_run_keeps_its_metrics(
    wandb: ModuleType, trial: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # W&B's cross-validation example clears WANDB_* in fold processes: those runs are not
    # the sweep's run, and their metrics must not count for the trial.
    monkeypatch.delenv("WANDB_RUN_ID")
    monkeypatch.delenv("WANDB_SWEEP_ID")
    run = wandb.init(group="cv", job_type="fold")
    wandb.log({"val_accuracy": 0.1})
    wandb.finish()
    assert run.id != "t1" and run.sweep_id is None
    assert trial["reports"] == []
    assert not (trial["dir"] / "summary.json").exists()


def test_log_before_init_raises_like_wandb(wandb: ModuleType) -> None:
    with pytest.raises(wandb.Error, match=re.escape("You must call wandb.init() before "
                                                    "wandb.log()")):
        wandb.log({"a": 1})
    with pytest.raises(ValueError, match="must be passed a dictionary"):
        wandb.init().log([1, 2])


def test_unsupported_api_is_a_no_op_that_warns_once_per_kind(
    wandb: ModuleType, trial: dict[str, Any]
) -> None:
    def use_everything() -> None:
        wandb.init()
        image = wandb.Image(np.zeros((2, 2)), caption="x")
        table = wandb.Table(columns=["a", "b"])
        table.add_data(1, 2)
        wandb.log({"img": image, "table": table, "loss": 0.5,
                   "chart": wandb.plot.line(table, "a", "b", title="t"),
                   "hist": wandb.Histogram([1, 2, 3])})
        wandb.watch(object(), log="all")
        wandb.save("*.pt")
        wandb.alert(title="t", text="x", level=wandb.AlertLevel.WARN)
        assert wandb.login() is True
        wandb.something_new(1, key=2).chained.call()
        assert isinstance(image, wandb.Image)
        # Integrations and modules the stand-in does not have (keras, xgboost... it has).
        from wandb.apis.public import Api  # noqa: F401
        from wandb.integration.sb3 import WandbCallback

        WandbCallback(monitor="val_loss")
        wandb.finish()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        use_everything()
        first = [str(w.message) for w in caught]
        use_everything()
    assert all(issubclass(w.category, RaysweepWarning) for w in caught)
    assert len(caught) == len(first)  # nothing warns a second time
    kinds = sorted(m.split(" ", 1)[0] for m in first if "does nothing" in m)
    assert kinds == sorted(
        ["wandb.watch", "wandb.save", "wandb.alert", "wandb.AlertLevel",
         "wandb.something_new", "wandb.login()", "module", "module"]
    )
    assert trial["reports"] == [{"loss": 0.5, "_step": 0}] * 2


def test_values_raysweep_cannot_record_are_dropped_with_one_warning(
    wandb: ModuleType, trial: dict[str, Any]
) -> None:
    wandb.init()
    with pytest.warns(RaysweepWarning, match="'preds' is not a number"):
        wandb.log({"preds": np.arange(4), "loss": np.float64(0.25)})
    wandb.log({"preds": np.arange(4), "loss": 0.5})
    assert trial["reports"] == [{"loss": 0.25, "_step": 0}, {"loss": 0.5, "_step": 1}]


def test_agent_runs_the_function_once(wandb: ModuleType, trial: dict[str, Any]) -> None:
    calls = []

    def train() -> None:
        run = wandb.init()
        calls.append(run.id)
        wandb.log({"loss": 1.0})

    with pytest.warns(RaysweepWarning):
        sweep_id = wandb.sweep({"method": "grid"})
        wandb.agent(sweep_id, function=train, count=5)
    assert sweep_id == "sweep-1" and calls == ["t1"]
    assert wandb.run is None and trial["reports"] == [{"loss": 1.0, "_step": 0}]


def test_function_trial_gives_functions_the_stand_in(tmp_path: Path) -> None:
    reports: list[dict[str, Any]] = []
    previous = set_function_reporter(reports.append)
    before = sys.modules.get("wandb")
    saved_meta_path = list(sys.meta_path)
    try:
        with function_trial({"lr": 0.5}, trial_id="f1", trial_dir=tmp_path,
                            sweep_id="s", mode="shim"):
            import wandb

            run = wandb.init(config={"lr": 0.1, "epochs": 1})
            assert dict(wandb.config) == {"lr": 0.5, "epochs": 1}
            assert (run.id, os.environ["WANDB_SWEEP_ID"]) == ("f1", "s")
            wandb.log({"loss": 0.2}, step=0)  # left pending: the trial's end commits it
    finally:
        set_function_reporter(previous)
    assert reports == [{"loss": 0.2, "_step": 0}]
    assert sys.modules.get("wandb") is before
    assert "WANDB_RUN_ID" not in os.environ or os.environ["WANDB_RUN_ID"] != "f1"
    assert str(SHIM_DIR) not in sys.path
    assert (tmp_path / "summary.json").is_file()
    sys.meta_path[:] = saved_meta_path


def test_function_trial_swaps_an_installed_wandb_for_the_stand_in(tmp_path: Path) -> None:
    installed = ModuleType("wandb")  # as if the real package was imported before the trial
    saved = {k: m for k, m in sys.modules.items() if k == "wandb" or k.startswith("wandb.")}
    saved_meta_path = list(sys.meta_path)
    reports: list[dict[str, Any]] = []
    previous = set_function_reporter(reports.append)
    sys.modules["wandb"] = installed
    try:
        with function_trial({}, trial_id="f2", trial_dir=tmp_path, sweep_id="s", mode="shim"):
            import wandb

            assert wandb is not installed and wandb.__file__ == str(SHIM_DIR / "wandb" /
                                                                   "__init__.py")
            wandb.init()
            wandb.log({"loss": 0.3})
        assert sys.modules["wandb"] is installed
    finally:
        set_function_reporter(previous)
        for name in [k for k in sys.modules if k == "wandb" or k.startswith("wandb.")]:
            del sys.modules[name]
        sys.modules.update(saved)
        sys.meta_path[:] = saved_meta_path
    assert reports == [{"loss": 0.3, "_step": 0}]


def test_a_function_trial_that_raises_reports_no_pending_row(tmp_path: Path) -> None:
    reports: list[dict[str, Any]] = []
    previous = set_function_reporter(reports.append)
    saved_meta_path = list(sys.meta_path)
    try:
        with pytest.raises(RuntimeError, match="stopped"), function_trial(
            {}, trial_id="f3", trial_dir=tmp_path, sweep_id="s", mode="shim"
        ):
            import wandb

            wandb.init()
            wandb.log({"loss": 0.1})
            wandb.log({"loss": 0.2}, step=5)  # pending: dropped when the function raises
            raise RuntimeError("stopped")
    finally:
        set_function_reporter(previous)
        sys.meta_path[:] = saved_meta_path
    assert reports == [{"loss": 0.1, "_step": 0}]
    assert "wandb" not in sys.modules


# --- as a program trial (subprocess) --------------------------------------------------------

SCRIPT = """
import wandb

wandb.init(config={"lr": 0.1, "epochs": 3, "opt": {"name": "sgd", "m": 0.9}})
config = wandb.config
print("config", dict(config), flush=True)
for epoch in range(config.epochs):
    wandb.log({"loss": config.lr * (epoch + 1), "opt_m": config.opt["m"]})
wandb.log({"last": 1}, step=10)
wandb.run.summary["best"] = 0.0
# No wandb.finish(): W&B finishes the run when the script exits, and so does the stand-in.
"""


def _run_script(tmp_path: Path, script: str, mode: str = "shim",
                extra_path: str | None = None) -> tuple[subprocess.CompletedProcess[str], Path]:
    (tmp_path / "train.py").write_text(textwrap.dedent(script))
    trial_dir = tmp_path / "trial"
    trial_dir.mkdir()
    spec = ProgramSpec(command=None, program="train.py", directory=str(tmp_path),
                       sweep_id="sweep-1", wandb=mode)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "RAYSWEEP_"))}
    if extra_path is not None:
        base["PYTHONPATH"] = extra_path
    env = trial_environment(base, spec, "t9", trial_dir,
                            {"lr": 0.01, "opt": {"name": "adam"}})
    out = subprocess.run([sys.executable, "train.py"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    return out, trial_dir


def _reports(stdout: str) -> list[dict[str, Any]]:
    found = (parse_report_line(line) for line in stdout.splitlines())
    return [r for r in found if r is not None]


def test_program_trial_script_runs_unchanged(tmp_path: Path) -> None:
    out, trial_dir = _run_script(tmp_path, SCRIPT)

    assert out.returncode == 0, out.stderr
    assert "config {'lr': 0.01, 'epochs': 3, 'opt': {'name': 'adam', 'm': 0.9}}" in out.stdout
    assert _reports(out.stdout) == [
        {"loss": 0.01, "opt_m": 0.9, "_step": 0},
        {"loss": 0.02, "opt_m": 0.9, "_step": 1},
        {"loss": 0.03, "opt_m": 0.9, "_step": 2},
        {"last": 1, "_step": 10},
        {"best": 0.0},
    ]
    summary = json.loads((trial_dir / "summary.json").read_text())
    assert summary == {"loss": 0.03, "opt_m": 0.9, "last": 1, "best": 0.0}
    assert out.stderr == ""


FAKE_WANDB = '''
"""A stand-in for the real wandb package: records what reaches it."""
import os
from wandb.sdk import wandb_run

__version__ = "9.9.9"
CALLS = []
run = None


def init(**kwargs):
    global run, log
    CALLS.append(("init", os.environ.get("WANDB_SWEEP_ID"), os.environ.get("WANDB_RUN_ID")))
    run = wandb_run.Run()
    log = run.log
    return run


def finish():
    run.finish()
'''

FAKE_RUN = '''
class Run:
    def log(self, data, step=None, commit=None, sync=None):
        print("real log", sorted(data), flush=True)

    def finish(self, exit_code=None):
        print("real finish", flush=True)
'''

REAL_SCRIPT = """
import os
import wandb

print("version", wandb.__version__, "shim on path:", any("wandb_shim" in p for p in
      __import__("sys").path), "PYTHONPATH has shim:", "wandb_shim" in os.environ["PYTHONPATH"])
wandb.init(project="p")
wandb.log({"loss": 0.5})
wandb.log({"loss": 0.4}, step=3)
wandb.finish()
print("init saw", wandb.CALLS, "after init:", os.environ["WANDB_RUN_ID"])
"""


def test_real_mode_imports_the_installed_wandb_and_still_reports(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "wandb" / "sdk").mkdir(parents=True)
    (site / "wandb" / "__init__.py").write_text(FAKE_WANDB)
    (site / "wandb" / "sdk" / "__init__.py").write_text("")
    (site / "wandb" / "sdk" / "wandb_run.py").write_text(FAKE_RUN)
    out, _ = _run_script(tmp_path, REAL_SCRIPT, mode="real", extra_path=str(site))

    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "version 9.9.9 shim on path: False PYTHONPATH has shim: False"
    assert "real log ['loss']" in lines and "real finish" in lines
    # No W&B server knows raysweep's ids: the real package does not see them during init.
    assert "init saw [('init', None, None)] after init: t9" in lines
    assert _reports(out.stdout) == [{"loss": 0.5, "_step": 0}, {"loss": 0.4, "_step": 3}]


@pytest.mark.skipif(
    __import__("importlib.util").util.find_spec("wandb") is not None,
    reason="a wandb package is installed here",
)
def test_real_mode_without_the_package_says_how_to_fix_it(tmp_path: Path) -> None:
    out, _ = _run_script(tmp_path, "import wandb\n", mode="real", extra_path=str(tmp_path))
    assert out.returncode != 0
    assert "the wandb package is not installed" in out.stderr
    assert "--wandb shim" in out.stderr


# --- exceptions of the stand-in ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["copy", "deepcopy", "pickle"])
def test_stand_in_errors_survive_copy_and_pickle(wandb: ModuleType, kind: str) -> None:
    # A function trial's exception crosses Ray's process boundary pickled; Ray copies it.
    import copy
    import inspect
    import pickle

    classes = [c for c in vars(wandb.errors).values()
               if inspect.isclass(c) and issubclass(c, BaseException)]
    assert {c.__name__ for c in classes} >= {"Error", "CommError", "UsageError"}
    duplicate = {"copy": copy.copy, "deepcopy": copy.deepcopy,
                 "pickle": lambda e: pickle.loads(pickle.dumps(e))}[kind]
    for cls in classes:
        error = cls("wandb.log() called before wandb.init()")
        error.add_note("added later")
        twin = duplicate(error)
        assert type(twin) is cls
        assert str(twin) == str(error) and twin.__notes__ == ["added later"]


# --- API fidelity (issue 19): config views, Run members, where warnings point ---------------


def test_config_views_are_lists_without_private_keys() -> None:
    config = _sweep_config()
    config.update({"_private": 1})
    assert config.keys() == ["lr", "epochs", "opt"]
    assert config.values() == [0.01, 3, {"name": "adam", "m": 0.9}]
    assert config.items() == list(zip(config.keys(), config.values(), strict=True))
    assert list(config) == config.keys() and len(config) == 3
    for key in config.keys():  # a loop that adds keys as it goes, as W&B's lists allow
        config[f"{key}_copy"] = config[key]
    for key in config:
        config.setdefaults({f"{key}_again": 0})
    assert "lr_copy" in config and "lr_copy_again" in config
    assert config._as_dict()["_wandb"] == {} and config._as_dict()["_private"] == 1
    assert "_private" not in config.as_dict() and "_private" not in dict(config)


def test_setting_a_sweep_key_to_its_own_value_is_silent() -> None:
    config = _sweep_config()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        config.update({"lr": 0.01, "epochs": 3}, allow_val_change=True)
    assert config.lr == 0.01


def test_run_members_scripts_read(wandb: ModuleType, trial: dict[str, Any]) -> None:
    run = wandb.init(project="p", entity="e", name="n", config={"a": 1})
    assert (run.name, run.id, run.project, run.entity, run.sweep_id) == ("n", "t1", "p", "e",
                                                                         "sweep-1")
    assert run.config is wandb.config and run.summary is wandb.summary
    assert run.dir == str(trial["dir"]) and run.display_name == "n"
    assert run._attach_id is None and run._label(code="x") is not None


def test_run_dir_outside_a_sweep_is_the_runs_own_folder(
    wandb: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WANDB_RUN_ID")
    run = wandb.init(dir=tmp_path / "out", id="abc")
    assert run.dir == str(tmp_path / "out" / "wandb" / "run-abc" / "files")
    assert Path(run.dir).is_dir()


def test_not_a_number_warning_points_at_the_users_line(wandb: ModuleType) -> None:
    run = wandb.init()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1
        wandb.log({"preds": [1, 2], "loss": 0.5})
        run.log({"other": object()})
    assert [(Path(w.filename), w.lineno) for w in caught] == [(Path(__file__), line),
                                                             (Path(__file__), line + 1)]


def test_no_op_warnings_point_at_the_users_line_through_subpackages_and_imports(
    wandb: ModuleType,
) -> None:
    # Each reaches the stand-in another way: a module attribute, a subpackage's __getattr__,
    # an import statement (through importlib's frames), a module finder, the run object.
    wandb.init()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = sys._getframe().f_lineno + 1
        _ = wandb.no_such_thing
        _ = wandb.sdk.no_such_thing
        import wandb.apis.no_such_module  # noqa: F401
        from wandb.integration import no_such_thing  # noqa: F401
        from wandb.sdk.lib import other_missing_thing  # noqa: F401
        _ = wandb.run.no_such_member
    assert [(Path(w.filename), w.lineno) for w in caught] == [
        (Path(__file__), first + i) for i in range(6)
    ]
