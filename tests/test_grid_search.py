"""Grid search: W&B's order, equality and completion rules.

The cases of wandb/sweeps' own ``tests/test_grid_search.py`` (the behaviour W&B's engine
promises), written here as data tables, plus every grid sweep of the corpus checked against an
independent reference.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _shared import CORPUS as _CORPUS
from raysweep.search import GridProposer

from raysweep.sweep.config import from_dict, load
from raysweep.sweep.model import Method
from raysweep.sweep.space import canonical

CORPUS = _CORPUS / "valid"
NAN = float("nan")


def make_grid(parameters: dict[str, Any]) -> GridProposer:
    return GridProposer(from_dict({"method": "grid", "parameters": parameters}).parameters)


def run_all(grid: GridProposer) -> list[dict[tuple[str, ...], Any]]:
    configs = []
    while (config := grid.propose()) is not None:
        configs.append(config)
        if len(configs) > 100_000:  # a bug that never ends the grid must not hang the suite
            raise AssertionError("the grid never returned None")
    return configs


def values_of(configs: list[dict[tuple[str, ...], Any]], *names: str) -> list[tuple[Any, ...]]:
    return [tuple(c[(n,)] for n in names) for c in configs]


def same(a: Any, b: Any) -> bool:
    """W&B equality, but strict about types (so 1 vs 1.0 vs True are told apart)."""
    return canonical(a) == canonical(b) and type(a) is type(b)


# --- exact outputs of wandb/sweeps tests ---------------------------------------------------

ORDER_CASES = [
    pytest.param(
        {"v1": {"values": [1, 2, 3]}, "v2": {"values": [4, 5]}},
        [(1, 4), (1, 5), (2, 4), (2, 5), (3, 4), (3, 5)],
        id="2x3",
    ),
    pytest.param(
        {"v1": {"values": ["", [9, 5]]}, "v2": {"values": [256, 512]}},
        [("", 256), ("", 512), ([9, 5], 256), ([9, 5], 512)],
        id="list_values",
    ),
    pytest.param(
        {
            "v1": {"values": [None, 2, 3, "a", (2, 3), 3]},
            "v2": {"values": ["a", "b", "c'"]},
        },
        [(v1, v2) for v1 in (None, 2, 3, "a", (2, 3)) for v2 in ("a", "b", "c'")],
        id="duplicates_dropped_15",
    ),
    pytest.param(
        {"v1": {"value": "a"}, "v2": {"value": "b"}},
        [("a", "b")],
        id="constants_only",
    ),
    pytest.param(
        {
            "v1": {"values": ["a", "b", "c'"]},
            "v2": {
                "values": [
                    {"a": "b"},
                    {"c": "d", "b": "g"},
                    {"e": {"f": "g"}},
                    {"a": "b"},
                    {"b": "g", "c": "d"},
                ]
            },
        },
        [
            (v1, v2)
            for v1 in ("a", "b", "c'")
            for v2 in ({"a": "b"}, {"c": "d", "b": "g"}, {"e": {"f": "g"}})
        ],
        id="dict_values",
    ),
    pytest.param(
        # anaconda1: written v2 first; names are sorted, so v1 varies slowest.
        {"v2": {"values": [1, 2, 3]}, "v1": {"values": ["a", "b", "c", "a"]}},
        [
            ("a", 1), ("a", 2), ("a", 3),
            ("b", 1), ("b", 2), ("b", 3),
            ("c", 1), ("c", 2), ("c", 3),
        ],
        id="anaconda1_order",
    ),
    pytest.param(
        {"v1": {"distribution": "int_uniform", "min": -52, "max": 10}, "v2": {"value": "test"}},
        [(v, "test") for v in range(-52, 11)],
        id="int_uniform_63",
    ),
    pytest.param(
        {
            "v1": {"distribution": "q_uniform", "min": -9.211, "max": 23.23, "q": 2.341},
            "v2": {"value": "test"},
        },
        [(v, "test") for v in np.arange(-9.211, 23.23, 2.341).tolist()],
        id="q_uniform_arange",
    ),
    pytest.param(
        {"v1": {"values": [3000000, 3e6, "x"]}, "v2": {"value": 0}},
        [(3000000, 0), ("x", 0)],
        id="yaml_hash_3e6_dedup",
    ),
    pytest.param(
        {"v1": {"values": [True, 1, 1.0]}, "v2": {"value": 0}},
        [(True, 0), (1, 0)],
        id="bool_is_not_int",
    ),
]


@pytest.mark.parametrize(("parameters", "expected"), ORDER_CASES)
def test_grid_proposes_every_combination_in_wandb_order(
    parameters: dict[str, Any], expected: list[tuple[Any, ...]]
) -> None:
    grid = make_grid(parameters)
    got = values_of(run_all(grid), "v1", "v2")
    assert len(got) == len(expected) == grid.size
    for g, e in zip(got, expected, strict=True):
        assert all(same(a, b) for a, b in zip(g, e, strict=True)), (g, e)
    assert grid.propose() is None


def test_grid_order_sorts_names_and_varies_the_last_fastest() -> None:
    # Written out of order on purpose; W&B sorts the names: a, b, c (z is a constant).
    grid = make_grid(
        {
            "c": {"values": [True, False]},
            "a": {"values": ["x", "y"]},
            "z": {"value": 7},
            "b": {"distribution": "int_uniform", "min": 1, "max": 2},
        }
    )
    got = values_of(run_all(grid), "a", "b", "c", "z")
    assert got == [
        ("x", 1, True, 7), ("x", 1, False, 7), ("x", 2, True, 7), ("x", 2, False, 7),
        ("y", 1, True, 7), ("y", 1, False, 7), ("y", 2, True, 7), ("y", 2, False, 7),
    ]


def test_grid_orders_nested_names_depth_first() -> None:
    # W&B's HyperParameterSet.from_config walks each level in sorted key order, depth first: the
    # nested "opt" parameters come before "opt-a" and "opt_b" (sorting the flattened names
    # "opt.wbnest[599c28ca25da].lr" would put "opt-a" first, since '-' < '.').
    grid = make_grid(
        {
            "opt_b": {"values": [1, 2]},
            "opt": {"parameters": {"lr": {"values": [0.1, 0.2]}}},
            "opt-a": {"values": ["p", "q"]},
        }
    )
    got = [(c[("opt", "lr")], c[("opt-a",)], c[("opt_b",)]) for c in run_all(grid)]
    assert got == [
        (0.1, "p", 1), (0.1, "p", 2), (0.1, "q", 1), (0.1, "q", 2),
        (0.2, "p", 1), (0.2, "p", 2), (0.2, "q", 1), (0.2, "q", 2),
    ]


def test_grid_propagates_constants() -> None:
    grid = make_grid({"v1": {"values": ["a", "b", "c'"]}, "v2": {"value": 1}})
    configs = run_all(grid)
    assert [c[("v2",)] for c in configs] == [1, 1, 1]
    assert all(set(c) == {("v1",), ("v2",)} for c in configs)


def test_grid_resumes_after_partial_runs() -> None:
    grid = make_grid({"v1": {"values": [1, 2, 3]}, "v2": {"values": [4, 5]}})
    assert grid.mark_seen({("v1",): 2, ("v2",): 4})
    assert grid.mark_seen({("v1",): 1, ("v2",): 5})
    assert values_of(run_all(grid), "v1", "v2") == [(1, 4), (2, 5), (3, 4), (3, 5)]


def test_grid_nested_parameters_advance_past_a_seen_run() -> None:
    cfg = from_dict(
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
    grid = GridProposer(cfg.parameters)
    run = {"p1": "a", "p2": {"n1": 0.01, "n2": 0.9, "n3": 1}}
    grid.mark_seen(cfg.parameters.flatten(run))
    nxt = grid.propose()
    assert nxt is not None
    assert cfg.parameters.unflatten(nxt) == {"p1": "a", "p2": {"n1": 0.01, "n2": 0.9, "n3": 2}}
    assert len(run_all(grid)) == 3 * 2 * 3 - 2


# --- equality of values (yaml_hash) --------------------------------------------------------

SEEN_CASES = [
    pytest.param([3000000, "next"], 3000000.0, "next", id="integral_float_equals_int"),
    pytest.param([True, 1], True, 1, id="bool_and_int_distinct"),
    pytest.param([NAN, 1], NAN, 1, id="nan_equals_nan"),
    pytest.param([[2, 3], (2, 3)], [2, 3], (2, 3), id="list_and_tuple_distinct"),
    pytest.param(
        [{"a": 1, "b": 2}, {"a": 3, "b": 4}], {"b": 2, "a": 1}, {"a": 3, "b": 4},
        id="dict_key_order_ignored",
    ),
    pytest.param(
        [{"env_id": "Env-v0", "max_steps": 1000}, {"env_id": "Env-v1", "max_steps": 2000}],
        {"env_id": "Env-v0", "max_steps": 1000, "env_name": "SAC_abc123"},
        {"env_id": "Env-v1", "max_steps": 2000},
        id="dict_injected_key_stripped",
    ),
    pytest.param(
        [{"env_id": "Env-v0", "reward_kwargs": {"lambda_energy": 0.001}}, {"env_id": "x"}],
        {
            "env_id": "Env-v0",
            "reward_kwargs": {"lambda_energy": 0.001},
            "env_name": "SAC_injected",
            "internal_id": 42,
        },
        {"env_id": "x"},
        id="dict_several_injected_keys_stripped",
    ),
]


@pytest.mark.parametrize(("values", "seen", "expected"), SEEN_CASES)
def test_grid_seen_run_uses_wandb_value_equality(
    values: list[Any], seen: Any, expected: Any
) -> None:
    grid = make_grid({"v1": {"values": values}, "v2": {"value": "test"}})
    assert grid.mark_seen({("v1",): seen, ("v2",): "test"})
    nxt = grid.propose()
    assert nxt is not None and same(nxt[("v1",)], expected)
    assert grid.propose() is None


def test_grid_ignores_configs_outside_the_grid() -> None:
    grid = make_grid({"v1": {"values": [1, 2]}})
    assert not grid.mark_seen({("v1",): 3})
    assert not grid.mark_seen({("other",): 1})
    assert grid.remaining == 2


def test_grid_seen_ignores_constants_as_wandb_does() -> None:
    grid = make_grid({"v1": {"values": [1, 2]}, "v2": {"value": "new"}})
    assert grid.mark_seen({("v1",): 1, ("v2",): "old"})
    assert values_of(run_all(grid), "v1", "v2") == [(2, "new")]


def test_grid_observe_marks_failed_trials_seen_so_they_are_not_retried() -> None:
    grid = make_grid({"v1": {"values": [1, 2, 3]}})
    grid.observe({("v1",): 2}, None)
    assert values_of(run_all(grid), "v1") == [(1,), (3,)]


def test_grid_proposals_are_copies() -> None:
    grid = make_grid({"v1": {"values": [[1, 2]]}, "v2": {"values": [{"k": [0]}]}})
    first = grid.propose()
    assert first is not None
    first[("v1",)].append(99)
    first[("v2",)]["k"].append(99)
    assert grid.config_at(0) == {("v1",): [1, 2], ("v2",): {"k": [0]}}


def test_grid_state_is_compact_and_rejects_another_space() -> None:
    grid = make_grid({"v1": {"distribution": "int_uniform", "min": 0, "max": 9}})
    for v in (0, 1, 2, 5):
        grid.mark_seen({("v1",): v})
    assert grid.get_state() == {"version": 1, "size": 10, "position": 3, "seen": [5]}
    other = make_grid({"v1": {"distribution": "int_uniform", "min": 0, "max": 8}})
    with pytest.raises(ValueError, match="saved grid has 10 combinations but this space has 9"):
        other.set_state(grid.get_state())


def test_grid_rejects_continuous_parameters() -> None:
    cfg = from_dict({"method": "random", "parameters": {"x": {"min": 0.0, "max": 1.0}}})
    with pytest.raises(ValueError, match="cannot be enumerated"):
        GridProposer(cfg.parameters)


# --- every grid sweep of the corpus against an independent reference -----------------------

def reference_grid(parameters: Mapping[str, Any]) -> list[dict[tuple[str, ...], Any]]:
    """W&B's grid from the raw YAML, as ``grid_search.py`` builds it: parameters in the order of
    ``HyperParameterSet.from_config`` (keys sorted at each level, depth first), constants outside
    the product, values de-duplicated by yaml-hash equality, the last parameter varying
    fastest."""
    leaves: list[tuple[tuple[str, ...], Mapping[str, Any]]] = []

    def unnest(params: Mapping[str, Any], prefix: tuple[str, ...]) -> None:
        for name, spec in sorted(params.items(), key=lambda kv: kv[0]):
            if "parameters" in spec:
                unnest(spec["parameters"], prefix + (name,))
            else:
                leaves.append((prefix + (name,), spec))

    unnest(parameters, ())
    constants: dict[tuple[str, ...], Any] = {}
    axes: list[tuple[tuple[str, ...], list[Any]]] = []
    for path, spec in leaves:
        if "value" in spec:
            constants[path] = spec["value"]
            continue
        if "values" in spec:
            raw = list(spec["values"])
        elif spec.get("distribution") == "q_uniform":
            raw = np.arange(spec["min"], spec["max"], spec.get("q", 1.0)).tolist()
        else:  # int_uniform, written or inferred from integer bounds
            raw = list(range(spec["min"], spec["max"] + 1))
        unique: list[Any] = []
        for v in raw:
            if all(canonical(v) != canonical(u) for u in unique):
                unique.append(v)
        axes.append((path, unique))
    out = []
    for combo in itertools.product(*(values for _, values in axes)):
        flat = dict(constants)
        flat.update(zip((p for p, _ in axes), combo, strict=True))
        out.append(flat)
    return out


def _grid_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return [p for p in sorted(CORPUS.glob("*.yaml")) if load(p).method is Method.GRID]


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")
@pytest.mark.parametrize("path", _grid_files(), ids=lambda p: p.stem)
def test_corpus_grid_matches_reference(path: Path) -> None:
    cfg = load(path)
    expected = reference_grid(cfg.raw["parameters"])
    got = run_all(GridProposer(cfg.parameters))
    assert len(got) == cfg.parameters.grid_size() == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert set(g) == set(e)
        assert {p: canonical(v) for p, v in g.items()} == {p: canonical(v) for p, v in e.items()}
