"""The Pareto front (analysis/pareto.py) against a brute-force check, and a multi-objective
sweep's tables, ``raysweep results --pareto`` and report (synthetic sweep directories, no Ray)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raysweep.analysis import pareto as _pareto
from raysweep.analysis.pareto import pareto_mask


def brute_front(values: np.ndarray, goals: list[str]) -> list[bool]:
    """Every pair compared, in plain Python: the definition itself."""
    sign = [1.0 if g in ("minimize", "min") else -1.0 for g in goals]
    rows = [[v * s for v, s in zip(row, sign)] for row in values.tolist()]
    finite = [all(np.isfinite(v) for v in row) for row in rows]
    out = []
    for i, p in enumerate(rows):
        beaten = any(
            finite[j] and all(a <= b for a, b in zip(q, p)) and any(a < b for a, b in zip(q, p))
            for j, q in enumerate(rows) if j != i
        )
        out.append(finite[i] and not beaten)
    return out


# Few distinct values, so ties in one objective and duplicate points are common.
_VALUE = st.one_of(st.integers(0, 4).map(float), st.sampled_from([np.nan, 0.5, -1.0]))


@st.composite
def _points(draw: st.DrawFn) -> tuple[np.ndarray, list[str]]:
    k = draw(st.integers(1, 4))
    n = draw(st.integers(0, 40))
    rows = draw(st.lists(st.lists(_VALUE, min_size=k, max_size=k), min_size=n, max_size=n))
    goals = draw(st.lists(st.sampled_from(["minimize", "maximize", "min", "max"]),
                          min_size=k, max_size=k))
    return np.array(rows, dtype=float).reshape(n, k), goals


@settings(max_examples=400, deadline=None)
@given(_points())
def test_the_mask_is_the_brute_force_front_with_ties_and_duplicates(
    case: tuple[np.ndarray, list[str]]
) -> None:
    values, goals = case
    assert pareto_mask(values, goals).tolist() == brute_front(values, goals)


@pytest.mark.parametrize("k", [2, 3, 5])
@pytest.mark.parametrize("goals", ["min", "mixed"])
def test_random_continuous_points_match_brute_force_across_blocks(
    k: int, goals: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small blocks and front chunks, so a few hundred points cross many of them.
    monkeypatch.setattr(_pareto, "_BLOCK", 16)
    monkeypatch.setattr(_pareto, "_FRONT_CHUNK", 8)
    rng = np.random.default_rng(k)
    values = rng.random((300, k))
    values[::7] = values[1::7][: len(values[::7])]  # duplicates
    values[5, 0] = np.inf
    names = ["minimize", "maximize"] * k if goals == "mixed" else ["minimize"] * k
    names = names[:k]
    mask = pareto_mask(values, names)
    assert mask.tolist() == brute_front(values, names)
    assert mask.any() and not mask[5]


def test_duplicates_of_a_front_point_are_all_on_it() -> None:
    values = np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 2.0], [1.0, 2.0], [1.0, 1.0]])
    assert pareto_mask(values, ["min", "min"]).tolist() == [True, True, True, False, True]
    three = np.c_[values, np.zeros(5)]
    assert pareto_mask(three, ["min", "min", "min"]).tolist() == [True, True, True, False, True]


def test_a_maximised_objective_reverses_its_direction() -> None:
    values = np.array([[0.1, 0.5], [0.2, 0.9], [0.3, 0.95], [0.3, 0.7]])
    assert pareto_mask(values, ["minimize", "maximize"]).tolist() == [True, True, True, False]
    assert pareto_mask(values, ["maximize", "minimize"]).tolist() == [True, False, False, True]


@pytest.mark.parametrize(
    ("values", "goals", "message"),
    [
        pytest.param(np.zeros(3), ["min"], "two-dimensional", id="1d"),
        pytest.param(np.zeros((3, 2)), ["min"], "one goal per column (2), but got 1",
                     id="goal_count"),
        pytest.param(np.zeros((3, 1)), ["lowest"], "'minimize' or 'maximize', but got 'lowest'",
                     id="goal_word"),
    ],
)
def test_bad_arguments_say_what_is_wrong(values: np.ndarray, goals: list[str],
                                         message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        pareto_mask(values, goals)
