"""The search space: a sweep's parameters flattened to paths, with sampling and grid enumeration.

Nested ``parameters`` are flattened to paths (tuples of names). The flat order is W&B's: keys
sorted at each level, depth first (the order of the path tuples). :meth:`SearchSpace.unflatten`
turns a flat assignment back into the nested dict a trial receives. The distributions of the
single parameters are in :mod:`raysweep.sweep.distributions`, W&B's equality of values in
:mod:`raysweep.sweep.equality`; both are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from itertools import product
from typing import TYPE_CHECKING, Any

from raysweep.sweep.distributions import (
    SPEC_CLASSES,
    Beta,
    Categorical,
    CategoricalWithProbabilities,
    Constant,
    Distribution,
    IntUniform,
    InvLogUniform,
    InvLogUniformValues,
    LogNormal,
    LogUniform,
    LogUniformValues,
    Normal,
    ParamSpec,
    QBeta,
    QLogNormal,
    QLogUniform,
    QLogUniformValues,
    QNormal,
    QUniform,
    Uniform,
)
from raysweep.sweep.equality import canonical, unique_values

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "SPEC_CLASSES",
    "Beta",
    "Categorical",
    "CategoricalWithProbabilities",
    "Constant",
    "Distribution",
    "IntUniform",
    "InvLogUniform",
    "InvLogUniformValues",
    "LogNormal",
    "LogUniform",
    "LogUniformValues",
    "Normal",
    "ParamPath",
    "ParamSpec",
    "QBeta",
    "QLogNormal",
    "QLogUniform",
    "QLogUniformValues",
    "QNormal",
    "QUniform",
    "SearchSpace",
    "Uniform",
    "canonical",
    "dotted",
    "unique_values",
]

# A parameter's path from the top level down. W&B names a nested parameter
# "opt.wbnest[599c28ca25da].lr", but orders parameters NOT by these strings:
# ``HyperParameterSet.from_config`` walks each level in sorted key order, depth first, which is
# the order of the path tuples (``("opt", "lr")`` < ``("opt-a",)``).
ParamPath = tuple[str, ...]


def dotted(path: ParamPath) -> str:
    """Return the display name of a parameter path.

    >>> dotted(("optimizer", "lr"))
    'optimizer.lr'
    """
    return ".".join(path)



@dataclass(frozen=True)
class SearchSpace:
    """The flattened parameters of a sweep, in W&B's sorted order.

    Attributes:
        params: ``(path, spec)`` pairs; a path is the tuple of names from the top level down
            to the leaf (``("optimizer", "lr")``).
    """

    params: tuple[tuple[ParamPath, ParamSpec], ...]
    _index: dict[ParamPath, ParamSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", dict(self.params))

    @classmethod
    def from_flat(cls, items: Mapping[ParamPath, ParamSpec]) -> SearchSpace:
        """Build a space from ``{path: spec}``, sorting paths in W&B's order."""
        ordered = sorted(items.items(), key=lambda kv: kv[0])
        return cls(tuple(ordered))

    def __len__(self) -> int:
        return len(self.params)

    def __iter__(self) -> Iterator[tuple[ParamPath, ParamSpec]]:
        return iter(self.params)

    def __getitem__(self, path: ParamPath) -> ParamSpec:
        return self._index[path]

    @property
    def paths(self) -> tuple[ParamPath, ...]:
        return tuple(p for p, _ in self.params)

    @property
    def searchable(self) -> tuple[tuple[ParamPath, ParamSpec], ...]:
        """The parameters that are not constants."""
        return tuple((p, s) for p, s in self.params if not isinstance(s, Constant))

    def constants(self) -> dict[ParamPath, Any]:
        return {p: s.value for p, s in self.params if isinstance(s, Constant)}

    def sample(self, rng: np.random.Generator) -> dict[ParamPath, Any]:
        """Draw one flat assignment from the priors (W&B's random search)."""
        return {path: spec.sample(rng) for path, spec in self.params}

    def grid_axes(self) -> list[tuple[ParamPath, list[Any]]]:
        """Return the non-constant axes of the grid, in order, with duplicates removed.

        Raises:
            ValueError: if a parameter cannot be enumerated.
        """
        axes = []
        for path, spec in self.searchable:
            values = spec.grid_values()
            if values is None:
                raise ValueError(
                    f"parameter {dotted(path)!r} ({spec.distribution}) cannot be enumerated"
                )
            axes.append((path, unique_values(values)))
        return axes

    def grid_size(self) -> int:
        """Number of distinct combinations grid search runs."""
        return math.prod(len(values) for _, values in self.grid_axes())

    def grid(self) -> Iterator[dict[ParamPath, Any]]:
        """Yield every combination in W&B's order: the last parameter varies fastest."""
        axes = self.grid_axes()
        constants = self.constants()
        paths = [p for p, _ in axes]
        for combo in product(*(values for _, values in axes)):
            flat = dict(constants)
            flat.update(zip(paths, combo, strict=True))
            yield {p: flat[p] for p in self.paths}

    def contains(self, flat: Mapping[ParamPath, Any]) -> bool:
        """Return True if ``flat`` assigns every parameter a value its spec can produce."""
        return set(flat) == set(self._index) and all(
            self._index[p].contains(v) for p, v in flat.items()
        )

    def key(self, flat: Mapping[ParamPath, Any]) -> tuple[Any, ...]:
        """A hashable identity of an assignment, under W&B's equality of values."""
        return tuple(canonical(flat.get(p)) for p in self.paths)

    @staticmethod
    def unflatten(flat: Mapping[ParamPath, Any]) -> dict[str, Any]:
        """Turn ``{("opt", "lr"): 0.1}`` into ``{"opt": {"lr": 0.1}}``.

        >>> SearchSpace.unflatten({("opt", "lr"): 0.1, ("seed",): 1})
        {'opt': {'lr': 0.1}, 'seed': 1}
        """
        out: dict[str, Any] = {}
        for path, value in flat.items():
            node = out
            for name in path[:-1]:
                node = node.setdefault(name, {})
            node[path[-1]] = value
        return out

    def flatten(self, nested: Mapping[str, Any]) -> dict[ParamPath, Any]:
        """Inverse of :meth:`unflatten` for the paths of this space (missing ones skipped)."""
        out: dict[ParamPath, Any] = {}
        for path in self.paths:
            node: Any = nested
            for name in path:
                if not isinstance(node, Mapping) or name not in node:
                    break
                node = node[name]
            else:
                out[path] = node
        return out
