"""When two parameter values are the same value, by W&B's rules.

W&B compares values by the hash of their YAML dump, so grid search, ``unique`` random search
and bayes' "already tried" set must agree with it: integral floats equal ints, ``True`` is
not ``1``, NaN equals NaN and dict key order does not matter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["canonical", "unique_values"]


def canonical(value: Any) -> Any:
    """Return a hashable key under which W&B's grid considers two values equal.

    W&B compares values by ``md5(yaml.dump(v, sort_keys=True))``: integral floats equal ints
    (``3e6 == 3000000``), ``True`` differs from ``1``, NaN equals NaN and dict key order is
    ignored.

    >>> canonical(3e6) == canonical(3000000)
    True
    >>> canonical(True) == canonical(1)
    False
    >>> canonical({"a": 1, "b": 2}) == canonical({"b": 2, "a": 1})
    True
    >>> canonical(float("nan")) == canonical(float("nan"))
    True
    """
    if isinstance(value, bool) or value is None:
        return ("b", value)
    if isinstance(value, int):
        return ("n", value)
    if isinstance(value, float):
        if math.isnan(value):
            return ("nan",)
        if value.is_integer():
            return ("n", int(value))
        return ("f", value)
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, Mapping):
        return ("d", tuple(sorted((str(k), canonical(v)) for k, v in value.items())))
    if isinstance(value, tuple):
        return ("t", tuple(canonical(v) for v in value))
    if isinstance(value, Sequence):
        return ("l", tuple(canonical(v) for v in value))
    return ("r", repr(value))


def unique_values(values: Sequence[Any]) -> list[Any]:
    """Drop repeated values (W&B's yaml-hash equality), keeping first occurrences in order.

    >>> unique_values([1, 1.0, True, "a", "a", [1], [1]])
    [1, True, 'a', [1]]
    """
    seen: set[Any] = set()
    out = []
    for v in values:
        key = canonical(v)
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out
