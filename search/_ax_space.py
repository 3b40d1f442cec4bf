"""W&B's parameters as Ax parameters, and Ax's values back as a trial's config.

One :class:`AxParam` per searched parameter: what Ax's ``RangeParameterConfig`` or
``ChoiceParameterConfig`` is built from (plain data: this module does not import Ax), named by
the parameter's dotted path (``optimizer.lr``), and how a value Ax gives becomes the value the
trial gets. The mapping keeps W&B's priors where Ax has them:

=================================  ===========================================================
W&B                                Ax (then, for the trial)
=================================  ===========================================================
constant                           not in the experiment; added to every config
categorical                        a choice of the values (of their indices, unordered, when
                                   the values are not all bool, all int, all float or all str,
                                   or two are equal); one value: a constant
int_uniform                        an int range [min, max]
uniform                            a float range [min, max]
(inv_)log_uniform(_values)         a float range with ``scaling: log`` (the same law)
q_ forms of these                  the same, then rounded to ``q`` as W&B rounds (Ax's
                                   ``step_size`` cannot go with log scaling, and W&B's rounded
                                   values may fall outside [min, max])
normal, log_normal, beta (+ q_),   a float range [0, 1]: the prior's quantile, mapped through
categorical_w_probabilities        its inverse CDF (Ax has no such laws)
=================================  ===========================================================

The same as ``_optuna_space.py`` does for Optuna. Pure: no I/O, no Ax import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from raysweep.numeric import finite_float
from raysweep.sweep.distributions import (
    Categorical,
    CategoricalWithProbabilities,
    Constant,
    Continuous,
    IntUniform,
    InvLogUniform,
    LogUniform,
    ParamSpec,
    Uniform,
)
from raysweep.sweep.equality import canonical
from raysweep.sweep.space import ParamPath, SearchSpace, dotted

from ._base import FlatConfig
from ._engine import (
    by_probability,
    choice_of,
    encode_params,
    log_bounds,
    probability_quantile,
    rounding,
)

__all__ = ["AxParam", "ax_params", "constants_of", "flat_config", "parameterization"]

# Ax's choice values are of one of these types (bool first: a bool is also an int).
_CHOICE_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "bool"), (int, "int"), (float, "float"), (str, "str"))


@dataclass(frozen=True)
class AxParam:
    """One searched parameter as Ax sees it.

    Attributes:
        path: The parameter's path in the space.
        name: Its name in the experiment (the dotted path).
        kind: ``"range"`` or ``"choice"``.
        parameter_type: Ax's ``parameter_type`` (``"float"``, ``"int"``, ``"str"``, ``"bool"``).
        bounds: A range's bounds (else None).
        log: Whether a range has ``scaling: log``.
        values: A choice's values (else None).
        ordered: A choice's ``is_ordered`` (None: Ax decides).
        decode: Ax's value -> the value the trial gets.
        encode: A trial's value -> Ax's value for it, or None if Ax has none (an earlier
            result told to Ax: warm start).
    """

    path: ParamPath
    name: str
    kind: str
    parameter_type: str
    decode: Callable[[Any], Any]
    encode: Callable[[Any], Any]
    bounds: tuple[float, float] | None = None
    log: bool = False
    values: tuple[Any, ...] | None = None
    ordered: bool | None = None


def ax_params(space: SearchSpace) -> list[AxParam]:
    """Ax's parameters for the searched parameters of ``space``, in its order (a categorical
    of one value is a constant: see :func:`constants_of`).

    Raises:
        ValueError: if two paths have the same dotted name (``a.b`` and ``a: {b: ...}``).

    >>> from raysweep.sweep.config import from_dict
    >>> cfg = from_dict({"method": "random", "parameters": {
    ...     "lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
    ...     "act": {"values": ["relu", "tanh"]}, "mix": {"values": [1, "a"]}}})
    >>> [(p.name, p.kind, p.parameter_type, p.bounds, p.log, p.values)
    ...  for p in ax_params(cfg.parameters)]  # doctest: +NORMALIZE_WHITESPACE
    [('act', 'choice', 'str', None, False, ('relu', 'tanh')),
     ('lr', 'range', 'float', (0.0001, 0.1), True, None),
     ('mix', 'choice', 'int', None, False, (0, 1))]
    """
    out: list[AxParam] = []
    seen: dict[str, ParamPath] = {}
    for path, spec in space.searchable:
        if _single_value(spec):
            continue
        name = dotted(path)
        if name in seen:
            raise ValueError(
                f"parameters {seen[name]!r} and {path!r} are both named {name!r} in the Ax "
                "experiment; rename one of them"
            )
        seen[name] = path
        out.append(_param(path, name, spec))
    return out


def constants_of(space: SearchSpace) -> dict[ParamPath, Any]:
    """What every config holds whatever Ax proposes: constants and one-value categoricals.

    >>> from raysweep.sweep.config import from_dict
    >>> constants_of(from_dict({"method": "random", "parameters": {
    ...     "a": {"value": 1}, "b": {"values": ["x"]}, "c": {"min": 0.0, "max": 1.0}}}).parameters)
    {('a',): 1, ('b',): 'x'}
    """
    out: dict[ParamPath, Any] = {}
    for path, spec in space:
        if isinstance(spec, Constant):
            out[path] = spec.value
        elif _single_value(spec):
            assert isinstance(spec, Categorical)  # _single_value's only kind
            out[path] = spec.values[0]
    return out


def _single_value(spec: ParamSpec) -> bool:
    return isinstance(spec, Categorical) and not isinstance(
        spec, CategoricalWithProbabilities) and len(spec.values) == 1


def _param(path: ParamPath, name: str, spec: ParamSpec) -> AxParam:
    if isinstance(spec, CategoricalWithProbabilities):
        return _unit(path, name, spec, by_probability(spec))
    if isinstance(spec, Categorical):
        values = spec.values
        kind = _choice_type(values)
        if kind is not None and len({canonical(v) for v in values}) == len(values):
            return AxParam(path, name, "choice", kind, decode=lambda v: v,
                           encode=_choice_encoder(values, values), values=tuple(values))
        indices = tuple(range(len(values)))
        return AxParam(path, name, "choice", "int", decode=lambda i: values[int(i)],
                       encode=_choice_encoder(values, indices), values=indices, ordered=False)
    if isinstance(spec, IntUniform):
        low, high = spec.min, spec.max

        def encode_int(value: Any) -> Any:
            number = finite_float(value)
            return None if number is None else int(min(high, max(low, round(number))))

        return AxParam(path, name, "range", "int", decode=int, encode=encode_int,
                       bounds=(low, high))
    if isinstance(spec, Continuous):
        finish = rounding(spec.step)
        if isinstance(spec, (LogUniform, InvLogUniform)):
            # Both families are log-uniform in the value.
            bounds = log_bounds(spec)
            return AxParam(path, name, "range", "float", decode=finish,
                           encode=_clipper(bounds), bounds=bounds, log=True)
        if isinstance(spec, Uniform):
            bounds = (float(spec.min), float(spec.max))
            return AxParam(path, name, "range", "float", decode=finish,
                           encode=_clipper(bounds), bounds=bounds)
        # normal, log_normal, beta: the quantile, through the prior's inverse CDF (which
        # from_unit clips away from 0 and 1, where it is infinite, and quantises).
        return _unit(path, name, spec, spec.from_unit)
    raise ValueError(f"no Ax parameter for {spec.distribution} parameters")


def _unit(path: ParamPath, name: str, spec: ParamSpec, decode: Callable[[Any], Any]) -> AxParam:
    """A float range [0, 1] holding the prior's quantile."""

    def encode(value: Any) -> Any:
        if isinstance(spec, CategoricalWithProbabilities):
            return probability_quantile(spec, value)
        number = finite_float(value)
        if number is None or not isinstance(spec, Continuous):
            return None
        return min(1.0, max(0.0, spec.to_unit(number)))

    return AxParam(path, name, "range", "float", decode=decode, encode=encode, bounds=(0.0, 1.0))


