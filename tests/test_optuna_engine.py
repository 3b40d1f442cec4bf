"""``scheduler: {engine: optuna}`` (W&B's 2026 schema): the Optuna proposer, its study, the
pruner as early termination, multi-objective values, resume, and the missing-Optuna message.

Ray-free tests drive the proposer and the Tune adapter directly (the adapter imports Ray but
starts nothing); the tests marked ``ray`` run whole sweeps through :func:`raysweep.run`.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState
from raysweep.schedulers import make_engine_scheduler
from raysweep.search import make_proposer, make_searcher, read_saved_searcher
from raysweep.search.optuna import OptunaProposer

import raysweep
from raysweep.errors import RaysweepError
from raysweep.files import SEARCHER_FILE
from raysweep.sweep.config import from_dict
from raysweep.sweep.model import SweepConfig

QUADRATIC = {"x": {"min": -5.0, "max": 5.0}}


def _cfg(
    parameters: dict[str, Any] | None = None,
    *,
    metric: dict[str, Any] | None = None,
    metrics: list[dict[str, Any]] | None = None,
    scheduler: dict[str, Any] | None = None,
    path: Path | None = None,
    **extra: Any,
) -> SweepConfig:
    doc: dict[str, Any] = {
        "method": "custom", "scheduler": {"engine": "optuna", **(scheduler or {})},
    }
    if parameters is not None:
        doc["parameters"] = parameters
    if metrics is not None:
        doc["metrics"] = metrics
    else:
        doc["metric"] = metric or {"name": "loss", "goal": "minimize"}
    doc.update(extra)
    return from_dict(doc, path=path) if path is not None else from_dict(doc)


def _write_source(folder: Path, body: str) -> Path:
    path = folder / "hooks.py"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


# -- the study built from `parameters` -----------------------------------------------------

ALL_KINDS = {
    "c": {"values": ["a", "b", [1, 2]]},
    "cp": {"values": [1, 2, 3], "probabilities": [0.2, 0.3, 0.5]},
    "i": {"distribution": "int_uniform", "min": 2, "max": 9},
    "u": {"min": -1.0, "max": 1.0},
    "qu": {"distribution": "q_uniform", "min": 0, "max": 10, "q": 2},
    "lu": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
    "qlu": {"distribution": "q_log_uniform_values", "min": 1, "max": 1000, "q": 5},
    "ilu": {"distribution": "inv_log_uniform_values", "min": 0.1, "max": 10.0},
    "lu1": {"distribution": "log_uniform", "min": -3, "max": 1},
    "n": {"distribution": "normal", "mu": 3.0, "sigma": 0.5},
    "qln": {"distribution": "q_log_normal", "mu": 0.0, "sigma": 1.0, "q": 0.5},
    "b": {"distribution": "beta", "a": 2.0, "b": 5.0},
    "k": {"value": "fixed"},
    "opt": {"parameters": {"lr": {"min": 0.001, "max": 0.1}, "name": {"value": "adam"}}},
}


def test_every_wandb_distribution_gives_values_its_spec_can_produce() -> None:
    cfg = _cfg(ALL_KINDS)
    proposer = make_proposer(cfg, seed=3)
    assert isinstance(proposer, OptunaProposer)
    for _ in range(30):  # past TPE's 10 random trials: the model proposes too
        flat = proposer.propose()
        assert cfg.parameters.contains(flat), flat
        proposer.observe(flat, float(flat[("u",)]) ** 2)
    study = proposer.study
    assert isinstance(study.sampler, optuna.samplers.TPESampler)
    assert isinstance(study.pruner, optuna.pruners.NopPruner)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 30
    # The study names nested parameters by their dotted path; constants are not searched.
    assert "opt.lr" in study.trials[0].params and "k" not in study.trials[0].params
    assert study.trials[0].distributions["lu"].log


def test_a_seed_makes_the_proposals_repeat() -> None:
    def run(seed: int) -> list[float]:
        proposer = make_proposer(_cfg(QUADRATIC), seed=seed)
        out = []
        for _ in range(14):
            flat = proposer.propose()
            proposer.observe(flat, float(flat[("x",)]) ** 2)
            out.append(flat[("x",)])
        return out

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_maximized_metrics_reach_the_study_as_their_own_values() -> None:
    proposer = make_proposer(_cfg(QUADRATIC, metric={"name": "acc", "goal": "maximize"}))
    assert isinstance(proposer, OptunaProposer)
    flat = proposer.propose()
    proposer.observe(flat, -0.75)  # the adapter negates a maximized metric
    assert proposer.study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert proposer.study.trials[0].value == 0.75


def test_failed_trials_are_told_failed() -> None:
    proposer = make_proposer(_cfg(QUADRATIC))
    assert isinstance(proposer, OptunaProposer)
    proposer.observe(proposer.propose(), None)
    assert proposer.study.trials[0].state is TrialState.FAIL


def test_two_equal_proposals_are_told_apart() -> None:
    proposer = make_proposer(_cfg({"x": {"values": [1]}}))
    assert isinstance(proposer, OptunaProposer)
    first, second = proposer.propose(), proposer.propose()
    assert first == second and first is not second
    proposer.observe(second, 2.0)
    proposer.observe(first, 1.0)
    assert [t.value for t in proposer.study.trials] == [1.0, 2.0]


def test_an_equal_config_that_was_not_proposed_takes_no_pending_trial() -> None:
    # A re-run (or requeued) config equal to a pending proposal is another trial: it must not
    # be told as that proposal, whose own end would then be lost.
    proposer = make_proposer(_cfg({"x": {"values": [1]}}))
    assert isinstance(proposer, OptunaProposer)
    first, second = proposer.propose(), proposer.propose()
    proposer.observe(dict(first), 0.3)
    proposer.observe(first, 1.0)
    proposer.observe(second, 2.0)
    trials = proposer.study.trials
    assert [(t.state, t.value) for t in trials] == [(TrialState.COMPLETE, 1.0),
                                                     (TrialState.COMPLETE, 2.0),
                                                     (TrialState.COMPLETE, 0.3)]


def test_a_rerun_of_a_failed_config_is_told_to_the_study_once() -> None:
    proposer = make_proposer(_cfg(QUADRATIC))
    assert isinstance(proposer, OptunaProposer)
    flat = proposer.propose()
    proposer.observe(flat, None)
    # `resume --rerun-failed` runs the config again as a new trial: its value must count.
    proposer.observe(dict(flat), 0.3)
    proposer.observe(dict(flat), 0.3)  # the same end replayed after a restart: not again
    proposer.observe(dict(flat), None)  # failing again adds nothing
    trials = proposer.study.trials
    assert [(t.state, t.value) for t in trials] == [(TrialState.FAIL, None),
                                                     (TrialState.COMPLETE, 0.3)]
    assert trials[1].params == trials[0].params
    assert proposer.study.best_value == 0.3


def test_a_rerun_of_a_failed_define_by_run_config_is_told_too(tmp_path: Path) -> None:
    source = _write_source(tmp_path, CONDITIONAL)
    cfg = _cfg(None, scheduler={"source": str(source), "search_space": "space"},
               program="train.py")
    proposer = make_proposer(cfg, seed=0)
    assert isinstance(proposer, OptunaProposer)
    flat = proposer.propose()
    proposer.observe(flat, None)
    proposer.observe(dict(flat), 0.5)
    trials = proposer.study.trials
    assert [(t.state, t.value) for t in trials] == [(TrialState.FAIL, None),
                                                     (TrialState.COMPLETE, 0.5)]
    assert trials[1].params == trials[0].params
    assert trials[1].distributions == trials[0].distributions


# -- define-by-run spaces ------------------------------------------------------------------

CONDITIONAL = """
    def space(trial):
        kind = trial.suggest_categorical("model", ["linear", "tree"])
        if kind == "linear":
            trial.suggest_float("alpha", 1e-4, 1.0, log=True)
        else:
            trial.suggest_int("depth", 1, 8)
        return None  # trial.params
