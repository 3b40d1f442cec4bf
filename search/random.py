"""Random search: independent draws from each parameter's prior, as W&B's ``random_search.py``.

W&B's random search never ends by itself and may repeat a configuration (wandb/wandb#4682).
raysweep keeps that by default; ``unique=True`` (``raysweep: {unique: true}``) opts into
"without replacement": a configuration already proposed or observed is drawn again, and the
sweep ends when the space is used up. For a space of only constants, categoricals and integer
ranges the size is exact; otherwise the space is deemed used up after ``max_draws`` draws in a
row that all repeat.
"""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from raysweep.sweep.space import SearchSpace

from ._base import FlatConfig
from ._support import configurations, finite_size

if TYPE_CHECKING:
    from raysweep.sweep.model import Metric, RaysweepOptions

__all__ = ["RandomProposer"]

_STATE_VERSION = 1


class RandomProposer:
    """Draws each parameter independently from its distribution.

    Args:
        space: The search space.
        seed: Seed of ``numpy.random.default_rng``; None draws fresh entropy.
        metric: Ignored (random search does not learn).
        unique: Never propose a configuration twice (W&B's equality of values); return None
            once the space is used up.
        max_draws: With ``unique``, how many repeated draws in a row make a space whose size
            is not known count as used up.

    >>> from raysweep.sweep.config import from_dict
    >>> cfg = from_dict({"method": "random", "parameters": {"x": {"values": [1, 2, 3]}}})
    >>> proposer = RandomProposer(cfg.parameters, seed=0, unique=True)
    >>> sorted(c[("x",)] for c in iter(proposer.propose, None))
    [1, 2, 3]
    """

    def __init__(
        self,
        space: SearchSpace,
        *,
        seed: int | None = None,
        metric: Metric | None = None,
        unique: bool = False,
        max_draws: int = 1000,
    ) -> None:
        if max_draws < 1:
            raise ValueError(f"`max_draws >= 1` must hold, but got max_draws={max_draws}")
        self._space = space
        self._rng = np.random.default_rng(seed)
        self._unique = unique
        self._max_draws = max_draws
        self._size = finite_size(space)
        self._seen: set[tuple[Any, ...]] = set()

    @classmethod
    def from_options(
        cls,
        space: SearchSpace,
        *,
        seed: int | None = None,
        metric: Metric | None = None,
        options: RaysweepOptions | None = None,
    ) -> RandomProposer:
        """Build the proposer of a sweep, reading ``raysweep: {unique}``."""
        unique = options.unique if options is not None else False
        return cls(space, seed=seed, metric=metric, unique=unique)

    @property
    def size(self) -> int | None:
        """Exact number of distinct configurations, or None if unknown (continuous)."""
        return self._size

    def propose(self) -> FlatConfig | None:
        """Return a fresh draw; with ``unique``, an unseen one, or None when none is left."""
        if not self._unique:
            return self._draw()
        if self._size is not None and len(self._seen) >= self._size:
            # Probably used up; enumerating settles it (a seen value of probability 0 counts
            # in ``_seen`` but not in the size).
            return self._draw_unseen()
        for _ in range(self._max_draws):
            config = self._draw()
            key = self._space.key(config)
            if key not in self._seen:
                self._seen.add(key)
                return config
        if self._size is None:
            return None
        # Known finite space, mostly used up: rejection sampling would need many draws, so
        # draw from the unseen configurations weighted by their prior probability, which is
        # the same distribution rejection sampling converges to.
        return self._draw_unseen()

    def observe(self, config: FlatConfig, loss: float | None) -> None:
        """With ``unique``, mark the trial's configuration as used (it may come from an
        earlier session); otherwise do nothing."""
        self.mark_seen(config)

    def mark_seen(self, config: FlatConfig) -> None:
        """With ``unique``, never propose ``config`` again; without, do nothing."""
        if self._unique and self._space.contains(config):
            self._seen.add(self._space.key(config))

    def get_state(self) -> dict[str, Any]:
        """Return ``{"version", "rng", "seen"}``: numpy's bit-generator state (a JSON-ready
        dict) and the seen configurations' keys (nested lists once through JSON)."""
        return {
            "version": _STATE_VERSION,
            "rng": self._rng.bit_generator.state,
            # Sorted so that equal states write equal files (set order varies by process).
            "seen": sorted((_to_json(key) for key in self._seen), key=repr),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`get_state`'s output, possibly after a JSON round trip.

        Raises:
            ValueError: if the state is from another version.
        """
        if state.get("version") != _STATE_VERSION:
            raise ValueError(
                f"random state version must be {_STATE_VERSION}, "
                f"but got {state.get('version')!r}"
            )
        self._rng.bit_generator.state = state["rng"]
        self._seen = {_to_key(key) for key in state["seen"]}

    def _draw(self) -> FlatConfig:
        # Copies, so a trial that mutates a list or dict value cannot change the space.
        return copy.deepcopy(self._space.sample(self._rng))

    def _draw_unseen(self) -> FlatConfig | None:
        candidates: list[FlatConfig] = []
        weights: list[float] = []
        for config, weight in configurations(self._space):
            if weight > 0 and self._space.key(config) not in self._seen:
                candidates.append(config)
                weights.append(weight)
        if not candidates:
            return None
        p = np.asarray(weights) / math.fsum(weights)
        config = candidates[int(self._rng.choice(len(candidates), p=p))]
        self._seen.add(self._space.key(config))
        return copy.deepcopy(config)


def _to_json(key: Any) -> Any:
    if isinstance(key, tuple):
        return [_to_json(k) for k in key]
    return key


def _to_key(data: Any) -> Any:
    # canonical() builds keys from tuples and scalars only, so every JSON list was a tuple.
    if isinstance(data, list):
        return tuple(_to_key(d) for d in data)
    return data
