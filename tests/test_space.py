"""Tests of raysweep.sweep.space beyond sampling: value equality, grid enumeration, SearchSpace."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from raysweep.sweep import config
from raysweep.sweep import space as sp

NAN = float("nan")


# --- canonical: W&B's yaml-hash equality of values -----------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param(3e6, 3000000, id="integral_float_equals_int"),
        pytest.param(1.0, 1, id="one_point_zero_equals_one"),
        pytest.param(NAN, NAN, id="nan_equals_nan"),
        pytest.param({"a": 1, "b": 2}, {"b": 2, "a": 1}, id="dict_key_order_ignored"),
        pytest.param(
            [{"x": 1, "y": [1, 2.0]}], [{"y": [1, 2], "x": 1.0}], id="nested_dict_in_list"
        ),
        pytest.param(None, None, id="none"),
        pytest.param("a", "a", id="string"),
    ],
)
def test_canonical_equal(a: Any, b: Any) -> None:
    assert sp.canonical(a) == sp.canonical(b)
    assert hash(sp.canonical(a)) == hash(sp.canonical(b))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param(True, 1, id="true_is_not_1"),
        pytest.param(False, 0, id="false_is_not_0"),
        pytest.param(True, 1.0, id="true_is_not_1.0"),
        pytest.param([2, 3], (2, 3), id="list_is_not_tuple"),
        pytest.param(None, False, id="none_is_not_false"),
        pytest.param("1", 1, id="string_is_not_number"),
        pytest.param(1.5, 1, id="fraction_is_not_int"),
        pytest.param({"a": 1}, {"a": 1, "b": 2}, id="extra_key"),
        pytest.param([1, 2], [2, 1], id="list_order_matters"),
        pytest.param({1, 2}, frozenset({1, 2}), id="set_is_not_frozenset"),
    ],
)
def test_canonical_different(a: Any, b: Any) -> None:
    assert sp.canonical(a) != sp.canonical(b)


def test_unique_values_keeps_first_occurrences_in_order() -> None:
    assert sp.unique_values([1, 1.0, True, "a", "a", [1], [1]]) == [1, True, "a", [1]]


def test_unique_values_dedups_nan_and_dicts() -> None:
    out = sp.unique_values([NAN, 1, NAN, {"a": 1, "b": 2}, {"b": 2, "a": 1}])
    assert len(out) == 3
    assert np.isnan(out[0]) and out[1:] == [1, {"a": 1, "b": 2}]


def test_unique_values_wandb_duplicates_case() -> None:
    # wandb/sweeps test_grid_search_duplicated_values_are_not_duplicated_in_answer: 5 x 3 = 15.
    assert sp.unique_values([None, 2, 3, "a", (2, 3), 3]) == [None, 2, 3, "a", (2, 3)]


# --- grid_values ---------------------------------------------------------------------------------


def test_int_uniform_grid_includes_both_ends() -> None:
    values = sp.IntUniform(min=-52, max=10).grid_values()
    assert values == list(range(-52, 11))
    assert len(values) == 63


def test_q_uniform_grid_is_numpy_arange() -> None:
    values = sp.QUniform(min=-9.211, max=23.23, q=2.341).grid_values()
    assert values == np.arange(-9.211, 23.23, 2.341).tolist()
    assert all(type(v) is float for v in values)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(sp.QUniform(min=0, max=10, q=2), [0, 2, 4, 6, 8], id="max_excluded"),
        pytest.param(sp.QUniform(min=1, max=10, q=4), [1, 5, 9], id="starts_at_min"),
        pytest.param(sp.QUniform(min=0.0, max=3.0), [0.0, 1.0, 2.0], id="default_q"),
        pytest.param(sp.QUniform(min=0.0, max=0.5), [0.0], id="range_below_q"),
    ],
)
def test_q_uniform_grid_excludes_max(spec: sp.QUniform, expected: list[Any]) -> None:
    values = spec.grid_values()
    assert values == expected
    assert [type(v) for v in values] == [type(v) for v in expected]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(sp.Constant(5), [5], id="constant"),
        pytest.param(sp.Categorical(("a", "b", "a", 1, 1.0, True)), ["a", "b", 1, True],
                     id="categorical_dedups"),
        pytest.param(sp.CategoricalWithProbabilities((1, 2), (0.5, 0.5)), None,
                     id="probabilities_not_enumerable"),
        pytest.param(sp.Uniform(min=0.0, max=1.0), None, id="uniform"),
        pytest.param(sp.LogUniformValues(min=1e-3, max=1.0), None, id="log_uniform_values"),
        pytest.param(sp.QLogUniformValues(min=1.0, max=100.0, q=1), None, id="q_log_uniform"),
        pytest.param(sp.Normal(), None, id="normal"),
        pytest.param(sp.QBeta(q=0.5), None, id="q_beta"),
    ],
)
def test_grid_values(spec: sp.ParamSpec, expected: list[Any] | None) -> None:
    assert spec.grid_values() == expected


# --- SearchSpace ---------------------------------------------------------------------------------


def test_search_space_sorts_keys_level_by_level() -> None:
    # W&B's HyperParameterSet.from_config walks sorted(d.items()) at each level, depth first, so
    # a nested "a" comes before its siblings "a-b", "a.c" and "a_b" (the path tuples' order, not
    # the order of the flattened "a.wbnest[599c28ca25da].z" strings).
    space = sp.SearchSpace.from_flat(
        {
            ("a_b",): sp.Constant(1),
            ("a", "z"): sp.Constant(2),
            ("a.c",): sp.Constant(3),
            ("a-b",): sp.Constant(4),
            ("B",): sp.Constant(5),
            ("a", "b", "c"): sp.Constant(6),
        }
    )
    assert space.paths == (("B",), ("a", "b", "c"), ("a", "z"), ("a-b",), ("a.c",), ("a_b",))


def test_config_builds_the_space_in_sorted_order() -> None:
    cfg = config.load(
        {
            "method": "grid",
            "parameters": {
                "zeta": {"values": [1]},
                "opt": {"parameters": {"lr": {"values": [0.1]}, "beta": {"value": 0.9}}},
                "alpha": {"values": [1, 2]},
            },
        }
    )
    assert cfg.parameters.paths == (("alpha",), ("opt", "beta"), ("opt", "lr"), ("zeta",))


def _space(**specs: sp.ParamSpec) -> sp.SearchSpace:
    return sp.SearchSpace.from_flat({tuple(k.split("__")): v for k, v in specs.items()})


def test_grid_order_is_last_parameter_fastest() -> None:
    # wandb/sweeps test_grid_search_anaconda1_order.
    space = _space(v1=sp.Categorical(("a", "b", "c", "a")), v2=sp.Categorical((1, 2, 3)))
    got = [(f[("v1",)], f[("v2",)]) for f in space.grid()]
    assert got == [(x, y) for x in "abc" for y in (1, 2, 3)]
    assert space.grid_size() == 9


def test_grid_keeps_constants_out_of_the_product() -> None:
    space = _space(a=sp.IntUniform(min=1, max=3), b=sp.Constant("k"), c=sp.Categorical((True, 1)))
    points = list(space.grid())
    assert space.grid_size() == len(points) == 6
    assert points[0] == {("a",): 1, ("b",): "k", ("c",): True}
    assert [p[("c",)] for p in points[:2]] == [True, 1]
    assert all(list(p) == list(space.paths) for p in points)


def test_grid_of_constants_only_has_one_point() -> None:
    space = _space(v1=sp.Constant("a"), v2=sp.Constant("b"))
    assert list(space.grid()) == [{("v1",): "a", ("v2",): "b"}]
    assert space.grid_size() == 1


def test_nested_grid_in_wandb_order() -> None:
    cfg = config.load(
        {
            "method": "grid",
            "parameters": {
                "p1": {"values": ["a", "b", "c"]},
                "p2": {
                    "parameters": {
                        "n1": {"values": [0.01, 0.001]},
                        "n2": {"value": 0.9},
                        "n3": {"values": [1, 2, 3]},
                    }
                },
            },
        }
    )
    space = cfg.parameters
    points = list(space.grid())
    assert len(points) == space.grid_size() == 18
    assert space.unflatten(points[0]) == {"p1": "a", "p2": {"n1": 0.01, "n2": 0.9, "n3": 1}}
    assert space.unflatten(points[1]) == {"p1": "a", "p2": {"n1": 0.01, "n2": 0.9, "n3": 2}}
    assert space.unflatten(points[3]) == {"p1": "a", "p2": {"n1": 0.001, "n2": 0.9, "n3": 1}}
    assert len({space.key(p) for p in points}) == 18


def test_grid_rejects_a_continuous_parameter() -> None:
    space = _space(x=sp.Uniform(min=0.0, max=1.0))
    with pytest.raises(ValueError, match="parameter 'x' \\(uniform\\) cannot be enumerated"):
        space.grid_size()


def test_unflatten_flatten_round_trip() -> None:
    space = _space(
        seed=sp.Constant(1),
        opt__lr=sp.Uniform(min=0.0, max=1.0),
        opt__adam__beta=sp.Categorical((0.9, 0.99)),
        opt__name=sp.Categorical(("adam",)),
    )
    flat = space.sample(np.random.default_rng(0))
    nested = space.unflatten(flat)
    assert set(nested) == {"opt", "seed"}
    assert set(nested["opt"]) == {"lr", "adam", "name"}
    assert nested["opt"]["adam"]["beta"] == flat[("opt", "adam", "beta")]
    assert space.flatten(nested) == flat


def test_flatten_skips_missing_paths_and_ignores_extra_keys() -> None:
    space = _space(a=sp.Constant(1), b__c=sp.Constant(2), d__e=sp.Constant(3))
    assert space.flatten({"a": 1, "b": {"c": 2, "x": 9}, "d": 5, "z": 0}) == {
        ("a",): 1,
        ("b", "c"): 2,
    }


def test_sample_returns_every_path() -> None:
    space = _space(a=sp.IntUniform(min=0, max=5), b__c=sp.Normal(), d=sp.Constant("x"))
    flat = space.sample(np.random.default_rng(0))
    assert list(flat) == list(space.paths)
    assert space.contains(flat)


@pytest.mark.parametrize(
    ("flat", "expected"),
    [
        pytest.param({("i",): 3, ("c",): "b", ("k",): 7}, True, id="valid"),
        pytest.param({("i",): 0, ("c",): "a", ("k",): 7.0}, True, id="constant_by_canonical"),
        pytest.param({("i",): 6, ("c",): "a", ("k",): 7}, False, id="int_above_max"),
        pytest.param({("i",): 3.0, ("c",): "a", ("k",): 7}, False, id="float_for_int"),
        pytest.param({("i",): True, ("c",): "a", ("k",): 7}, False, id="bool_for_int"),
        pytest.param({("i",): 3, ("c",): "z", ("k",): 7}, False, id="unknown_category"),
        pytest.param({("i",): 3, ("c",): "a", ("k",): 8}, False, id="other_constant"),
        pytest.param({("i",): 3, ("c",): "a"}, False, id="missing_path"),
        pytest.param({("i",): 3, ("c",): "a", ("k",): 7, ("x",): 1}, False, id="extra_path"),
    ],
)
def test_space_contains(flat: dict[tuple[str, ...], Any], expected: bool) -> None:
    space = _space(i=sp.IntUniform(min=0, max=5), c=sp.Categorical(("a", "b")), k=sp.Constant(7))
    assert space.contains(flat) is expected


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        pytest.param(sp.Uniform(min=0.0, max=1.0), 0.5, True, id="uniform_inside"),
        pytest.param(sp.Uniform(min=0.0, max=1.0), 1.5, False, id="uniform_outside"),
        pytest.param(sp.Uniform(min=0.0, max=1.0), "0.5", False, id="uniform_string"),
        pytest.param(sp.Uniform(min=0.0, max=1.0), True, False, id="uniform_bool"),
        pytest.param(sp.QUniform(min=1, max=10, q=4), 0, True, id="q_uniform_below_min"),
        pytest.param(sp.QUniform(min=1, max=10, q=4), 4.0, False, id="int_q_needs_int"),
        pytest.param(sp.Normal(), 1e6, True, id="normal_any_finite"),
        pytest.param(sp.Normal(), float("inf"), False, id="normal_inf"),
        pytest.param(sp.LogNormal(), -1.0, False, id="log_normal_negative"),
        pytest.param(sp.QLogUniformValues(min=0.5, max=10.0, q=1), 0, True, id="q_log_zero"),
        pytest.param(sp.Categorical(([1, 2], {"a": 1})), [1, 2], True, id="list_value"),
        pytest.param(sp.Categorical(([1, 2], {"a": 1})), (1, 2), False, id="tuple_not_list"),
        pytest.param(sp.Categorical((1, 2)), 2.0, True, id="categorical_integral_float"),
        pytest.param(sp.Categorical((1, 2)), True, False, id="categorical_bool"),
    ],
)
def test_spec_contains(spec: sp.ParamSpec, value: Any, expected: bool) -> None:
    assert spec.contains(value) is expected


def test_searchable_and_constants() -> None:
    space = _space(a=sp.Constant(1), b=sp.Uniform(min=0.0, max=1.0), c__d=sp.Constant("x"))
    assert [p for p, _ in space.searchable] == [("b",)]
    assert space.constants() == {("a",): 1, ("c", "d"): "x"}
    assert len(space) == 3
    assert space[("c", "d")] == sp.Constant("x")


def test_key_uses_wandb_equality() -> None:
    space = _space(a=sp.Categorical((1, 2)), b=sp.Categorical(({"x": 1, "y": 2},)))
    assert space.key({("a",): 1.0, ("b",): {"y": 2, "x": 1}}) == space.key(
        {("a",): 1, ("b",): {"x": 1, "y": 2}}
    )
    assert space.key({("a",): True, ("b",): {}}) != space.key({("a",): 1, ("b",): {}})


def test_dotted() -> None:
    assert sp.dotted(("opt", "adam", "beta")) == "opt.adam.beta"
