"""W&B's ``wandb.sdk``: the few names that integrations import from it.

Lightning's ``WandbLogger`` checks ``isinstance(run, (wandb.wandb_run.Run,
wandb.sdk.lib.RunDisabled))``; Hugging Face's callback catches
``wandb.sdk.lib.config_util.ConfigError``. Any other name is a no-op.
"""

from __future__ import annotations

from typing import Any

from .._modules import submodule_or_soft

__all__: list[str] = []


def __getattr__(name: str) -> Any:
    return submodule_or_soft(__name__, __file__, name)
