"""WandbHyperbandScheduler: fed by hand (no Ray started), then inside a real Tune run (``ray``)."""

from __future__ import annotations

import os
import pickle
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from raysweep.schedulers import (
    STOP_REASON_KEY,
    HyperbandRule,
    WandbHyperbandScheduler,
    make_callbacks,
    threshold,
)

CONTINUE, STOP = "CONTINUE", "STOP"


def _trial(trial_id: str) -> Any:
    # The scheduler only reads trial_id; a stand-in keeps these tests free of Ray's Trial.
    return SimpleNamespace(trial_id=trial_id)


def _report(scheduler: WandbHyperbandScheduler, trial_id: str, value: Any, iteration: int) -> str:
    result = {"loss": value, "training_iteration": iteration}
    return scheduler.on_trial_result(None, _trial(trial_id), result)


def _feed(scheduler: WandbHyperbandScheduler, trial_id: str, values: list[float]) -> list[str]:
    scheduler.on_trial_add(None, _trial(trial_id))
    return [_report(scheduler, trial_id, v, i) for i, v in enumerate(values, start=1)]


# -- fed by hand ---------------------------------------------------------------------------


def test_trial_is_stopped_at_the_band_where_it_falls_behind() -> None:
    # Bands (1, 2, 4, ...), eta 2. "a" runs alone. "b" ties the threshold at every band
    # (band 2: [4, 6] -> index int(2 * 0.5) = 1 -> 6). "c" at band 1: [5, 5, 9] -> index 1
    # -> 5, and 9 > 5: stopped at its first report.
    scheduler = WandbHyperbandScheduler(metric="loss", mode="min", min_iter=1, eta=2)
    assert _feed(scheduler, "a", [5, 4, 3, 2]) == [CONTINUE] * 4
    assert _feed(scheduler, "b", [5, 6, 6, 5]) == [CONTINUE] * 4
    assert _feed(scheduler, "c", [9]) == [STOP]
    assert scheduler.stop_reasons == {"c": "stopped at band 1: 9 > threshold 5"}


def test_maximize_reasons_use_the_metric_as_logged() -> None:
    scheduler = WandbHyperbandScheduler(metric="loss", mode="max", min_iter=1, eta=2)
    _feed(scheduler, "a", [0.9])
    _feed(scheduler, "b", [0.8])
    assert _feed(scheduler, "c", [0.1]) == [STOP]
    assert scheduler.stop_reasons["c"] == "stopped at band 1: 0.1 < threshold 0.8"


def test_results_without_a_valid_metric_are_not_iterations() -> None:
    scheduler = WandbHyperbandScheduler(metric="loss", mode="min", min_iter=2)
    _feed(scheduler, "a", [1.0, 1.0])
    scheduler.on_trial_add(None, _trial("b"))
    for i, junk in enumerate([float("nan"), None, "NaN", True, float("inf")], start=1):
        assert _report(scheduler, "b", junk, i) == CONTINUE
    assert scheduler.on_trial_result(None, _trial("b"), {"training_iteration": 6}) == CONTINUE
    # Only now does "b" log a second valid value and reach band 2.
    assert _report(scheduler, "b", 5.0, 7) == CONTINUE
    assert _report(scheduler, "b", 5.0, 8) == STOP
    assert scheduler.stop_reasons["b"] == "stopped at band 2: 5 > threshold 1"


