"""Grid search with W&B's order, equality and completion rules.

W&B (its sweeps engine's ``grid_search.py``) enumerates the product of the
non-constant parameters in its parameter order (keys sorted at each level, depth first) with the
last one varying fastest, drops repeated values of a parameter (yaml-hash equality:
``3e6 == 3000000``, ``True != 1``), treats every existing run, in any state, as having used its
combination, and proposes the first unused combination until none is left.
:meth:`raysweep.sweep.space.SearchSpace.grid` defines the order; this module adds the "seen"
bookkeeping.

Combinations are addressed by their index in that order (a mixed-radix number whose last digit
is the last parameter), so the state is a few integers rather than a list of configs, and a
config maps back to its index without walking the grid.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from raysweep.sweep.equality import canonical
from raysweep.sweep.space import ParamPath, SearchSpace

from ._base import FlatConfig

if TYPE_CHECKING:
    from raysweep.sweep.model import Metric

__all__ = ["GridProposer"]

_STATE_VERSION = 1


class GridProposer:
    """Proposes every combination of a grid once, in W&B's order.

    Args:
        space: The search space; every non-constant parameter must be enumerable (categorical,
            int_uniform, q_uniform), which :func:`raysweep.sweep.config.load` checks for grid
            sweeps.
        seed: Ignored (the order is fixed); accepted so every proposer is built alike.
        metric: Ignored (grid search does not learn).

    Raises:
        ValueError: if a parameter cannot be enumerated.

    >>> from raysweep.sweep.config import from_dict
    >>> cfg = from_dict({"method": "grid", "parameters": {
    ...     "b": {"values": [1, 2]}, "a": {"values": ["x", "y"]}, "c": {"value": 0}}})
    >>> grid = GridProposer(cfg.parameters)
    >>> [(c[("a",)], c[("b",)]) for c in iter(grid.propose, None)]
    [('x', 1), ('x', 2), ('y', 1), ('y', 2)]
    """

    def __init__(
        self, space: SearchSpace, *, seed: int | None = None, metric: Metric | None = None
    ) -> None:
        self._space = space
        axes = space.grid_axes()
        self._paths: list[ParamPath] = [path for path, _ in axes]
        self._values: list[list[Any]] = [values for _, values in axes]
        # Value positions per axis under W&B's equality, to turn a config back into its index.
        self._lookup: list[dict[Any, int]] = [
            {canonical(v): i for i, v in enumerate(values)} for values in self._values
        ]
        # Keys of each axis's dict values: a run's dict value may carry keys the program added
        # at run time, which W&B strips before comparing (wandb/sweeps#121).
        self._dict_keys: list[set[str] | None] = [
            {str(k) for v in values if isinstance(v, Mapping) for k in v}
            if any(isinstance(v, Mapping) for v in values)
            else None
            for values in self._values
        ]
        # Stride of each axis: the last axis varies fastest, as in itertools.product.
        self._strides: list[int] = []
        stride = 1
        for values in reversed(self._values):
            self._strides.append(stride)
            stride *= len(values)
        self._strides.reverse()
        self._size = math.prod(len(values) for values in self._values)
        self._constants = space.constants()
        # Every index below _position is used; _seen holds used indices at or above it.
        self._position = 0
        self._seen: set[int] = set()


    @property
    def size(self) -> int:
        """Number of distinct combinations (``space.grid_size()``)."""
        return self._size

    @property
    def remaining(self) -> int:
        """Number of combinations not yet proposed or marked seen."""
        return self._size - self._position - len(self._seen)

    def config_at(self, index: int) -> FlatConfig:
        """Return the combination at ``index`` of the grid order (constants included).

        Raises:
            IndexError: if ``index`` is outside ``[0, size)``.
        """
        if not 0 <= index < self._size:
            raise IndexError(f"`0 <= index < {self._size}` must hold, but got index={index}")
        flat: FlatConfig = dict(self._constants)
        for path, values, stride in zip(self._paths, self._values, self._strides, strict=True):
            flat[path] = values[(index // stride) % len(values)]
        # Copies, so a trial that mutates a list or dict value cannot change the grid.
        return {path: copy.deepcopy(flat[path]) for path in self._space.paths}

    def index_of(self, config: FlatConfig) -> int | None:
        """Return the grid index of ``config``, or None if it is not a grid combination.

        Only the non-constant parameters count, as in W&B, so a config from a run whose
        constants differ still uses its combination. Keys that a run added to a dict value
        (absent from every dict value of that parameter) are ignored, as in W&B.
        """
        index = 0
        for axis, (path, stride) in enumerate(zip(self._paths, self._strides, strict=True)):
            if path not in config:
                return None
            position = self._position_of(axis, config[path])
            if position is None:
                return None
            index += position * stride
        return index

    def _position_of(self, axis: int, value: Any) -> int | None:
        lookup = self._lookup[axis]
        position = lookup.get(canonical(value))
        keys = self._dict_keys[axis]
        if position is None and keys is not None and isinstance(value, Mapping):
            stripped = {k: v for k, v in value.items() if str(k) in keys}
            position = lookup.get(canonical(stripped))
        return position

    def mark_seen(self, config: FlatConfig) -> bool:
        """Mark a combination as used, e.g. by a trial of an earlier session.

        Returns:
            True if ``config`` is a grid combination, False if it is not (then it is ignored).
        """
        index = self.index_of(config)
        if index is None:
            return False
        if index >= self._position:
            self._seen.add(index)
            self._advance()
        return True

    def propose(self) -> FlatConfig | None:
        """Return the first combination not yet used, or None when every one is."""
        if self._position >= self._size:
            return None
        config = self.config_at(self._position)
        self._position += 1
        self._advance()
        return config

    def observe(self, config: FlatConfig, loss: float | None) -> None:
        """Mark the trial's combination as used; failed trials are not retried (as in W&B)."""
        self.mark_seen(config)

    def get_state(self) -> dict[str, Any]:
        """Return ``{"version", "size", "position", "seen"}``: JSON-ready integers.

        ``seen`` lists the indices at or past ``position`` that are already used (every index
        below ``position`` is used).
        """
        return {
            "version": _STATE_VERSION,
            "size": self._size,
            "position": self._position,
            "seen": sorted(self._seen),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`get_state`'s output on a proposer built from the same space.

        Raises:
            ValueError: if the state is from another version or a grid of another size.
        """
        if state.get("version") != _STATE_VERSION:
            raise ValueError(
                f"grid state version must be {_STATE_VERSION}, but got {state.get('version')!r}"
            )
        if state.get("size") != self._size:
            raise ValueError(
                f"the saved grid has {state.get('size')!r} combinations but this space has "
                f"{self._size}: the sweep's parameters changed since it was saved"
            )
        self._position = int(state["position"])
        self._seen = {int(i) for i in state["seen"] if int(i) >= self._position}
        self._advance()

    def _advance(self) -> None:
        """Move the position past used indices, so it always points at the first unused one."""
        while self._position in self._seen:
            self._seen.discard(self._position)
            self._position += 1
