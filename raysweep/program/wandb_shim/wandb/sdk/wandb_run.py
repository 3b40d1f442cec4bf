"""W&B's ``wandb.sdk.wandb_run``: the stand-in's :class:`Run`."""

from .._shim import Run

__all__ = ["Run"]
