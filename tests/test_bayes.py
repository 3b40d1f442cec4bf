"""BayesProposer: the GP searcher of ``method: bayes`` (search/bayes.py).

Behaviour only, with fixed seeds: proposals stay in the space, repeat for a seed, never
duplicate, survive failed trials, converge, treat categoricals as categories, and restore
from a JSON round trip. The search quality against other engines is measured by
``benchmarks/bench_bayes.py``, not here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from raysweep.search.bayes import BayesProposer
from raysweep.search.random import RandomProposer

from raysweep.sweep.config import from_dict
from raysweep.sweep.space import SearchSpace

Loss = Callable[[dict[tuple[str, ...], Any]], float | None]


def make(parameters: dict[str, Any], **metric: Any) -> tuple[SearchSpace, Any]:
    cfg = from_dict(
        {
            "method": "bayes",
            "metric": {"name": "loss", "goal": "minimize", **metric},
            "parameters": parameters,
        }
    )
    return cfg.parameters, cfg.metric


def drive(proposer: Any, loss: Loss, n: int) -> list[dict[tuple[str, ...], Any]]:
    """Propose and observe ``n`` times; return the proposals."""
    seen = []
    for _ in range(n):
        config = proposer.propose()
        assert config is not None
        seen.append(config)
        proposer.observe(config, loss(config))
    return seen


MIXED = {
    "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
    "x": {"min": -1.0, "max": 1.0},
    "layers": {"min": 1, "max": 4},
    "act": {"values": [None, [1, 2], {"k": "v"}, "relu", 0]},
    "q": {"distribution": "q_uniform", "min": 0, "max": 10, "q": 2},
    "opt": {"parameters": {"name": {"value": "adam"}, "beta": {"min": 0.8, "max": 0.99}}},
}


def mixed_loss(c: dict[tuple[str, ...], Any]) -> float:
    return float(
        (math.log10(c[("lr",)]) + 3) ** 2
        + c[("x",)] ** 2
        + abs(c[("layers",)] - 2)
        + (0.0 if c[("act",)] == [1, 2] else 1.0)
        + 0.01 * c[("q",)]
    )


def test_proposals_stay_inside_the_space_with_the_right_types() -> None:
    space, metric = make(MIXED)
    proposer = BayesProposer(space, seed=0, metric=metric)
    act_values = space[("act",)].values  # type: ignore[attr-defined]
    for config in drive(proposer, mixed_loss, 25):
        assert space.contains(config)
        assert type(config[("layers",)]) is int
        assert isinstance(config[("lr",)], float)
        assert config[("opt", "name")] == "adam"
        # Categorical values are the listed objects themselves, not indices or copies.
        assert any(config[("act",)] is v for v in act_values)


def test_same_seed_and_observations_give_the_same_proposals() -> None:
    space, metric = make(MIXED)
    a = drive(BayesProposer(space, seed=3, metric=metric), mixed_loss, 16)
    b = drive(BayesProposer(space, seed=3, metric=metric), mixed_loss, 16)
    assert [space.key(c) for c in a] == [space.key(c) for c in b]
    other = BayesProposer(space, seed=4, metric=metric).propose()
    assert other is not None and space.key(other) != space.key(a[0])


def test_pending_proposals_are_distinct_in_the_design_and_in_the_model_phase() -> None:
    space, metric = make({"x": {"min": 0.0, "max": 1.0}, "y": {"min": 0.0, "max": 1.0}})
    proposer = BayesProposer(space, seed=0, metric=metric)
    first = [proposer.propose() for _ in range(4)]
    assert len({space.key(c) for c in first if c is not None}) == 4
    for c in first:
        assert c is not None
        proposer.observe(c, (c[("x",)] - 0.3) ** 2 + (c[("y",)] - 0.6) ** 2)
    drive(proposer, lambda c: (c[("x",)] - 0.3) ** 2 + (c[("y",)] - 0.6) ** 2, 8)
    batch = [proposer.propose() for _ in range(4)]
    keys = [space.key(c) for c in batch if c is not None]
    assert len(set(keys)) == 4
    # Judged against fantasies of the pending outcomes, a batch refines the optimum with a few
    # points and looks elsewhere with others, instead of stacking all four on one spot.
    xy = np.array([[c[("x",)], c[("y",)]] for c in batch if c is not None])
    gaps = [np.linalg.norm(xy[i] - xy[j]) for i in range(4) for j in range(i)]
    assert min(gaps) > 1e-4
    assert max(gaps) > 0.05


def test_a_finite_space_is_proposed_without_repeats_then_ends() -> None:
    space, metric = make({"n": {"min": 0, "max": 4}, "c": {"values": ["a", "b", [1], None]}})
    proposer = BayesProposer(space, seed=1, metric=metric)
    keys = []
    for _ in range(40):
        config = proposer.propose()
        if config is None:
            break
        keys.append(space.key(config))
        proposer.observe(config, float(config[("n",)]))
    assert len(keys) == 20 == len(set(keys))
    assert proposer.propose() is None


def test_pending_configs_count_as_used_in_a_finite_space() -> None:
    space, metric = make({"c": {"values": [1, 2, 3]}})
    proposer = BayesProposer(space, seed=0, metric=metric)
    batch = [proposer.propose() for _ in range(3)]
    assert sorted(c[("c",)] for c in batch if c is not None) == [1, 2, 3]
    assert proposer.propose() is None


def test_a_continuous_space_never_ends_but_repeats_when_it_must() -> None:
    # q_uniform on [0, 2] with q = 1 has three values, but a float range is never declared
    # used up: once every value is taken, a repeat is better than stopping the sweep.
    space, metric = make({"q": {"distribution": "q_uniform", "min": 0.0, "max": 2.0, "q": 1.0}})
    proposer = BayesProposer(space, seed=0, metric=metric)
    values = [c[("q",)] for c in drive(proposer, lambda c: c[("q",)], 5)]
    assert sorted(set(values)) == [0.0, 1.0, 2.0]
    assert sorted(values[:3]) == [0.0, 1.0, 2.0]


def test_zero_probability_and_single_values_are_respected() -> None:
    space, metric = make(
        {
            "c": {"values": ["a", "b", "c"], "probabilities": [0.5, 0.0, 0.5]},
            "one": {"values": ["only"]},
            "x": {"min": 0.0, "max": 1.0},
        }
    )
    proposer = BayesProposer(space, seed=0, metric=metric)
    for config in drive(proposer, lambda c: c[("x",)], 12):
        assert config[("c",)] in ("a", "c")
        assert config[("one",)] == "only"


def quad(c: dict[tuple[str, ...], Any]) -> float:
    # Positive everywhere: imputing 0.0 for failures (W&B) would make them look best.
    return float(5.0 + (c[("x",)] - 0.3) ** 2 + (c[("y",)] - 0.7) ** 2)


@pytest.mark.parametrize("bad", [None, float("nan"), float("inf")])
def test_failed_trials_are_imputed_as_worst_not_as_good(bad: float | None) -> None:
    space, metric = make({"x": {"min": 0.0, "max": 1.0}, "y": {"min": 0.0, "max": 1.0}})
    proposer = BayesProposer(space, seed=0, metric=metric, n_initial=10)
    drive(proposer, quad, 10)
    # Five failures in the far corner (near x = 1, y = 0).
    for i in range(5):
        proposer.observe({("x",): 0.95 - 0.01 * i, ("y",): 0.05 + 0.01 * i}, bad)
    after = drive(proposer, quad, 8)
    assert min(quad(c) for c in after) < 5.0 + 0.01
    assert all(not (c[("x",)] > 0.85 and c[("y",)] < 0.15) for c in after)


def test_failures_before_any_result_do_not_stop_the_search() -> None:
    space, metric = make({"x": {"min": 0.0, "max": 1.0}}, impute="best")
    proposer = BayesProposer(space, seed=0, metric=metric, n_initial=2)
    drive(proposer, lambda c: None, 4)
    configs = drive(proposer, lambda c: (c[("x",)] - 0.5) ** 2, 10)
    assert min(abs(c[("x",)] - 0.5) for c in configs) < 0.05


def test_converges_much_faster_than_random_search_on_a_log_scaled_quadratic() -> None:
    space, metric = make(
        {
            "x": {"min": -5.0, "max": 5.0},
            "lr": {"distribution": "log_uniform_values", "min": 1e-6, "max": 1.0},
        }
    )

    def loss(c: dict[tuple[str, ...], Any]) -> float:
        return float((c[("x",)] - 1.0) ** 2 + (math.log10(c[("lr",)]) + 3.0) ** 2)

    def best(proposer: Any) -> float:
        return min(loss(c) for c in drive(proposer, loss, 30))

    random_median = float(np.median([best(RandomProposer(space, seed=s)) for s in range(11)]))
    assert best(BayesProposer(space, seed=0, metric=metric)) < random_median / 20


def test_categoricals_are_not_ordinal() -> None:
    # The best value sits in the middle of the list and its neighbours are the worst: an
    # ordinal encoding sees a spike, a categorical one just five separate levels.
    values = ["v0", "v1", "v2", "v3", "v4"]
    score = {"v0": 0.5, "v1": 1.0, "v2": 0.0, "v3": 1.0, "v4": 0.5}
    space, metric = make({"c": {"values": values}, "x": {"min": 0.0, "max": 1.0}})
    proposer = BayesProposer(space, seed=0, metric=metric, n_initial=3)
    configs = drive(proposer, lambda c: score[c[("c",)]] + (c[("x",)] - 0.5) ** 2, 12)
    first_hit = next(i for i, c in enumerate(configs) if c[("c",)] == "v2")
    assert first_hit < 6
    # Once found, the model keeps exploiting it.
    assert sum(c[("c",)] == "v2" for c in configs[-5:]) >= 3


def test_state_survives_a_json_round_trip() -> None:
    space, metric = make(MIXED)
    original = BayesProposer(space, seed=7, metric=metric)
    drive(original, mixed_loss, 14)
    pending = original.propose()  # still running when the checkpoint is taken
    assert pending is not None
    state = json.loads(json.dumps(original.get_state()))

    restored = BayesProposer(space, seed=None, metric=metric)
    restored.set_state(state)
    for proposer in (original, restored):
        proposer.observe(pending, mixed_loss(pending))
    a = drive(original, mixed_loss, 4)
    b = drive(restored, mixed_loss, 4)
    assert [space.key(c) for c in a] == [space.key(c) for c in b]


def test_state_of_another_space_is_refused() -> None:
    space, metric = make({"x": {"min": 0.0, "max": 1.0}})
    proposer = BayesProposer(space, seed=0, metric=metric)
    drive(proposer, lambda c: c[("x",)], 2)
    other_space, _ = make({"x": {"min": 0.0, "max": 1.0}, "y": {"min": 0.0, "max": 1.0}})
    with pytest.raises(ValueError, match="does not fit this space"):
        BayesProposer(other_space, seed=0).set_state(proposer.get_state())
    with pytest.raises(ValueError, match="version"):
        proposer.set_state({"version": 99})


def test_bad_arguments_are_refused() -> None:
    space, _ = make({"c": {"value": 1}, "x": {"min": 0.0, "max": 1.0}})
    only_constants = SearchSpace(tuple((p, s) for p, s in space if p == ("c",)))
    with pytest.raises(ValueError, match="not a constant"):
        BayesProposer(only_constants)
    with pytest.raises(ValueError, match="n_initial"):
        BayesProposer(space, n_initial=-1)


def test_observations_from_outside_the_space_are_ignored() -> None:
    space, metric = make({"c": {"values": ["a", "b"]}, "x": {"min": 0.0, "max": 1.0}})
    proposer = BayesProposer(space, seed=0, metric=metric)
    proposer.observe({("c",): "zzz", ("x",): 0.5}, 1.0)
    proposer.observe({("x",): 0.5}, 1.0)
    assert proposer.get_state()["observations"] == []
    assert proposer.propose() is not None


@pytest.mark.parametrize("pessimistic", [True, False])
def test_far_from_its_data_the_model_expects_the_prior_it_was_given(pessimistic: bool) -> None:
    # Data crowd into one corner, as a search's do; at the opposite corner the GP's mean is
    # its prior: the targets' lower quartile (a poor result, the default), or their mean (for
    # spaces with a categorical, whose untried levels must not look poor).
    from raysweep.search._gaussian_process import GaussianProcess, to_targets

    rng = np.random.default_rng(0)
    X = rng.uniform(0.0, 0.25, size=(20, 2))
    losses = (X[:, 0] - 0.1) ** 2 + (X[:, 1] - 0.2) ** 2
    t = to_targets(losses, pessimistic=pessimistic)
    post, _ = GaussianProcess(2).posterior(X, t, np.empty((0, 2)), rng)
    far = float(post(np.array([[1.0, 1.0]]))[0][0])
    prior = np.quantile(t, 0.25) if pessimistic else np.mean(t)
    assert abs(far - prior) < 0.05 * np.ptp(t)
    # Targets have a standard deviation of 1: a quartile's prior sits well below the mean.
    assert (far < np.mean(t) - 0.3) == pessimistic
