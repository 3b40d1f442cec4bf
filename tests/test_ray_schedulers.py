"""RecordingAsha / RecordingMedian: Ray's decisions, plus a reason and JSON state. No Ray start."""

from __future__ import annotations

import json
import os
import pickle
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ray.tune.schedulers import AsyncHyperBandScheduler, MedianStoppingRule
from raysweep.schedulers import (
    LOG_OFFSET_KEY,
    STOP_REASON_KEY,
    RecordingAsha,
    RecordingMedian,
    StopReasonCallback,
    make_callbacks,
    make_scheduler,
)

from raysweep.sweep.model import EarlyTerminate, Metric

CONTINUE, STOP = "CONTINUE", "STOP"


class _Trial:
    """Stands for Ray's Trial: the schedulers read ``trial_id``; Ray's median rule also keys
    dicts by the trial object itself (hashed by identity, as Trial is)."""

    def __init__(self, trial_id: str) -> None:
        self.trial_id = trial_id


def _trial(trial_id: str) -> Any:
    return _Trial(trial_id)


class _Controller:
    """What Ray's median rule asks a controller: the live trials (some may be waiting)."""

    def __init__(self, waiting: int = 0) -> None:
        self.live = [SimpleNamespace(status="PENDING") for _ in range(waiting)]

    def get_live_trials(self) -> list[Any]:
        return self.live


def _asha(**kwargs: Any) -> RecordingAsha:
    params: dict[str, Any] = dict(metric="loss", mode="min", grace_period=1, max_t=9)
    params.update(reduction_factor=3, stop_last_trials=False)
    params.update(kwargs)
    return RecordingAsha(**params)


def _median(**kwargs: Any) -> RecordingMedian:
    params: dict[str, Any] = dict(metric="loss", mode="min", grace_period=1)
    params.update(time_attr="training_iteration", min_samples_required=3)
    params.update(kwargs)
    return RecordingMedian(**params)


def _feed(scheduler: Any, trial_id: str, values: list[float], controller: Any = None) -> list[str]:
    trial = _trial(trial_id)
    scheduler.on_trial_add(controller, trial)
    actions = []
    for step, value in enumerate(values, start=1):
        result = {"loss": value, "training_iteration": step}
        actions.append(scheduler.on_trial_result(controller, trial, result))
        if actions[-1] == STOP:
            break
    scheduler.on_trial_complete(controller, trial, result)
    return actions


# -- ASHA ----------------------------------------------------------------------------------


def test_asha_records_the_rung_and_cutoff_of_a_stop() -> None:
    # Rungs 1, 3, 9. a runs alone. b at rung 1: cutoff of {a: 5} is 5; 4 passes. At rung 3:
    # cutoff of {a: 3} is 3, and 3.5 is worse: stopped there.
    scheduler = _asha()
    assert _feed(scheduler, "a", [5, 4, 3, 2]) == [CONTINUE] * 4
    assert _feed(scheduler, "b", [4, 4, 3.5, 1]) == [CONTINUE, CONTINUE, STOP]
    assert scheduler.stop_reasons == {
        "b": "stopped at rung 3: 3.5 > cutoff 3 (top 1/3 of 1 earlier trials)"
    }


def test_asha_cutoff_is_the_percentile_of_the_earlier_trials_only() -> None:
    # Rung 1 holds 1, 2, 3, 4 (as rewards -1..-4): the 66.7th percentile of rewards is -2,
    # i.e. a loss of 2. The stopped trial's own value (9) is not part of it.
    scheduler = _asha()
    for i, value in enumerate([1, 2, 3, 4]):
        _feed(scheduler, f"t{i}", [value])
    assert _feed(scheduler, "late", [9]) == [STOP]
    assert scheduler.stop_reasons["late"] == (
        "stopped at rung 1: 9 > cutoff 2 (top 1/3 of 4 earlier trials)"
    )


def test_asha_reasons_of_a_maximized_metric_read_as_logged() -> None:
    scheduler = _asha(mode="max")
    _feed(scheduler, "a", [0.9])
    assert _feed(scheduler, "b", [0.5]) == [STOP]
    assert scheduler.stop_reasons["b"] == (
        "stopped at rung 1: 0.5 < cutoff 0.9 (top 1/3 of 1 earlier trials)"
    )


def test_asha_stop_at_max_t_says_so() -> None:
    scheduler = _asha(max_t=2, stop_last_trials=True)
    assert _feed(scheduler, "a", [1, 1]) == [CONTINUE, STOP]
    assert scheduler.stop_reasons == {"a": "stopped at max_t 2 (training budget)"}


