"""W&B's 2026 sweep schema (issue 20): `scheduler: {engine, source, optimizer, search_space}`,
`metrics:` and `method: custom`, checked as W&B's validator does, what fills `SweepConfig`,
what `raysweep run` refuses (`runnable_issues`), and what `raysweep validate` / `preview` show.
No Ray.

The case files are in tests/corpus_2026/: line 1 of each is `# expect: valid`, `# expect:
invalid <key paths>` or `# expect: unsupported <key paths>` (refused as W&B Launch).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from _shared import CORPUS
from click.testing import CliRunner

from raysweep.cli import main
from raysweep.errors import SweepConfigError, UnsupportedSweepError
from raysweep.sweep import config
from raysweep.sweep.model import Engine, Goal, Method, Metric, SchedulerSpec

CASES = Path(__file__).parent / "corpus_2026"
HOOKS = CASES / "sweep_hooks.py"
FILES = sorted(CASES.glob("*/*.yaml"))
PARAMS = {"lr": {"min": 0.001, "max": 0.1}}


def expectation(path: Path) -> tuple[str, list[str]]:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), path
    kind, *paths = first.removeprefix("# expect: ").split()
    assert kind == path.parent.name, path
    return kind, paths


def custom(**keys: Any) -> dict[str, Any]:
    """A valid `method: custom` sweep on Optuna, with keys added, replaced or (None) removed."""
    out: dict[str, Any] = {"method": "custom", "scheduler": {"engine": "optuna"},
                           "metric": {"name": "loss"}, "parameters": PARAMS}
    out.update(keys)
    return {k: v for k, v in out.items() if v is not None}


def issues_of(source: Any, kind: type[SweepConfigError] = SweepConfigError) -> list[str]:
    with pytest.raises(SweepConfigError) as info:
        config.load(source)
    assert type(info.value) is kind
    return [issue.render() for issue in info.value.issues]


def write(folder: Path, doc: dict[str, Any], name: str = "sweep.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


# --- the case files ------------------------------------------------------------------------------


def test_there_are_cases_of_each_kind() -> None:
    kinds = [expectation(p)[0] for p in FILES]
    assert kinds.count("valid") >= 6 and kinds.count("invalid") >= 18
    assert kinds.count("unsupported") >= 2


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.stem}" for p in FILES])
def test_case_file_gets_what_its_first_line_says(path: Path) -> None:
    kind, paths = expectation(path)
    if kind == "valid":
        sweep = config.load(path)
        assert sweep.scheduler is not None
        return
    expected_type = UnsupportedSweepError if kind == "unsupported" else SweepConfigError
    with pytest.raises(SweepConfigError) as info:
        config.load(path)
    assert type(info.value) is expected_type
    assert [i.path for i in info.value.issues] == paths


# --- what the checked config holds ---------------------------------------------------------------


def test_define_by_run_moo_sweep_fills_scheduler_and_metrics() -> None:
    sweep = config.load(CASES / "valid" / "optuna_define_by_run_moo.yaml")
    assert sweep.method is Method.CUSTOM and sweep.engine is Engine.OPTUNA
    assert sweep.scheduler == SchedulerSpec(Engine.OPTUNA, HOOKS.resolve(), "build_study", "space")
    assert sweep.metric is None
    assert sweep.metrics == (Metric("loss", Goal.MINIMIZE),
                             Metric("accuracy", Goal.MAXIMIZE, target=0.99))
    assert sweep.objectives == sweep.metrics
    # No `parameters`: the space is what space(trial) suggests.
    assert len(sweep.parameters) == 0 and sweep.parameters.paths == ()
    assert sweep.warnings == ()


def test_engine_wandb_sweep_is_todays_sweep_with_a_scheduler() -> None:
    sweep = config.load(CASES / "valid" / "wandb_engine_grid.yaml")
    assert sweep.method is Method.GRID and sweep.engine is Engine.WANDB
    assert sweep.scheduler == SchedulerSpec(Engine.WANDB)
    assert sweep.parameters.grid_size() == 3
    assert config.runnable_issues(sweep) == []


def test_a_dict_sweep_reads_source_from_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "hooks.py").write_text("def study():\n    pass\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    doc = custom(scheduler={"engine": "optuna", "source": "hooks.py", "optimizer": "study"})
    sweep = config.from_dict(doc)
    assert sweep.scheduler is not None
    assert sweep.scheduler.source == tmp_path.resolve() / "hooks.py"
    # A file's sweep reads it from the file's folder instead, wherever the cwd is.
    folder = tmp_path / "sweeps"
    folder.mkdir()
    assert issues_of(write(folder, doc)) == [
        f"scheduler.source (line 4): 'hooks.py' not found (looked for {folder / 'hooks.py'})."
        " A relative `source` is read from the sweep file's folder."
    ]


def test_an_absolute_source_is_kept(tmp_path: Path) -> None:
    hooks = tmp_path / "elsewhere.py"
    hooks.write_text("def study():\n    pass\n", encoding="utf-8")
    doc = custom(scheduler={"engine": "optuna", "source": str(hooks), "optimizer": "study"})
    sweep = config.load(write(tmp_path / ".." / tmp_path.name, doc))
    assert sweep.scheduler is not None and sweep.scheduler.source == hooks.resolve()


# --- each rule, with its exact message -----------------------------------------------------------

RULES = [
    pytest.param(
        custom(scheduler={"engine": "optuna", "search_space": "space"}),
        ["scheduler.source: missing: `search_space` names a function, which is read from "
         "`source`. Add `source: hooks.py`, the Python file that defines it (relative to the "
         "sweep file's folder)."],
        id="search_space_needs_source",
    ),
    pytest.param(
        custom(scheduler={"engine": "optuna", "source": str(HOOKS), "optimizer": "class"}),
        ["scheduler.optimizer: must be the name of a Python function, got 'class'. Write the "
         "function's name alone, e.g. `optimizer: build_study`."],
        id="keyword_is_not_a_function_name",
    ),
    pytest.param(
        custom(scheduler={"engine": "optuna", "source": ""}),
        ["scheduler.source: must be non-empty text, got the string ''"],
        id="empty_source",
    ),
    pytest.param(
        custom(scheduler={"engine": "Optuna"}),
        ["scheduler.engine: must be one of wandb, optuna, ax; got the string 'Optuna'. Did you "
         "mean 'optuna'?"],
        id="engine_is_lower_case",
    ),
    pytest.param(
        custom(scheduler={"engine": "optuna", "optimiser": "f"}),
        ["scheduler.optimiser: unknown key 'optimiser'. Did you mean 'optimizer'?"],
        id="unknown_key_did_you_mean",
    ),
    pytest.param(
        custom(scheduler={"engine": "ax"}, method="random"),
        ["method: `scheduler.engine: ax` needs `method: custom`, got `method: random`. Write "
         "`method: custom`: ax proposes the runs, not raysweep's random search."],
        id="ax_needs_custom",
    ),
    pytest.param(
        custom(scheduler={"engine": "wandb"}, early_terminate={"type": "hyperband",
                                                                "min_iter": 3},
               method="random"),
        ["early_terminate: cannot be used together with `scheduler`: the engine decides which "
         "runs stop. Remove `scheduler` (engine: wandb is the default) to keep "
         "`early_terminate`."],
        id="wandb_engine_and_early_terminate",
    ),
    pytest.param(
        custom(metric=None, metrics={"name": "loss"}),
        ["metrics: must be a list of metrics, got a mapping. Write `metrics: [{name: loss, "
         "goal: minimize}, {name: accuracy, goal: maximize}]`."],
        id="metrics_not_a_list",
    ),
    pytest.param(
        custom(metric=None, metrics=[{"name": "loss"}, {"goal": "maximize"}, "acc"]),
        ["metrics[1].name: missing. Name the metric your program reports, e.g. `name: "
         "val_loss`.",
         "metrics[2]: must be a mapping, got the string 'acc'. Write each metric as `{name: "
         "val_loss, goal: minimize}`."],
        id="every_metric_checked",
    ),
    pytest.param(
        custom(metric=None, metrics=[{"name": "a", "target": "0.5"}, {"name": "b",
                                                                      "impute": "mean"}]),
        ["metrics[0].target: must be a number, got the string '0.5'. Remove the quotes so YAML "
         "reads it as a number.",
         "metrics[1].impute: must be one of latest, best, worst; got the string 'mean'"],
        id="metric_rules_apply_to_each",
    ),
    pytest.param(
        custom(metric=None, metrics=[{"name": "a"}, {"name": "b"}], method="random",
               scheduler=None),
        ["metrics: several objectives need `method: custom` (with `scheduler: {engine: "
         "optuna}`), got `method: random`. raysweep's grid, random and bayes optimise one "
         "metric: keep one under `metric:`, or write `method: custom` with `scheduler: "
         "{engine: optuna}`."],
        id="metrics_need_custom",
    ),
    pytest.param(
        custom(scheduler={"engine": "optuna"}, parameters=None),
        ["parameters: missing. Add a `parameters:` section, e.g. `lr: {min: 0.0001, max: "
         "0.1}`. Or name a define-by-run function in `scheduler.search_space` (W&B's 2026 "
         "schema)."],
        id="parameters_needed_without_search_space",
    ),
    pytest.param(
        custom(scheduler={"engine": "optuna", "source": str(HOOKS), "optimizer": "f"},
               parameters={}),
        ["parameters: must be a non-empty mapping of parameter names to definitions, got an "
         "empty mapping. Example: `parameters: {lr: {min: 0.0001, max: 0.1}}`."],
        id="empty_parameters_without_search_space",
    ),
]


@pytest.mark.parametrize(("source", "expected"), RULES)
def test_rule_message(source: dict[str, Any], expected: list[str]) -> None:
    assert issues_of(source) == expected


def test_every_problem_is_reported_at_once() -> None:
    doc = {"method": "bayes", "scheduler": {"engine": "optuna", "optimizer": "1st"},
           "metric": {"name": "loss"}, "metrics": [{"name": "a"}],
           "early_terminate": {"type": "hyperband", "min_iter": 3},
           "controller": {"type": "local"}, "parameters": PARAMS}
    with pytest.raises(SweepConfigError) as info:
        config.load(doc)
    assert [i.path for i in info.value.issues] == [
        "metrics", "scheduler.optimizer", "scheduler.source", "early_terminate", "controller",
        "method", "metrics"]


@pytest.mark.parametrize("method", ["grid", "random", "bayes"])
def test_wandb_engine_runs_wandb_methods(method: str) -> None:
    doc = custom(method=method, scheduler={"engine": "wandb"},
                 parameters={"x": {"values": [1, 2]}})
    sweep = config.load(doc)
    assert sweep.method is Method(method) and sweep.engine is Engine.WANDB


@pytest.mark.parametrize("engine", ["optuna", "ax"])
def test_custom_engines_run_method_custom(engine: str) -> None:
    sweep = config.load(custom(scheduler={"engine": engine}))
    assert sweep.method is Method.CUSTOM and sweep.engine is Engine(engine)
    assert sweep.metric == Metric("loss") and sweep.metrics == ()


def test_a_cloud_controller_is_accepted_with_a_scheduler() -> None:
    sweep = config.load(custom(controller={"type": "cloud"}))
    assert [w.path for w in sweep.warnings] == ["controller"]


def test_parameters_next_to_search_space_are_still_checked() -> None:
    doc = custom(scheduler={"engine": "optuna", "source": str(HOOKS), "search_space": "space"},
                 parameters={"lr": {"min": 1, "max": 0}})
    assert issues_of(doc) == [
        "parameters.lr.max: `min < max` must hold, but got min=1, max=0. Swap them."]
    doc["parameters"] = PARAMS
    sweep = config.load(doc)
    assert sweep.parameters.paths == (("lr",),)


def test_method_custom_without_a_scheduler_is_launch() -> None:
    [message] = issues_of(custom(scheduler=None), UnsupportedSweepError)
    assert message.startswith("method: `method: custom` without a `scheduler` hands the "
                              "search to a W&B Launch scheduler job, which raysweep does not "
                              "support")


def test_a_launch_key_makes_the_scheduler_launch_whatever_else_it_holds() -> None:
    doc = custom(method="grid", scheduler={"engine": "optuna", "resource": "local-process"},
                 parameters={"x": {"values": [1, 2]}})
    [message] = issues_of(doc, UnsupportedSweepError)
    assert message.startswith("scheduler: `scheduler` configures a W&B Launch sweep "
                              "scheduler job, which raysweep does not support")


@pytest.mark.skipif(not (CORPUS / "launch").is_dir(), reason="corpus not available")
def test_every_launch_corpus_file_is_still_refused_as_launch() -> None:
    files = sorted((CORPUS / "launch").glob("*.yaml"))
    assert len(files) == 4
    for path in files:
        with pytest.raises(UnsupportedSweepError) as info:
            config.load(path)
        [scheduler] = [i for i in info.value.issues if i.path == "scheduler"]
        assert "W&B Launch sweep scheduler job, which raysweep does not support" in \
            scheduler.message


# --- the source file -----------------------------------------------------------------------------


def test_source_that_is_not_python_is_an_error_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "hooks.py").write_text("def study(:\n    pass\n", encoding="utf-8")
    doc = custom(scheduler={"engine": "optuna", "source": "hooks.py", "optimizer": "study"})
    [message] = issues_of(write(tmp_path, doc))
    assert message.startswith(f"scheduler.source (line 4): {tmp_path / 'hooks.py'} is not "
                              "valid Python (line 1): ")
    assert message.endswith("It is imported to call the functions named in `scheduler`; fix "
                            "the file.")


def test_source_that_is_a_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "hooks").mkdir()
    doc = custom(scheduler={"engine": "optuna", "source": "hooks", "optimizer": "study"})
    assert issues_of(write(tmp_path, doc)) == [
        f"scheduler.source (line 4): 'hooks' is a folder ({tmp_path / 'hooks'}), not a Python "
        "file. Name the .py file that defines the functions."]


@pytest.mark.parametrize(
    ("text", "warned"),
    [
        pytest.param("def study():\n    pass\n", [], id="defined"),
        pytest.param("def studdy():\n    pass\n", ["Did you mean 'studdy'?"], id="typo"),
        pytest.param("from mylib import study\n", [], id="imported"),
        pytest.param("try:\n    import x\nexcept ImportError:\n    study = None\n", [],
                     id="bound_in_a_branch"),
        pytest.param("from mylib import *\n", [], id="star_import_may_bind_it"),
        pytest.param("class A:\n    def study(self):\n        pass\n",
                     ["Define `def study(...)` in {hooks}."], id="method_is_not_top_level"),
    ],
)
def test_a_hook_missing_from_source_is_a_warning(
    tmp_path: Path, text: str, warned: list[str]
) -> None:
    hooks = tmp_path / "hooks.py"
    hooks.write_text(text, encoding="utf-8")
    doc = custom(scheduler={"engine": "optuna", "source": "hooks.py", "optimizer": "study"})
    sweep = config.load(write(tmp_path, doc))
    assert [w.hint for w in sweep.warnings] == [h.format(hooks=hooks) for h in warned]
    for w in sweep.warnings:
        assert (w.path, w.message) == ("scheduler.optimizer", "hooks.py defines no 'study' at "
                                       "its top level; the sweep fails when it calls it")


def test_a_source_without_hooks_is_a_warning() -> None:
    sweep = config.load(custom(scheduler={"engine": "optuna", "source": str(HOOKS)}))
    assert [w.render() for w in sweep.warnings] == [
        "scheduler.source: not used: it is read only for `optimizer` or `search_space`. Name "
        "the function to call, or remove `source`."]


# --- what raysweep run refuses -------------------------------------------------------------------


def test_ax_not_installed_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ax", None)  # importable by no name
    sweep = config.load(custom(scheduler={"engine": "ax"}))
    assert [i.render() for i in config.runnable_issues(sweep)] == [
        "scheduler.engine: engine: ax needs Ax: pip install 'raysweep[ax]'. Or use engine: "
        "optuna, which raysweep runs."]


def test_an_importable_ax_is_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ax").mkdir()
    (tmp_path / "ax" / "__init__.py").write_text("", encoding="utf-8")
    monkeypatch.delitem(sys.modules, "ax", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert config.runnable_issues(config.load(custom(scheduler={"engine": "ax"}))) == []


def test_optuna_engine_needs_optuna(monkeypatch: pytest.MonkeyPatch) -> None:
    sweep = config.load(custom())
    pytest.importorskip("optuna")
    assert config.runnable_issues(sweep) == []
    monkeypatch.setitem(sys.modules, "optuna", None)
    assert [i.render() for i in config.runnable_issues(sweep)] == [
        "scheduler.engine: engine: optuna needs Optuna: pip install 'raysweep[optuna]'"]


def test_hooks_under_the_wandb_engine_are_refused_at_run() -> None:
    sweep = config.load({"method": "random", "parameters": PARAMS, "scheduler": {
        "engine": "wandb", "source": str(HOOKS), "optimizer": "build_study",
        "search_space": "space"}})
    assert [i.render() for i in config.runnable_issues(sweep)] == [
        f"scheduler.{key}: engine: wandb runs raysweep's own random search, which reads "
        f"`parameters`: it cannot call {name}() in {HOOKS.resolve()}. For your own study or a "
        "define-by-run space, use `scheduler.engine: optuna` with `method: custom`; or remove "
        "`optimizer` and `search_space`."
        for key, name in (("optimizer", "build_study"), ("search_space", "space"))]


# --- raysweep validate and preview ---------------------------------------------------------------


def _invoke(*args: str) -> tuple[int, str]:
    """Exit code and what the terminal shows (stdout, or stdout and stderr mixed, except for
    --json and --format json, where stdout alone is parsed)."""
    res = CliRunner().invoke(main, list(args), env={"COLUMNS": "200"})
    json_out = "--json" in args or "json" in args
    return res.exit_code, res.stdout if json_out and res.exit_code == 0 else res.output


def test_validate_shows_engine_metrics_hooks_and_the_space() -> None:
    path = str(CASES / "valid" / "optuna_define_by_run_moo.yaml")
    code, out = _invoke("validate", path)
    assert code == 0, out
    assert [line.rstrip() for line in out.splitlines()] == [
        f"✓ {path}: method custom, engine optuna, metrics loss (minimize), accuracy "
        "(maximize), run_cap 30",
        f"  {HOOKS.resolve()}: optimizer build_study(), search_space space()",
        f"parameters: defined run by run by space() in {HOOKS.resolve()} (no `parameters` "
        "section)",
    ]


def test_validate_json_of_a_2026_file() -> None:
    path = str(CASES / "valid" / "optuna_define_by_run_moo.yaml")
    code, out = _invoke("validate", "--json", path)
    assert code == 0, out
    [report] = json.loads(out)
    assert report["method"] == "custom" and report["engine"] == "optuna"
    assert report["scheduler"] == {"engine": "optuna", "source": str(HOOKS.resolve()),
                                   "optimizer": "build_study", "search_space": "space"}
    assert report["objectives"] == [
        {"name": "loss", "goal": "minimize", "target": None},
        {"name": "accuracy", "goal": "maximize", "target": 0.99}]
    assert report["parameters"] == [] and report["issues"] == []


def test_validate_warns_of_what_run_refuses_and_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ax", None)
    path = str(CASES / "valid" / "ax_engine.yaml")
    code, out = _invoke("validate", path)
    assert code == 0, out
    lines = [line.rstrip() for line in out.splitlines()]
    assert lines[:3] == [
        f"✓ {path}: method custom, engine ax, metric loss (minimize)",
        "  scheduler.engine: engine: ax needs Ax: pip install 'raysweep[ax]'",
        "    Or use engine: optuna, which raysweep runs.",
    ]
    assert lines[4].split() == ["lr", "uniform", "[0.001,", "0.1]"]
    code, out = _invoke("validate", "--json", path)
    [report] = json.loads(out)
    assert report["valid"] is True
    assert [w["message"] for w in report["warnings"]] == [
        "engine: ax needs Ax: pip install 'raysweep[ax]'"]


def test_validate_refuses_a_2026_file_with_every_problem(tmp_path: Path) -> None:
    code, out = _invoke("validate", str(CASES / "invalid" / "metrics_goal_maximise.yaml"))
    assert code == 2
    assert "metrics[1].goal (line 7): must be minimize or maximize, got the string 'maximise'" \
        in " ".join(out.split())


def test_preview_of_a_custom_sweep_shows_the_space_and_runs_nothing() -> None:
    path = str(CASES / "valid" / "optuna_parameters.yaml")
    code, out = _invoke("preview", path)
    assert code == 0, out
    lines = [line.rstrip() for line in out.splitlines()]
    assert lines[0] == ("custom: engine optuna proposes each configuration as the sweep runs, "
                        "from the results so far; preview runs none of it")
    assert [line.split()[0] for line in lines[1:]] == ["parameter", "layers", "lr"]
    code, out = _invoke("preview", "--format", "json", path)
    assert code == 2
    assert "engine optuna proposes each configuration as the sweep runs" in out


def test_preview_of_a_define_by_run_space_names_the_function() -> None:
    code, out = _invoke("preview", str(CASES / "valid" / "optuna_define_by_run_moo.yaml"))
    assert code == 0, out
    assert out.splitlines()[-1] == (
        f"parameters: defined run by run by space() in {HOOKS.resolve()} (no `parameters` "
        "section)")


def test_preview_of_hooks_under_the_wandb_engine_refuses_as_run_does(tmp_path: Path) -> None:
    doc = {"method": "random", "metric": {"name": "loss"}, "parameters": PARAMS,
           "scheduler": {"engine": "wandb", "source": str(HOOKS), "optimizer": "build_study"}}
    code, out = _invoke("preview", str(write(tmp_path, doc)))
    assert code == 2
    assert "scheduler.optimizer: engine: wandb runs raysweep's own random search" in \
        " ".join(out.split())


def test_preview_of_a_wandb_engine_sweep_is_todays(tmp_path: Path) -> None:
    code, out = _invoke("preview", "--format", "json",
                        str(CASES / "valid" / "wandb_engine_grid.yaml"))
    assert code == 0, out
    assert json.loads(out) == [{"layers": 1}, {"layers": 2}, {"layers": 3}]


# --- run: refused before Ray starts; the saved copy finds the hooks again ------------------------


def test_run_refuses_an_engine_it_cannot_drive_before_ray_starts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import raysweep
    from raysweep.sweep.model import Engine

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)  # no Ax here
    sweep = config.from_dict(custom(scheduler={"engine": "ax"}))
    assert sweep.engine is Engine.AX
    with pytest.raises(SweepConfigError, match=r"engine: ax needs Ax: pip install"):
        raysweep.run(sweep, function=print, storage=tmp_path)
    assert not list(tmp_path.iterdir())  # no sweep directory: nothing started


def test_the_saved_copy_names_the_source_by_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from raysweep.execution.resume import saved_config
    from raysweep.execution.tuner import write_meta

    (tmp_path / "hooks.py").write_text("def study():\n    pass\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    sweep = config.from_dict(custom(scheduler={"engine": "optuna", "source": "hooks.py",
                                               "optimizer": "study"}))
    write_meta(tmp_path / "sweep-dir", sweep, "sweep-dir")
    monkeypatch.chdir("/")  # a resume from anywhere reads the copy in the sweep directory
    again = saved_config(tmp_path / "sweep-dir", {})
    assert again.scheduler is not None
    assert again.scheduler.source == (tmp_path / "hooks.py").resolve()
