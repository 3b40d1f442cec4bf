"""W&B's ``wandb.sklearn``: the scikit-learn charts, no-ops here (see
``wandb.integration.sklearn``)."""

from .integration.sklearn import *  # noqa: F403 - W&B's module re-exports them the same way
from .integration.sklearn import __all__ as __all__
