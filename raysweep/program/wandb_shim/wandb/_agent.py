"""``wandb.sweep`` and ``wandb.agent``: in a trial, this trial's run; in a driver, the sweep.

W&B's tutorials define the sweep in Python and hand a function to the agent::

    sweep_id = wandb.sweep(sweep_config, project="demo")
    wandb.agent(sweep_id, function=train, count=5)

In a script run by ``raysweep run script.py`` (or a notebook after ``import raysweep.wandb``)
these calls reach raysweep's driver (:mod:`raysweep.program.wandb_driver`), which runs the
sweep on Ray with ``train`` as its function trials. Inside a trial (a program that calls
them itself), the sweep exists already and ``agent`` runs the function once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from raysweep.program.once import warn_once
from raysweep.program.wandb_driver import get_host, in_trial
from raysweep.program.wandb_init import SWEEP_ID_ENV

from . import _shim
from .errors import UsageError

__all__ = ["agent", "sweep"]

_HOW = ("run the script with `raysweep run script.py`, or in a notebook replace `import wandb` "
        "by `import raysweep.wandb as wandb`")


def sweep(
    sweep: Any = None,
    entity: str | None = None,
    project: str | None = None,
    prior_runs: Any = None,
    **kwargs: Any,
) -> str:
    """``wandb.sweep``: register the sweep (in a driver) and return its id.

    In a trial the sweep exists already: its id comes back. ``prior_runs`` (runs of W&B's
    server) has no meaning here and is ignored with a warning.
    """
    if in_trial():
        warn_once(
            "sweep",
            "wandb.sweep() does nothing under raysweep: raysweep runs the sweep itself (this "
            "trial is one of its runs)",
        )
        return os.environ.get(SWEEP_ID_ENV) or "raysweep"
    host = get_host()
    if host is None:
        raise UsageError(f"wandb.sweep() needs raysweep's driver here: {_HOW}")
    if prior_runs:
        warn_once("sweep-prior-runs",
                  "wandb.sweep(prior_runs=...) names runs of a W&B server; raysweep ignores it")
    return host.sweep(sweep, entity=entity, project=project)


def agent(
    sweep_id: str | None = None,
    function: Callable[[], Any] | None = None,
    entity: str | None = None,
    project: str | None = None,
    count: int | None = None,
    **kwargs: Any,
) -> Any:
    """``wandb.agent``: run the sweep (in a driver), or the function once (in a trial).

    In a driver, up to ``count`` trials run on Ray, each calling ``function()`` as W&B's
    agent does (no arguments); the sweep's results come back (W&B returns None, so scripts
    that ignore the value behave the same).
    """
    if in_trial():
        return _run_once(function)
    host = get_host()
    if host is None:
        raise UsageError(f"wandb.agent() needs raysweep's driver here: {_HOW}")
    if not sweep_id or not isinstance(sweep_id, str):
        raise UsageError(f"wandb.agent() needs the sweep id that wandb.sweep() returned, got "
                         f"{sweep_id!r}")
    if function is not None and not callable(function):
        raise UsageError(f"wandb.agent(function=...) must be callable, got {function!r}")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)
                              or count < 1):
        raise UsageError(f"wandb.agent(count=...) must be a positive whole number, got "
                         f"{count!r}")
    return host.agent(sweep_id, function, entity=entity, project=project, count=count)


def _run_once(function: Callable[[], Any] | None) -> None:
    warn_once(
        "agent",
        "wandb.agent() under raysweep runs the function once: raysweep starts one trial per "
        "configuration and `count` is set with `raysweep run --count`",
    )
    if function is None:
        return
    try:
        function()
    except BaseException:
        if _shim.run is not None:
            _shim.run._end(report=False)
        raise
    _shim.finish()
