"""W&B's Hyperband stopping rule (pure; no Ray).

Ports the cases of wandb/sweeps ``tests/test_hyperband_stopping.py`` with
hand-made histories: each case id says which rule it exercises, and the expected outcome
follows from the spec's formula (worked out in the comment next to each case).
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from raysweep.schedulers import (
    BANDS_ERROR,
    Decision,
    HyperbandRule,
    bands,
    decide,
    threshold,
    valid_history,
)

# -- bands ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        pytest.param({"min_iter": 3}, (3, 9, 27), id="min_iter_3"),
        pytest.param({"max_iter": 81, "s": 3}, (3, 9, 27), id="max_iter_81_s3"),
        pytest.param({"max_iter": 27, "s": 2}, (3, 9), id="max_iter_27_s2_excludes_max_iter"),
        pytest.param({"max_iter": 100, "s": 3}, (3, 11, 33), id="max_iter_100_s3_truncates"),
        pytest.param({"max_iter": 18, "s": 2}, (2, 6), id="max_iter_18_s2"),
        pytest.param({"max_iter": 9, "s": 2}, (1, 3), id="max_iter_9_s2"),
        pytest.param({"max_iter": 5, "s": 2, "eta": 2}, (1, 2), id="max_iter_5_s2_eta2"),
        # 5/3 = 1.67 -> 1, then 0.56 < 1 ends the ladder early.
        pytest.param({"max_iter": 5, "s": 3}, (1,), id="max_iter_stops_below_1"),
        pytest.param({"max_iter": 27, "s": 2, "min_iter": 5}, (3, 9), id="max_iter_wins"),
        # 30, 45, 67.5 -> 67, 101.25 -> 101: float rounding kept as in W&B.
        pytest.param({"min_iter": 30, "eta": 1.5}, (30, 45, 67, 101), id="min_iter_30_eta1.5"),
        # 1, 1.5, 2.25, 3.375: duplicates are kept, as in W&B.
        pytest.param({"min_iter": 1, "eta": 1.5}, (1, 1, 2, 3), id="min_iter_duplicates"),
    ],
)
def test_bands_match_wandb(kwargs: dict[str, float], expected: tuple[int, ...]) -> None:
    assert bands(**kwargs)[: len(expected)] == expected  # type: ignore[arg-type]


def test_bands_from_min_iter_are_100_long() -> None:
    found = bands(min_iter=3)
    assert len(found) == 100
    assert found[-1] == 3 * 3**99  # int eta keeps exact ints


def test_bands_from_min_iter_stop_before_float_overflow() -> None:
    found = bands(min_iter=1, eta=1e10)
    assert 0 < len(found) < 100 and all(b >= 1 for b in found)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"max_iter": 27, "s": 0}, BANDS_ERROR, id="s_0_no_bands"),
        pytest.param({"max_iter": 2, "s": 1}, BANDS_ERROR, id="max_iter_below_eta"),
        pytest.param({"max_iter": 27}, "'s' is required", id="max_iter_without_s"),
        pytest.param({"max_iter": 27, "min_iter": 3}, "'s' is required", id="both_without_s"),
        pytest.param({}, 'either "max_iter" or "min_iter"', id="neither"),
        pytest.param({"min_iter": 3, "eta": 1}, "greater than 1", id="eta_1"),
        pytest.param({"min_iter": 3, "eta": 0.5}, "greater than 1", id="eta_below_1"),
        pytest.param({"min_iter": 3, "eta": float("nan")}, "finite", id="eta_nan"),
        pytest.param({"min_iter": 3, "eta": True}, "finite", id="eta_bool"),
        pytest.param({"min_iter": 0}, "at least 1", id="min_iter_0"),
        pytest.param({"min_iter": 2.5}, "integer", id="min_iter_float"),
        pytest.param({"max_iter": 9, "s": -1}, "at least 0", id="s_negative"),
    ],
)
def test_bands_reject_invalid_settings(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message if message != BANDS_ERROR else None) as info:
        bands(**kwargs)  # type: ignore[arg-type]
    if message == BANDS_ERROR:
        assert str(info.value) == BANDS_ERROR


# -- valid_history -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param([1, 2.5, -3], [1.0, 2.5, -3.0], id="plain_numbers"),
        pytest.param([np.float32(0.5), np.int64(2)], [0.5, 2.0], id="numpy_numbers"),
        pytest.param([float("nan"), "NaN", 1.0], [1.0], id="nan_float_and_string"),
        pytest.param([float("inf"), -math.inf, 2.0], [2.0], id="inf_is_not_finite"),
        pytest.param([True, np.bool_(False), 3], [3.0], id="bools_are_not_numbers"),
        pytest.param([None, "1.0", b"1", [1], {"a": 1}, 4], [4.0], id="non_numbers"),
        pytest.param([1j, Decimal("1.5"), 5], [5.0], id="complex_and_decimal"),
    ],
)
def test_valid_history_keeps_what_wandb_counts(raw: list[object], expected: list[float]) -> None:
    assert valid_history(raw) == expected


def test_nan_rows_do_not_count_as_iterations() -> None:
    # Raw reports 5, nan, 4, None, 3: the third *valid* value (3) sits at band 3.
    history = valid_history([5.0, float("nan"), 4.0, None, 3.0])
    other = [6.0, 6.0, 6.0]
    decision = decide(history, [history, other], bands=(3,), eta=3, strict=True)
    assert decision is not None and decision.band == 3 and decision.value == 3.0


def test_run_logging_mostly_nan_is_not_yet_at_a_band() -> None:
    # W&B's NaN regression: one real value then dozens of "NaN" rows. Only 1 iteration
    # counts, so the run is below band 3 and safe, next to a finished run with 30 values.
    nan_run = valid_history([19.7] + ["NaN"] * 40 + [float("nan")] * 5)
    finished = valid_history([6.0 - 0.05 * i for i in range(30)])
    rule = HyperbandRule.from_config(min_iter=3)
    assert nan_run == [19.7]
    assert rule.evaluate({"c": nan_run}, {"c": nan_run, "d": finished}) == {}


# -- threshold -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("histories", "band", "eta", "expected"),
    [
        pytest.param([], 1, 3, math.inf, id="no_runs_inf"),
        pytest.param([[1.0]], 2, 3, math.inf, id="nobody_at_band_inf"),
        pytest.param([[4.0]], 1, 3, 4.0, id="single_run_is_its_own_threshold"),
        # [1, 2, 3]: index int(3 * 1/3) = 1.
        pytest.param([[3.0], [1.0], [2.0]], 1, 3, 2.0, id="three_runs_eta3"),
        # Only histories with >= 2 values count at band 2: [1, 3, 4] -> index 1.
        pytest.param([[5, 4.0], [6, 1.0], [7, 3.0], [9.0]], 2, 3, 3.0, id="short_runs_skip"),
        # Ties: [2, 2, 2, 9] -> index int(4 / 2) = 2 -> 2; all three 2s survive.
        pytest.param([[2.0], [2.0], [9.0], [2.0]], 1, 2, 2.0, id="ties"),
        # W&B multiplies by 1/eta: int(33 * (1 / 1.1)) = 30, where int(33 / 1.1) = 29.
        pytest.param([[float(i)] for i in range(33)], 1, 1.1, 30.0, id="eta_1.1_wandb_rounding"),
    ],
)
def test_threshold_is_wandb_order_statistic(
    histories: list[list[float]], band: int, eta: float, expected: float
) -> None:
    assert threshold(histories, band, eta) == expected


# -- decisions: the W&B scenarios ----------------------------------------------------------

FINISHED, RUNNING = "finished", "running"


def _stopped(
    runs: dict[str, tuple[str, list[float]]], rule: HyperbandRule, maximize: bool = False
) -> list[str]:
    """Run one W&B tick over ``runs`` (name -> (state, raw history)); return stopped names."""
    sign = -1.0 if maximize else 1.0
    everyone = {name: [sign * v for v in valid_history(h)] for name, (_, h) in runs.items()}
    running = {name: everyone[name] for name, (state, _) in runs.items() if state == RUNNING}
    return sorted(k for k, d in rule.evaluate(running, everyone).items() if d.stop)


# Two running runs; one flat, one improving (W&B test_hyperband_{min,max}_iter_bands).
# The flat run has 4 values: band 3, threshold over [5 (flat), 4 (improving)] -> index 0 -> 4,
# and 5 > 4. The improving run has 10 values: band 9, where only it counts.
_FLAT_VS_IMPROVING = {
    "flat": (RUNNING, [5.0] * 4),
    "improving": (RUNNING, [5.0 - 0.5 * i for i in range(10)]),
}
# eta 2, bands (1, 2) from max_iter 5, s 2 (W&B test_5runs_band1_stop_2).
# Band 1: every run logged 8 first -> threshold 8 -> nobody fails band 1.
# Band 2: [4 (a), 8 (b), 7 (c), 6 (d), 5 (e)] -> sorted index int(5/2) = 2 -> 6:
# b (8) and c (7) stop; d ties the threshold and survives; a and e are finished.
_FIVE_RUNS = {
    "a": (FINISHED, [8.0, 4.0]),
    "b": (RUNNING, [8.0, 8.0]),
    "c": (RUNNING, [8.0, 7.0, 7.0]),
    "d": (RUNNING, [8.0, 6.0, 6.0]),
    "e": (FINISHED, [8.0, 5.0, 5.0]),
}
# Same, but finished run a never reached band 2 (W&B ..._1stnoband): band 2 is now
# [8, 7, 6, 5] -> index 2 -> 7, so c (7) ties and survives: a's value there was what sank c.
_FIVE_RUNS_A_NO_BAND = {**_FIVE_RUNS, "a": (FINISHED, [8.0])}
# eta 3, bands (1, 3) from max_iter 9, s 2 (W&B test_eta_3).
# Band 1: [10, 12, 9, 8, 7] -> index int(5/3) = 1 -> 8: b (12) stops; c (9) would fail band
# 1 too, but it has 4 values, so it is judged at band 3 only ("snuck in").
# Band 3: [3 (c), 4 (d), 6 (e)] -> index 1 -> 4: e stops; d ties and survives.
_ETA_3 = {
    "a": (FINISHED, [10.0, 9.0]),
    "b": (RUNNING, [12.0, 11.0]),
    "c": (RUNNING, [9.0, 5.0, 3.0, 3.0]),
    "d": (RUNNING, [8.0, 5.0, 4.0, 4.0]),
    "e": (RUNNING, [7.0, 6.0, 6.0, 6.0]),
}


def _negated(runs: dict[str, tuple[str, list[float]]]) -> dict[str, tuple[str, list[float]]]:
    return {name: (state, [-v for v in h]) for name, (state, h) in runs.items()}


@pytest.mark.parametrize(
    ("config", "runs", "maximize", "expected"),
    [
        pytest.param(
            {"min_iter": 3},
            _FLAT_VS_IMPROVING,
            False,
            ["flat"],
            id="min_iter_3_flat_run_stops_at_band_3",
        ),
        pytest.param(
            {"min_iter": 3},
            _negated(_FLAT_VS_IMPROVING),
            True,
            ["flat"],
            id="min_iter_3_maximize_flat_run_stops",
        ),
        pytest.param(
            {"max_iter": 81, "s": 3},
            _FLAT_VS_IMPROVING,
            False,
            ["flat"],
            id="max_iter_81_flat_run_stops",
        ),
        # Bands (2, 6): flat run (4 values) at band 2: [5, 4.5] -> index 0 -> 4.5 < 5.
        pytest.param(
            {"max_iter": 18, "s": 2},
            _FLAT_VS_IMPROVING,
            False,
            ["flat"],
            id="max_iter_18_flat_run_stops_at_band_2",
        ),
        pytest.param(
            {"max_iter": 5, "s": 2, "eta": 2},
            _FIVE_RUNS,
            False,
            ["b", "c"],
            id="five_runs_finished_run_counts_in_threshold",
        ),
        pytest.param(
            {"max_iter": 5, "s": 2, "eta": 2},
            _FIVE_RUNS_A_NO_BAND,
            False,
            ["b"],
            id="five_runs_run_below_band_does_not_count",
        ),
        pytest.param(
            {"max_iter": 9, "s": 2},
            _ETA_3,
            False,
            ["b", "e"],
            id="eta_3_judged_at_latest_band_only",
        ),
        pytest.param(
            {"max_iter": 9, "s": 2}, _negated(_ETA_3), True, ["b", "e"], id="eta_3_maximize"
        ),
        pytest.param(
            {"max_iter": 9, "s": 2, "strict": False},
            _ETA_3,
            False,
            ["b", "e"],
            id="eta_3_non_strict_same_outcome",
        ),
    ],
)
def test_one_tick_stops_exactly_these_runs(
    config: dict[str, float],
    runs: dict[str, tuple[str, list[float]]],
    maximize: bool,
    expected: list[str],
) -> None:
    rule = HyperbandRule.from_config(**config, maximize=maximize)  # type: ignore[arg-type]
    assert _stopped(runs, rule, maximize) == expected


@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize(
    "history",
    [
        pytest.param([float(i) for i in range(30)], id="getting_worse"),
        pytest.param([5.0] * 30, id="flat"),
        pytest.param([9.0, 1.0, 9.0, 1.0] * 7, id="zigzag"),
    ],
)
def test_single_run_is_never_stopped(history: list[float], strict: bool) -> None:
    for config in ({"min_iter": 1}, {"max_iter": 18, "s": 2}, {"min_iter": 2, "eta": 1.5}):
        rule = HyperbandRule.from_config(**config, strict=strict)  # type: ignore[arg-type]
        for n in range(len(history) + 1):
            decision = rule.decide(history[:n], [history[:n]])
            assert decision is None or not decision.stop


def test_run_below_first_band_is_safe_however_bad() -> None:
    # Bands (2, 6): a run with one terrible value has no band yet.
    rule = HyperbandRule.from_config(max_iter=18, s=2)
    runs = {"good": (RUNNING, [1.0, 1.0, 1.0]), "awful": (RUNNING, [1e9])}
    assert _stopped(runs, rule) == []


def test_strict_judges_value_at_band_non_strict_judges_best() -> None:
    # Bands (2, 6) (W&B test_2runs_band1_pass). Band 2: [9 (late), 8 (steady)] -> index 0 -> 8.
    # "late" had 9 at band 2 but 5 since: strict stops it, best-so-far (5 <= 8) keeps it.
    runs = {
        "late": (RUNNING, [9.0, 9.0, 5.0]),
        "steady": (RUNNING, [9.0 - i for i in range(10)]),
    }
    assert _stopped(runs, HyperbandRule.from_config(max_iter=18, s=2, strict=True)) == ["late"]
    assert _stopped(runs, HyperbandRule.from_config(max_iter=18, s=2, strict=False)) == []


def test_a_kept_run_is_stopped_later_as_more_runs_reach_its_band() -> None:
    # W&B re-judges on every tick. Bands (1,), eta 2. First tick: [3 (x), 9 (y)] -> index 1
    # -> 9: x passes. Then two finished runs log 1 and 2: [1, 2, 3, 9] -> index 2 -> 3: x
    # ties, passes. A fifth logs 0: [0, 1, 2, 3, 9] -> index 2 -> 2: x (3) is stopped now.
    rule = HyperbandRule(bands=(1,), eta=2)
    running = {"x": [3.0]}
    everyone = {"x": [3.0], "y": [9.0]}
    assert not rule.evaluate(running, everyone)["x"].stop
    everyone |= {"f1": [1.0], "f2": [2.0]}
    assert not rule.evaluate(running, everyone)["x"].stop
    everyone |= {"f3": [0.0]}
    assert rule.evaluate(running, everyone)["x"].stop


def test_evaluate_counts_running_runs_missing_from_everyone() -> None:
    rule = HyperbandRule(bands=(1,), eta=2)
    # everyone lacks "b"; it still counts: [1, 5] -> index 1 -> 5, so "b" passes.
    decisions = rule.evaluate({"b": [5.0]}, {"a": [1.0]})
    assert decisions["b"].threshold == 5.0 and not decisions["b"].stop


# -- Decision and its reason ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        pytest.param(
            {"loss": 0.41, "limit": 0.37, "strict": True},
            "stopped at band 9: 0.41 > threshold 0.37",
            id="minimize_stop",
        ),
        pytest.param(
            {"loss": 0.37, "limit": 0.37, "strict": True},
            "kept at band 9: 0.37 <= threshold 0.37",
            id="minimize_tie_kept",
        ),
        pytest.param(
            {"loss": 0.123456, "limit": 0.1, "strict": False},
            "stopped at band 9: best 0.1235 > threshold 0.1",
            id="non_strict_4_digits",
        ),
        pytest.param(
            {"loss": -0.5, "limit": -0.75, "strict": True, "maximize": True},
            "stopped at band 9: 0.5 < threshold 0.75",
            id="maximize_shows_metric",
        ),
        pytest.param(
            {"loss": -0.0, "limit": 0.0, "strict": True, "maximize": True},
            "kept at band 9: 0 >= threshold 0",
            id="maximize_no_negative_zero",
        ),
        pytest.param(
            {"loss": 123456.0, "limit": 1.0, "strict": True},
            "stopped at band 9: 1.235e+05 > threshold 1",
            id="large_numbers",
        ),
    ],
)
def test_decision_reason_reads_in_metric_units(kwargs: dict[str, float], reason: str) -> None:
    decision = Decision.judge(band=9, **kwargs)  # type: ignore[arg-type]
    assert decision.reason == reason


def test_decision_values_are_in_metric_units_for_maximize() -> None:
    decision = Decision.judge(band=3, loss=-0.5, limit=-0.75, strict=True, maximize=True)
    assert (decision.stop, decision.value, decision.threshold) == (True, 0.5, 0.75)


def test_decide_returns_none_before_first_band() -> None:
    assert decide([1.0, 2.0], [[1.0, 2.0]], bands=(3,), eta=3, strict=True) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"bands": ()}, "Bands must be an array", id="empty"),
        pytest.param({"bands": (9, 3)}, "ascending", id="unsorted"),
        pytest.param({"bands": (0, 3)}, "at least 1", id="band_0"),
        pytest.param({"bands": (3,), "eta": 1}, "greater than 1", id="eta_1"),
    ],
)
def test_rule_rejects_invalid_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HyperbandRule(**kwargs)  # type: ignore[arg-type]


# -- properties ----------------------------------------------------------------------------

_etas = st.sampled_from([1.1, 1.5, 2, 2.5, 3, 4, 7.3])
_values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(
    values=st.lists(_values, min_size=1, max_size=60, unique=True),
    eta=_etas,
    band=st.integers(1, 4),
)
def test_at_one_band_the_best_int_n_over_eta_plus_1_survive(
    values: list[float], eta: float, band: int
) -> None:
    # n runs all at the same band with distinct values: exactly those <= sorted[k] survive,
    # k = int(n * (1 / eta)) (W&B's form), i.e. the k + 1 best.
    histories = {i: [0.0] * (band - 1) + [v] for i, v in enumerate(values)}
    rule = HyperbandRule(bands=(band,), eta=eta)
    decisions = rule.evaluate(histories, histories)
    survivors = sorted(values[i] for i, d in decisions.items() if not d.stop)
    k = int(len(values) * (1.0 / eta))
    assert survivors == sorted(values)[: k + 1]


_histories = st.lists(st.lists(_values, min_size=0, max_size=12), min_size=1, max_size=8)


@given(histories=_histories, eta=_etas)
def test_non_strict_stops_a_subset_of_what_strict_stops(
    histories: list[list[float]], eta: float
) -> None:
    runs = dict(enumerate(histories))
    strict = HyperbandRule(bands=(1, 3, 9), eta=eta, strict=True).evaluate(runs, runs)
    relaxed = HyperbandRule(bands=(1, 3, 9), eta=eta, strict=False).evaluate(runs, runs)
    assert {k for k, d in relaxed.items() if d.stop} <= {k for k, d in strict.items() if d.stop}


@given(histories=_histories, eta=_etas, strict=st.booleans())
def test_best_run_at_a_band_is_never_stopped(
    histories: list[list[float]], eta: float, strict: bool
) -> None:
    # The run with the lowest value at band b, among all runs that reached b, is never
    # stopped while b is its latest band: the threshold is one of those values.
    runs = dict(enumerate(histories))
    rule = HyperbandRule(bands=(1, 3, 9), eta=eta, strict=strict)
    decisions = rule.evaluate(runs, runs)
    for band in rule.bands:
        reached = [k for k, h in runs.items() if len(h) >= band]
        if reached:
            best = min(reached, key=lambda k: runs[k][band - 1])
            if decisions[best].band == band:
                assert not decisions[best].stop


@given(histories=_histories, eta=_etas, strict=st.booleans())
def test_evaluate_agrees_with_decide(
    histories: list[list[float]], eta: float, strict: bool
) -> None:
    runs = dict(enumerate(histories))
    rule = HyperbandRule(bands=(1, 3, 9), eta=eta, strict=strict)
    decisions = rule.evaluate(runs, runs)
    for key, history in runs.items():
        assert decisions.get(key) == rule.decide(history, runs.values())


def test_the_file_check_and_the_scheduler_compute_the_same_bands() -> None:
    """`raysweep validate` shows the bands the scheduler stops at (W&B's float arithmetic:
    750 * 1.2 * 1.2 * 1.2 is 1296, while 750 * 1.2**3 is 1295.99...)."""
    from raysweep.sweep.config import from_dict

    cfg = from_dict({
        "method": "random", "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"values": [1, 2]}},
        "early_terminate": {"type": "hyperband", "min_iter": 750, "eta": 1.2},
    })
    assert cfg.early_terminate is not None
    shown = cfg.early_terminate.bands
    assert shown == bands(min_iter=750, eta=1.2)
    assert shown[:5] == (750, 900, 1080, 1296, 1555)
