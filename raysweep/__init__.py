"""raysweep: run Weights & Biases sweep files on your own machines and clusters, on Ray.

The public API is re-exported here. Heavy parts (Ray, pandas) load only when used, so
``import raysweep`` and the ``raysweep validate`` / ``preview`` commands start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from raysweep.errors import (
    Issue,
    ProgramFailedError,
    ProgramStartError,
    RaysweepError,
    RaysweepWarning,
    ReportLineError,
    SweepConfigError,
    UnsupportedSweepError,
)
from raysweep.program.checkpoint import restore
from raysweep.program.metrics import log
from raysweep.sweep.config import from_dict, load, loads
from raysweep.sweep.model import SweepConfig

if TYPE_CHECKING:
    from raysweep.agent_host import use_wandb
    from raysweep.api import SweepResult, results, resume, run
    from raysweep.dashboard.handle import open_dashboard

__all__ = [
    "Issue",
    "ProgramFailedError",
    "ProgramStartError",
    "RaysweepError",
    "RaysweepWarning",
    "ReportLineError",
    "SweepConfig",
    "SweepConfigError",
    "SweepResult",
    "UnsupportedSweepError",
    "from_dict",
    "load",
    "loads",
    "log",
    "open_dashboard",
    "restore",
    "results",
    "resume",
    "run",
    "use_wandb",
]

__version__ = "0.1.0"

_LAZY = {"run": "api", "results": "api", "resume": "api", "SweepResult": "api",
         "use_wandb": "agent_host", "open_dashboard": "dashboard.handle"}


def __getattr__(name: str) -> Any:
    # Import the Ray-dependent API on first use only.
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module 'raysweep' has no attribute {name!r}")
