"""W&B's older name for ``wandb.integration.xgboost``."""

from .integration.xgboost import *  # noqa: F403 - the same names, under W&B's older module name
from .integration.xgboost import __all__ as __all__
