"""The one table from search method to proposer, and the functions that build from a config."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from raysweep.sweep.model import Method, Metric, RaysweepOptions, SweepConfig
from raysweep.sweep.space import SearchSpace

from ._base import Proposer
from .bayes import BayesProposer
from .grid import GridProposer
from .random import RandomProposer

if TYPE_CHECKING:
    from ._adapter import TuneSearcher

__all__ = ["SEARCHERS", "ProposerFactory", "make_proposer", "make_searcher"]


class ProposerFactory(Protocol):
    """Builds a proposer for a space; every entry of :data:`SEARCHERS` has this signature.

    A proposer that reads ``raysweep:`` options has a ``from_options`` class method of this
    signature (random: ``unique``); one that reads none is registered through
    :func:`_ignoring_options`."""

    def __call__(
        self,
        space: SearchSpace,
        *,
        seed: int | None = None,
        metric: Metric | None = None,
        options: RaysweepOptions | None = None,
    ) -> Proposer: ...


def _ignoring_options(build: Callable[..., Proposer]) -> ProposerFactory:
    """The factory of a proposer that no ``raysweep:`` option changes."""

    def factory(
        space: SearchSpace,
        *,
        seed: int | None = None,
        metric: Metric | None = None,
        options: RaysweepOptions | None = None,
    ) -> Proposer:
        return build(space, seed=seed, metric=metric)

    return factory


SEARCHERS: dict[Method, ProposerFactory] = {
    Method.GRID: _ignoring_options(GridProposer),
    Method.RANDOM: RandomProposer.from_options,
    Method.BAYES: _ignoring_options(BayesProposer),
}
"""Search method -> proposer factory: the only place method names meet implementations."""


def make_proposer(cfg: SweepConfig, *, seed: int | None = None) -> Proposer:
    """Build the proposer for a sweep.

    Args:
        cfg: The sweep.
        seed: Overrides ``raysweep.seed`` from the file; None keeps it.

    Raises:
        ValueError: if no proposer is registered for ``cfg.method``.

    >>> from raysweep.sweep.config import from_dict
    >>> cfg = from_dict({"method": "grid", "parameters": {"x": {"values": [1, 2]}}})
    >>> type(make_proposer(cfg)).__name__
    'GridProposer'
    """
    factory = SEARCHERS.get(cfg.method)
    if factory is None:
        known = ", ".join(str(m) for m in SEARCHERS)
        raise ValueError(f"no proposer is registered for method {cfg.method!s}; known: {known}")
    return factory(
        cfg.parameters,
        seed=cfg.options.seed if seed is None else seed,
        metric=cfg.metric,
        options=cfg.options,
    )


def make_searcher(cfg: SweepConfig, *, seed: int | None = None) -> TuneSearcher:
    """Build the Ray Tune searcher for a sweep (imports Ray).

    Args:
        cfg: The sweep.
        seed: Overrides ``raysweep.seed`` from the file; None keeps it.
    """
    from ._adapter import TuneSearcher

    return TuneSearcher.from_config(cfg, make_proposer(cfg, seed=seed))