def test_other_trials_at_the_band_are_rejudged_and_stopped_on_their_next_result() -> None:
    # Bands (1, 2, ...), eta 2; each trial logs one value. x=3 alone passes; y=9: [3, 9] ->
    # index 1 -> 9, a tie, passes. z=1: [1, 3, 9] -> index 1 -> 3, so y (9) is now out.
    # w=2: [1, 2, 3, 9] -> index 2 -> 3, x ties. v=0: [0, 1, 2, 3, 9] -> index 2 -> 2, so
    # x (3) is out too. Neither x nor y reported meanwhile; both stop at their next result.
    scheduler = WandbHyperbandScheduler(metric="loss", mode="min", min_iter=1, eta=2)
    for trial_id, value in [("x", 3.0), ("y", 9.0), ("z", 1.0), ("w", 2.0), ("v", 0.0)]:
        assert _feed(scheduler, trial_id, [value]) == [CONTINUE]
    assert scheduler.stop_reasons == {}
    # The next result stops them whatever it holds (here: no metric at all).
    assert scheduler.on_trial_result(None, _trial("x"), {"training_iteration": 2}) == STOP
    assert _report(scheduler, "y", 0.0, 2) == STOP
    # The label names the step where each really ended: y's stopping result was its 2nd value.
    assert scheduler.stop_reasons == {
        "x": "stopped at band 1: 3 > threshold 2",
        "y": "stopped at step 2 (band 1): 9 > threshold 3",
    }


def test_a_trial_judged_past_its_band_is_labelled_with_the_step_where_it_ended() -> None:
    # Bands (3, 9, ...), eta 3. "a" passes band 3 alone and runs on to step 5. Then "b"
    # reaches band 3 lower ([1, 5] -> index 0 -> 1), so a is marked, and its 6th result
    # stops it. It did not stop at band 3: it stopped at step 6, judged at band 3.
    scheduler = WandbHyperbandScheduler(metric="loss", mode="min", min_iter=3, eta=3)
    assert _feed(scheduler, "a", [5, 5, 5, 5, 5]) == [CONTINUE] * 5
    _feed(scheduler, "b", [1, 1, 1])
    assert _report(scheduler, "a", 5, 6) == STOP
    assert scheduler.stop_reasons["a"] == "stopped at step 6 (band 3): 5 > threshold 1"


def test_value_on_a_stopping_result_still_counts() -> None:
    # As in the test above, x is marked once v logs 0. Its next result (iteration 2, value 5)
    # stops it, yet the value was logged: it joins band 2's pool, as W&B's history would.
    scheduler = WandbHyperbandScheduler(metric="loss", mode="min", min_iter=1, eta=2)
    for trial_id, value in [("x", 3.0), ("y", 9.0), ("z", 1.0), ("w", 2.0), ("v", 0.0)]:
        _feed(scheduler, trial_id, [value])
    assert _report(scheduler, "x", 5.0, 2) == STOP
    assert [loss for _, loss in scheduler.state_dict()["histories"]["x"]] == [3.0, 5.0]
    # z then reaches band 2: [1.5 (z), 5 (x)] -> index 1 -> 5: z passes because x counted.
    assert _report(scheduler, "z", 1.5, 2) == CONTINUE
    everyone = [[loss for _, loss in h] for h in scheduler.state_dict()["histories"].values()]
    assert threshold(everyone, 2, 2) == 5.0


def test_marked_trial_that_finishes_first_is_not_reported_as_stopped() -> None:
    scheduler = WandbHyperbandScheduler(metric="loss", mode="min", min_iter=1, eta=2)
    for trial_id, value in [("x", 3.0), ("z", 1.0), ("w", 2.0), ("v", 0.0)]:
        _feed(scheduler, trial_id, [value])
    scheduler.on_trial_complete(None, _trial("x"), {})
    assert "x" not in scheduler.stop_reasons and "x" not in scheduler.state_dict()["marked"]


def test_finished_and_failed_trials_keep_counting() -> None:
    scheduler = WandbHyperbandScheduler(metric="loss", mode="min", min_iter=1, eta=2)
    _feed(scheduler, "done", [1.0])
    scheduler.on_trial_complete(None, _trial("done"), {})
    _feed(scheduler, "failed", [2.0])
    scheduler.on_trial_error(None, _trial("failed"))
    # [1, 2, 3] -> index 1 -> 2: a run at 3 stops only because both retired runs count.
    assert _feed(scheduler, "new", [3.0]) == [STOP]


