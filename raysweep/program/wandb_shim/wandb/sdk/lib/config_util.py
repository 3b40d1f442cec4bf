"""W&B's ``wandb.sdk.lib.config_util``: its ``ConfigError`` is the stand-in's."""

from raysweep.program.wandb_config import ConfigError

__all__ = ["ConfigError"]
