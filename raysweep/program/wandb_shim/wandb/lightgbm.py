"""W&B's older name for ``wandb.integration.lightgbm``."""

from .integration.lightgbm import *  # noqa: F403 - the same names, under W&B's older module name
from .integration.lightgbm import __all__ as __all__