def test_restarted_trial_forgets_the_values_it_reports_again() -> None:
    scheduler = WandbHyperbandScheduler(metric="loss", mode="min", min_iter=1, eta=2)
    _feed(scheduler, "a", [1.0, 1.0, 1.0])
    _feed(scheduler, "b", [1.0, 1.0, 1.0])
    # "b" restarts from a checkpoint taken at iteration 1: iterations 2.. are reported again.
    assert _report(scheduler, "b", 0.5, 2) == CONTINUE
    assert [loss for _, loss in scheduler.state_dict()["histories"]["b"]] == [1.0, 0.5]


def test_metric_and_mode_can_come_from_tune_config() -> None:
    scheduler = WandbHyperbandScheduler(min_iter=1)
    with pytest.raises(ValueError, match="needs a metric and a mode"):
        scheduler.on_trial_add(None, _trial("a"))
    assert scheduler.set_search_properties("loss", "max")
    assert scheduler.rule.maximize
    assert not scheduler.set_search_properties("other", None)


def test_invalid_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        WandbHyperbandScheduler(metric="loss", mode="minimize", min_iter=1)


def test_state_survives_save_and_restore(tmp_path: Any) -> None:
    scheduler = WandbHyperbandScheduler(metric="loss", mode="min", min_iter=1, eta=2)
    for trial_id, value in [("x", 3.0), ("z", 1.0), ("w", 2.0), ("v", 0.0), ("u", 7.0)]:
        _feed(scheduler, trial_id, [value])
    path = os.fspath(tmp_path / "hyperband.json")
    scheduler.save(path)
    fresh = WandbHyperbandScheduler(metric="loss", mode="min", min_iter=1, eta=2)
    fresh.restore(path)
    assert fresh.state_dict() == scheduler.state_dict()
    # The restored mark on "x" still fires.
    assert fresh.on_trial_result(None, _trial("x"), {"training_iteration": 2}) == STOP


def test_restore_refuses_state_from_another_config(tmp_path: Any) -> None:
    path = os.fspath(tmp_path / "hyperband.json")
    WandbHyperbandScheduler(metric="loss", mode="min", min_iter=1).save(path)
    other = WandbHyperbandScheduler(metric="loss", mode="min", min_iter=3)
    with pytest.raises(ValueError, match="saved for another config"):
        other.restore(path)


def test_callback_writes_the_reason_into_the_stopping_result() -> None:
    scheduler = WandbHyperbandScheduler(metric="loss", mode="min", min_iter=1, eta=2)
    (callback,) = make_callbacks(scheduler)
    _feed(scheduler, "a", [1.0])
    _feed(scheduler, "b", [1.0])
    _feed(scheduler, "c", [5.0])
    kept, stopped = {"loss": 1.0}, {"loss": 5.0}
    callback.on_trial_result(0, [], _trial("a"), kept)
    callback.on_trial_result(0, [], _trial("c"), stopped)
    assert STOP_REASON_KEY not in kept
    assert stopped[STOP_REASON_KEY] == "stopped at band 1: 5 > threshold 1"


def test_scheduler_and_callback_pickle_together() -> None:
    # Tune pickles both in one go (tuner.pkl); the callback must still read the same scheduler.
    scheduler = WandbHyperbandScheduler(metric="loss", mode="min", min_iter=1)
    pair = (scheduler, *make_callbacks(scheduler))
    copy_scheduler, copy_callback = pickle.loads(pickle.dumps(pair))
    assert copy_callback.scheduler is copy_scheduler


# -- the scheduler equals a W&B tick after every result -----------------------------------


