"""W&B's parameters as Optuna distributions, and Optuna's values back as a trial's config.

One :class:`Axis` per searched parameter: the Optuna distribution the study samples, named by
the parameter's dotted path (``optimizer.lr``), and how a sampled value becomes the value the
trial gets. The mapping keeps W&B's priors:

=================================  ===========================================================
W&B                                Optuna (then, for the trial)
=================================  ===========================================================
constant                           not in the study; added to every config
categorical                        ``CategoricalDistribution`` of the values (of their indices
                                   when a value is not a None/bool/int/float/str, or two are
                                   equal)
int_uniform                        ``IntDistribution(min, max)``
uniform                            ``FloatDistribution(min, max)``
(inv_)log_uniform(_values)         ``FloatDistribution(low, high, log=True)`` (the same law)
q_ forms of these                  the same, then rounded to ``q`` as W&B rounds (Optuna's
                                   ``step`` cannot go with ``log``, and W&B's rounded values
                                   may fall outside [min, max], which ``step`` forbids)
normal, log_normal, beta (+ q_),   ``FloatDistribution(0, 1)``: the prior's quantile, mapped
categorical_w_probabilities        through its inverse CDF (Optuna has no such laws)
=================================  ===========================================================

Pure: imports Optuna only (the caller's), no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

__all__ = ["Axis", "axes_of", "flat_config", "flatten_returned", "study_params"]

_PLAIN_CHOICE = (type(None), bool, int, float, str)


@dataclass(frozen=True)
class Axis:
    """One searched parameter as the study sees it.

    Attributes:
        path: The parameter's path in the space.
        name: Its name in the study (the dotted path).
        distribution: What the study samples.
        decode: The sampled value -> the value the trial gets.
        encode: A trial's value -> the study's value for it, or None if the study has none
            (earlier results told to the study: warm start).
    """

    path: ParamPath
    name: str
    distribution: BaseDistribution
    decode: Callable[[Any], Any]
    encode: Callable[[Any], Any]


def axes_of(space: SearchSpace) -> list[Axis]:
    """The study's axes for the non-constant parameters of ``space``, in its order.

    Raises:
        ValueError: if two paths have the same dotted name (``a.b`` and ``a: {b: ...}``).
    """
    axes: list[Axis] = []
    seen: dict[str, ParamPath] = {}
    for path, spec in space.searchable:
        name = dotted(path)
        if name in seen:
            raise ValueError(
                f"parameters {seen[name]!r} and {path!r} are both named {name!r} in the Optuna "
                "study; rename one of them"
            )
        seen[name] = path
        distribution, decode = _mapping(spec)
        axes.append(Axis(path, name, distribution, decode, _encoder(spec, distribution)))
    return axes


def _mapping(spec: ParamSpec) -> tuple[BaseDistribution, Callable[[Any], Any]]:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if isinstance(spec, CategoricalWithProbabilities):
        return FloatDistribution(0.0, 1.0), by_probability(spec)
    if isinstance(spec, Categorical):
        values = spec.values
        plain = all(type(v) in _PLAIN_CHOICE for v in values)
        if plain and len({canonical(v) for v in values}) == len(values):
            return CategoricalDistribution(values), lambda v: v
        return CategoricalDistribution(tuple(range(len(values)))), lambda i: values[int(i)]
    if isinstance(spec, IntUniform):
        return IntDistribution(spec.min, spec.max), int
    if isinstance(spec, Continuous):
        finish = rounding(spec.step)
        if isinstance(spec, (LogUniform, InvLogUniform)):
            # Both families are log-uniform in the value.
            return FloatDistribution(*log_bounds(spec), log=True), finish
        if isinstance(spec, Uniform):
            return FloatDistribution(spec.min, spec.max), finish
        # normal, log_normal, beta: the quantile, through the prior's inverse CDF (which
        # from_unit clips away from 0 and 1, where it is infinite, and quantises).
        return FloatDistribution(0.0, 1.0), spec.from_unit
    raise ValueError(f"no Optuna distribution for {spec.distribution} parameters")


def _encoder(spec: ParamSpec, distribution: BaseDistribution) -> Callable[[Any], Any]:
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    def encode(value: Any) -> Any:
        if isinstance(spec, CategoricalWithProbabilities):
            return probability_quantile(spec, value)
        if isinstance(distribution, CategoricalDistribution):
            if not isinstance(spec, Categorical):
                return None
            return choice_of(spec.values, distribution.choices, value)
        number = finite_float(value)
        if number is None:
            return None
        if isinstance(spec, IntUniform):
            return int(min(spec.max, max(spec.min, round(number))))
        assert isinstance(distribution, FloatDistribution)  # _mapping's other kinds
        if isinstance(spec, Continuous) and distribution.low == 0.0 and distribution.high == 1.0 \
                and not isinstance(spec, (Uniform, LogUniform, InvLogUniform)):
            number = spec.to_unit(number)  # the prior's quantile
        return min(distribution.high, max(distribution.low, number))

    return encode


def flat_config(
    space: SearchSpace, axes: list[Axis], params: Mapping[str, Any]
) -> FlatConfig:
    """The trial's flat config from the study's sampled ``params`` (constants included), in
    the space's order.

    >>> from raysweep.sweep.config import from_dict
    >>> cfg = from_dict({"method": "random", "parameters": {
    ...     "lr": {"distribution": "q_log_uniform_values", "min": 1, "max": 100, "q": 5},
    ...     "n": {"value": 3}}})
    >>> axes = axes_of(cfg.parameters)
    >>> axes[0].distribution
    FloatDistribution(high=100.0, log=True, low=1.0, step=None)
    >>> flat_config(cfg.parameters, axes, {"lr": 12.4})
    {('lr',): 10, ('n',): 3}
    """
    decoded = {axis.path: axis.decode(params[axis.name]) for axis in axes}
    out: FlatConfig = {}
    for path, spec in space:
        out[path] = spec.value if isinstance(spec, Constant) else decoded[path]
    return out


def study_params(axes: list[Axis], flat: Mapping[ParamPath, Any]) -> dict[str, Any] | None:
    """The study's params for a trial's flat config, or None if one has no value there.

    >>> from raysweep.sweep.config import from_dict
    >>> cfg = from_dict({"method": "random", "parameters": {
    ...     "opt": {"values": ["adam", [1, 2]]}, "x": {"distribution": "normal"}}})
    >>> study_params(axes_of(cfg.parameters), {("opt",): [1, 2], ("x",): 0.0})
    {'opt': 1, 'x': 0.5}
    """
    return encode_params(axes, flat)


def flatten_returned(config: Mapping[str, Any], where: str) -> FlatConfig:
    """A define-by-run function's config (nested dicts allowed) as a flat config.

    An empty dict value stays a value (it has no leaf to flatten to).

    Raises:
        ValueError: if a key is not a string (``where`` names the function, for the message).

    >>> flatten_returned({"opt": {"lr": 0.1}, "n": 2}, "f")
    {('opt', 'lr'): 0.1, ('n',): 2}
    """
    out: FlatConfig = {}

    def walk(prefix: ParamPath, node: Mapping[Any, Any]) -> None:
        for key, value in node.items():
            if not isinstance(key, str):
                raise ValueError(
                    f"{where} returned a config with the key {key!r}; config keys must be "
                    "strings"
                )
            if isinstance(value, Mapping) and value:
                walk((*prefix, key), value)
            else:
                out[(*prefix, key)] = value

    walk((), config)
    return out