@settings(max_examples=150, deadline=None)
@given(
    curves=st.lists(
        st.lists(st.integers(0, 5).map(float), min_size=1, max_size=12), min_size=1, max_size=8
    ),
    rf=st.sampled_from([2, 3, 4]),
    mode=st.sampled_from(["min", "max"]),
)
def test_asha_decides_exactly_as_ray(curves: list[list[float]], rf: int, mode: str) -> None:
    kwargs = dict(metric="loss", mode=mode, grace_period=1, max_t=27, reduction_factor=rf)
    ours, ray = RecordingAsha(**kwargs), AsyncHyperBandScheduler(**kwargs)
    for i, curve in enumerate(curves):
        got, expected = _feed(ours, f"t{i}", curve), _feed(ray, f"t{i}", curve)
        assert got == expected
        assert (f"t{i}" in ours.stop_reasons) == (got[-1] == STOP)


def test_asha_state_round_trips_through_json(tmp_path: Any) -> None:
    scheduler = _asha()
    _feed(scheduler, "a", [5, 4, 3, 2])
    _feed(scheduler, "b", [9])
    scheduler.on_trial_add(None, _trial("running"))
    scheduler.on_trial_result(None, _trial("running"), {"loss": 4.0, "training_iteration": 1})
    path = os.fspath(tmp_path / "asha.json")
    scheduler.save(path)
    with open(path, encoding="utf-8") as handle:
        # The first save is a snapshot: the state, and where its log goes on (empty yet).
        assert json.load(handle) == {**scheduler.state_dict(), LOG_OFFSET_KEY: 0}

    fresh = _asha()
    fresh.restore(path)
    assert fresh.state_dict() == scheduler.state_dict()
    # Tune adds the restored trial again after the state is set; it goes on where it was.
    fresh.on_trial_add(None, _trial("running"))
    result = {"loss": 3.5, "training_iteration": 3}
    assert fresh.on_trial_result(None, _trial("running"), result) == STOP
    assert fresh.stop_reasons["b"] == scheduler.stop_reasons["b"]


def test_asha_forgets_a_dropped_trial_everywhere() -> None:
    # Rung 1 holds a=1, b=2, c=3 and the running r=0.5 (dropped by a resume). The cutoff (top
    # third) is a loss of 1 with r and 1.67 without it: 1.5 is stopped only while r counts.
    def build() -> RecordingAsha:
        scheduler = _asha()
        for trial_id, value in [("a", 1.0), ("b", 2.0), ("c", 3.0)]:
            _feed(scheduler, trial_id, [value])
        scheduler.on_trial_add(None, _trial("r"))
        scheduler.on_trial_result(None, _trial("r"), {"loss": 0.5, "training_iteration": 1})
        return scheduler

    kept = build()
    assert _feed(kept, "x", [1.5]) == [STOP]
    dropped = _asha()
    dropped.load_state_dict(build().state_dict())
    dropped.forget({"r"})
    state = dropped.state_dict()
    assert all("r" not in values for bracket in state["brackets"] for _, values in bracket)
    assert "r" not in state["trials"]
    assert _feed(dropped, "x", [1.5])[0] == CONTINUE


def test_asha_refuses_state_from_another_config() -> None:
    state = _asha().state_dict()
    with pytest.raises(ValueError, match="another config"):
        _asha(reduction_factor=2).load_state_dict(state)
    with pytest.raises(ValueError, match="cannot restore asha state 'median'"):
        _asha().load_state_dict(_median().state_dict())


def test_asha_removing_an_unknown_trial_is_harmless() -> None:
    _asha().on_trial_remove(None, _trial("never-added"))


# -- median ----------------------------------------------------------------------------------


def test_median_records_best_and_median_of_a_stop() -> None:
    scheduler = _median()
    for trial_id, value in [("a", 1.0), ("b", 2.0), ("c", 3.0)]:
        assert _feed(scheduler, trial_id, [value, value]) == [CONTINUE, CONTINUE]
    # At step 1 the others' running means are 1, 2, 3: median 2; 5 is worse.
    assert _feed(scheduler, "d", [5.0, 0.0]) == [STOP]
    assert scheduler.stop_reasons == {
        "d": "stopped at step 1: best 5 > median 2 of 3 trials' running means"
    }