@settings(max_examples=200, deadline=None)
@given(
    curves=st.lists(
        st.lists(st.integers(0, 6).map(float), min_size=1, max_size=10), min_size=1, max_size=6
    ),
    order=st.lists(st.integers(0, 5), max_size=80),
    eta=st.sampled_from([1.5, 2, 3]),
    strict=st.booleans(),
)
def test_scheduler_stops_what_a_wandb_tick_after_every_result_stops(
    curves: list[list[float]], order: list[int], eta: float, strict: bool
) -> None:
    # Trials report in the given interleaving. After each result, W&B's controller would run
    # a tick over every running run; the trials it stops leave at once. The scheduler must
    # flag (stop now, or mark for the next result) exactly the same trials at the same time.
    scheduler = WandbHyperbandScheduler(
        metric="loss", mode="min", min_iter=1, eta=eta, strict=strict
    )
    rule = HyperbandRule.from_config(min_iter=1, eta=eta, strict=strict)
    ids = [f"t{i}" for i in range(len(curves))]
    for trial_id in ids:
        scheduler.on_trial_add(None, _trial(trial_id))
    reported = dict.fromkeys(ids, 0)
    histories: dict[str, list[float]] = {trial_id: [] for trial_id in ids}
    active = set(ids)
    flagged: set[str] = set()
    for pick in order:
        live = sorted(active)
        if not live:
            break
        trial_id = live[pick % len(live)]
        value = curves[ids.index(trial_id)][reported[trial_id]]
        reported[trial_id] += 1
        histories[trial_id].append(value)
        _report(scheduler, trial_id, value, reported[trial_id])

        running = {t: histories[t] for t in active}
        expected = {t for t, d in rule.evaluate(running, histories).items() if d.stop}
        got = (set(scheduler.stop_reasons) | set(scheduler.state_dict()["marked"])) - flagged
        assert got == expected
        flagged |= got
        done = {t for t in active if reported[t] == len(curves[ids.index(t)])}
        for gone in got | done:
            scheduler.on_trial_complete(None, _trial(gone), {})
        active -= got | done


# -- inside Tune ---------------------------------------------------------------------------

# Bands (1, 2, 4, ...), eta 2; trials run one at a time in this order.
# t0 runs alone: never stopped. t1: band 1 [5, 4] -> 5; band 2 [4, 3.5] -> 4; band 4
# [2, 2.5] -> 2.5 (tie): runs out. t2: band 1 [5, 4, 9] -> index 1 -> 5: 9 > 5, stopped at 1.
# t3: band 1 [4, 4.5, 5, 9] -> 5: kept; band 2 [3.5, 4, 4.5] -> 4: 4.5 > 4, stopped at 2.
# t4: always best: runs out.
CURVES = [
    [5.0, 4.0, 3.0, 2.0, 1.0, 0.5],
    [4.0, 3.5, 3.0, 2.5, 2.0, 1.5],
    [9.0, 8.0, 7.0, 6.0, 5.0, 4.0],
    [4.5, 4.5, 4.5, 4.5, 4.5, 4.5],
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
]
EXPECTED_ITERATIONS = [6, 6, 1, 2, 6]
EXPECTED_REASONS = {
    2: "stopped at band 1: 9 > threshold 5",
    3: "stopped at band 2: 4.5 > threshold 4",
}


@pytest.mark.ray  # the shared `ray_session` (conftest) starts Ray
def test_tune_stops_trials_at_the_step_the_rule_gives(tmp_path: Any) -> None:
    from ray import tune

    curves = CURVES

    # Defined here so that Ray pickles it by value: workers cannot import this test module.
    def scripted(config: dict[str, Any]) -> None:
        for value in curves[config["i"]]:
            tune.report({"loss": value})

    scheduler = WandbHyperbandScheduler(metric="loss", mode="min", min_iter=1, eta=2)
    tuner = tune.Tuner(
        scripted,
        param_space={"i": tune.grid_search(list(range(len(CURVES))))},
        tune_config=tune.TuneConfig(scheduler=scheduler, max_concurrent_trials=1),
        run_config=tune.RunConfig(
            name="hb",
            storage_path=os.fspath(tmp_path),
            callbacks=make_callbacks(scheduler),
            verbose=0,
        ),
    )
    grid = tuner.fit()
    by_index = {r.config["i"]: r.metrics for r in grid}
    assert [by_index[i]["training_iteration"] for i in range(len(CURVES))] == EXPECTED_ITERATIONS
    reasons = {i: m[STOP_REASON_KEY] for i, m in by_index.items() if STOP_REASON_KEY in m}
    assert reasons == EXPECTED_REASONS
    assert sorted(scheduler.stop_reasons.values()) == sorted(EXPECTED_REASONS.values())
