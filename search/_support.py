"""Which configurations a search space can produce, when that set is finite and small enough
to count.

Searches that never repeat a configuration (random with ``unique``, bayes) must know when a
space is used up, and then which configurations are left. A space counts as finite when every
parameter is a constant, a categorical or an integer range. Any other distribution makes it
infinite here, q_uniform included: its values are finite, but the searches treat it as a
float.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from itertools import product
from typing import Any

from raysweep.sweep.distributions import (
    Categorical,
    CategoricalWithProbabilities,
    Constant,
    IntUniform,
    ParamSpec,
)
from raysweep.sweep.equality import canonical, unique_values
from raysweep.sweep.space import ParamPath, SearchSpace

from ._base import FlatConfig

__all__ = ["configurations", "finite_size", "value_support"]


def value_support(spec: ParamSpec) -> list[tuple[Any, float]] | None:
    """Return the distinct values ``spec`` can draw with their prior probabilities.

    Values are compared with W&B's equality (:func:`raysweep.sweep.space.canonical`) and kept
    in first-occurrence order; a value of probability 0 is never drawn, so it is left out.

    Returns:
        ``[(value, probability), ...]``, or None if the spec is not finite here.

    >>> from raysweep.sweep.distributions import Categorical
    >>> value_support(Categorical(values=("a", "b", "a", "c")))
    [('a', 0.5), ('b', 0.25), ('c', 0.25)]
    """
    if isinstance(spec, Constant):
        return [(spec.value, 1.0)]
    if isinstance(spec, CategoricalWithProbabilities):
        mass: dict[Any, float] = {}
        first: dict[Any, Any] = {}
        for value, p in zip(spec.values, spec.probabilities, strict=True):
            key = canonical(value)
            first.setdefault(key, value)
            mass[key] = mass.get(key, 0.0) + p
        return [(first[k], m) for k, m in mass.items() if m > 0]
    if isinstance(spec, Categorical):
        counts: dict[Any, int] = {}
        for value in spec.values:
            counts[canonical(value)] = counts.get(canonical(value), 0) + 1
        n = len(spec.values)
        return [(v, counts[canonical(v)] / n) for v in unique_values(spec.values)]
    if isinstance(spec, IntUniform):
        n = spec.max - spec.min + 1
        return [(v, 1.0 / n) for v in range(spec.min, spec.max + 1)]
    return None


def finite_size(space: SearchSpace) -> int | None:
    """Return how many distinct configurations ``space`` can produce, or None if infinite.

    >>> from raysweep.sweep.config import from_dict
    >>> space = from_dict({"method": "random", "parameters": {
    ...     "n": {"min": 1, "max": 1000000}, "c": {"values": [1, 1.0, 2]}}}).parameters
    >>> finite_size(space)
    2000000
    """
    sizes = []
    for _, spec in space:
        if isinstance(spec, IntUniform):
            # Counted, not enumerated: a range may be far larger than any sweep.
            sizes.append(spec.max - spec.min + 1)
            continue
        support = value_support(spec)
        if support is None:
            return None
        sizes.append(len(support))
    return math.prod(sizes)


def configurations(space: SearchSpace) -> Iterator[tuple[FlatConfig, float]]:
    """Yield every configuration of a finite space, lazily, with its prior probability.

    The order is the product of the parameters in the space's order, the last varying
    fastest, each parameter's values in :func:`value_support` order. A parameter that is not
    finite yields nothing: check :func:`finite_size` first.
    """
    paths: list[ParamPath] = list(space.paths)
    supports = [value_support(spec) or [] for _, spec in space]
    for combo in product(*supports):
        yield dict(zip(paths, (v for v, _ in combo), strict=True)), math.prod(p for _, p in combo)