def test_median_reason_of_a_maximized_metric() -> None:
    scheduler = _median(mode="max", grace_period=2)
    for trial_id, values in [("a", [0, 0.8, 0.9]), ("b", [0, 0.7, 0.7]), ("c", [0, 0.6, 1])]:
        _feed(scheduler, trial_id, values)
    # Step 2, means over steps 2..2: 0.8, 0.7, 0.6 -> 0.7; the best so far, 0.5, is below.
    assert _feed(scheduler, "d", [0.1, 0.5]) == [CONTINUE, STOP]
    assert scheduler.stop_reasons["d"] == (
        "stopped at step 2: best 0.5 < median 0.7 of 3 trials' running means"
    )


def test_median_never_pauses_a_trial_while_others_wait() -> None:
    # Ray pauses a trial with too few samples when trials wait, and a raysweep trial would
    # then start over. Ours runs on.
    waiting = _Controller(waiting=2)
    ray = MedianStoppingRule(metric="loss", mode="min", grace_period=1, time_attr="x")
    trial = _trial("a")
    ray.on_trial_add(waiting, trial)
    assert ray.on_trial_result(waiting, trial, {"loss": 1.0, "x": 1}) == "PAUSE"
    assert _feed(_median(), "a", [1.0, 1.0], waiting) == [CONTINUE, CONTINUE]


def test_median_counts_the_last_result_once() -> None:
    # Ray appends the last result again from on_trial_complete; ours keeps one value a step.
    scheduler = _median()
    _feed(scheduler, "a", [4.0, 1.0])
    assert scheduler.state_dict()["results"]["a"] == [[1, 4.0], [2, 1.0]]


def test_median_restarted_trial_replaces_what_it_reports_again() -> None:
    scheduler = _median()
    _feed(scheduler, "a", [4.0, 3.0, 2.0])
    scheduler.on_trial_result(_Controller(), _trial("a"), {"loss": 9.0, "training_iteration": 2})
    assert scheduler.state_dict()["results"]["a"] == [[1, 4.0], [2, 9.0]]


@settings(max_examples=150, deadline=None)
@given(
    curves=st.lists(
        st.lists(st.integers(0, 5).map(float), min_size=1, max_size=8), min_size=1, max_size=7
    ),
    grace=st.integers(1, 3),
    mode=st.sampled_from(["min", "max"]),
)
def test_median_decides_as_ray_on_every_result(
    curves: list[list[float]], grace: int, mode: str
) -> None:
    # Without waiting trials (no pause) and fed results only (Ray's extra on_trial_complete
    # copy aside), the decisions are Ray's.
    kwargs = dict(metric="loss", mode=mode, grace_period=grace, time_attr="training_iteration")
    ours, ray = RecordingMedian(**kwargs), MedianStoppingRule(**kwargs)
    nobody_waits = _Controller()
    for i, curve in enumerate(curves):
        trial = _trial(f"t{i}")
        ours.on_trial_add(nobody_waits, trial)
        ray.on_trial_add(nobody_waits, trial)
        for step, value in enumerate(curve, start=1):
            result = {"loss": value, "training_iteration": step}
            got = ours.on_trial_result(nobody_waits, trial, result)
            assert got == ray.on_trial_result(nobody_waits, trial, dict(result))
            assert (f"t{i}" in ours.stop_reasons) == (got == STOP)
            if got == STOP:
                break


def test_median_state_round_trips_and_pickles(tmp_path: Any) -> None:
    scheduler = _median()
    for trial_id, value in [("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", 5.0)]:
        _feed(scheduler, trial_id, [value, value])
    path = os.fspath(tmp_path / "median.json")
    scheduler.save(path)
    fresh = _median()
    fresh.restore(path)
    assert fresh.state_dict() == scheduler.state_dict()
    assert fresh.stop_reasons == {
        "d": "stopped at step 1: best 5 > median 2 of 3 trials' running means"
    }
    # Restored histories count for new trials, keyed by trial id.
    assert _feed(fresh, "e", [4.0]) == [STOP]
    # tuner.pkl pickles the scheduler (Ray's own median rule needs cloudpickle for that).
    assert pickle.loads(pickle.dumps(fresh)).state_dict() == fresh.state_dict()


def test_median_forgets_a_dropped_trial() -> None:
    scheduler = _median()
    for trial_id, value in [("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", 5.0)]:
        _feed(scheduler, trial_id, [value, value])
    scheduler.forget({"d", "c"})
    state = scheduler.state_dict()
    assert set(state["results"]) == {"a", "b"} and state["stopped"] == []
    assert "d" not in scheduler.stop_reasons
    # Two trials left: fewer than min_samples_required (3), so nothing is judged.
    assert _feed(scheduler, "e", [9.0, 9.0]) == [CONTINUE, CONTINUE]


def test_median_refuses_state_for_another_metric() -> None:
    with pytest.raises(ValueError, match="another metric"):
        _median(mode="max").load_state_dict(_median().state_dict())


