"""The search space as the Gaussian process sees it: each configuration a point of a unit cube.

A float or int parameter is one coordinate, the prior's CDF of its value (``spec.to_unit``), so
the model searches where the prior puts its mass and a log-uniform range is searched in log
space. Integers and quantised floats are snapped to the unit value of the number they round
to, so the model always sees what was actually run. A categorical is one-hot over the indices
of its distinct values with positive prior probability (values may be unhashable lists, dicts
or None, so they are never used as keys). A parameter with one possible value takes no
column, and constants are added back to every configuration.

A configuration has three forms: the flat config (``{path: value}``), the *raw* tuple (one
JSON-ready entry per searchable parameter: its number, or the index of its categorical value;
what the proposer's state stores) and the unit vector.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from raysweep.numeric import is_finite_number
from raysweep.sweep.distributions import Categorical, IntUniform, ParamSpec
from raysweep.sweep.equality import canonical
from raysweep.sweep.space import ParamPath, SearchSpace

from ._base import FlatConfig
from ._support import value_support

__all__ = ["Dim", "Encoding", "Raw"]

Raw = tuple[Any, ...]
"""One entry per searchable parameter: a float or int, or an index into ``Dim.values``."""


@dataclass(frozen=True, eq=False)
class Dim:
    """One searchable parameter and the columns of the unit vector that encode it."""

    path: ParamPath
    spec: ParamSpec
    kind: str  # "float", "int", "categorical", or "fixed" (only one possible value)
    cols: np.ndarray  # column indices: one for a number, one per value for a categorical
    values: tuple[Any, ...] = ()  # categorical: distinct values that can be proposed
    weights: tuple[float, ...] = ()  # categorical: their prior probabilities

    @property
    def n_ints(self) -> int:
        """How many integers an ``int`` parameter can take."""
        spec = self.spec
        assert isinstance(spec, IntUniform)  # only int dims are asked
        return spec.max - spec.min + 1


def _dim(path: ParamPath, spec: ParamSpec, first_col: int) -> Dim:
    def cols(n: int) -> np.ndarray:
        return np.arange(first_col, first_col + n)

    if isinstance(spec, Categorical):
        support = value_support(spec) or []
        total = math.fsum(p for _, p in support)
        values = tuple(v for v, _ in support)
        weights = tuple(p / total for _, p in support)
        if len(values) > 1:
            return Dim(path, spec, "categorical", cols(len(values)), values, weights)
        return Dim(path, spec, "fixed", cols(0), values, weights)
    if isinstance(spec, IntUniform):
        if spec.max > spec.min:
            return Dim(path, spec, "int", cols(1))
        return Dim(path, spec, "fixed", cols(0))
    if spec.kind == "float":
        return Dim(path, spec, "float", cols(1))
    raise ValueError(
        f"bayes search models float, int and categorical parameters, but {path!r} is "
        f"of kind {spec.kind!r}"
    )


class Encoding:
    """Maps the configurations of one space to unit vectors and back.

    Args:
        space: The search space.

    Raises:
        ValueError: if a parameter is neither a float, an int nor a categorical.

    >>> from raysweep.sweep.config import from_dict
    >>> space = from_dict({"method": "bayes", "metric": {"name": "loss"}, "parameters": {
    ...     "n": {"min": 0, "max": 3}, "act": {"values": ["relu", "tanh"]}}}).parameters
    >>> enc = Encoding(space)
    >>> raw = enc.encode({("act",): "tanh", ("n",): 1})
    >>> raw, enc.unit(raw).tolist()
    ((1, 1), [0.0, 1.0, 0.375])
    >>> enc.config_of(raw)
    {('act',): 'tanh', ('n',): 1}
    """

    def __init__(self, space: SearchSpace) -> None:
        self._space = space
        self._constants = space.constants()
        dims: list[Dim] = []
        width = 0
        for path, spec in space.searchable:
            dim = _dim(path, spec, width)
            dims.append(dim)
            width += len(dim.cols)
        self.dims: tuple[Dim, ...] = tuple(dims)
        self.width = width
        """Length of a unit vector."""
        self.numeric_cols = np.concatenate(
            [d.cols for d in self.dims if d.kind in ("float", "int")] or [np.empty(0, dtype=int)]
        ).astype(int)
        """Columns of the float and int parameters."""
        self.float_cols = np.array([d.cols[0] for d in self.dims if d.kind == "float"], dtype=int)
        """Columns of the float parameters."""

    @property
    def searchable(self) -> bool:
        """Whether any parameter has more than one possible value (a column)."""
        return self.width > 0

    def encode(self, config: Mapping[ParamPath, Any]) -> Raw | None:
        """Return the raw form of ``config``, or None if this space cannot produce it."""
        raw: list[Any] = []
        for d in self.dims:
            if d.path not in config:
                return None
            value = config[d.path]
            if isinstance(d.spec, Categorical):
                k = canonical(value)
                idx = next((i for i, v in enumerate(d.values) if canonical(v) == k), None)
                if idx is None:
                    return None
                raw.append(idx)
            elif d.kind == "fixed":
                raw.append(0)
            else:
                if not is_finite_number(value):
                    return None
                raw.append(value)
        return tuple(raw)

    def config_of(self, raw: Sequence[Any]) -> FlatConfig:
        """Return the flat config of a raw tuple, constants included, in the space's order."""
        flat: dict[ParamPath, Any] = dict(self._constants)
        for d, r in zip(self.dims, raw, strict=True):
            if isinstance(d.spec, Categorical):
                flat[d.path] = d.values[int(r)]
            elif d.kind == "fixed":
                flat[d.path] = d.spec.min  # type: ignore[attr-defined]
            else:
                flat[d.path] = r
        return {p: flat[p] for p in self._space.paths}

    def unit(self, raw: Sequence[Any]) -> np.ndarray:
        """Return the unit vector of a raw tuple."""
        x = np.zeros(self.width)
        for d, r in zip(self.dims, raw, strict=True):
            if d.kind in ("float", "int"):
                x[d.cols[0]] = d.spec.to_unit(r)  # type: ignore[attr-defined]
            elif d.kind == "categorical":
                x[d.cols[int(r)]] = 1.0
        return x

    def raw_of_unit(self, x: np.ndarray) -> Raw:
        """Return the raw tuple of a unit vector (a categorical takes its largest column)."""
        raw: list[Any] = []
        for d in self.dims:
            if d.kind in ("float", "int"):
                raw.append(d.spec.from_unit(float(x[d.cols[0]])))  # type: ignore[attr-defined]
            elif d.kind == "categorical":
                raw.append(int(np.argmax(x[d.cols])))
            else:
                raw.append(0)
        return tuple(raw)

    def raw_at_quantiles(self, u: np.ndarray) -> Raw:
        """Return the configuration at prior quantiles ``u`` (one in [0, 1) per parameter,
        a categorical's taken from its prior probabilities)."""
        raw: list[Any] = []
        for d, ui in zip(self.dims, u, strict=True):
            if d.kind in ("float", "int"):
                raw.append(d.spec.from_unit(float(ui)))  # type: ignore[attr-defined]
            elif d.kind == "categorical":
                cum = np.cumsum(d.weights)
                raw.append(int(min(np.searchsorted(cum, ui, side="right"), len(d.values) - 1)))
            else:
                raw.append(0)
        return tuple(raw)

    def snap(self, X: np.ndarray) -> np.ndarray:
        """Move the rows of ``X`` onto values that can actually run (ints, quantised floats),
        in place, and return ``X``."""
        for d in self.dims:
            if d.kind == "int":
                c = d.cols[0]
                n = d.n_ints
                k = np.clip(np.floor(X[:, c] * n), 0, n - 1)
                X[:, c] = (k + 0.5) / n
            elif d.kind == "float" and getattr(d.spec, "step", None) is not None:
                c = d.cols[0]
                spec = d.spec
                X[:, c] = [spec.to_unit(spec.from_unit(u)) for u in X[:, c]]  # type: ignore[attr-defined]
        return X

    def random_rows(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` unit vectors uniformly (numbers not snapped; one-hot categoricals)."""
        X = rng.random((n, self.width))
        for d in self.dims:
            if d.kind == "categorical":
                X[:, d.cols] = 0.0
                X[np.arange(n), d.cols[rng.integers(len(d.cols), size=n)]] = 1.0
        return X
