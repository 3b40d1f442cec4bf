"""Property tests: any input gives a valid SweepConfig or a SweepConfigError, never a crash."""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raysweep.errors import SweepConfigError
from raysweep.sweep.config import from_dict, loads
from raysweep.sweep.model import SweepConfig

KEYS = [
    "method", "parameters", "metric", "early_terminate", "command", "program", "run_cap",
    "name", "raysweep", "values", "value", "min", "max", "distribution", "q", "mu", "sigma",
    "a", "b", "probabilities", "goal", "type", "eta", "min_iter", "max_iter", "s", "strict",
    "resources", "gpu", "cpu", "seed", "grid", "random", "bayes", "hyperband", "uniform",
    "log_uniform_values", "int_uniform", "q_uniform", "categorical", "normal", "beta", "x", "",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from([10**400, -(10**400)]),  # YAML ints beyond the float range
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(KEYS),
    st.text(max_size=8),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.integers(), st.booleans()),
                        children, max_size=5),
    ),
    max_leaves=30,
)


def _check(load) -> None:
    try:
        cfg = load()
    except SweepConfigError as exc:
        assert exc.issues, "an error must say what is wrong"
        for issue in exc.issues:
            assert isinstance(issue.render(), str)
    else:
        assert isinstance(cfg, SweepConfig)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_any_structure_loads_or_raises_config_error(doc: object) -> None:
    _check(lambda: from_dict(doc) if isinstance(doc, dict) else loads(repr(doc)))


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {"method": st.sampled_from(["grid", "random", "bayes", "custom", "Grid", 3])},
        optional={
            "metric": st.dictionaries(st.sampled_from(["name", "goal", "target"]), scalars),
            "parameters": st.dictionaries(
                st.sampled_from(["lr", "a.b", "x-y", "1bad", "opt"]),
                st.dictionaries(st.sampled_from(KEYS), scalars | st.lists(scalars, max_size=4),
                                max_size=4),
                max_size=4,
            ),
            "early_terminate": st.dictionaries(st.sampled_from(KEYS), scalars, max_size=5),
            "run_cap": scalars,
            "raysweep": st.dictionaries(st.sampled_from(KEYS), scalars, max_size=4),
        },
    )
)
def test_sweep_shaped_dicts_load_or_raise_config_error(doc: dict) -> None:
    _check(lambda: from_dict(doc))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=string.printable + "\t\u00e9\u2028", max_size=200))
def test_any_text_loads_or_raises_config_error(text: str) -> None:
    _check(lambda: loads(text))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_decoded_load_or_raise_config_error(data: bytes) -> None:
    _check(lambda: loads(data.decode("utf-8", errors="replace")))