# -- wiring ----------------------------------------------------------------------------------


LOSS = Metric("loss")


@pytest.mark.parametrize(("kind", "cls"), [("asha", RecordingAsha), ("median", RecordingMedian)])
def test_make_scheduler_returns_the_recording_classes(kind: str, cls: type) -> None:
    scheduler = make_scheduler(EarlyTerminate(kind, min_iter=1), LOSS)
    assert type(scheduler) is cls and scheduler.stop_reasons == {}


def test_callback_writes_the_reason_into_the_stopping_result() -> None:
    scheduler = _asha()
    (callback,) = make_callbacks(scheduler)
    assert isinstance(callback, StopReasonCallback)
    _feed(scheduler, "a", [1.0])
    _feed(scheduler, "b", [5.0])
    kept, stopped = {"loss": 1.0}, {"loss": 5.0}
    callback.on_trial_result(0, [], _trial("a"), kept)
    callback.on_trial_result(0, [], _trial("b"), stopped)
    assert STOP_REASON_KEY not in kept
    assert stopped[STOP_REASON_KEY] == scheduler.stop_reasons["b"]
    assert scheduler.stop_reason("b") == scheduler.stop_reasons["b"]
    assert scheduler.stop_reason("a") is None


# -- resume --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["asha", "median", "hyperband"])
def test_resume_restores_the_state_without_the_dropped_trials(tmp_path: Any, kind: str) -> None:
    # What `raysweep resume` does with scheduler.json: the ended trials' values stay, the
    # trials that were running when the driver died are forgotten (they run again).
    from raysweep.execution.resume import ResumePlan, restore_scheduler

    et, metric = EarlyTerminate(kind, min_iter=1), LOSS
    before = make_scheduler(et, metric)
    for trial_id, value in [("a", 1.0), ("b", 2.0), ("c", 3.0)]:
        _feed(before, trial_id, [value, value, value])
    before.on_trial_add(None, _trial("running"))
    before.on_trial_result(None, _trial("running"), {"loss": 0.5, "training_iteration": 1})
    before.save(os.fspath(tmp_path / "scheduler.json"))

    after = make_scheduler(et, metric)
    restore_scheduler(after, tmp_path, ResumePlan(ended=3, dropped_ids={"running"},
                                                    dropped_configs={}))
    text = json.dumps(after.state_dict())
    assert '"a"' in text and '"running"' not in text
    reference = make_scheduler(et, metric)
    for trial_id, value in [("a", 1.0), ("b", 2.0), ("c", 3.0)]:
        _feed(reference, trial_id, [value, value, value])
    assert after.state_dict() == reference.state_dict()


def test_resume_leaves_no_saved_hyperband_trial_live(tmp_path: Any) -> None:
    # A trial can be live in scheduler.json without being in trials.jsonl (its start had not
    # been written when the driver died): it is not dropped, but it cannot be live either,
    # or hyperband would wait for it / judge it forever.
    from raysweep.execution.resume import ResumePlan, restore_scheduler

    et, metric = EarlyTerminate("hyperband", min_iter=1), LOSS
    before = make_scheduler(et, metric)
    _feed(before, "a", [1.0, 1.0, 1.0])
    before.on_trial_add(None, _trial("unrecorded"))
    before.save(os.fspath(tmp_path / "scheduler.json"))
    assert before.state_dict()["live"] == ["unrecorded"]

    after = make_scheduler(et, metric)
    restore_scheduler(after, tmp_path, ResumePlan(ended=1, dropped_ids=set(),
                                                    dropped_configs={}))
    assert after.state_dict()["live"] == []
    assert after.state_dict()["histories"] == before.state_dict()["histories"]


@pytest.mark.parametrize("file", ["scheduler.json", "searcher.json"])
def test_resume_names_a_damaged_state_file(tmp_path: Any, file: str) -> None:
    from raysweep.errors import RaysweepError
    from raysweep.execution.resume import ResumePlan, restore_scheduler, restore_searcher

    (tmp_path / file).write_text('{"histories": {', encoding="utf-8")
    plan = ResumePlan(ended=0, dropped_ids=set(), dropped_configs={})
    with pytest.raises(RaysweepError, match=rf"{file} is damaged .*raysweep results"):
        if file == "scheduler.json":
            scheduler = make_scheduler(EarlyTerminate("hyperband", min_iter=1), LOSS)
            restore_scheduler(scheduler, tmp_path, plan)
        else:
            restore_searcher(SimpleNamespace(), None, tmp_path, SimpleNamespace(), plan)