def _choice_type(values: tuple[Any, ...] | list[Any]) -> str | None:
    """Ax's type for these values if all have exactly one of its types, else None."""
    for kind, name in _CHOICE_TYPES:
        if all(type(v) is kind for v in values):
            return name
    return None


def _choice_encoder(values: Any, choices: tuple[Any, ...]) -> Callable[[Any], Any]:
    return lambda value: choice_of(values, choices, value)


def _clipper(bounds: tuple[float, float]) -> Callable[[Any], Any]:
    # A q_ value W&B rounded may lie past a bound; Ax accepts only the range.
    def encode(value: Any) -> Any:
        number = finite_float(value)
        return None if number is None else min(bounds[1], max(bounds[0], number))

    return encode


def flat_config(
    space: SearchSpace, params: list[AxParam], values: Mapping[str, Any]
) -> FlatConfig:
    """The trial's flat config from Ax's parameterization ``values`` (constants included), in
    the space's order, then the parameters the space lacks (of a user's experiment).

    >>> from raysweep.sweep.config import from_dict
    >>> cfg = from_dict({"method": "random", "parameters": {
    ...     "lr": {"distribution": "q_log_uniform_values", "min": 1, "max": 100, "q": 5},
    ...     "n": {"value": 3}, "opt": {"values": ["adam", [1, 2]]}}})
    >>> flat_config(cfg.parameters, ax_params(cfg.parameters), {"lr": 12.4, "opt": 1})
    {('lr',): 10, ('n',): 3, ('opt',): [1, 2]}
    """
    decoded = {p.path: p.decode(values[p.name]) for p in params}
    fixed = constants_of(space)
    out: FlatConfig = {}
    for path, _spec in space:
        out[path] = fixed[path] if path in fixed else decoded.pop(path)
    out.update(decoded)  # a user's experiment may search parameters the sweep does not name
    return out


def parameterization(
    params: list[AxParam], flat: Mapping[ParamPath, Any]
) -> dict[str, Any] | None:
    """Ax's parameterization of a trial's flat config, or None if one parameter has no value
    there (or none Ax can hold).

    >>> from raysweep.sweep.config import from_dict
    >>> cfg = from_dict({"method": "random", "parameters": {
    ...     "opt": {"values": ["adam", [1, 2]]}, "x": {"distribution": "normal"}}})
    >>> parameterization(ax_params(cfg.parameters), {("opt",): [1, 2], ("x",): 0.0})
    {'opt': 1, 'x': 0.5}
    """
    return encode_params(params, flat)
