"""``early_terminate`` -> Ray scheduler mapping. Builds Ray scheduler objects; never starts Ray."""

from __future__ import annotations

import enum
import math
import subprocess
import sys
from dataclasses import dataclass

import pytest
from raysweep.schedulers import (
    SCHEDULERS,
    AshaParams,
    MedianParams,
    asha_params,
    make_callbacks,
    make_scheduler,
    median_params,
)


@dataclass(frozen=True)
class ET:
    """Stand-in for the parsed ``early_terminate`` section."""

    type: object = "hyperband"
    min_iter: int | None = None
    max_iter: int | None = None
    s: int | None = None
    eta: float = 3
    strict: bool = True


@dataclass(frozen=True)
class Metric:
    name: str = "loss"
    goal: object = "minimize"


class Kind(str, enum.Enum):
    asha = "asha"


LOSS = Metric()
ACC = Metric("acc", "maximize")


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


@pytest.mark.parametrize(
    ("et", "metric", "message"),
    [
        pytest.param(ET("asha"), LOSS, 'either "max_iter" or "min_iter"', id="neither"),
        pytest.param(ET("asha", max_iter=9), LOSS, "'s' is required", id="max_iter_without_s"),
        pytest.param(ET("asha", min_iter=3, eta=1), LOSS, "greater than 1", id="eta_1"),
        pytest.param(ET("asha", min_iter=0), LOSS, "at least 1", id="min_iter_0"),
        pytest.param(
            ET("asha", min_iter=3), Metric(goal="minimise"), "metric.goal", id="bad_goal"
        ),
    ],
)
def test_asha_params_reject_invalid_settings(et: ET, metric: Metric, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        asha_params(et, metric)


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
    assert (scheduler.metric, scheduler._mode) == ("acc", "max")


def test_make_scheduler_asha() -> None:
    from ray.tune.schedulers import AsyncHyperBandScheduler

    scheduler = make_scheduler(ET(Kind.asha, min_iter=1), LOSS)
    assert isinstance(scheduler, AsyncHyperBandScheduler)
    assert (scheduler.metric, scheduler._mode) == ("loss", "min")
    rungs = sorted(milestone for milestone, _ in scheduler._brackets[0]._rungs)
    assert rungs[:4] == [1, 3, 9, 27] and not scheduler._stop_last_trials


def test_make_scheduler_median() -> None:
    from ray.tune.schedulers import MedianStoppingRule

    scheduler = make_scheduler(ET("median", min_iter=2), ACC)
    assert isinstance(scheduler, MedianStoppingRule)
    assert (scheduler._grace_period, scheduler._time_attr) == (2, "training_iteration")


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


def test_make_callbacks_carry_each_schedulers_state() -> None:
    from raysweep.schedulers import SchedulerStateCallback, WandbHyperbandCallback

    hyperband = make_scheduler(ET("hyperband", min_iter=1), LOSS)
    (callback,) = make_callbacks(hyperband)
    assert isinstance(callback, WandbHyperbandCallback) and callback.scheduler is hyperband
    for kind in ("asha", "median"):
        scheduler = make_scheduler(ET(kind, min_iter=1), LOSS)
        (callback,) = make_callbacks(scheduler)
        assert isinstance(callback, SchedulerStateCallback) and callback.scheduler is scheduler
    assert make_callbacks(None) == []


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
