"""TuneSearcher: the Ray boundary of search. Unit tests: the Searcher is driven by hand, no
``ray.init``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ray.tune.search import Searcher
from raysweep.search import GridProposer, RandomProposer, TuneSearcher, make_searcher

from raysweep.sweep.config import from_dict

FlatConfig = dict[tuple[str, ...], Any]


class Recorder:
    """A proposer that proposes fixed configs and records what it observes."""

    def __init__(self, configs: list[FlatConfig]) -> None:
        self.configs = list(configs)
        self.observed: list[tuple[FlatConfig, float | None]] = []

    def propose(self) -> FlatConfig | None:
        return self.configs.pop(0) if self.configs else None

    def observe(self, config: FlatConfig, loss: float | None) -> None:
        self.observed.append((config, loss))

    def get_state(self) -> dict[str, Any]:
        return {"configs": [[[list(p), v] for p, v in c.items()] for c in self.configs]}

    def set_state(self, state: dict[str, Any]) -> None:
        self.configs = [{tuple(p): v for p, v in c} for c in state["configs"]]


def sweep(method: str = "grid", metric: dict[str, Any] | None = None, **params: Any) -> Any:
    doc: dict[str, Any] = {"method": method, "parameters": params or {"x": {"values": [1, 2]}}}
    if metric is not None:
        doc["metric"] = metric
    return from_dict(doc)


def recorder_searcher(mode: str = "min", target: float | None = None, n: int = 5
                      ) -> tuple[TuneSearcher, Recorder]:
    cfg = sweep()
    rec = Recorder([{("x",): i} for i in range(n)])
    return TuneSearcher(rec, cfg.parameters, metric="loss", mode=mode, target=target), rec


def test_finished_after_grid_is_exhausted() -> None:
    cfg = sweep(x={"values": [1, 2]})
    searcher = make_searcher(cfg)
    assert [searcher.suggest("t1"), searcher.suggest("t2")] == [{"x": 1}, {"x": 2}]
    assert searcher.suggest("t3") == Searcher.FINISHED
    assert searcher.suggest("t4") == Searcher.FINISHED


def test_suggest_returns_the_complete_nested_config_in_plain_types() -> None:
    cfg = sweep(
        "random",
        opt={"parameters": {"lr": {"min": 0.0, "max": 1.0}, "name": {"value": "adam"},
                            "inner": {"parameters": {"k": {"min": 1, "max": 3}}}}},
        tags={"values": [[1, {"a": None}]]},
        seed={"value": 7},
    )
    searcher = make_searcher(cfg, seed=0)
    config = searcher.suggest("t1")
    assert isinstance(config, dict)
    assert set(config) == {"opt", "tags", "seed"}
    assert set(config["opt"]) == {"lr", "name", "inner"}
    assert type(config["opt"]["lr"]) is float and type(config["opt"]["inner"]["k"]) is int
    assert config["tags"] == [1, {"a": None}] and config["seed"] == 7

    def walk(value: Any) -> None:
        assert not isinstance(value, (np.generic, np.ndarray)), value
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        if isinstance(value, list):
            for v in value:
                walk(v)

    walk(config)
    config["tags"][1]["a"] = "mutated"  # the trial's copy; the space must not change
    assert cfg.parameters[("tags",)].values == ([1, {"a": None}],)


def test_numpy_values_from_a_proposer_become_plain() -> None:
    cfg = sweep()
    rec = Recorder([{("x",): np.int64(2)}, {("x",): np.float32(0.5)}])
    searcher = TuneSearcher(rec, cfg.parameters)
    a, b = searcher.suggest("t1"), searcher.suggest("t2")
    assert a == {"x": 2} and type(a["x"]) is int
    assert type(b["x"]) is float


def test_score_is_the_best_value_ever_reported() -> None:
    searcher, rec = recorder_searcher()
    searcher.suggest("t1")
    for value in (5, 1, 3):
        searcher.on_trial_result("t1", {"loss": value})
    assert searcher.trial_scores == {"t1": 1.0}
    searcher.on_trial_complete("t1", {"loss": 3})
    assert rec.observed == [({("x",): 0}, 1.0)]
    assert searcher.trial_scores == {}  # an ended trial's score went to the proposer


def test_maximize_negates_the_best_value() -> None:
    searcher, rec = recorder_searcher(mode="max")
    searcher.suggest("t1")
    for value in (5, 9, 3):
        searcher.on_trial_result("t1", {"loss": value})
    assert searcher.trial_scores == {"t1": 9.0}
    searcher.on_trial_complete("t1", {"loss": 3})
    assert rec.observed == [({("x",): 0}, -9.0)]


def test_the_report_that_stopped_the_trial_counts() -> None:
    # Ray skips on_trial_result for the report on which a scheduler stops a trial.
    searcher, rec = recorder_searcher()
    searcher.suggest("t1")
    searcher.on_trial_result("t1", {"loss": 4.0})
    searcher.on_trial_complete("t1", {"loss": 0.5})
    assert rec.observed[0][1] == 0.5


def test_failed_trial_is_observed_as_none() -> None:
    searcher, rec = recorder_searcher()
    searcher.suggest("t1")
    searcher.on_trial_complete("t1", None, error=True)
    assert rec.observed == [({("x",): 0}, None)]
    assert searcher.trial_scores == {}


def test_failed_trial_with_reports_is_still_observed_as_none() -> None:
    # W&B imputes failed runs whatever they logged; the proposer decides how.
    searcher, rec = recorder_searcher()
    searcher.suggest("t1")
    searcher.on_trial_result("t1", {"loss": 0.1})
    assert searcher.trial_scores == {"t1": 0.1}
    searcher.on_trial_complete("t1", None, error=True)
    assert rec.observed == [({("x",): 0}, None)]


@pytest.mark.parametrize(
    "bad",
    [float("nan"), float("inf"), -float("inf"), True, False, "0.1", None, np.nan, np.bool_(True)],
    ids=repr,
)
def test_non_finite_bool_and_non_numeric_results_are_ignored(bad: Any) -> None:
    searcher, rec = recorder_searcher()
    searcher.suggest("t1")
    searcher.on_trial_result("t1", {"loss": bad})
    searcher.on_trial_result("t1", {"other": 1.0})
    searcher.on_trial_complete("t1", {"loss": bad})
    assert rec.observed == [({("x",): 0}, None)]
    searcher.suggest("t2")
    searcher.on_trial_result("t2", {"loss": bad})
    searcher.on_trial_result("t2", {"loss": np.float32(2.0)})
    searcher.on_trial_complete("t2", {"loss": bad})
    assert rec.observed[1] == ({("x",): 1}, 2.0)


def test_nested_metric_name_is_found_flat_or_nested() -> None:
    cfg = sweep()
    rec = Recorder([{("x",): 1}, {("x",): 2}])
    searcher = TuneSearcher(rec, cfg.parameters, metric="val/loss", mode="min")
    searcher.suggest("t1")
    searcher.on_trial_complete("t1", {"val/loss": 0.25})  # as Tune flattens results
    searcher.suggest("t2")
    searcher.on_trial_complete("t2", {"val": {"loss": 0.75}})
    assert [loss for _, loss in rec.observed] == [0.25, 0.75]


def test_unknown_or_removed_trials_do_not_crash() -> None:
    searcher, rec = recorder_searcher()
    searcher.on_trial_result("ghost", {"loss": 1.0})
    searcher.on_trial_complete("ghost", {"loss": 1.0})
    searcher.suggest("t1")
    searcher.on_trial_complete("t1")  # removed while pending: no result, no error
    searcher.on_trial_complete("t1")  # a second notice is ignored
    assert rec.observed == [({("x",): 0}, None)]


@pytest.mark.parametrize(
    ("mode", "target", "values", "stops"),
    [
        pytest.param("min", 0.5, [0.7, 0.5], True, id="min_reaches"),
        pytest.param("min", 0.5, [0.7, 0.51], False, id="min_misses"),
        pytest.param("max", 0.9, [0.1, 0.95], True, id="max_reaches"),
        pytest.param("max", 0.9, [0.1, 0.89], False, id="max_misses"),
    ],
)
def test_target_stops_new_trials_once_a_finished_trial_reaches_it(
    mode: str, target: float, values: list[float], stops: bool
) -> None:
    searcher, _ = recorder_searcher(mode=mode, target=target)
    assert searcher.suggest("t1") is not None
    assert searcher.suggest("t2") is not None  # still running when t1 ends
    for value in values:
        searcher.on_trial_result("t1", {"loss": value})
    assert searcher.suggest("t3") != Searcher.FINISHED  # only completed trials count
    searcher.on_trial_complete("t1", {"loss": values[-1]})
    assert searcher.target_reached is stops
    assert (searcher.suggest("t4") == Searcher.FINISHED) is stops
    # The running trial still completes normally.
    searcher.on_trial_complete("t2", {"loss": 1.0})


def test_target_from_the_sweep_file() -> None:
    cfg = sweep(metric={"name": "acc", "goal": "maximize", "target": 0.9},
                x={"values": [1, 2, 3]})
    searcher = make_searcher(cfg)
    assert (searcher.metric, searcher.mode) == ("acc", "max")
    searcher.suggest("t1")
    searcher.on_trial_complete("t1", {"acc": 0.95})
    assert searcher.suggest("t2") == Searcher.FINISHED


def test_search_properties_fill_only_what_is_unset() -> None:
    cfg = sweep()
    with_metric = TuneSearcher(GridProposer(cfg.parameters), cfg.parameters,
                               metric="loss", mode="max")
    assert with_metric.set_search_properties("other", "min", {}) is True
    assert (with_metric.metric, with_metric.mode) == ("loss", "max")
    without = TuneSearcher(GridProposer(cfg.parameters), cfg.parameters)
    assert (without.metric, without.mode) == (None, None)
    assert without.set_search_properties("acc", "max", {}) is True
    assert (without.metric, without.mode) == ("acc", "max")


def test_mode_defaults_to_min_and_bad_mode_is_refused() -> None:
    cfg = sweep()
    assert TuneSearcher(GridProposer(cfg.parameters), cfg.parameters, metric="m").mode == "min"
    with pytest.raises(ValueError, match="mode must be 'min', 'max' or None, but got 'minimize'"):
        TuneSearcher(GridProposer(cfg.parameters), cfg.parameters, metric="m", mode="minimize")


def test_sweep_without_metric_observes_none() -> None:
    cfg = sweep()
    rec = Recorder([{("x",): 1}])
    searcher = TuneSearcher(rec, cfg.parameters)
    searcher.suggest("t1")
    searcher.on_trial_result("t1", {"loss": 1.0})
    searcher.on_trial_complete("t1", {"loss": 1.0})
    assert rec.observed == [({("x",): 1}, None)]


def test_save_and_restore_continue_the_same_suggestions(tmp_path: Path) -> None:
    cfg = sweep("random", metric={"name": "loss", "target": -1.0},
                x={"values": ["a", "b", None, [1]]}, y={"min": 0.0, "max": 1.0},
                z={"parameters": {"w": {"min": 1, "max": 9}}})

    def new() -> TuneSearcher:
        return make_searcher(cfg, seed=11)

    original = new()
    for i in range(3):
        original.suggest(f"t{i}")
        original.on_trial_result(f"t{i}", {"loss": float(i)})
    original.on_trial_complete("t0", {"loss": 0.0})  # t1, t2 still running at the checkpoint
    path = tmp_path / "searcher-state-x.pkl"
    original.save(str(path))
    json.loads(path.read_text())  # JSON, not a pickle

    restored = new()
    restored.restore(str(path))
    # Only the running trials' values are kept: an ended one's score went to the proposer.
    assert restored.trial_scores == original.trial_scores == {"t1": 1.0, "t2": 2.0}
    for searcher in (original, restored):
        searcher.on_trial_complete("t1", {"loss": 1.0})
    later = [[s.suggest(f"n{i}") for i in range(5)] for s in (original, restored)]
    assert later[0] == later[1]
    assert all(isinstance(c, dict) for c in later[0])


def test_restore_keeps_a_reached_target_and_the_grid_position(tmp_path: Path) -> None:
    cfg = sweep(metric={"name": "loss", "target": 0.0}, x={"values": [1, 2, 3]})
    original = make_searcher(cfg)
    original.suggest("t1")
    original.suggest("t2")
    path = tmp_path / "state"
    original.save(str(path))
    restored = make_searcher(cfg)
    restored.restore(str(path))
    assert restored.suggest("t3") == {"x": 3}
    assert restored.suggest("t4") == Searcher.FINISHED
    restored.on_trial_complete("t1", {"loss": -1.0})
    restored.save(str(path))
    again = make_searcher(cfg)
    again.restore(str(path))
    assert again.target_reached
    # t2 was live across two restores and can still be observed.
    again.on_trial_complete("t2", {"loss": 5.0})


def test_restore_refuses_foreign_files(tmp_path: Path) -> None:
    path = tmp_path / "state"
    path.write_text(json.dumps({"format": "something else"}))
    searcher = make_searcher(sweep())
    with pytest.raises(ValueError, match="searcher state format must be"):
        searcher.restore(str(path))


def test_random_searcher_never_finishes_by_itself() -> None:
    cfg = sweep("random", x={"values": [1, 2]})
    searcher = TuneSearcher(RandomProposer(cfg.parameters, seed=0), cfg.parameters)
    assert all(searcher.suggest(f"t{i}") in ({"x": 1}, {"x": 2}) for i in range(20))


def test_nan_scores_never_reach_the_proposer() -> None:
    searcher, rec = recorder_searcher(n=3)
    for i, value in enumerate([float("nan"), 1.0, float("inf")]):
        searcher.suggest(f"t{i}")
        searcher.on_trial_complete(f"t{i}", {"loss": value})
    assert all(loss is None or math.isfinite(loss) for _, loss in rec.observed)


def test_outstanding_limit_holds_new_proposals_until_a_trial_ends() -> None:
    searcher, rec = recorder_searcher(n=5)
    limit = [2]
    searcher.limit_outstanding(lambda: limit[0])
    assert searcher.suggest("t1") == {"x": 0}
    assert searcher.suggest("t2") == {"x": 1}
    assert searcher.suggest("t3") is None  # not FINISHED: Tune asks again later
    assert rec.configs[0] == {("x",): 2}  # the proposer was not asked
    searcher.on_trial_complete("t1", {"loss": 1.0})
    assert searcher.suggest("t3") == {"x": 2}
    limit[0] = 3  # the cluster grew
    assert searcher.suggest("t4") == {"x": 3}
    assert searcher.suggest("t5") is None
    assert searcher.peak_outstanding == 3
    again, _ = recorder_searcher(n=5)
    again.set_state(json.loads(json.dumps(searcher.get_state())))
    assert again.peak_outstanding == 3


def test_outstanding_limit_does_not_hold_back_requeued_configs() -> None:
    searcher, _ = recorder_searcher(n=5)
    searcher.suggest("t1")
    searcher.suggest("t2")
    searcher.abandon_live()  # a resumed sweep runs these again first
    searcher.limit_outstanding(lambda: 1)
    assert searcher.suggest("t3") == {"x": 0}
    assert searcher.suggest("t4") == {"x": 1}
    assert searcher.suggest("t5") is None


def test_the_latest_proposals_durations_are_kept_in_a_bounded_window() -> None:
    searcher, _ = recorder_searcher(n=150)
    for i in range(130):
        searcher.suggest(f"t{i}")
    times = searcher.propose_seconds
    assert len(times) == 100 and all(t >= 0 for t in times)
    again, _ = recorder_searcher(n=150)
    again.set_state(json.loads(json.dumps(searcher.get_state())))
    assert again.propose_seconds == pytest.approx(times, abs=1e-6)


class _Promotions:
    """A scheduler's side that hands out one configuration again, once."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config: dict[str, Any] | None = config

    def rerun(self, trial_id: str) -> dict[str, Any] | None:
        config, self.config = self.config, None
        return config

    def waiting(self) -> bool:
        return False


