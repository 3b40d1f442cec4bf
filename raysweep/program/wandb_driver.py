"""Who answers ``wandb.sweep`` and ``wandb.agent`` when a script calls them outside a trial.

Inside a trial (``WANDB_RUN_ID`` is set) the sweep exists already: the stand-in's
``wandb.agent`` runs its function once, as this trial's run. Outside one (the script run by
``raysweep run script.py``, a notebook after ``import raysweep.wandb``) the calls are the
sweep itself: raysweep's driver registers a :class:`SweepHost` here, which turns each
``wandb.agent`` call into a raysweep sweep on Ray. The host lives in raysweep's top layer
(:mod:`raysweep.agent_host`); the stand-in only knows this hook, so the dependency runs one
way.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from raysweep.program.wandb_init import RUN_ID_ENV

__all__ = ["SweepHost", "get_host", "in_trial", "set_host"]


class SweepHost(Protocol):
    """What runs the sweeps of ``wandb.sweep`` / ``wandb.agent`` calls made in a driver."""

    def sweep(self, sweep: Any, *, entity: str | None, project: str | None) -> str:
        """Register a sweep (a config dict, a callable returning one, a sweep file or the id
        of an existing sweep); return its id."""

    def agent(
        self,
        sweep_id: str,
        function: Callable[[], Any] | None,
        *,
        entity: str | None,
        project: str | None,
        count: int | None,
    ) -> Any:
        """Run up to ``count`` trials of the sweep ``sweep_id``; return its results."""


_host: SweepHost | None = None


def set_host(host: SweepHost | None) -> SweepHost | None:
    """Register the host of driver-side calls (None: none); return the one registered before."""
    global _host
    previous = _host
    _host = host
    return previous


def get_host() -> SweepHost | None:
    """The registered host, or None."""
    return _host


def in_trial(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process runs a trial of a sweep (the agent's ``WANDB_RUN_ID`` is set).

    >>> in_trial({"WANDB_RUN_ID": "t1"}), in_trial({})
    (True, False)
    """
    env = os.environ if environ is None else environ
    return bool(env.get(RUN_ID_ENV))