"""


def test_a_conditional_space_gives_each_trial_only_its_branch(tmp_path: Path) -> None:
    source = _write_source(tmp_path, CONDITIONAL)
    cfg = _cfg(None, scheduler={"source": str(source), "search_space": "space"},
               program="train.py")
    proposer = make_proposer(cfg, seed=0)
    keys = set()
    for _ in range(12):
        flat = proposer.propose()
        keys.add(tuple(sorted(p[0] for p in flat)))
        model = flat[("model",)]
        assert set(flat) == ({("model",), ("alpha",)} if model == "linear"
                             else {("model",), ("depth",)})
        proposer.observe(flat, 1.0)
    assert keys == {("alpha", "model"), ("depth", "model")}


def test_a_define_by_run_config_may_be_a_dict_or_a_run_suggestion(tmp_path: Path) -> None:
    source = _write_source(tmp_path, """
        class RunSuggestion:
            def __init__(self, config):
                self.config = config

        def as_dict(trial):
            return {"opt": {"lr": trial.suggest_float("lr", 0.1, 0.2)}, "tag": "d"}

        def as_suggestion(trial):
            return RunSuggestion({"lr": trial.suggest_float("lr", 0.1, 0.2)})
    """)
    cfg = _cfg({"epochs": {"value": 3}},
               scheduler={"source": str(source), "search_space": "as_dict"})
    flat = make_proposer(cfg).propose()
    assert set(flat) == {("epochs",), ("opt", "lr"), ("tag",)} and flat[("epochs",)] == 3
    cfg = _cfg(None, scheduler={"source": str(source), "search_space": "as_suggestion"},
               program="t.py")
    assert set(make_proposer(cfg).propose()) == {("lr",)}


def test_a_source_with_a_dataclass_under_postponed_annotations_loads(tmp_path: Path) -> None:
    # How one writes W&B's RunSuggestion: dataclasses look the module up in sys.modules.
    source = _write_source(tmp_path, """
        from __future__ import annotations

        from dataclasses import dataclass

        @dataclass
        class RunSuggestion:
            config: dict
            run_id: str | None = None

        def space(trial):
            return RunSuggestion(config={"lr": trial.suggest_float("lr", 1e-4, 1e-1, log=True)})
    """)
    cfg = _cfg(None, scheduler={"source": str(source), "search_space": "space"},
               program="t.py")
    assert set(make_proposer(cfg).propose()) == {("lr",)}


def test_a_source_may_import_its_neighbours_when_its_functions_run(tmp_path: Path) -> None:
    (tmp_path / "neighbour_of_hooks_py.py").write_text("LOW, HIGH = 2, 4\n", encoding="utf-8")
    source = _write_source(tmp_path, """
        def space(trial):
            from neighbour_of_hooks_py import HIGH, LOW  # at each proposal, not at import

            return {"n": trial.suggest_int("n", LOW, HIGH)}
    """)
    cfg = _cfg(None, scheduler={"source": str(source), "search_space": "space"},
               program="t.py")
    proposer = make_proposer(cfg)
    assert 2 <= proposer.propose()[("n",)] <= 4
    assert str(tmp_path) == sys.path[-1]  # last: it shadows no other module
    sys.path.remove(str(tmp_path))


def test_a_source_that_fails_to_import_leaves_no_trace(tmp_path: Path) -> None:
    source = _write_source(tmp_path, "raise ValueError('no')\n")
    cfg = _cfg(QUADRATIC, scheduler={"source": str(source), "optimizer": "make"})
    before = set(sys.modules)
    with pytest.raises(RaysweepError, match="raised ValueError: no"):
        make_proposer(cfg)
    assert set(sys.modules) == before and str(tmp_path) not in sys.path


def test_warm_start_is_refused_for_a_space_the_study_defines_itself(tmp_path: Path) -> None:
    from raysweep.analysis.warm_start import read_warm_start

    earlier = tmp_path / "earlier.csv"
    earlier.write_text("x,loss\n1.0,0.5\n", encoding="utf-8")
    source = _write_source(tmp_path, CONDITIONAL)
    cfg = _cfg(None, scheduler={"source": str(source), "search_space": "space"},
               program="train.py")
    with pytest.raises(RaysweepError) as err:
        read_warm_start([earlier], cfg)
    assert str(err.value) == (
        "warm start: this sweep's Optuna study defines its parameters itself, run by run "
        "(scheduler.search_space: 'space'), so it cannot place earlier configs in its space; "
        "leave out --warm-start, or declare the parameters in `parameters` instead of "
        "search_space")
    with pytest.raises(RaysweepError, match="searches no parameter"):
        read_warm_start([earlier], _cfg({"x": {"value": 1.0}}))
    # A study over `parameters` learns them.
    warm = read_warm_start([earlier], _cfg(QUADRATIC))
    searcher = make_searcher(_cfg(QUADRATIC), seed=0)
    assert searcher.warm_start((r.config, r.values) for r in warm.runs) == 1
    assert [t.value for t in searcher.proposer.study.trials] == [0.5]


@pytest.mark.parametrize(
    ("body", "scheduler", "message"),
    [
        pytest.param("def other(trial): pass\n", {"search_space": "space"},
                     "scheduler.search_space: 'space': {source} has no function 'space'; "
                     "define it there or fix the name", id="missing_function"),
        pytest.param("raise KeyError('boom')\n", {"optimizer": "make"},
                     "scheduler.optimizer: 'make': importing {source} raised KeyError: 'boom'",
                     id="import_error"),
        pytest.param("def make():\n    return 3\n", {"optimizer": "make"},
                     "scheduler.optimizer: 'make' in {source} returned a int; it must return "
                     "an optuna.Study (e.g. optuna.create_study(sampler=..., pruner=...))",
                     id="not_a_study"),
        pytest.param("def space(trial):\n    return 5\n", {"search_space": "space"},
                     "scheduler.search_space 'space' in {source} returned a int; return a "
                     "dict, an object with a `config` dict (W&B's RunSuggestion), or None "
                     "for trial.params", id="bad_config"),
    ],
)
def test_hook_errors_name_the_file_and_the_function(
    tmp_path: Path, body: str, scheduler: dict[str, Any], message: str
) -> None:
    source = tmp_path / f"hooks_{abs(hash(body))}.py"
    source.write_text(body, encoding="utf-8")
    cfg = _cfg(QUADRATIC, scheduler={"source": str(source), **scheduler})
    with pytest.raises(RaysweepError) as err:
        make_proposer(cfg).propose()
    assert str(err.value) == message.format(source=source.resolve() if "importing" in message
                                            or "has no" in message else source)


# -- the user's study and its pruner ---------------------------------------------------------

USER_STUDIES = """
    import optuna

    def pruned():
        return optuna.create_study(
            sampler=optuna.samplers.TPESampler(seed=1),
            pruner=optuna.pruners.ThresholdPruner(upper=1.0),
        )

    def unpruned():
        return optuna.create_study(sampler=optuna.samplers.TPESampler(seed=1))

    def maximizing():
        return optuna.create_study(direction="maximize")