def test_a_promoted_configurations_better_value_revises_the_bayes_observation(
    tmp_path: Path,
) -> None:
    from raysweep.search import read_saved_searcher

    from raysweep.files import SEARCHER_FILE

    cfg = sweep("bayes", metric={"name": "loss"}, x={"min": 0.0, "max": 1.0})
    searcher = make_searcher(cfg, seed=3)
    path = tmp_path / SEARCHER_FILE
    searcher.autosave_to(str(path))
    initial = json.loads(path.read_text())  # the first snapshot: nothing after it but events
    first = searcher.suggest("t0")
    searcher.on_trial_complete("t0", {"loss": 5.0})  # paused at its first rung with 5
    assert [loss for _, loss in searcher.proposer._obs] == [5.0]
    searcher.take_reruns_from(_Promotions(first))
    assert searcher.suggest("t1") == first
    searcher.on_trial_complete("t1", {"loss": 2.0})  # the next rung: better
    assert [loss for _, loss in searcher.proposer._obs] == [2.0]
    searcher.take_reruns_from(_Promotions(first))
    searcher.suggest("t2")
    searcher.on_trial_complete("t2", {"loss": 3.0})  # worse than its best: kept at 2
    assert [loss for _, loss in searcher.proposer._obs] == [2.0]
    searcher.close()
    # The journal holds the revision: a resumed sweep's proposer, which replays it after the
    # first snapshot, has it too.
    assert '"event": "revise"' in (tmp_path / "searcher.jsonl").read_text()
    restored = make_searcher(cfg, seed=3)
    restored.load_saved(read_saved_searcher(path, initial))
    assert [loss for _, loss in restored.proposer._obs] == [2.0]
