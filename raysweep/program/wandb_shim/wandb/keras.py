"""W&B's older name for ``wandb.integration.keras``."""

from .integration.keras import *  # noqa: F403 - the same names, under W&B's older module name
from .integration.keras import __all__ as __all__