"""


def test_the_users_pruner_stops_a_trial_with_its_reason(tmp_path: Path) -> None:
    source = _write_source(tmp_path, USER_STUDIES)
    cfg = _cfg(QUADRATIC, scheduler={"source": str(source), "optimizer": "pruned"})
    searcher = make_searcher(cfg, sweep_dir=tmp_path)
    proposer = searcher.proposer
    assert isinstance(proposer, OptunaProposer) and proposer.prunes
    assert isinstance(proposer.study.sampler, optuna.samplers.TPESampler)
    scheduler = make_engine_scheduler(searcher, cfg.metric)
    assert scheduler is not None
    config = searcher.suggest("t1")
    assert isinstance(config, dict)
    trial = _FakeTrial("t1", config)
    scheduler.on_trial_add(None, trial)
    assert scheduler.on_trial_result(None, trial, {"loss": 0.5, "training_iteration": 1}) \
        == "CONTINUE"
    assert scheduler.on_trial_result(None, trial, {"loss": 2.5, "training_iteration": 2}) \
        == "STOP"
    assert scheduler.stop_reason("t1") == "pruned by ThresholdPruner at step 2"
    searcher.on_trial_complete("t1", {"loss": 2.5, "training_iteration": 2})
    (told,) = proposer.study.trials
    assert told.state is TrialState.PRUNED and told.intermediate_values == {1: 0.5, 2: 2.5}


def test_no_pruning_without_a_pruner_the_user_chose(tmp_path: Path) -> None:
    source = _write_source(tmp_path, USER_STUDIES)
    # A study created without a pruner gets Optuna's MedianPruner: raysweep takes it back.
    cfg = _cfg(QUADRATIC, scheduler={"source": str(source), "optimizer": "unpruned"})
    searcher = make_searcher(cfg)
    assert isinstance(searcher.proposer, OptunaProposer)
    assert isinstance(searcher.proposer.study.pruner, optuna.pruners.NopPruner)
    assert make_engine_scheduler(searcher, cfg.metric) is None
    # Nor in raysweep's own study, nor for the other engines' searchers.
    own = make_searcher(_cfg(QUADRATIC))
    assert make_engine_scheduler(own, _cfg(QUADRATIC).metric) is None
    grid = from_dict({"method": "grid", "metric": {"name": "loss"},
                      "parameters": {"x": {"values": [1]}}})
    assert make_engine_scheduler(make_searcher(grid), grid.metric) is None


def test_a_study_that_optimizes_the_other_way_is_refused(tmp_path: Path) -> None:
    source = _write_source(tmp_path, USER_STUDIES)
    cfg = _cfg(QUADRATIC, scheduler={"source": str(source), "optimizer": "maximizing"})
    with pytest.raises(RaysweepError, match=r"optimises \(maximize\), but the sweep's metrics "
                                            r"are \(loss: minimize\)"):
        make_proposer(cfg)


# -- multi-objective -----------------------------------------------------------------------

def test_a_two_objective_sweep_tells_the_study_both_values() -> None:
    cfg = _cfg(QUADRATIC, metrics=[{"name": "loss", "goal": "minimize"},
                                   {"name": "acc", "goal": "maximize"}])
    searcher = make_searcher(cfg, seed=0)
    proposer = searcher.proposer
    assert isinstance(proposer, OptunaProposer)
    assert proposer.study.directions == [optuna.study.StudyDirection.MINIMIZE,
                                         optuna.study.StudyDirection.MAXIMIZE]
    assert not proposer.prunes
    for i, trial_id in enumerate(["a", "b", "c"]):
        searcher.suggest(trial_id)
        searcher.on_trial_result(trial_id, {"loss": 5.0 + i})
        if trial_id != "c":  # c never reports acc: failed
            searcher.on_trial_result(trial_id, {"loss": 1.0 + i, "acc": 0.5 + i / 10})
    for trial_id in ["a", "b", "c"]:
        searcher.on_trial_complete(trial_id, None)
    trials = proposer.study.trials
    assert [t.values for t in trials] == [[1.0, 0.5], [2.0, 0.6], None]
    assert trials[2].state is TrialState.FAIL


# -- resume ---------------------------------------------------------------------------------

def _searcher_in(folder: Path, cfg: SweepConfig, *, resume: bool) -> Any:
    searcher = make_searcher(cfg, seed=5, sweep_dir=folder)
    if resume:
        path = folder / SEARCHER_FILE
        state = json.loads(path.read_text(encoding="utf-8"))
        searcher.load_saved(read_saved_searcher(path, state))
        searcher.abandon_live()
    searcher.autosave_to(str(folder / SEARCHER_FILE))
    return searcher


def test_a_killed_sweep_resumes_its_study_without_telling_a_trial_twice(tmp_path: Path) -> None:
    cfg = _cfg(QUADRATIC)
    first = _searcher_in(tmp_path, cfg, resume=False)
    configs = {}
    for i in range(6):
        configs[f"t{i}"] = first.suggest(f"t{i}")
    for i in range(4):
        first.on_trial_complete(f"t{i}", {"loss": float(i)})
    # Killed: no close(), so the snapshot may be older than the journals.
    second = _searcher_in(tmp_path, cfg, resume=True)
    # The two running trials run again first, with their configs, then new proposals.
    again = [second.suggest(f"r{i}") for i in range(3)]
    assert again[:2] == [configs["t4"], configs["t5"]]
    for i, loss in enumerate([4.0, 5.0, 6.0]):
        second.on_trial_complete(f"r{i}", {"loss": loss})
    second.close()
    study = optuna.load_study(study_name="raysweep", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "optuna.journal"))))
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 7
    assert [t.value for t in study.trials] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


def test_a_trial_asked_after_the_last_record_is_the_next_proposal(tmp_path: Path) -> None:
    cfg = _cfg(QUADRATIC)
    first = _searcher_in(tmp_path, cfg, resume=False)
    first.suggest("t0")
    first.on_trial_complete("t0", {"loss": 1.0})
    # The driver dies right after asking the study, before the searcher's journal says so;
    # and leaves half a line in the study's journal.
    orphan = first.proposer.propose()
    with open(tmp_path / "optuna.journal", "ab") as handle:
        handle.write(b'{"op_code": 4, "worker_id"')
    second = _searcher_in(tmp_path, cfg, resume=True)
    config = second.suggest("r0")
    assert config == cfg.parameters.unflatten(orphan)
    second.on_trial_complete("r0", {"loss": 2.0})
    assert [t.value for t in second.proposer.study.trials] == [1.0, 2.0]


def _resumed(folder: Path, cfg: SweepConfig, state: dict[str, Any], n: int) -> list[Any]:
    proposer = make_proposer(cfg, seed=0, sweep_dir=folder)
    proposer.set_state(state)
    out = []
    for _ in range(n):
        flat = proposer.propose()
        proposer.observe(flat, 1.0)
        out.append(flat)
    return out


@pytest.mark.parametrize("users", [False, True], ids=["own_sampler", "users_sampler"])
def test_a_resumed_seeded_study_does_not_propose_its_first_trials_again(
    tmp_path: Path, users: bool
) -> None:
    scheduler = None
    if users:
        source = _write_source(tmp_path, """
            import optuna

            def study():
                return optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
        """)
        scheduler = {"source": str(source), "optimizer": "study"}
    cfg = _cfg(QUADRATIC, scheduler=scheduler)
    folder = tmp_path / "sweep"
    folder.mkdir()
    first = _resumed(folder, cfg, make_proposer(cfg, seed=0, sweep_dir=folder).get_state(), 4)
    state = json.loads(json.dumps(make_proposer(cfg, seed=0, sweep_dir=folder).get_state()))
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "optuna.journal").write_bytes((folder / "optuna.journal").read_bytes())
    again = _resumed(folder, cfg, state, 4)
    assert not any(flat in first for flat in again)
    if not users:  # raysweep's own sampler goes on repeatably (the user's: Optuna reseeds it)
        assert _resumed(copy, cfg, state, 4) == again


# -- Optuna missing --------------------------------------------------------------------------

def test_a_missing_optuna_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from raysweep.search import check_engine

    monkeypatch.setitem(sys.modules, "optuna", None)  # `import optuna` raises ImportError
    cfg = _cfg(QUADRATIC)
    message = "engine: optuna needs Optuna: pip install 'raysweep[optuna]'"
    with pytest.raises(RaysweepError) as err:
        check_engine(cfg)
    assert str(err.value) == message
    with pytest.raises(RaysweepError) as err:
        make_proposer(cfg)
    assert str(err.value) == message


class _FakeTrial:
    """What the scheduler reads of a Tune trial."""

    def __init__(self, trial_id: str, config: dict[str, Any]) -> None:
        self.trial_id = trial_id
        self.config = config


# -- whole sweeps on Ray ---------------------------------------------------------------------

@pytest.mark.ray
def test_an_optuna_sweep_of_a_function_runs_on_ray(tmp_path: Path) -> None:
    def quadratic(config: dict[str, Any]) -> None:  # local: pickled by value for the workers
        raysweep.log({"loss": (config["x"] - 1.0) ** 2})

    cfg = _cfg(QUADRATIC, run_cap=12)
    result = raysweep.run(cfg, quadratic, storage=tmp_path, name="fn", seed=0)
    trials = result.trials
    assert len(trials) == 12 and (trials["status"] == "finished").all()
    study = optuna.load_study(study_name="raysweep", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(tmp_path / "fn" / "optuna.journal"))))
    assert sorted(t.value for t in study.trials) == sorted(trials["loss"])


PROGRAM = """
import json, sys
args = dict(a[2:].split("=", 1) for a in sys.argv[1:])
for step in range(1, 6):
    loss = (float(args.get("alpha", args.get("depth", 0))) - 0.5) ** 2 + 3 / step
    print("@raysweep " + json.dumps({"loss": loss}), flush=True)
