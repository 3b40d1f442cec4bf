"""``early_terminate`` -> Ray scheduler mapping. Builds Ray scheduler objects; never starts Ray."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from raysweep.schedulers import (
    BANDS_ERROR,
    SCHEDULERS,
    AshaParams,
    MedianParams,
    StopReasonCallback,
    asha_params,
    make_callbacks,
    make_scheduler,
    median_params,
)

import raysweep
from raysweep.sweep.model import EarlyTerminate as ET
from raysweep.sweep.model import Goal, Metric

LOSS = Metric("loss")
ACC = Metric("acc", Goal.MAXIMIZE)


@pytest.mark.parametrize(
    ("et", "metric", "expected"),
    [
        pytest.param(
            ET("asha", min_iter=3),
            LOSS,
            AshaParams(
                "loss", "min", grace_period=3, max_t=math.ceil(3 * 3**20), reduction_factor=3
            ),
            id="min_iter_open_ended_max_t",
        ),
        pytest.param(
            ET("asha", max_iter=27, s=2),
            ACC,
            AshaParams("acc", "max", grace_period=3, max_t=27, reduction_factor=3),
            id="max_iter_27_s2",
        ),
        # int(100 / 27) = 3: W&B's bands are [3, 11, 33], ASHA's rungs 3, 9, 27.
        pytest.param(
            ET("asha", max_iter=100, s=3),
            LOSS,
            AshaParams("loss", "min", grace_period=3, max_t=100, reduction_factor=3),
            id="max_iter_100_s3",
        ),
        pytest.param(
            ET("asha", max_iter=5, s=3),
            LOSS,
            AshaParams("loss", "min", grace_period=1, max_t=5, reduction_factor=3),
            id="grace_period_at_least_1",
        ),
        pytest.param(
            ET("asha", max_iter=27, s=2, min_iter=7),
            LOSS,
            AshaParams("loss", "min", grace_period=3, max_t=27, reduction_factor=3),
            id="max_iter_wins_over_min_iter",
        ),
        pytest.param(
            ET("asha", min_iter=4, eta=1.5),
            None,
            AshaParams(
                None, None, grace_period=4, max_t=math.ceil(4 * 1.5**20), reduction_factor=1.5
            ),
            id="float_eta_and_no_metric",
        ),
    ],
)
def test_asha_params(et: ET, metric: Metric | None, expected: AshaParams) -> None:
    params = asha_params(et, metric)
    assert params == expected
    assert (params.time_attr, params.brackets, params.stop_last_trials) == (
        "training_iteration",
        1,
        False,
    )


def test_asha_params_need_max_iter_with_s_or_min_iter() -> None:
    with pytest.raises(ValueError, match='either "max_iter" or "min_iter"'):
        asha_params(ET("asha"), LOSS)


def test_median_params_refuse_settings_without_a_band() -> None:
    # Built by hand: the sweep file's check refuses these settings with the same message.
    with pytest.raises(ValueError, match="Bands must be an array of length at least 1"):
        median_params(ET("median", max_iter=2, s=1, eta=3), LOSS)
    assert "Bands must be" in BANDS_ERROR


@pytest.mark.parametrize(
    ("et", "grace"),
    [
        pytest.param(ET("median", min_iter=5), 5, id="min_iter"),
        pytest.param(ET("median", max_iter=81, s=3), 3, id="first_band_of_max_iter"),
        pytest.param(ET("median", max_iter=18, s=2), 2, id="first_band_18_s2"),
    ],
)
def test_median_params_grace_is_first_band(et: ET, grace: int) -> None:
    assert median_params(et, ACC) == MedianParams("acc", "max", grace_period=grace)


def test_make_scheduler_none_without_early_terminate() -> None:
    assert make_scheduler(None, LOSS) is None


def test_make_scheduler_hyperband_is_wandb_exact() -> None:
    from raysweep.schedulers import WandbHyperbandScheduler

    scheduler = make_scheduler(ET("hyperband", max_iter=81, s=3, strict=False), ACC)
    assert isinstance(scheduler, WandbHyperbandScheduler)
    assert scheduler.rule.bands == (3, 9, 27)
    assert (scheduler.rule.strict, scheduler.rule.maximize) == (False, True)
    assert scheduler.metric == "acc"


def test_make_scheduler_asha() -> None:
    from raysweep.schedulers import RecordingAsha

    scheduler = make_scheduler(ET("asha", min_iter=1), LOSS)
    assert isinstance(scheduler, RecordingAsha)
    assert (scheduler.metric, scheduler.mode) == ("loss", "min")
    rungs = sorted(milestone for milestone, _ in scheduler.bracket_rungs()[0])
    assert rungs[:4] == [1, 3, 9, 27] and not scheduler.stops_last_trials


def test_make_scheduler_median() -> None:
    from raysweep.schedulers import RecordingMedian

    scheduler = make_scheduler(ET("median", min_iter=2), ACC)
    assert isinstance(scheduler, RecordingMedian)
    assert (scheduler.grace_period, scheduler.time_attr) == (2, "training_iteration")


def test_a_sweep_files_sections_build_the_scheduler_with_their_defaults() -> None:
    from raysweep.schedulers import WandbHyperbandScheduler

    cfg = raysweep.from_dict(
        {
            "method": "random",
            "metric": {"name": "acc", "goal": "maximize"},
            "parameters": {"x": {"values": [1, 2]}},
            "early_terminate": {"type": "hyperband", "min_iter": 2},
        }
    )
    scheduler = make_scheduler(cfg.early_terminate, cfg.metric)
    assert isinstance(scheduler, WandbHyperbandScheduler)
    assert scheduler.rule.bands[:3] == (2, 6, 18)  # eta 3 by default
    assert (scheduler.rule.strict, scheduler.rule.maximize) == (True, True)


def test_make_scheduler_rejects_unknown_type() -> None:
    expected = "must be one of 'hyperband', 'asha', 'median', 'promotion', got 'pbt'"
    with pytest.raises(ValueError, match=expected):
        make_scheduler(ET("pbt", min_iter=1), LOSS)


def test_scheduler_names_are_the_registry() -> None:
    assert list(SCHEDULERS) == ["hyperband", "asha", "median", "promotion"]


@pytest.mark.parametrize("kind", ["asha", "median"])
def test_ray_schedulers_without_metric_take_it_from_tune_config(kind: str) -> None:
    scheduler = make_scheduler(ET(kind, min_iter=1), None)
    assert scheduler is not None
    assert scheduler.set_search_properties("loss", "min")
    assert scheduler.metric == "loss"


def test_hyperband_accepts_matching_tune_config_metric_and_refuses_conflicts() -> None:
    scheduler = make_scheduler(ET("hyperband", min_iter=1), LOSS)
    assert scheduler is not None
    assert scheduler.set_search_properties("loss", "min")
    assert not scheduler.set_search_properties("acc", None)
    assert not scheduler.set_search_properties(None, "max")


def test_every_scheduler_gets_the_stop_reason_callback() -> None:
    for kind in SCHEDULERS:
        scheduler = make_scheduler(ET(kind, min_iter=1), LOSS)
        (callback,) = make_callbacks(scheduler)
        assert isinstance(callback, StopReasonCallback) and callback.scheduler is scheduler
    assert make_callbacks(None) == []


def test_only_promotion_reruns_configurations() -> None:
    reruns = {}
    for kind in SCHEDULERS:
        scheduler = make_scheduler(ET(kind, min_iter=1), LOSS)
        assert scheduler is not None
        reruns[kind] = scheduler.reruns_configurations
        if not scheduler.reruns_configurations:
            assert scheduler.rerun("t") is None and not scheduler.waiting()
            assert scheduler.rerun_of("t") is None and not scheduler.runs_again("t", {})
    assert reruns == {"hyperband": False, "asha": False, "median": False, "promotion": True}


def test_making_schedulers_does_not_start_ray() -> None:
    import ray

    # A `ray` test earlier in the session may have started Ray; building must not.
    before = ray.is_initialized()
    for kind in SCHEDULERS:
        make_scheduler(ET(kind, min_iter=1), LOSS)
    assert ray.is_initialized() == before


def test_importing_the_package_does_not_import_ray() -> None:
    code = "import sys, raysweep.schedulers; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
