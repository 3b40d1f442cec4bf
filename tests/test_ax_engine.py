"""``scheduler: {engine: ax}`` (W&B's 2026 schema): W&B's parameters as Ax's, the Ax proposer
(objectives, failures, the user's client, multi-objective), resume, and what ``raysweep run``
refuses (Ax missing, ``search_space``).

Ax is an optional extra that CI does not install (torch and BoTorch: gigabytes): the tests that
need it start with ``pytest.importorskip("ax")`` and are skipped there; the others (the mapping
of the parameters, the messages) run everywhere. Ray-free but the one marked ``ray``.
"""

from __future__ import annotations

import json
import math
import random
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from raysweep.search import check_engine, make_proposer, make_searcher, read_saved_searcher
from raysweep.search._ax_space import ax_params, constants_of, flat_config, parameterization

import raysweep
from raysweep.errors import RaysweepError
from raysweep.files import SEARCHER_FILE, SnapshotPacer
from raysweep.sweep import config
from raysweep.sweep.config import from_dict
from raysweep.sweep.model import SweepConfig

AX_SKIP = "Ax (raysweep[ax]) is not installed: CI does not install it (torch, BoTorch)"
BRANIN = {"x1": {"min": -5.0, "max": 10.0}, "x2": {"min": 0.0, "max": 15.0}}


def _need_ax() -> None:
    pytest.importorskip("ax", reason=AX_SKIP)


def _cfg(
    parameters: dict[str, Any] | None = None,
    *,
    metric: dict[str, Any] | None = None,
    metrics: list[dict[str, Any]] | None = None,
    scheduler: dict[str, Any] | None = None,
    **extra: Any,
) -> SweepConfig:
    doc: dict[str, Any] = {"method": "custom", "scheduler": {"engine": "ax", **(scheduler or {})}}
    if parameters is not None:
        doc["parameters"] = parameters
    if metrics is not None:
        doc["metrics"] = metrics
    else:
        doc["metric"] = metric or {"name": "loss", "goal": "minimize"}
    doc.update(extra)
    return from_dict(doc)


def _branin(x1: float, x2: float) -> float:
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def _write_source(folder: Path, body: str) -> Path:
    path = folder / "hooks.py"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


# -- W&B's parameters as Ax's (no Ax needed) --------------------------------------------------

