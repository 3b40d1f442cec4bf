"""W&B's framework integrations, logging through the stand-in as they log to W&B.

``keras``, ``xgboost``, ``lightgbm`` and ``sklearn`` are real modules (each needs its
framework installed, as W&B's do); the names they log come from
:mod:`raysweep.program.wandb_integrations`. Any other integration is a no-op module.
"""

from __future__ import annotations

from typing import Any

from .._modules import submodule_or_soft

__all__: list[str] = []


def __getattr__(name: str) -> Any:
    return submodule_or_soft(__name__, __file__, name)
