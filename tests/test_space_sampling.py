"""Statistical tests of the 18 W&B distributions in raysweep.sweep.distributions.

Every sampler is checked against the formula in that module's table (W&B's engine), computed
independently with scipy: continuous ones with a Kolmogorov-Smirnov test, discrete and quantised
ones with a chi-square test against the exact pmf. The seed is fixed, so each test is
deterministic.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from scipy import stats

from raysweep.sweep import space as sp
from raysweep.sweep.distributions import Continuous, quantize

N = 10_000
P_MIN = 0.001


def draw(spec: sp.ParamSpec, n: int = N, seed: int = 0) -> list[Any]:
    rng = np.random.default_rng(seed)
    return [spec.sample(rng) for _ in range(n)]


def chi_square_p(counts: Counter[Any], pmf: dict[Any, float], n: int) -> float:
    """p-value of a chi-square goodness-of-fit test; bins expecting < 5 draws are pooled."""
    assert set(counts) <= set(pmf), f"values outside the support: {set(counts) - set(pmf)}"
    assert math.isclose(sum(pmf.values()), 1.0, abs_tol=1e-9)
    observed, expected = [], []
    rest_obs, rest_exp = 0, 0.0
    for value, p in pmf.items():
        if n * p >= 5:
            observed.append(counts.get(value, 0))
            expected.append(n * p)
        else:
            rest_obs += counts.get(value, 0)
            rest_exp += n * p
    if rest_exp > 0:
        observed.append(rest_obs)
        expected.append(rest_exp)
    return float(stats.chisquare(observed, expected).pvalue)


def quantised_pmf(cdf: Callable[[float], float], q: float, ks: Sequence[int]) -> dict[int, float]:
    """P(round(X / q) == k) for X with the given CDF: the mass of [(k - 1/2) q, (k + 1/2) q].

    Ties (X exactly at a half step) have probability zero, so banker's rounding does not
    change the pmf.
    """
    return {k: cdf((k + 0.5) * q) - cdf((k - 0.5) * q) for k in ks}


# --- continuous distributions: KS test against the formula ------------------------------------

LN = math.log

CONTINUOUS = [
    pytest.param(sp.Uniform(min=-3.0, max=5.0), stats.uniform(loc=-3, scale=8).cdf, id="uniform"),
    pytest.param(
        sp.LogUniform(min=-3.0, max=2.0),
        stats.loguniform(math.exp(-3), math.exp(2)).cdf,
        id="log_uniform_v1_bounds_are_ln_exponents",
    ),
    pytest.param(
        sp.LogUniformValues(min=1e-4, max=1e-1),
        stats.loguniform(1e-4, 1e-1).cdf,
        id="log_uniform_values",
    ),
    pytest.param(
        # v1: exp(-U[min, max]); limits are ln(1/x), so x runs over [1e-3, 1e2].
        sp.InvLogUniform(min=LN(1 / 1e2), max=LN(1 / 1e-3)),
        stats.loguniform(1e-3, 1e2).cdf,
        id="inv_log_uniform_v1",
    ),
    pytest.param(
        sp.InvLogUniformValues(min=1e-15, max=1e20),
        stats.loguniform(1e-15, 1e20).cdf,
        id="inv_log_uniform_values",
    ),
    pytest.param(sp.Normal(), stats.norm(0, 1).cdf, id="normal_defaults"),
    pytest.param(sp.Normal(mu=4.0, sigma=2.0), stats.norm(4, 2).cdf, id="normal"),
    pytest.param(
        sp.LogNormal(mu=2.0, sigma=3.0),
        stats.lognorm(s=3, scale=math.exp(2)).cdf,
        id="log_normal",
    ),
    pytest.param(sp.Beta(), stats.beta(1, 1).cdf, id="beta_defaults"),
    pytest.param(sp.Beta(a=2.0, b=5.0), stats.beta(2, 5).cdf, id="beta"),
]


@pytest.mark.parametrize(("spec", "cdf"), CONTINUOUS)
def test_continuous_samples_follow_the_formula(spec: sp.ParamSpec, cdf: Any) -> None:
    samples = draw(spec)
    assert all(type(x) is float for x in samples)
    assert stats.kstest(samples, cdf).pvalue > P_MIN


@pytest.mark.parametrize(("spec", "cdf"), CONTINUOUS)
def test_cdf_matches_the_formula(spec: Continuous, cdf: Any) -> None:
    xs = [spec.ppf(u) for u in np.linspace(0.01, 0.99, 25)]
    assert [spec.cdf(x) for x in xs] == pytest.approx([float(cdf(x)) for x in xs], abs=1e-9)


@pytest.mark.parametrize(("spec", "cdf"), CONTINUOUS)
def test_samples_are_contained(spec: sp.ParamSpec, cdf: Any) -> None:
    assert all(spec.contains(x) for x in draw(spec, n=500))


def test_inv_log_uniform_values_has_the_distribution_of_log_uniform_values() -> None:
    inv = draw(sp.InvLogUniformValues(min=1e-3, max=10.0), seed=1)
    fwd = draw(sp.LogUniformValues(min=1e-3, max=10.0), seed=2)
    assert stats.ks_2samp(inv, fwd).pvalue > P_MIN
    assert min(inv) >= 1e-3 and max(inv) <= 10.0


def test_log_uniform_v1_is_log_uniform_values_over_exp_bounds() -> None:
    v1 = sp.LogUniform(min=LN(1e-3), max=LN(10.0))
    values = sp.LogUniformValues(min=1e-3, max=10.0)
    for u in np.linspace(0.0, 1.0, 11):
        assert v1.from_unit(u) == pytest.approx(values.from_unit(u), rel=1e-9)


# --- discrete distributions --------------------------------------------------------------------


def test_constant_always_gives_its_value() -> None:
    value = {"lr": 0.1, "layers": [1, 2]}
    assert all(x is value for x in draw(sp.Constant(value), n=100))


def test_categorical_is_uniform_over_the_index() -> None:
    values = ("a", "b", 3, [1, 2])
    samples = draw(sp.Categorical(values))
    counts = Counter(values.index(x) for x in samples)
    assert chi_square_p(counts, {i: 1 / 4 for i in range(4)}, N) > P_MIN
    assert all(any(x is v for v in values) for x in samples)


def test_categorical_counts_a_repeated_value_twice() -> None:
    samples = draw(sp.Categorical(("a", "a", "b")))
    assert chi_square_p(Counter(samples), {"a": 2 / 3, "b": 1 / 3}, N) > P_MIN


@pytest.mark.parametrize(
    ("values", "probabilities"),
    [
        pytest.param((0, 1, 2, 3, 4), (0.1, 0.25, 0.15, 0.2, 0.3), id="uneven"),
        pytest.param(("x", "y", "z"), (0.5, 0.0, 0.5), id="zero_probability"),
        pytest.param((0, 1, 2, 3, 4), (0.2,) * 5, id="even"),
    ],
)
def test_categorical_w_probabilities_follows_the_probabilities(
    values: tuple[Any, ...], probabilities: tuple[float, ...]
) -> None:
    spec = sp.CategoricalWithProbabilities(values, probabilities)
    counts = Counter(draw(spec))
    pmf = {v: p for v, p in zip(values, probabilities, strict=True) if p > 0}
    assert chi_square_p(counts, pmf, N) > P_MIN
    assert all(counts[v] == 0 for v, p in zip(values, probabilities, strict=True) if p == 0)


def test_int_uniform_is_uniform_and_includes_both_ends() -> None:
    samples = draw(sp.IntUniform(min=-2, max=7))
    assert all(type(x) is int for x in samples)
    counts = Counter(samples)
    assert set(counts) == set(range(-2, 8))
    assert chi_square_p(counts, {k: 1 / 10 for k in range(-2, 8)}, N) > P_MIN


def test_int_uniform_of_width_one_gives_both_values() -> None:
    assert set(draw(sp.IntUniform(min=0, max=1), n=200)) == {0, 1}


# --- quantised distributions: chi-square against the pmf of the rounded formula ----------------


def _uniform_cdf(lo: float, hi: float) -> Callable[[float], float]:
    return lambda x: min(1.0, max(0.0, (x - lo) / (hi - lo)))


def _log_uniform_cdf(lo: float, hi: float) -> Callable[[float], float]:
    """CDF of exp(U[lo, hi]) (lo, hi are ln exponents)."""
    return lambda x: 0.0 if x <= 0 else min(1.0, max(0.0, (math.log(x) - lo) / (hi - lo)))


QUANTISED = [
    pytest.param(
        sp.QUniform(min=1.0, max=10.0, q=4), _uniform_cdf(1, 10), 4, range(0, 3),
        id="q_uniform_int_q",
    ),
    pytest.param(
        sp.QUniform(min=-1.3, max=2.9, q=0.5), _uniform_cdf(-1.3, 2.9), 0.5, range(-3, 7),
        id="q_uniform_float_q",
    ),
    pytest.param(
        sp.QLogUniform(min=0.0, max=LN(100)), _log_uniform_cdf(0, LN(100)), 1.0, range(0, 101),
        id="q_log_uniform_v1",
    ),
    pytest.param(
        sp.QLogUniformValues(min=1.0, max=100.0, q=10),
        _log_uniform_cdf(0, LN(100)), 10, range(0, 11),
        id="q_log_uniform_values",
    ),
    pytest.param(
        sp.QNormal(mu=4.0, sigma=2.0), stats.norm(4, 2).cdf, 1.0, range(-6, 15), id="q_normal",
    ),
    pytest.param(
        sp.QLogNormal(mu=1.0, sigma=0.5, q=0.5),
        stats.lognorm(s=0.5, scale=math.e).cdf, 0.5, range(0, 60),
        id="q_log_normal",
    ),
    pytest.param(
        sp.QBeta(a=2.0, b=5.0, q=0.1), stats.beta(2, 5).cdf, 0.1, range(0, 11), id="q_beta",
    ),
]


@pytest.mark.parametrize(("spec", "cdf", "q", "ks"), QUANTISED)
def test_quantised_samples_follow_the_rounded_formula(
    spec: sp.ParamSpec, cdf: Callable[[float], float], q: float, ks: range
) -> None:
    samples = draw(spec)
    steps = [round(x / q) for x in samples]
    # Every value is an exact multiple of q, as np.round(x / q) * q computes it.
    assert samples == [float(np.round(k) * q) for k in steps]
    pmf = quantised_pmf(cdf, q, ks)
    # The support lies inside ks up to negligible tails; put any tail mass in the end bins.
    tail = 1.0 - sum(pmf.values())
    assert tail < 1e-6
    pmf[ks[-1]] += tail
    assert chi_square_p(Counter(steps), pmf, N) > P_MIN


@pytest.mark.parametrize(("spec", "cdf", "q", "ks"), QUANTISED)
def test_quantised_samples_are_contained(
    spec: sp.ParamSpec, cdf: Callable[[float], float], q: float, ks: range
) -> None:
    assert all(spec.contains(x) for x in draw(spec, n=500))


def test_q_uniform_can_leave_the_range() -> None:
    counts = Counter(draw(sp.QUniform(min=1, max=10, q=4)))
    assert set(counts) == {0, 4, 8}
    assert chi_square_p(counts, {0: 1 / 9, 4: 4 / 9, 8: 4 / 9}, N) > P_MIN


# --- dtype rules -------------------------------------------------------------------------------

INT_Q = [
    pytest.param(sp.QUniform(min=0.0, max=10.0, q=2), id="q_uniform"),
    pytest.param(sp.QLogUniform(min=0.0, max=3.0, q=1), id="q_log_uniform"),
    pytest.param(sp.QLogUniformValues(min=1.0, max=100.0, q=5), id="q_log_uniform_values"),
    pytest.param(sp.QNormal(mu=0.0, sigma=5.0, q=1), id="q_normal"),
    pytest.param(sp.QLogNormal(mu=1.0, sigma=1.0, q=1), id="q_log_normal"),
    pytest.param(sp.QBeta(q=1), id="q_beta"),
]

DEFAULT_Q = [
    pytest.param(sp.QUniform(min=0.0, max=10.0), id="q_uniform"),
    pytest.param(sp.QLogUniform(min=0.0, max=3.0), id="q_log_uniform"),
    pytest.param(sp.QLogUniformValues(min=1.0, max=100.0), id="q_log_uniform_values"),
    pytest.param(sp.QNormal(mu=0.0, sigma=5.0), id="q_normal"),
    pytest.param(sp.QLogNormal(mu=1.0, sigma=1.0), id="q_log_normal"),
    pytest.param(sp.QBeta(), id="q_beta"),
]


@pytest.mark.parametrize("spec", INT_Q)
def test_integer_q_gives_python_ints(spec: sp.ParamSpec) -> None:
    samples = draw(spec, n=200)
    assert all(type(x) is int for x in samples)
    assert type(spec.from_unit(0.5)) is int  # type: ignore[attr-defined]


@pytest.mark.parametrize("spec", DEFAULT_Q)
def test_default_q_gives_integral_floats(spec: sp.ParamSpec) -> None:
    assert spec.q == 1.0 and type(spec.q) is float  # type: ignore[attr-defined]
    samples = draw(spec, n=200)
    assert all(type(x) is float and x.is_integer() for x in samples)


def test_default_q_value_looks_like_wandb() -> None:
    assert sp.QUniform(min=0.0, max=10.0).from_unit(0.3) == 3.0
    assert repr(sp.QUniform(min=0.0, max=10.0).from_unit(0.3)) == "3.0"


# --- banker's rounding, deterministic ----------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "q", "expected"),
    [
        pytest.param(2.5, 1, 2, id="2.5_to_2"),
        pytest.param(3.5, 1, 4, id="3.5_to_4"),
        pytest.param(-2.5, 1, -2, id="minus_2.5_to_minus_2"),
        pytest.param(0.5, 1, 0, id="0.5_to_0"),
        pytest.param(12.5, 5, 10, id="2.5_steps_of_5"),
        pytest.param(7.5, 5, 10, id="1.5_steps_of_5"),
        pytest.param(2.5, 1.0, 2.0, id="float_q"),
        pytest.param(2.6, 1.0, 3.0, id="above_half"),
    ],
)
def test_quantize_uses_bankers_rounding(x: float, q: float, expected: float) -> None:
    result = quantize(x, q)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("u", "expected"),
    [
        pytest.param(0.25, 2, id="2.5_to_2"),
        pytest.param(0.35, 4, id="3.5_to_4"),
        pytest.param(0.45, 4, id="4.5_to_4"),
        pytest.param(0.55, 6, id="5.5_to_6"),
    ],
)
def test_from_unit_rounds_half_to_even(u: float, expected: int) -> None:
    # ppf(u) = 10u lands exactly on a half step.
    assert sp.QUniform(min=0, max=10, q=1).from_unit(u) == expected


# --- to_unit / from_unit -----------------------------------------------------------------------

UNIT_SPECS = [
    pytest.param(sp.Uniform(min=-3.0, max=5.0), id="uniform"),
    pytest.param(sp.LogUniform(min=-3.0, max=2.0), id="log_uniform"),
    pytest.param(sp.LogUniformValues(min=1e-4, max=1e-1), id="log_uniform_values"),
    pytest.param(sp.InvLogUniform(min=-2.0, max=5.0), id="inv_log_uniform"),
    pytest.param(sp.InvLogUniformValues(min=1e-4, max=1e-1), id="inv_log_uniform_values"),
    pytest.param(sp.Normal(mu=1.0, sigma=2.0), id="normal"),
    pytest.param(sp.LogNormal(mu=1.0, sigma=0.5), id="log_normal"),
    pytest.param(sp.Beta(a=2.0, b=5.0), id="beta"),
]

US = np.linspace(0.001, 0.999, 201)


@pytest.mark.parametrize("spec", UNIT_SPECS)
def test_to_unit_inverts_from_unit(spec: Continuous) -> None:
    back = [spec.to_unit(spec.from_unit(u)) for u in US]
    assert back == pytest.approx(list(US), abs=1e-9)


@pytest.mark.parametrize("spec", UNIT_SPECS)
def test_from_unit_and_to_unit_are_increasing(spec: Continuous) -> None:
    xs = [spec.from_unit(u) for u in US]
    assert np.all(np.diff(xs) > 0)
    us = [spec.to_unit(x) for x in xs]
    assert np.all(np.diff(us) >= 0)


@pytest.mark.parametrize(
    ("spec", "lo", "hi", "tol"),
    [
        pytest.param(sp.Uniform(min=-3.0, max=5.0), -3.0, 5.0, 1e-9, id="uniform"),
        pytest.param(
            sp.LogUniform(min=-3.0, max=2.0), math.exp(-3), math.exp(2), 1e-9, id="log_v1"
        ),
        pytest.param(sp.LogUniformValues(min=1e-4, max=0.1), 1e-4, 0.1, 1e-12, id="log_values"),
        pytest.param(
            sp.InvLogUniform(min=-2.0, max=5.0), math.exp(-5), math.exp(2), 1e-9, id="inv_v1"
        ),
        pytest.param(sp.InvLogUniformValues(min=1e-4, max=0.1), 1e-4, 0.1, 1e-12, id="inv_values"),
        # Beta(2, 5) has a thin upper tail: ppf(1 - 1e-12) is 0.997.
        pytest.param(sp.Beta(a=2.0, b=5.0), 0.0, 1.0, 5e-3, id="beta"),
    ],
)
def test_from_unit_covers_the_range(
    spec: Continuous, lo: float, hi: float, tol: float
) -> None:
    # from_unit clamps u to [1e-12, 1 - 1e-12], so the ends are reached up to a margin.
    assert spec.from_unit(0.0) == pytest.approx(lo, abs=tol)
    assert spec.from_unit(1.0) == pytest.approx(hi, abs=tol)
    assert spec.to_unit(lo) == pytest.approx(0.0, abs=1e-9)
    assert spec.to_unit(hi) == pytest.approx(1.0, abs=1e-9)
    # Values outside the range clamp to the ends of [0, 1].
    assert spec.to_unit(hi * 2 + 1) == 1.0
    assert spec.to_unit(lo - 1) == 0.0


def test_from_unit_is_unbounded_for_normal() -> None:
    spec = sp.Normal(mu=0.0, sigma=1.0)
    assert spec.from_unit(0.0) < -6 and spec.from_unit(1.0) > 6
    assert spec.from_unit(0.5) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(sp.QUniform(min=1, max=10, q=4), {0, 4, 8}, id="q_uniform_leaves_range"),
        pytest.param(sp.QUniform(min=0.0, max=3.0), {0.0, 1.0, 2.0, 3.0}, id="q_uniform"),
        pytest.param(sp.QBeta(q=0.5), {0.0, 0.5, 1.0}, id="q_beta"),
        pytest.param(
            sp.QLogUniformValues(min=1.0, max=100.0, q=50), {0, 50, 100}, id="q_log_values"
        ),
    ],
)
def test_quantised_from_unit_covers_exactly_the_reachable_values(
    spec: Continuous, expected: set[Any]
) -> None:
    xs = [spec.from_unit(u) for u in np.linspace(0.0, 1.0, 1001)]
    assert set(xs) == expected
    assert np.all(np.diff(xs) >= 0)


def test_int_uniform_unit_round_trip_and_coverage() -> None:
    spec = sp.IntUniform(min=-3, max=4)
    for v in range(-3, 5):
        assert 0 < spec.to_unit(v) < 1
        assert spec.from_unit(spec.to_unit(v)) == v
    xs = [spec.from_unit(u) for u in np.linspace(0.0, 1.0, 801)]
    assert set(xs) == set(range(-3, 5))
    assert xs[0] == -3 and xs[-1] == 4
    assert np.all(np.diff(xs) >= 0)
    assert all(type(x) is int for x in xs)
