"""``early_terminate: {type: promotion}``: the pure ladder, its Tune scheduler and the searcher's
re-runs, driven by hand (no Ray start)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from ray.tune.search import Searcher
from raysweep.schedulers import (
    PromotionScheduler,
    StopReasonCallback,
    make_callbacks,
    make_scheduler,
    promotion_params,
)
from raysweep.schedulers.promotion_ladder import PromotionLadder
from raysweep.search import TuneSearcher

from raysweep.sweep import config as rcfg


def _run(ladder: PromotionLadder, trial_id: str, value: float | None) -> str:
    """A trial that starts and stops at its budget with ``value``; returns its reason."""
    ladder.add(trial_id, {"id": trial_id})
    reason = ladder.reach(trial_id, value).reason
    ladder.end(trial_id, stopped=True)
    return reason


def test_the_best_fraction_at_a_rung_is_promoted_best_first() -> None:
    ladder = PromotionLadder([2, 8], eta=2)
    _run(ladder, "a", 0.5)
    assert ladder.take("t1") is None  # floor(1 / 2) = 0 qualify
    _run(ladder, "b", 0.3)
    assert ladder.take("t2") == {"id": "b"}  # the top 1 of 2
    assert ladder.budget("t2") == 8
    assert ladder.take("t3") is None  # b is promoted; a is not in the top half
    _run(ladder, "c", 0.1)
    assert ladder.take("t4") == {"id": "c"}  # top 1 of 3: c, not promoted yet
    _run(ladder, "d", 0.2)
    assert ladder.take("t5") == {"id": "d"}  # top 2 of 4: c, d
    assert ladder.take("t6") is None


def test_the_highest_rung_goes_first_and_above_the_last_rung_trials_run_to_their_end() -> None:
    ladder = PromotionLadder([1, 3], eta=2)
    for trial_id, value in (("a", 4.0), ("b", 2.0), ("c", 3.0), ("d", 1.0)):
        _run(ladder, trial_id, value)
    assert ladder.take("d2") == {"id": "d"}  # top 2 of 4 at rung 1: d, b
    ladder.reach("d2", 0.5)
    ladder.end("d2", stopped=True)
    assert ladder.take("b2") == {"id": "b"}  # rung 3 has 1 trial: nothing to promote there
    ladder.reach("b2", 0.7)
    ladder.end("b2", stopped=True)
    # Rung 3 now holds d and b: its best goes on before rung 1 has anything left.
    assert ladder.take("d3") == {"id": "d"}
    assert ladder.budget("d3") is None
    ladder.end("d3", stopped=False)  # finished on its own
    assert ladder.take("x") is None


def test_maximize_ranks_the_highest_value_first() -> None:
    ladder = PromotionLadder([2, 4], eta=2, mode="max")
    _run(ladder, "low", 0.2)
    reason = _run(ladder, "high", 0.9)
    assert reason.startswith("stopped at rung 2: 0.9, 1st of 2 there so far")
    assert ladder.take("t") == {"id": "high"}


def test_nan_ranks_last_and_closed_or_failed_lineages_are_never_promoted() -> None:
    ladder = PromotionLadder([1, 2], eta=1.5)
    reason = _run(ladder, "nan", None)
    assert "no metric value to rank" in reason
    _run(ladder, "ok", 5.0)
    # floor(2 / 1.5) = 1: the top one is "ok", whatever NaN's place would be.
    assert ladder.take("t") == {"id": "ok"}
    ladder.end("t", stopped=False, failed=True)
    _run(ladder, "third", 9.0)  # top 2 of 3: ok (closed) and third
    assert ladder.take("u") == {"id": "third"}
    assert ladder.take("v") is None


def test_reasons_name_the_rung_the_rank_and_the_rerun() -> None:
    ladder = PromotionLadder([2, 8], eta=4)
    _run(ladder, "a", 0.4)
    assert _run(ladder, "b", 0.5) == (
        "stopped at rung 2: 0.5, 2nd of 2 there so far; the best 1/4 at each rung train "
        "again to rung 8"
    )
    for name in "cd":
        _run(ladder, name, 0.9)
    assert ladder.take("a2") == {"id": "a"}
    assert ladder.reach("a2", 0.3).reason == (
        "stopped at rung 8 (re-run of trial a): 0.3, 1st of 1 there so far; the best 1/4 at "
        "each rung train again to its end"
    )


def test_removed_and_forgotten_trials_undo_what_they_started() -> None:
    ladder = PromotionLadder([1, 2], eta=2)
    _run(ladder, "a", 1.0)
    _run(ladder, "b", 2.0)
    assert ladder.take("a2") == {"id": "a"}
    ladder.remove("a2")  # never ran: the promotion is due again
    assert not ladder.waiting()
    assert ladder.take("a3") == {"id": "a"}
    ladder.add("a3", {"id": "a"})
    ladder.add("c", {"id": "c"})
    ladder.reach("c", 0.1)  # recorded, but the sweep died before c ended
    ladder.forget(["a3", "c"])
    assert ladder.knows("a") and not ladder.knows("c") and not ladder.has_config({"id": "c"})
    assert ladder.take("a4") == {"id": "a"}  # c's value no longer counts at rung 1


def test_state_survives_json_and_refuses_other_settings() -> None:
    ladder = PromotionLadder([2, 8], eta=2)
    _run(ladder, "a", 1.0)
    _run(ladder, "b", math.nan)
    ladder.take("a2")
    state = json.loads(json.dumps(ladder.state_dict()))
    again = PromotionLadder([2, 8], eta=2)
    again.load_state_dict(state)
    assert again.state_dict() == ladder.state_dict()
    assert again.budget("a2") == 8 and again.waiting()
    with pytest.raises(ValueError, match="cannot restore promotion state"):
        PromotionLadder([2, 8], eta=3).load_state_dict(state)


@pytest.mark.parametrize(
    ("rungs", "eta", "mode", "match"),
    [([], 2, "min", "rungs"), ([0, 2], 2, "min", "rungs"), ([2], 1, "min", "eta"),
     ([2], 2, "best", "mode")],
)
def test_bad_ladders_are_refused(rungs: list[int], eta: float, mode: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        PromotionLadder(rungs, eta, mode)


# -- the mapping and the scheduler -------------------------------------------------------


def _et(**kwargs: Any) -> rcfg.EarlyTerminate:
    return rcfg.EarlyTerminate(type="promotion", **kwargs)


LOSS = rcfg.Metric("loss")


def test_rungs_are_wandb_bands_and_a_metric_is_required() -> None:
    assert promotion_params(_et(min_iter=2, eta=4), LOSS).rungs[:4] == (2, 8, 32, 128)
    assert promotion_params(_et(max_iter=81, s=3), LOSS).rungs == (3, 9, 27)
    with pytest.raises(ValueError, match="needs a metric"):
        promotion_params(_et(min_iter=2), None)


class _Trial:
    def __init__(self, trial_id: str, config: dict[str, Any], recover: bool = False) -> None:
        self.trial_id = trial_id
        self.config = config
        self.recover = recover

    def should_recover(self) -> bool:
        return self.recover


def _scheduler() -> PromotionScheduler:
    scheduler = make_scheduler(_et(min_iter=1, eta=2), LOSS)
    assert isinstance(scheduler, PromotionScheduler)
    return scheduler


def _train(scheduler: PromotionScheduler, trial: _Trial, losses: list[float]) -> int:
    """Report ``losses`` until the scheduler says STOP; returns the steps run."""
    scheduler.on_trial_add(None, trial)  # type: ignore[arg-type]
    step = 0
    for step, loss in enumerate(losses, start=1):
        result = {"loss": loss, "training_iteration": step}
        if scheduler.on_trial_result(None, trial, result) == "STOP":  # type: ignore[arg-type]
            break
    scheduler.on_trial_complete(None, trial, result)  # type: ignore[arg-type]
    return step


def test_the_scheduler_stops_each_trial_at_its_budget_and_hands_out_reruns() -> None:
    scheduler = _scheduler()
    assert [type(c) for c in make_callbacks(scheduler)] == [StopReasonCallback]
    assert scheduler.reruns_configurations
    assert _train(scheduler, _Trial("a", {"x": 1}), [3.0, 2.0, 1.0]) == 1
    assert _train(scheduler, _Trial("b", {"x": 2}), [5.0, 4.0, 3.0]) == 1
    assert scheduler.stop_reasons["a"].startswith("stopped at rung 1: 3, 1st of 1")
    again = scheduler.rerun("a2")
    assert again == {"x": 1} and scheduler.waiting()
    assert _train(scheduler, _Trial("a2", again), [3.0, 2.0, 1.0]) == 2
    assert scheduler.stop_reasons["a2"].startswith("stopped at rung 2 (re-run of trial a)")
    # A trial that ends on its own before its budget closes its configuration.
    assert _train(scheduler, _Trial("c", {"x": 3}), [0.5]) == 1
    assert scheduler.rerun("c2") == {"x": 3}
    assert _train(scheduler, _Trial("c2", {"x": 3}), [0.5]) == 1  # finished, not stopped
    assert "c2" not in scheduler.stop_reasons and not scheduler.waiting()


def test_a_trial_being_retried_keeps_its_budget_and_a_failed_one_closes() -> None:
    scheduler = _scheduler()
    trial = _Trial("a", {"x": 1}, recover=True)
    scheduler.on_trial_add(None, trial)  # type: ignore[arg-type]
    scheduler.on_trial_error(None, trial)  # type: ignore[arg-type]
    assert scheduler.waiting() and scheduler.ladder.budget("a") == 1
    trial.recover = False
    scheduler.on_trial_error(None, trial)  # type: ignore[arg-type]
    assert not scheduler.waiting()


def _saved_while_running(rerun_id: str, new_id: str) -> dict[str, Any]:
    """The saved state of a sweep in which a (x=1, promoted) and b (x=2) ended, then a re-run
    of a and a new trial (x=3) started."""
    scheduler = _scheduler()
    _train(scheduler, _Trial("a", {"x": 1}), [1.0])
    _train(scheduler, _Trial("b", {"x": 2}), [2.0])
    rerun = scheduler.rerun(rerun_id)
    assert rerun == {"x": 1}
    scheduler.on_trial_add(None, _Trial(rerun_id, rerun))  # type: ignore[arg-type]
    scheduler.on_trial_add(None, _Trial(new_id, {"x": 3}))  # type: ignore[arg-type]
    state: dict[str, Any] = json.loads(json.dumps(scheduler.state_dict()))
    return state


def test_resume_drops_unended_trials_and_recognises_reruns() -> None:
    state = _saved_while_running("a2", "c")
    after = _scheduler()
    after.resume_from(state, ["a2", "c", "late"])
    assert after.runs_again("a2", {"x": 1})
    assert not after.runs_again("c", {"x": 3})  # the searcher runs c's config again
    # A re-run that started after the last save: unknown id, a known configuration.
    assert after.runs_again("late", {"x": 2}) and not after.runs_again("late", {"x": 9})
    assert after.rerun("a3") == {"x": 1}


# -- the searcher's side -----------------------------------------------------------------


class _Reruns:
    def __init__(self, configs: list[dict[str, Any]], waiting: bool) -> None:
        self.configs = configs
        self.busy = waiting

    def rerun(self, trial_id: str) -> dict[str, Any] | None:
        return self.configs.pop(0) if self.configs else None

    def waiting(self) -> bool:
        return self.busy


class _OneProposal:
    """A proposer with one configuration, which records what it observes."""

    def __init__(self) -> None:
        self.left = [{("x",): 1}]
        self.observed: list[tuple[dict[Any, Any], float | None]] = []

    def propose(self) -> dict[Any, Any] | None:
        return self.left.pop() if self.left else None

    def observe(self, config: dict[Any, Any], loss: float | None) -> None:
        self.observed.append((config, loss))

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        pass


def _searcher(proposer: _OneProposal) -> TuneSearcher:
    cfg = rcfg.loads("method: grid\nmetric: {name: loss}\nparameters: {x: {values: [1]}}\n")
    return TuneSearcher(proposer, cfg.parameters, metric="loss", mode="min")


def test_the_searcher_runs_reruns_first_and_waits_for_them_before_finishing() -> None:
    proposer = _OneProposal()
    searcher = _searcher(proposer)
    reruns = _Reruns([{"x": 7}], waiting=True)
    searcher.take_reruns_from(reruns)
    assert searcher.suggest("t1") == {"x": 7}
    assert searcher.suggest("t2") == {"x": 1}  # the grid's only proposal
    assert searcher.suggest("t3") is None  # exhausted, but a running trial may promote
    reruns.busy = False
    assert searcher.suggest("t4") == Searcher.FINISHED
    # The re-run's values count for the running trial (metric.target) ...
    searcher.on_trial_result("t1", {"loss": 0.1})
    assert searcher.trial_scores == {"t1": 0.1}
    # ... but the proposer observes its own trial, never the re-run.
    searcher.on_trial_complete("t1", {"loss": 0.1})
    searcher.on_trial_complete("t2", {"loss": 0.5})
    assert proposer.observed == [({("x",): 1}, 0.5)]
    assert searcher.trial_scores == {}  # ended trials are forgotten


def test_resume_leaves_no_trial_live_even_one_trials_json_never_showed() -> None:
    # Its start had not been written to trials.json, so it is not among the dropped ids; left
    # live, the searcher would wait for it forever at the end of the sweep.
    after = _scheduler()
    after.resume_from(_saved_while_running("unrecorded", "new"), [])
    assert not after.waiting()
    assert after.runs_again("unrecorded", {"x": 1})
    assert after.rerun("again") == {"x": 1}