"""

PRUNING_HOOKS = """
    import optuna

    def study():
        return optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=2.0),
                                   sampler=optuna.samplers.TPESampler(seed=2))

    def space(trial):
        if trial.suggest_categorical("model", ["linear", "tree"]) == "linear":
            trial.suggest_float("alpha", 0.0, 1.0)
        else:
            trial.suggest_int("depth", 1, 3)
"""


@pytest.mark.ray
def test_an_optuna_program_sweep_prunes_and_resumes(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(PROGRAM, encoding="utf-8")
    source = _write_source(tmp_path, PRUNING_HOOKS)
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(json.dumps({
        "method": "custom", "program": "train.py", "run_cap": 8,
        "metric": {"name": "loss", "goal": "minimize"},
        "scheduler": {"engine": "optuna", "source": str(source), "optimizer": "study",
                      "search_space": "space"},
    }), encoding="utf-8")
    first = raysweep.run(sweep, storage=tmp_path / "out", name="p", count=4,
                         max_concurrent_trials=2)
    trials = first.trials
    assert len(trials) == 4
    # Each trial has only its branch's parameter.
    for _, row in trials.iterrows():
        has_alpha = row.get("alpha") == row.get("alpha")  # NaN where absent
        has_depth = row.get("depth") == row.get("depth")
        assert has_alpha != has_depth and row["model"] in ("linear", "tree")
    # 3 / step > 2 at step 1: every trial reports above the threshold first, and is pruned.
    assert (trials["status"] == "stopped").all()
    assert set(trials["stop_reason"]) == {"pruned by ThresholdPruner at step 1"}
    again = raysweep.resume(tmp_path / "out" / "p")
    assert len(again.trials) == 8
    study = optuna.load_study(study_name=_study_name(tmp_path),
                              storage=_journal(tmp_path / "out" / "p"))
    assert [t.state for t in study.trials] == [TrialState.PRUNED] * 8


def _journal(folder: Path) -> optuna.storages.JournalStorage:
    return optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(folder / "optuna.journal")))


def _study_name(tmp_path: Path) -> str:
    (name,) = optuna.get_all_study_names(_journal(tmp_path / "out" / "p"))
    return name
