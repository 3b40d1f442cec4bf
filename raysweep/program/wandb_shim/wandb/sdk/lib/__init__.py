"""W&B's ``wandb.sdk.lib``: ``RunDisabled`` and ``config_util``; any other name is a no-op."""

from __future__ import annotations

from typing import Any

from ..._modules import submodule_or_soft

__all__ = ["RunDisabled"]


class RunDisabled:
    """W&B's run of ``mode="disabled"``: the stand-in never makes one (a class for
    ``isinstance`` checks)."""


def __getattr__(name: str) -> Any:
    return submodule_or_soft(__name__, __file__, name)
