"""The one table from search method to proposer, and the functions that build from a config."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from raysweep.errors import RaysweepError
from raysweep.sweep.config import AX_MISSING, OPTUNA_MISSING
from raysweep.sweep.model import Engine, Method, Metric, RaysweepOptions, SweepConfig
from raysweep.sweep.space import SearchSpace

from ._base import Proposer
from ._engine import quiet_import
from .bayes import BayesProposer
from .grid import GridProposer
from .random import RandomProposer

if TYPE_CHECKING:
    from ._adapter import TuneSearcher

__all__ = [
    "AX_MISSING",
    "ENGINES",
    "OPTUNA_MISSING",
    "SEARCHERS",
    "EngineFactory",
    "ProposerFactory",
    "check_engine",
    "make_proposer",
    "make_searcher",
]


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


class EngineFactory(Protocol):
    """Builds the proposer of a ``scheduler.engine`` (W&B's 2026 schema) for a whole sweep:
    the engine reads ``scheduler`` and every objective, and keeps its state in ``sweep_dir``
    (None: in memory)."""

    def __call__(
        self, cfg: SweepConfig, *, seed: int | None, sweep_dir: Path | None
    ) -> Proposer: ...


def _optuna(cfg: SweepConfig, *, seed: int | None, sweep_dir: Path | None) -> Proposer:
    # Imported here: Optuna is an optional extra, and heavy.
    from .optuna import OptunaProposer

    return OptunaProposer.from_config(cfg, seed=seed, sweep_dir=sweep_dir)


def _ax(cfg: SweepConfig, *, seed: int | None, sweep_dir: Path | None) -> Proposer:
    # Imported here: Ax is an optional extra, and heavy (torch, BoTorch).
    from .ax import AxProposer

    return AxProposer.from_config(cfg, seed=seed, sweep_dir=sweep_dir)


ENGINES: dict[Engine, EngineFactory] = {Engine.OPTUNA: _optuna, Engine.AX: _ax}
"""``scheduler.engine`` -> proposer factory, for engines other than W&B's (whose proposer is
the method's, in :data:`SEARCHERS`)."""

_ENGINE_PACKAGES: dict[Engine, tuple[str, str]] = {
    Engine.OPTUNA: ("optuna", OPTUNA_MISSING),
    Engine.AX: ("ax", AX_MISSING),
}


def check_engine(cfg: SweepConfig) -> None:
    """Raise if the sweep's engine needs a package that is not installed. Call it before Ray
    starts: the proposer is built after.

    Raises:
        RaysweepError: the engine's package is missing (the message says how to install it).

    >>> from raysweep.sweep.config import from_dict
    >>> check_engine(from_dict({"method": "grid", "parameters": {"x": {"values": [1]}}}))
    """
    needed = _ENGINE_PACKAGES.get(cfg.engine)
    if needed is None:
        return
    package, message = needed
    try:
        with quiet_import():  # the engine's import is the proposer's first
            __import__(package)
    except ImportError:
        raise RaysweepError(message) from None


def make_proposer(
    cfg: SweepConfig, *, seed: int | None = None, sweep_dir: Path | None = None
) -> Proposer:
    """Build the proposer for a sweep.

    Args:
        cfg: The sweep.
        seed: Overrides ``raysweep.seed`` from the file; None keeps it.
        sweep_dir: The sweep directory, where an engine keeps its state (Optuna's study) for
            ``raysweep resume``; None keeps it in memory. W&B's methods keep none there.

    Raises:
        ValueError: if no proposer is registered for ``cfg.method`` (or its engine).
        RaysweepError: the engine's package is missing, or its proposer cannot be built from
            the user's hooks (``scheduler.source``).

    >>> from raysweep.sweep.config import from_dict
    >>> cfg = from_dict({"method": "grid", "parameters": {"x": {"values": [1, 2]}}})
    >>> type(make_proposer(cfg)).__name__
    'GridProposer'
    """
    seed = cfg.options.seed if seed is None else seed
    if cfg.engine is not Engine.WANDB:
        engine = ENGINES.get(cfg.engine)
        if engine is None:
            known = ", ".join(str(e) for e in ENGINES)
            raise ValueError(f"no proposer is registered for engine {cfg.engine!s}; "
                             f"known: {known}")
        check_engine(cfg)
        return engine(cfg, seed=seed, sweep_dir=sweep_dir)
    factory = SEARCHERS.get(cfg.method)
    if factory is None:
        known = ", ".join(str(m) for m in SEARCHERS)
        raise ValueError(f"no proposer is registered for method {cfg.method!s}; known: {known}")
    return factory(
        cfg.parameters,
        seed=seed,
        metric=cfg.metric,
        options=cfg.options,
    )


def make_searcher(
    cfg: SweepConfig, *, seed: int | None = None, sweep_dir: Path | None = None
) -> TuneSearcher:
    """Build the Ray Tune searcher for a sweep (imports Ray).

    Args:
        cfg: The sweep.
        seed: Overrides ``raysweep.seed`` from the file; None keeps it.
        sweep_dir: The sweep directory (see :func:`make_proposer`).
    """
    from ._adapter import TuneSearcher

    return TuneSearcher.from_config(cfg, make_proposer(cfg, seed=seed, sweep_dir=sweep_dir))
