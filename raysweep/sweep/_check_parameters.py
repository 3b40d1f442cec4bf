"""Check the ``parameters:`` section into a :class:`~raysweep.sweep.space.SearchSpace`, and what
each search method needs of it.

A parameter's kind is inferred from its keys as W&B does (``values``, ``value``, ``min`` and
``max``, or ``distribution``); nested ``parameters`` are walked into flat paths. Each
distribution's keys, bounds and types are checked against W&B's rules, with one message per
mistake.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from raysweep.errors import Issue
from raysweep.numeric import is_finite_number, is_integer, is_number
from raysweep.sweep._issues import IssueCollector, describe, did_you_mean
from raysweep.sweep.model import EarlyTerminate, Method, Metric
from raysweep.sweep.space import (
    SPEC_CLASSES,
    Categorical,
    CategoricalWithProbabilities,
    Constant,
    Distribution,
    ParamPath,
    ParamSpec,
    SearchSpace,
)

__all__ = ["MAX_GRID", "PARAM_KEYS", "check_method_needs", "check_parameters"]

PARAM_KEYS = (
    "distribution",
    "value",
    "values",
    "probabilities",
    "min",
    "max",
    "q",
    "mu",
    "sigma",
    "a",
    "b",
    "parameters",
)
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-/]*$")

D = Distribution
# Keys each distribution takes: (required, optional with defaults).
_DIST_KEYS: dict[Distribution, tuple[tuple[str, ...], dict[str, Any]]] = {
    D.CONSTANT: (("value",), {}),
    D.CATEGORICAL: (("values",), {}),
    D.CATEGORICAL_W_PROBABILITIES: (("values", "probabilities"), {}),
    D.INT_UNIFORM: (("min", "max"), {}),
    D.UNIFORM: (("min", "max"), {}),
    D.Q_UNIFORM: (("min", "max"), {"q": 1.0}),
    D.LOG_UNIFORM: (("min", "max"), {}),
    D.LOG_UNIFORM_VALUES: (("min", "max"), {}),
    D.Q_LOG_UNIFORM: (("min", "max"), {"q": 1.0}),
    D.Q_LOG_UNIFORM_VALUES: (("min", "max"), {"q": 1.0}),
    D.INV_LOG_UNIFORM: (("min", "max"), {}),
    D.INV_LOG_UNIFORM_VALUES: (("min", "max"), {}),
    D.NORMAL: ((), {"mu": 0.0, "sigma": 1.0}),
    D.Q_NORMAL: ((), {"mu": 0.0, "sigma": 1.0, "q": 1.0}),
    D.LOG_NORMAL: ((), {"mu": 0.0, "sigma": 1.0}),
    D.Q_LOG_NORMAL: ((), {"mu": 0.0, "sigma": 1.0, "q": 1.0}),
    D.BETA: ((), {"a": 1.0, "b": 1.0}),
    D.Q_BETA: ((), {"a": 1.0, "b": 1.0, "q": 1.0}),
}
_V1_LOG = {
    D.LOG_UNIFORM: D.LOG_UNIFORM_VALUES,
    D.Q_LOG_UNIFORM: D.Q_LOG_UNIFORM_VALUES,
    D.INV_LOG_UNIFORM: D.INV_LOG_UNIFORM_VALUES,
}
_POSITIVE_BOUNDS = {
    D.LOG_UNIFORM_VALUES,
    D.Q_LOG_UNIFORM_VALUES,
    D.INV_LOG_UNIFORM_VALUES,
}
_GRID_OK = {D.CONSTANT, D.CATEGORICAL, D.INT_UNIFORM, D.Q_UNIFORM}

# A grid this large is a mistake, not a plan: enumerating it would exhaust memory.
MAX_GRID = 10_000_000

_V1_NAME = {
    D.LOG_UNIFORM_VALUES: "log_uniform",
    D.Q_LOG_UNIFORM_VALUES: "q_log_uniform",
    D.INV_LOG_UNIFORM_VALUES: "inv_log_uniform",
}


def _v1_range(dist: Distribution, lo: float, hi: float) -> str:
    def fmt(x: float) -> str:
        try:
            return f"{x:.3g}"
        except OverflowError:  # pragma: no cover - formatting of inf never overflows
            return str(x)

    try:
        if dist is D.INV_LOG_UNIFORM:
            a, b = math.exp(-hi), math.exp(-lo)
        else:
            a, b = math.exp(lo), math.exp(hi)
    except OverflowError:
        return f"exp({lo:g}) to exp({hi:g})"
    return f"{fmt(a)} to {fmt(b)}"


def check_parameters(c: IssueCollector, data: Mapping[str, Any]) -> SearchSpace | None:
    """Check ``parameters:``; return the flattened space, or None if anything is wrong."""
    if "parameters" not in data:
        if not c.unsupported:
            hint = "Add a `parameters:` section, e.g. `lr: {min: 0.0001, max: 0.1}`."
            if isinstance(data.get("scheduler"), Mapping):
                hint += (" Or name a define-by-run function in `scheduler.search_space` "
                         "(W&B's 2026 schema).")
            c.error("parameters", "missing", hint)
        return None
    params = data["parameters"]
    if not isinstance(params, Mapping) or not params:
        c.error(
            "parameters",
            "must be a non-empty mapping of parameter names to definitions, got "
            + ("an empty mapping" if isinstance(params, Mapping) else describe(params)),
            "Example: `parameters: {lr: {min: 0.0001, max: 0.1}}`.",
        )
        return None
    flat: dict[ParamPath, ParamSpec] = {}
    _check_param_dict(c, params, (), "parameters", flat)
    if c.issues:
        return None
    return SearchSpace.from_flat(flat)


def _check_param_dict(
    c: IssueCollector,
    params: Mapping[Any, Any],
    prefix: ParamPath,
    path: str,
    flat: dict[ParamPath, ParamSpec],
) -> None:
    for name, spec in params.items():
        ppath = f"{path}.{name}"
        if not isinstance(name, str) or not _NAME_RE.match(name):
            c.error(
                ppath,
                f"invalid parameter name {name!r}",
                "Names start with a letter or '_' and contain letters, digits, '_', '.', "
                "'-' or '/'.",
            )
            continue
        result = _check_param(c, spec, ppath, prefix + (name,), flat)
        if result is not None:
            flat[prefix + (name,)] = result


def _check_param(
    c: IssueCollector,
    spec: Any,
    path: str,
    full: ParamPath,
    flat: dict[ParamPath, ParamSpec],
) -> ParamSpec | None:
    if not isinstance(spec, Mapping):
        c.error(
            path,
            f"must be a mapping that defines the parameter, got {describe(spec)}",
            f"To fix a value write `{full[-1]}: {{value: {spec!r}}}`; to search write "
            f"`{{values: [...]}}` or `{{min: ..., max: ...}}`.",
        )
        return None
    unknown = [k for k in spec if k not in PARAM_KEYS]
    if unknown:
        for key in unknown:
            hint = did_you_mean(str(key), PARAM_KEYS)
            if hint is None and isinstance(spec[key], Mapping) and (
                set(spec[key]) & {"values", "value", "min", "max", "distribution"}
            ):
                hint = (
                    f"{key!r} looks like a parameter definition: check its indentation "
                    f"(it is inside {full[-1]!r}), or put it under `parameters:`."
                )
            c.error(
                f"{path}.{key}",
                f"unknown key {str(key)!r} in a parameter definition",
                hint or f"A parameter takes: {', '.join(PARAM_KEYS)}.",
            )
        return None
    if "parameters" in spec:
        others = [k for k in spec if k != "parameters"]
        if others:
            c.error(path, f"a nested parameter takes only `parameters`, not "
                    f"{', '.join(others)}")
            return None
        inner = spec["parameters"]
        if not isinstance(inner, Mapping) or not inner:
            c.error(f"{path}.parameters", "must be a non-empty mapping of parameters")
            return None
        _check_param_dict(c, inner, full, f"{path}.parameters", flat)
        return None
    dist = _infer_distribution(c, spec, path)
    if dist is None:
        return None
    required, defaults = _DIST_KEYS[dist]
    allowed = set(required) | set(defaults) | {"distribution"}
    bad = [k for k in spec if k not in allowed]
    missing = [k for k in required if k not in spec]
    for key in bad:
        if dist is D.CATEGORICAL and key == "probabilities":
            c.error(f"{path}.probabilities",
                    "`distribution: categorical` does not take probabilities",
                    "Remove `distribution: categorical`: values with probabilities are "
                    "`categorical_w_probabilities`.")
        else:
            c.error(f"{path}.{key}", f"{dist} does not take {key!r}",
                    f"{dist} takes: {', '.join(sorted(allowed - {'distribution'}))}.")
    for key in missing:
        c.error(f"{path}.{key}", f"missing: {dist} needs {' and '.join(required)}")
    if bad or missing:
        return None
    args = {**defaults, **{k: v for k, v in spec.items() if k != "distribution"}}
    return _build_spec(c, dist, args, path, full)


def _infer_distribution(
    c: IssueCollector, spec: Mapping[str, Any], path: str
) -> Distribution | None:
    """Return the distribution a definition names or implies by its keys (W&B's rules)."""
    if "distribution" in spec:
        raw = spec["distribution"]
        try:
            return Distribution(raw)
        except ValueError:
            names = [d.value for d in Distribution]
            c.error(f"{path}.distribution", f"unknown distribution {raw!r}",
                    did_you_mean(str(raw), names)
                    or f"Known distributions: {', '.join(names)}.")
            return None
    if "values" in spec:
        return D.CATEGORICAL_W_PROBABILITIES if "probabilities" in spec else D.CATEGORICAL
    if "value" in spec:
        return D.CONSTANT
    if "min" in spec and "max" in spec:
        lo, hi = spec["min"], spec["max"]
        if is_integer(lo) and is_integer(hi):
            return D.INT_UNIFORM
        if is_number(lo) and is_number(hi):
            if is_integer(lo) != is_integer(hi):
                c.error(
                    path,
                    f"ambiguous bounds: min is {lo!r} and max is {hi!r}, one an integer "
                    "and one a float",
                    "Write both as floats (e.g. 0.0 and 1.0) for a uniform distribution, "
                    "or both as integers for int_uniform.",
                )
                return None
            return D.UNIFORM
        for key in ("min", "max"):
            c.number(spec, key, f"{path}.{key}")
        return None
    keys = ", ".join(str(k) for k in spec) or "nothing"
    c.error(
        path,
        f"cannot tell what kind of parameter this is (it has {keys})",
        "Give `value`, `values`, `min` and `max`, `distribution`, or nested `parameters`.",
    )
    return None


def _build_spec(
    c: IssueCollector, dist: Distribution, args: dict[str, Any], path: str, full: ParamPath
) -> ParamSpec | None:
    n_before = len(c.issues)
    if dist is D.CONSTANT:
        return Constant(args["value"])
    if dist in (D.CATEGORICAL, D.CATEGORICAL_W_PROBABILITIES):
        values = args["values"]
        if not isinstance(values, list) or not values:
            c.error(f"{path}.values", f"must be a non-empty list, got {describe(values)}",
                    "Write `values: [a, b, c]`.")
            return None
        if dist is D.CATEGORICAL:
            return Categorical(tuple(values))
        probs = args["probabilities"]
        if not isinstance(probs, list) or not all(is_number(p) for p in probs):
            c.error(f"{path}.probabilities", "must be a list of numbers")
            return None
        if any(is_integer(p) and not is_finite_number(p) for p in probs):
            # NaN and inf get the "must sum to 1" message below; an int beyond the float
            # range cannot even be summed into a float.
            c.error(f"{path}.probabilities", "must be a list of finite numbers")
            return None
        if len(probs) != len(values):
            c.error(f"{path}.probabilities",
                    f"has {len(probs)} entries but values has {len(values)}",
                    "Give one probability per value.")
        if any(p < 0 for p in probs):
            c.error(f"{path}.probabilities", f"must not be negative, got {probs}")
        elif not math.isclose(sum(probs), 1.0, rel_tol=1e-6, abs_tol=1e-9):
            c.error(f"{path}.probabilities",
                    f"must sum to 1, but {probs} sums to {sum(probs):g}")
        if len(c.issues) > n_before:
            return None
        return CategoricalWithProbabilities(tuple(values), tuple(float(p) for p in probs))
    integer = dist is D.INT_UNIFORM
    for key in args:
        if key in ("min", "max", "q", "mu", "sigma", "a", "b"):
            c.number(args, key, f"{path}.{key}", integer=integer and key in ("min", "max"))
    if len(c.issues) > n_before:
        if integer and any(isinstance(args[k], float) for k in ("min", "max")):
            c.issues[-1] = Issue(
                c.issues[-1].path, c.issues[-1].message,
                "int_uniform takes integer bounds; use `distribution: uniform` for floats.",
                c.issues[-1].line)
        return None
    for key in ("min", "max", "mu", "sigma", "a", "b", "q"):
        if key in args and not is_finite_number(args[key]):
            c.error(f"{path}.{key}", f"must be finite, got {args[key]!r}")
    if "q" in args and args["q"] <= 0:
        c.error(f"{path}.q", f"must be greater than 0, got {args['q']!r}")
    if "sigma" in args and args["sigma"] < 0:
        c.error(f"{path}.sigma", f"must not be negative, got {args['sigma']!r}")
    for key in ("a", "b"):
        if key in args and args[key] <= 0:
            c.error(f"{path}.{key}", f"must be greater than 0, got {args[key]!r}")
    if "min" in args and "max" in args:
        lo, hi = args["min"], args["max"]
        if not lo < hi:
            c.error(f"{path}.max",
                    f"`min < max` must hold, but got min={lo!r}, max={hi!r}",
                    "Swap them." if lo > hi else None)
        elif dist in _POSITIVE_BOUNDS and lo <= 0:
            c.error(
                f"{path}.min",
                f"{dist} needs positive bounds, got min={lo!r}",
                f"{_V1_NAME[dist]} takes natural-log exponents if that is what you meant.",
            )
    if len(c.issues) > n_before:
        return None
    if dist in _V1_LOG:
        lo, hi = args["min"], args["max"]
        c.warn(
            path,
            f"{dist} is W&B's deprecated form whose min/max are natural-log exponents: "
            f"values run from {_v1_range(dist, lo, hi)}",
            f"{dist} takes exponents; if min and max are the values themselves, use "
            f"{_V1_LOG[dist]}.",
        )
    cls = SPEC_CLASSES[dist]
    return cls(**args)


def check_method_needs(
    c: IssueCollector,
    method: Method,
    metric: Metric | None,
    space: SearchSpace,
    early: EarlyTerminate | None,
) -> None:
    """Check what the method needs: grid an enumerable space of bounded size, bayes a metric
    and at least one parameter that is not a constant. An empty space (the 2026 schema's
    ``scheduler.search_space`` instead of ``parameters``) is not raysweep's to search:
    :func:`raysweep.sweep.config.runnable_issues` refuses it at run time."""
    if method is Method.GRID:
        for path, spec in space:
            if spec.distribution not in _GRID_OK:
                name = "parameters." + ".parameters.".join(path)
                if spec.distribution is D.CATEGORICAL_W_PROBABILITIES:
                    c.error(f"{name}.probabilities",
                            "grid search tries every value, so it cannot use "
                            "probabilities", "Remove `probabilities`, or use "
                            "`method: random`.")
                else:
                    c.error(
                        name,
                        f"grid search cannot enumerate a continuous {spec.distribution} "
                        "parameter",
                        "Use `values: [...]`, an int_uniform or q_uniform range, or "
                        "`method: random` / `bayes`.",
                    )
    if method is Method.GRID and not c.issues:
        _check_grid_size(c, space)
    if method is Method.BAYES:
        if metric is None:
            c.error("metric", "bayes search needs a metric to model",
                    "Add `metric: {name: val_loss, goal: minimize}`.")
        if len(space) and not space.searchable:
            c.error("parameters", "bayes search needs at least one parameter that is "
                    "not a constant")


def _check_grid_size(c: IssueCollector, space: SearchSpace) -> None:
    """Refuse grids too large to enumerate (a tiny q or a huge int range)."""
    total = 1
    for path, spec in space.searchable:
        n = spec.grid_count()
        name = "parameters." + ".parameters.".join(path)
        if n is None or n > MAX_GRID:
            c.error(name, f"grid search would enumerate {n:.3g} values of this "
                    f"parameter (limit {MAX_GRID:,})", "Use a larger q, a smaller range, "
                    "or `method: random`.")
            return
        total *= int(n)  # n <= MAX_GRID here, a whole number
    if total > MAX_GRID:
        c.error("parameters", f"grid search would run {total:,} combinations "
                f"(limit {MAX_GRID:,})", "Use fewer values, or `method: random` with "
                "`run_cap`.")