ALL_KINDS = {
    "c": {"values": ["a", "b", [1, 2]]},
    "cp": {"values": [1, 2, 3], "probabilities": [0.2, 0.3, 0.5]},
    "s": {"values": ["x", "y"]},
    "f": {"values": [0.5, 0.25]},
    "mixed": {"values": [1, 2.5]},
    "bo": {"values": [True, False]},
    "one": {"values": [7]},
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


def test_each_wandb_distribution_has_its_ax_parameter() -> None:
    params = {p.name: p for p in ax_params(_cfg(ALL_KINDS).parameters)}
    shown = {name: (p.kind, p.parameter_type, p.bounds, p.log, p.values, p.ordered)
             for name, p in params.items()}
    assert shown == {
        "b": ("range", "float", (0.0, 1.0), False, None, None),  # the prior's quantile
        "bo": ("choice", "bool", None, False, (True, False), None),
        "c": ("choice", "int", None, False, (0, 1, 2), False),  # a list: by index
        "cp": ("range", "float", (0.0, 1.0), False, None, None),
        "f": ("choice", "float", None, False, (0.5, 0.25), None),
        "i": ("range", "int", (2, 9), False, None, None),
        "ilu": ("range", "float", (0.1, 10.0), True, None, None),
        "lu": ("range", "float", (1e-4, 1e-1), True, None, None),
        "lu1": ("range", "float", (math.exp(-3), math.exp(1)), True, None, None),
        "mixed": ("choice", "int", None, False, (0, 1), False),  # int and float: by index
        "n": ("range", "float", (0.0, 1.0), False, None, None),
        "opt.lr": ("range", "float", (0.001, 0.1), False, None, None),
        "qln": ("range", "float", (0.0, 1.0), False, None, None),
        "qlu": ("range", "float", (1.0, 1000.0), True, None, None),
        "qu": ("range", "float", (0.0, 10.0), False, None, None),
        "s": ("choice", "str", None, False, ("x", "y"), None),
        "u": ("range", "float", (-1.0, 1.0), False, None, None),
    }
    # Constants and a categorical of one value are in every config, not in the experiment.
    assert constants_of(_cfg(ALL_KINDS).parameters) == {
        ("k",): "fixed", ("one",): 7, ("opt", "name"): "adam"}


def test_any_values_ax_gives_make_a_config_the_space_holds_and_back() -> None:
    space = _cfg(ALL_KINDS).parameters
    params = ax_params(space)
    rng = random.Random(0)
    for _ in range(200):
        values: dict[str, Any] = {}
        for p in params:
            if p.kind == "choice":
                assert p.values is not None
                values[p.name] = rng.choice(p.values)
            else:
                assert p.bounds is not None
                low, high = p.bounds
                draw = rng.choice([low, high, rng.uniform(low, high)])
                values[p.name] = round(draw) if p.parameter_type == "int" else draw
        flat = flat_config(space, params, values)
        assert space.contains(flat), flat
        assert list(flat) == list(space.paths)  # the space's order
        # Back to Ax (an earlier result told to Ax): inside the bounds, one of the choices.
        again = parameterization(params, flat)
        assert again is not None
        for p in params:
            if p.kind == "choice":
                assert p.values is not None and again[p.name] in p.values
            else:
                assert p.bounds is not None and p.bounds[0] <= again[p.name] <= p.bounds[1]
    assert parameterization(params, {("u",): 0.5}) is None  # a missing parameter


def test_two_parameters_with_one_dotted_name_are_refused() -> None:
    space = _cfg({"a.b": {"min": 0.0, "max": 1.0},
                  "a": {"parameters": {"b": {"min": 0.0, "max": 1.0}}}}).parameters
    with pytest.raises(ValueError, match="both named 'a.b' in the Ax experiment"):
        ax_params(space)


# -- what raysweep run refuses (no Ax needed) -------------------------------------------------

MISSING = "engine: ax needs Ax: pip install 'raysweep[ax]'"


def test_a_missing_ax_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ax", None)  # `import ax` raises ImportError
    cfg = _cfg(BRANIN)
    assert [i.render() for i in config.runnable_issues(cfg)] == [
        f"scheduler.engine: {MISSING}. Or use engine: optuna, which raysweep runs."]
    with pytest.raises(RaysweepError) as err:
        check_engine(cfg)
    assert str(err.value) == MISSING
    with pytest.raises(RaysweepError) as err:
        make_proposer(cfg)
    assert str(err.value) == MISSING


def test_an_installed_ax_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ax").mkdir()  # importable by name: what runnable_issues looks for
    (tmp_path / "ax" / "__init__.py").write_text("", encoding="utf-8")
    monkeypatch.delitem(sys.modules, "ax", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert config.runnable_issues(_cfg(BRANIN)) == []


def test_a_search_space_under_ax_is_refused_before_the_run(tmp_path: Path) -> None:
    source = _write_source(tmp_path, "def space(trial):\n    return {}\n")
    cfg = _cfg(BRANIN, scheduler={"source": str(source), "search_space": "space"})
    issues = [i for i in config.runnable_issues(cfg) if i.path == "scheduler.search_space"]
    assert [i.render() for i in issues] == [
        f"scheduler.search_space: engine: ax has no define-by-run space: it cannot call "
        f"space() in {source.resolve()}. Ax searches a fixed space: describe it in "
        "`parameters`, or configure it in the Client that `scheduler.optimizer` returns; for "
        "a conditional space use engine: optuna."]


# -- the proposer (needs Ax) ------------------------------------------------------------------

def _trials(proposer: Any) -> list[tuple[int, str]]:
    return [(i, t.status.name) for i, t in sorted(proposer.client._experiment.trials.items())]


def _means(proposer: Any) -> dict[tuple[int, str], float]:
    df = proposer.client._experiment.lookup_data().df
    return {(int(r.trial_index), str(r.metric_name)): float(r["mean"])
            for _, r in df.iterrows()}


def test_proposals_stay_in_the_space_and_the_client_gets_the_values() -> None:
    _need_ax()
    cfg = _cfg(ALL_KINDS, metric={"name": "acc", "goal": "maximize"})
    proposer = make_proposer(cfg, seed=3)
    seen = []
    for _ in range(6):  # 5 initial trials, then BoTorch's
        flat = proposer.propose()
        assert cfg.parameters.contains(flat), flat
        seen.append(flat)
        proposer.observe(flat, -abs(float(flat[("u",)])))  # the adapter negates a max
    assert _trials(proposer) == [(i, "COMPLETED") for i in range(6)]
    # The client holds the metric's own value, and maximises it.
    assert _means(proposer) == {(i, "acc"): abs(float(f[("u",)])) for i, f in enumerate(seen)}
    objective = proposer.client._experiment.optimization_config.objective
    assert objective.metric_weights == [("acc", 1.0)]


def test_a_seed_makes_the_proposals_repeat() -> None:
    _need_ax()

    def run(seed: int) -> list[float]:
        proposer = make_proposer(_cfg(BRANIN), seed=seed)
        out = []
        for _ in range(6):
            flat = proposer.propose()
            proposer.observe(flat, _branin(flat[("x1",)], flat[("x2",)]))
            out.append(flat[("x1",)])
        return out

    assert run(7) == run(7)
    assert run(7)[1:] != run(8)[1:]  # the first is the centre of the space


def test_failed_trials_are_marked_failed_and_equal_configs_are_told_apart() -> None:
    _need_ax()
    # Every value rounds to 0: every proposal is the same config.
    proposer = make_proposer(_cfg({"x": {"distribution": "q_uniform", "min": 0.0, "max": 1.0,
                                         "q": 10.0}}), seed=0)
    first, second, third = proposer.propose(), proposer.propose(), proposer.propose()
    assert first == second == third and first is not second
    proposer.observe(second, 2.0)
    proposer.observe(first, None)
    proposer.observe(third, float("nan"))
    assert _trials(proposer) == [(0, "FAILED"), (1, "COMPLETED"), (2, "FAILED")]
    assert _means(proposer) == {(1, "loss"): 2.0}


def test_an_equal_config_that_was_not_proposed_takes_no_pending_trial() -> None:
    _need_ax()
    proposer = make_proposer(_cfg({"x": {"distribution": "q_uniform", "min": 0.0, "max": 1.0,
                                         "q": 10.0}}), seed=0)
    first, second = proposer.propose(), proposer.propose()
    # A re-run (or requeued) config equal to a pending proposal is another trial.
    proposer.observe(dict(first), 0.3)
    proposer.observe(first, 1.0)
    proposer.observe(second, 2.0)
    assert _trials(proposer) == [(0, "COMPLETED"), (1, "COMPLETED"), (2, "COMPLETED")]
    assert _means(proposer) == {(0, "loss"): 1.0, (1, "loss"): 2.0, (2, "loss"): 0.3}


def test_a_rerun_of_a_failed_config_is_completed_once() -> None:
    _need_ax()
    proposer = make_proposer(_cfg(BRANIN), seed=0)
    flat = proposer.propose()
    proposer.observe(flat, None)
    # `resume --rerun-failed` runs the config again as a new trial: its value must count.
    proposer.observe(dict(flat), 0.3)
    proposer.observe(dict(flat), 0.3)  # the same end replayed after a restart: not again
    proposer.observe(dict(flat), None)  # failing again adds nothing
    assert _trials(proposer) == [(0, "FAILED"), (1, "COMPLETED")]
    assert _means(proposer) == {(1, "loss"): 0.3}
    trials = proposer.client._experiment.trials
    assert trials[1].arm.parameters == trials[0].arm.parameters


def test_a_two_objective_sweep_gives_the_client_both_values() -> None:
    _need_ax()
    cfg = _cfg(BRANIN, metrics=[{"name": "val/loss", "goal": "minimize"},
                                {"name": "acc", "goal": "maximize"}])
    proposer = make_proposer(cfg, seed=1)
    configs = [proposer.propose() for _ in range(4)]
    for i, flat in enumerate(configs[:2]):
        proposer.observe(flat, (float(i), -0.5 - i))  # acc negated by the adapter
    proposer.observe(configs[2], (1.0, None))  # one objective missing: failed
    proposer.observe(configs[3], None)
    objective = proposer.client._experiment.optimization_config.objective
    assert objective.is_multi_objective
    assert objective.metric_weights == [("val/loss", -1.0), ("acc", 1.0)]
    assert _trials(proposer) == [(0, "COMPLETED"), (1, "COMPLETED"), (2, "FAILED"),
                                 (3, "FAILED")]
    assert _means(proposer) == {(0, "val/loss"): 0.0, (0, "acc"): 0.5,
                                (1, "val/loss"): 1.0, (1, "acc"): 1.5}
    proposer.observe(proposer.propose(), (3.0, -0.1))  # proposals go on after failures
    assert _trials(proposer)[-1] == (4, "COMPLETED")


def test_a_metric_name_ax_cannot_parse_is_refused() -> None:
    _need_ax()
    with pytest.raises(RaysweepError, match=r"Ax cannot read the metric names '1loss'"):
        make_proposer(_cfg(BRANIN, metric={"name": "1loss"}))


USER_CLIENTS = """
    from ax.api.client import Client
    from ax.api.configs import ChoiceParameterConfig, RangeParameterConfig

    def bare():
        return Client(random_seed=4)

    def configured(objective="-loss"):
        client = Client(random_seed=4)
        client.configure_experiment(parameters=[
            RangeParameterConfig(name="x1", bounds=(0.0, 1.0), parameter_type="float"),
            RangeParameterConfig(name="x2", bounds=(0.0, 1.0), parameter_type="float"),
            ChoiceParameterConfig(name="arch", values=["a", "b"], parameter_type="str",
                                  is_ordered=True),
        ])
        client.configure_optimization(objective=objective)
        return client

    def maximizes():
        return configured("loss")

    def lacks_x2():
        client = Client()
        client.configure_experiment(parameters=[
            RangeParameterConfig(name="x1", bounds=(0.0, 1.0), parameter_type="float")])
        return client

    def waits():
        client = configured()
        client.configure_generation_strategy()  # Ax's default: waits after 5 trials
        return client

    def not_a_client():
        return "client"
"""


def test_the_users_client_is_driven(tmp_path: Path) -> None:
    _need_ax()
    source = _write_source(tmp_path, USER_CLIENTS)
    # A bare client: raysweep gives it the sweep's experiment and objective.
    proposer = make_proposer(_cfg(BRANIN, scheduler={"source": str(source),
                                                     "optimizer": "bare"}))
    flat = proposer.propose()
    assert set(flat) == {("x1",), ("x2",)} and proposer.client._random_seed == 4
    # A configured client: its own parameters (its bounds, its extra one), as they are.
    cfg = _cfg({**BRANIN, "epochs": {"value": 3}},
               scheduler={"source": str(source), "optimizer": "configured"})
    proposer = make_proposer(cfg)
    for _ in range(3):
        flat = proposer.propose()
        assert set(flat) == {("x1",), ("x2",), ("epochs",), ("arch",)}
        assert 0.0 <= flat[("x1",)] <= 1.0 and flat[("arch",)] in ("a", "b")
        assert flat[("epochs",)] == 3
        proposer.observe(flat, 1.0)


def test_parallel_trials_go_on_past_axs_initial_ones_unless_the_users_strategy_waits(
    tmp_path: Path,
) -> None:
    _need_ax()
    proposer = make_proposer(_cfg(BRANIN), seed=0)
    assert len({tuple(proposer.propose().values()) for _ in range(8)}) == 8  # none observed
    source = _write_source(tmp_path, USER_CLIENTS)
    proposer = make_proposer(_cfg(BRANIN, scheduler={"source": str(source),
                                                     "optimizer": "waits"}))
    for _ in range(5):
        proposer.propose()
    with pytest.raises(RaysweepError, match=r"^Ax's generation strategy proposes no more "
                       r"trials until some finish \(.*\); run fewer trials at once "
                       r"\(--max-concurrent\), or configure the client with "
                       r"client.configure_generation_strategy\("
                       r"allow_exceeding_initialization_budget=True\)$"):
        proposer.propose()


@pytest.mark.parametrize(
    ("optimizer", "message"),
    [
        pytest.param("maximizes", "the Ax client of scheduler.optimizer 'maximizes' in {source} "
                     "optimises (loss: maximize), but the sweep's metrics are (loss: minimize); "
                     "configure it with client.configure_optimization(objective='-loss')",
                     id="other_goal"),
        pytest.param("lacks_x2", "the Ax client of scheduler.optimizer 'lacks_x2' in {source} "
                     "has an experiment without the sweep's parameters ['x2']; define them "
                     "there, remove them from `parameters` (or make them constants), or return "
                     "a client without an experiment (raysweep then builds it from "
                     "`parameters`)", id="missing_parameter"),
        pytest.param("not_a_client", "scheduler.optimizer: 'not_a_client' in {source} returned "
                     "a str; it must return an ax.api.Client (e.g. Client(random_seed=0), "
                     "configured or not)", id="not_a_client"),
    ],
)
def test_a_client_that_does_not_fit_the_sweep_is_refused(
    tmp_path: Path, optimizer: str, message: str
) -> None:
    _need_ax()
    source = _write_source(tmp_path, USER_CLIENTS).resolve()
    cfg = _cfg(BRANIN, scheduler={"source": str(source), "optimizer": optimizer})
    with pytest.raises(RaysweepError) as err:
        make_proposer(cfg)
    assert str(err.value) == message.format(source=source)


def test_earlier_results_are_attached_to_the_client_before_it_proposes() -> None:
    _need_ax()
    searcher = make_searcher(_cfg(BRANIN), seed=0)
    earlier = [({("x1",): 1.0, ("x2",): 2.0}, {"loss": 3.0}),
               ({("x1",): 4.0, ("x2",): 5.0}, {}),  # no value: failed
               ({("x1",): 99.0, ("x2",): 2.0}, {"loss": 1.0})]  # Ax clips it into the range
    assert searcher.warm_start(earlier) == 3
    searcher.suggest("t0")
    proposer = searcher.proposer
    trials = proposer.client._experiment.trials
    assert [(trials[i].arm.parameters, trials[i].status.name) for i in range(3)] == [
        ({"x1": 1.0, "x2": 2.0}, "COMPLETED"), ({"x1": 4.0, "x2": 5.0}, "FAILED"),
        ({"x1": 10.0, "x2": 2.0}, "COMPLETED")]
    assert _means(proposer) == {(0, "loss"): 3.0, (2, "loss"): 1.0}
    assert trials[3].status.name == "RUNNING"


# -- resume (needs Ax) ------------------------------------------------------------------------

def _searcher_in(folder: Path, cfg: SweepConfig, *, resume: bool) -> Any:
    searcher = make_searcher(cfg, seed=5, sweep_dir=folder)
    if resume:
        path = folder / SEARCHER_FILE
        state = json.loads(path.read_text(encoding="utf-8"))
        searcher.load_saved(read_saved_searcher(path, state))
        searcher.abandon_live()
    searcher.autosave_to(str(folder / SEARCHER_FILE))
    return searcher


def _saved(folder: Path) -> Any:
    from ax.api.client import Client

    return Client.load_from_json_file(str(folder / "ax_client.json"))


def test_a_killed_sweep_resumes_its_client_without_completing_a_trial_twice(
    tmp_path: Path,
) -> None:
    _need_ax()
    cfg = _cfg(BRANIN)
    first = _searcher_in(tmp_path, cfg, resume=False)
    configs = {f"t{i}": first.suggest(f"t{i}") for i in range(6)}
    for i in range(4):
        first.on_trial_complete(f"t{i}", {"loss": float(i)})
    # Killed: no close(); the client's file is as new as the last proposal or snapshot.
    second = _searcher_in(tmp_path, cfg, resume=True)
    # The two running trials run again first, with their configs, then new proposals.
    again = [second.suggest(f"r{i}") for i in range(3)]
    assert again[:2] == [configs["t4"], configs["t5"]]
    assert again[2] not in configs.values()
    for i, loss in enumerate([4.0, 5.0, 6.0]):
        second.on_trial_complete(f"r{i}", {"loss": loss})
    second.close()
    client = _saved(tmp_path)
    trials = client._experiment.trials
    assert [trials[i].status.name for i in sorted(trials)] == ["COMPLETED"] * 7
    df = client._experiment.lookup_data().df
    assert sorted(zip(df["trial_index"], df["mean"], strict=True)) == [
        (i, float(i)) for i in range(7)]


def test_a_trial_asked_after_the_last_record_is_the_next_proposal(tmp_path: Path) -> None:
    _need_ax()
    cfg = _cfg(BRANIN)
    first = _searcher_in(tmp_path, cfg, resume=False)
    first.suggest("t0")
    first.on_trial_complete("t0", {"loss": 1.0})
    # The driver dies right after the client was saved with a new trial, before the
    # searcher's journal says so.
    orphan = first.proposer.propose()
    second = _searcher_in(tmp_path, cfg, resume=True)
    assert second.suggest("r0") == cfg.parameters.unflatten(orphan)
    second.on_trial_complete("r0", {"loss": 2.0})
    second.close()
    trials = _saved(tmp_path)._experiment.trials
    assert [(i, trials[i].status.name) for i in sorted(trials)] == [
        (0, "COMPLETED"), (1, "COMPLETED")]


def test_a_resumed_seeded_client_goes_on_where_it_was(tmp_path: Path) -> None:
    _need_ax()
    cfg = _cfg(BRANIN)

    def run(proposer: Any, n: int) -> list[Any]:
        out = []
        for _ in range(n):
            flat = proposer.propose()
            proposer.observe(flat, _branin(flat[("x1",)], flat[("x2",)]))
            out.append(flat)
        return out

    whole = run(make_proposer(cfg, seed=0), 4)
    first = make_proposer(cfg, seed=0, sweep_dir=tmp_path)
    before = run(first, 2)
    state = json.loads(json.dumps(first.get_state()))
    second = make_proposer(cfg, seed=0, sweep_dir=tmp_path)
    second.set_state(state)
    # Not the first proposals again: the same as without the restart.
    assert before + run(second, 2) == whole


def test_a_two_objective_sweep_resumes_the_ends_its_client_file_lacks(tmp_path: Path) -> None:
    _need_ax()
    cfg = _cfg(BRANIN, metrics=[{"name": "loss", "goal": "minimize"},
                                {"name": "acc", "goal": "maximize"}])
    first = make_searcher(cfg, seed=5, sweep_dir=tmp_path)
    # Only the first snapshot: every later event is in the journal alone.
    first.autosave_to(str(tmp_path / SEARCHER_FILE), pacer=SnapshotPacer(share=1e-12))
    first.suggest("t0")
    first.suggest("t1")
    first.on_trial_complete("t0", {"loss": 1.0, "acc": 0.5})
    # Killed: ax_client.json was saved at t1's proposal, before t0 ended.
    assert [t.status.name for t in _saved(tmp_path)._experiment.trials.values()] == [
        "RUNNING", "RUNNING"]
    second = _searcher_in(tmp_path, cfg, resume=True)
    second.close()
    client = _saved(tmp_path)
    assert client._experiment.trials[0].status.name == "COMPLETED"
    df = client._experiment.lookup_data().df
    assert sorted(zip(df["metric_name"], df["mean"], strict=True)) == [("acc", 0.5),
                                                                        ("loss", 1.0)]


# -- a whole sweep on Ray (needs Ax) ----------------------------------------------------------

@pytest.mark.ray
def test_an_ax_sweep_of_a_function_runs_on_ray(tmp_path: Path) -> None:
    _need_ax()

    def branin(config: dict[str, Any]) -> None:  # local: pickled by value for the workers
        x1, x2 = config["x1"], config["x2"]
        b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
        raysweep.log({"loss": (x2 - b * x1**2 + c * x1 - 6) ** 2
                      + 10 * (1 - t) * math.cos(x1) + 10})

    result = raysweep.run(_cfg(BRANIN, run_cap=10), branin, storage=tmp_path, name="ax",
                          seed=0, max_concurrent_trials=2)
    trials = result.trials
    assert len(trials) == 10 and (trials["status"] == "finished").all()
    client = _saved(tmp_path / "ax")
    df = client._experiment.lookup_data().df
    # The client's file keeps 10 decimals.
    assert sorted(df["mean"]) == pytest.approx(sorted(trials["loss"]), rel=1e-9)
    assert len(client._experiment.trials) == 10


@pytest.mark.ray
def test_a_two_objective_ax_sweep_runs_on_ray(tmp_path: Path) -> None:
    _need_ax()

    def two(config: dict[str, Any]) -> None:
        raysweep.log({"loss": config["x1"] ** 2, "acc": 1.0 - (config["x2"] - 5.0) ** 2})

    cfg = _cfg(BRANIN, metrics=[{"name": "loss", "goal": "minimize"},
                                {"name": "acc", "goal": "maximize"}], run_cap=8)
    result = raysweep.run(cfg, two, storage=tmp_path, name="moo", seed=0,
                          max_concurrent_trials=2)
    trials = result.trials
    assert len(trials) == 8 and (trials["status"] == "finished").all()
    assert len(result.pareto) == int(trials["pareto"].sum()) >= 1
    client = _saved(tmp_path / "moo")
    df = client._experiment.lookup_data().df
    for name in ("loss", "acc"):  # each objective's own value (acc not negated)
        ours = sorted(df[df["metric_name"] == name]["mean"])
        assert ours == pytest.approx(sorted(trials[name]), rel=1e-9)
