"""The contract every proposer in ``SEARCHERS`` keeps (optuna's ``pytest_samplers`` pattern).

Each test runs over every registered method and every space that method can search; adding an
algorithm to the registry enrols it here without changes. Bayes cases stay at <= 15 proposals
so the suite stays fast.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import json
import math
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from raysweep.search import SEARCHERS, Proposer, RandomProposer, make_proposer

from raysweep.sweep.config import from_dict
from raysweep.sweep.model import Method, Metric, RaysweepOptions
from raysweep.sweep.space import Categorical, Constant, IntUniform, SearchSpace, canonical

FlatConfig = dict[tuple[str, ...], Any]

SPACES: dict[str, dict[str, Any]] = {
    "mixed": {
        "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
        "dropout": {"min": 0.0, "max": 0.5},
        "layers": {"min": 1, "max": 4},
        "act": {"values": ["relu", "tanh", None, True, [1, 2]]},
        "opt": {
            "parameters": {
                "name": {"values": ["adam", "sgd"]},
                "step": {"distribution": "q_uniform", "min": 0, "max": 10, "q": 2},
                "eps": {"value": 1e-8},
            }
        },
        "noise": {"distribution": "normal", "mu": 0.0, "sigma": 1.0},
        "seed": {"value": 42},
    },
    "enumerable": {
        "flag": {"values": [True, False]},
        "kind": {"values": ["a", None, [3, 4]]},
        "width": {"distribution": "int_uniform", "min": 1, "max": 3},
        "net": {
            "parameters": {
                "depth": {"distribution": "q_uniform", "min": 0, "max": 6, "q": 3},
                "tag": {"value": "fixed"},
            }
        },
    },
    "nested_continuous": {
        "a": {
            "parameters": {
                "b": {"parameters": {"c": {"min": -1.0, "max": 1.0}}},
                "n": {"min": 0, "max": 100},
            }
        },
        "z": {"distribution": "normal", "mu": 5.0, "sigma": 2.0},
    },
    "one_categorical": {"x": {"values": ["p", "q", "r"]}},
}
GRID_SPACES = ("enumerable", "one_categorical")
METRIC = Metric(name="loss")
N_PROPOSALS = 12  # bayes fits a model per proposal: keep every case small


def _space(name: str) -> SearchSpace:
    return from_dict({"method": "random", "parameters": SPACES[name]}).parameters


def _cases() -> list[Any]:
    cases = []
    for method in SEARCHERS:
        for name in SPACES:
            if method is Method.GRID and name not in GRID_SPACES:
                continue  # grid cannot enumerate continuous parameters (refused at load time)
            cases.append(pytest.param((method, name), id=f"{method}-{name}"))
    return cases


Factory = Callable[..., Proposer]


@pytest.fixture(params=_cases())
def case(request: pytest.FixtureRequest) -> tuple[Method, SearchSpace, Factory]:
    method, name = request.param
    if method is Method.BAYES and importlib.util.find_spec("raysweep.search.bayes") is None:
        pytest.skip("search/bayes.py (BayesProposer) is not written yet")
    space = _space(name)
    factory = SEARCHERS[method]

    def make(seed: int | None = 0) -> Proposer:
        return factory(space, seed=seed, metric=METRIC, options=RaysweepOptions())

    return method, space, make


def loss_of(config: FlatConfig) -> float:
    """A deterministic loss, so learning proposers see the same data in twin runs."""
    total = 0.0
    for path, value in sorted(config.items()):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            total += (float(value) - 0.3) ** 2 / (1.0 + abs(float(value)))
        else:
            total += len(repr(value)) / 10.0 + len(path)
    return total


def drive(proposer: Proposer, n: int, losses: Callable[[FlatConfig], float | None] = loss_of
          ) -> list[FlatConfig]:
    """Propose and observe up to ``n`` configs, as a sweep with one trial at a time would."""
    out = []
    for _ in range(n):
        config = proposer.propose()
        if config is None:
            break
        out.append(config)
        proposer.observe(config, losses(config))
    return out


def same_configs(a: list[FlatConfig], b: list[FlatConfig]) -> bool:
    def ident(c: FlatConfig) -> list[Any]:
        return [(p, canonical(v), type(v)) for p, v in sorted(c.items())]

    return [ident(c) for c in a] == [ident(c) for c in b]


def assert_in_space(space: SearchSpace, config: FlatConfig) -> None:
    assert space.contains(config), config
    for path, spec in space:
        value = config[path]
        assert not isinstance(value, np.generic), (path, type(value))
        if isinstance(spec, IntUniform):
            assert type(value) is int, (path, value)
        if isinstance(spec, Categorical):
            # The very object kinds the YAML listed: True stays a bool, [1, 2] a list.
            assert any(canonical(v) == canonical(value) and type(v) is type(value)
                       for v in spec.values), (path, value)
        if isinstance(spec, Constant):
            assert canonical(value) == canonical(spec.value)
        if isinstance(value, float):
            assert math.isfinite(value), (path, value)


# --- the contract ------------------------------------------------------------------------------


def test_proposals_stay_inside_the_space(case: tuple[Method, SearchSpace, Factory]) -> None:
    _, space, make = case
    configs = drive(make(), N_PROPOSALS)
    assert configs
    for config in configs:
        assert_in_space(space, config)


def test_same_seed_gives_the_same_proposals(case: tuple[Method, SearchSpace, Factory]) -> None:
    _, _, make = case
    assert same_configs(drive(make(7), N_PROPOSALS), drive(make(7), N_PROPOSALS))


def test_different_seeds_give_different_proposals(
    case: tuple[Method, SearchSpace, Factory],
) -> None:
    method, _, make = case
    if method is Method.GRID:
        pytest.skip("grid order is fixed by design; the seed is ignored")
    assert not same_configs(drive(make(1), N_PROPOSALS), drive(make(2), N_PROPOSALS))


def test_failed_and_nan_observations_do_not_poison_the_search(
    case: tuple[Method, SearchSpace, Factory],
) -> None:
    _, space, make = case
    proposer = make()
    # Every other trial fails (None is how the adapter reports failures and NaN/inf scores).
    flaky = iter(range(10_000))
    configs = drive(proposer, N_PROPOSALS // 2,
                    lambda c: None if next(flaky) % 2 == 0 else loss_of(c))
    configs += drive(proposer, N_PROPOSALS // 2, lambda c: None)
    for config in configs:
        assert_in_space(space, config)


def test_all_failed_observations_still_propose(case: tuple[Method, SearchSpace, Factory]) -> None:
    _, space, make = case
    configs = drive(make(), N_PROPOSALS, lambda c: None)
    assert configs
    for config in configs:
        assert_in_space(space, config)


def test_state_round_trips_through_json(case: tuple[Method, SearchSpace, Factory]) -> None:
    _, space, make = case
    original = make(3)
    drive(original, N_PROPOSALS // 2)
    state = json.loads(json.dumps(original.get_state()))
    restored = make(3)
    restored.set_state(state)
    rest = N_PROPOSALS - N_PROPOSALS // 2
    assert same_configs(drive(original, rest), drive(restored, rest))


def test_restored_proposer_accepts_a_trial_proposed_before_the_save(
    case: tuple[Method, SearchSpace, Factory],
) -> None:
    # Ray restores the searcher while trials proposed before the checkpoint still run; they
    # complete afterwards and reach observe() on the restored proposer.
    _, space, make = case
    original = make(5)
    drive(original, 1)
    pending = original.propose()
    if pending is None:
        pytest.skip("space exhausted before the checkpoint")
    state = json.loads(json.dumps(original.get_state()))
    restored = make(5)
    restored.set_state(state)
    for proposer in (original, restored):
        proposer.observe(pending, loss_of(pending))
    assert same_configs(drive(original, 5), drive(restored, 5))


def test_grid_exhausts_after_grid_size_distinct_configs() -> None:
    for name in GRID_SPACES:
        space = _space(name)
        proposer = SEARCHERS[Method.GRID](space, seed=None, metric=None)
        configs = drive(proposer, 10_000)
        assert len(configs) == space.grid_size()
        assert len({space.key(c) for c in configs}) == space.grid_size()
        assert proposer.propose() is None
        assert proposer.propose() is None  # stays exhausted


# --- random specifics --------------------------------------------------------------------------


def test_random_repeats_by_default_like_wandb() -> None:
    proposer = RandomProposer(_space("one_categorical"), seed=0)
    configs = drive(proposer, 50)
    assert len(configs) == 50
    assert len({c[("x",)] for c in configs}) == 3


@pytest.mark.parametrize(
    ("parameters", "size"),
    [
        pytest.param({"x": {"values": ["p", "q", "r", "p"]}}, 3, id="categorical_dedup"),
        pytest.param(
            {"x": {"values": [1, 2]}, "y": {"min": -1, "max": 1}, "z": {"value": "c"}}, 6,
            id="categorical_x_int_x_constant",
        ),
        pytest.param(
            {"x": {"values": ["a", "b", "c"], "probabilities": [0.5, 0.5, 0.0]}}, 2,
            id="zero_probability_never_drawn",
        ),
        pytest.param({"x": {"distribution": "int_uniform", "min": 0, "max": 199}}, 200,
                     id="int_range_200"),
    ],
)
def test_random_unique_stops_exactly_when_a_finite_space_is_used_up(
    parameters: dict[str, Any], size: int
) -> None:
    space = from_dict({"method": "random", "parameters": parameters}).parameters
    proposer = RandomProposer(space, seed=0, unique=True)
    assert proposer.size == size
    configs = drive(proposer, 10 * size + 10)
    assert len(configs) == size
    assert len({space.key(c) for c in configs}) == size
    for config in configs:
        assert_in_space(space, config)
    assert proposer.propose() is None


def test_random_unique_skips_configs_marked_seen() -> None:
    space = _space("one_categorical")
    proposer = RandomProposer(space, seed=0, unique=True)
    proposer.observe({("x",): "q"}, None)
    assert sorted(c[("x",)] for c in drive(proposer, 10)) == ["p", "r"]


def test_random_unique_gives_up_on_a_small_quantised_space() -> None:
    # q_uniform's values are finite but its size is not computed: the draw limit ends it.
    space = from_dict({"method": "random", "parameters": {
        "x": {"distribution": "q_uniform", "min": 0, "max": 4, "q": 2}}}).parameters
    proposer = RandomProposer(space, seed=0, unique=True, max_draws=200)
    configs = drive(proposer, 50)
    assert sorted(c[("x",)] for c in configs) == [0, 2, 4]


def test_random_unique_state_keeps_the_seen_set() -> None:
    parameters = {k: SPACES["enumerable"][k] for k in ("flag", "kind", "width")}
    space = from_dict({"method": "random", "parameters": parameters}).parameters
    original = RandomProposer(space, seed=4, unique=True)
    first = drive(original, 10)
    restored = RandomProposer(space, seed=4, unique=True)
    restored.set_state(json.loads(json.dumps(original.get_state())))
    rest_a, rest_b = drive(original, 100), drive(restored, 100)
    assert same_configs(rest_a, rest_b)
    assert len(rest_a) == 2 * 3 * 3 - 10
    assert len({space.key(c) for c in first + rest_a}) == 2 * 3 * 3


# --- registry ----------------------------------------------------------------------------------


def test_every_method_has_a_proposer() -> None:
    # `method: custom` is searched by its scheduler's engine (search/_registry.py ENGINES).
    assert set(SEARCHERS) | {Method.CUSTOM} == set(Method)


def test_make_proposer_uses_the_file_seed_unless_overridden() -> None:
    cfg = from_dict({"method": "random", "parameters": SPACES["mixed"], "raysweep": {"seed": 1}})
    same_seed = drive(make_proposer(cfg), 5), drive(make_proposer(cfg, seed=1), 5)
    assert same_configs(*same_seed)
    assert not same_configs(drive(make_proposer(cfg), 5), drive(make_proposer(cfg, seed=2), 5))


def test_make_proposer_passes_unique_to_random() -> None:
    cfg = from_dict({"method": "random", "parameters": SPACES["one_categorical"],
                     "raysweep": {"unique": True, "seed": 0}})
    assert len(drive(make_proposer(cfg), 10)) == 3


def test_importing_the_package_does_not_import_ray_or_bayes_libraries() -> None:
    code = (
        "import sys, raysweep.search, raysweep.search.grid, raysweep.search.random\n"
        "heavy = [m for m in ('ray', 'scipy', 'sklearn', 'bayes_opt') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize(
    "module",
    ["grid", "random", "_registry", "_support", "_encoding", "_gaussian_process", "bayes"],
)
def test_docstring_examples(module: str) -> None:
    # Run here, under the installed name, rather than by --doctest-modules on search/ (which
    # would import the folder as a second package named "search").
    mod = importlib.import_module(f"raysweep.search.{module}")
    result = doctest.testmod(mod)
    assert result.attempted > 0 and result.failed == 0
