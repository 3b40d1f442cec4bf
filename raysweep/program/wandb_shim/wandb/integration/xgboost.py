"""W&B's XGBoost integration: ``WandbCallback`` (and the older ``wandb_callback()``).

The callback is a real ``xgboost.callback.TrainingCallback`` (XGBoost refuses anything
else). Each boosting round is one row: every evaluation metric as ``<data>-<metric>``
(``validation_0-rmse``, ``train-logloss``) with ``epoch``, the round; losses and the
metrics XGBoost minimises get a ``min`` summary, AUC-like ones ``max``. After training,
``best_score`` and ``best_iteration`` (early stopping) are logged, and the booster's
configuration goes into ``wandb.config``. Model artifacts and the feature-importance plot
are not made (there is no W&B server to show them).
"""

from __future__ import annotations

import json
from typing import Any

from xgboost.callback import TrainingCallback

from raysweep.program.once import warn_once
from raysweep.program.wandb_integrations import (
    XGBOOST_MAXIMIZE,
    XGBOOST_MINIMIZE,
    summary_mode,
    xgboost_row,
)

from .. import _shim
from ..errors import Error

__all__ = ["WandbCallback", "wandb_callback"]


def _declare(names: list[str]) -> None:
    for name in names:
        metric = name.split("-", 1)[-1]
        mode = summary_mode(metric, XGBOOST_MINIMIZE, XGBOOST_MAXIMIZE)
        if mode is not None:
            _shim.define_metric(name, summary=mode)


class WandbCallback(TrainingCallback):
    """Log XGBoost's evaluation metrics each round, as W&B's ``WandbCallback`` does.

    Args:
        log_model: W&B uploads the model as an artifact; here it is not saved (one warning).
        log_feature_importance: W&B logs a bar chart; here nothing is logged.
        importance_type: For the feature importance; accepted.
        define_metric: Declare ``min``/``max`` summaries for the metrics (W&B's default).

    Raises:
        wandb.Error: No run was started (``wandb.init()``) before the callback was made.
    """

    def __init__(
        self,
        log_model: bool = False,
        log_feature_importance: bool = True,
        importance_type: str = "gain",
        define_metric: bool = True,
    ) -> None:
        super().__init__()
        if _shim.run is None:
            raise Error("You must call wandb.init() before WandbCallback()")
        self.log_model = log_model
        self.log_feature_importance = log_feature_importance
        self.importance_type = importance_type
        self.define_metric = define_metric

    def before_training(self, model: Any) -> Any:
        """Put the booster's configuration (``learner``, ``version``) into the config."""
        try:
            _shim.config.update(json.loads(model.save_config()), allow_val_change=True)
        except (AttributeError, TypeError, ValueError):
            pass  # a booster without a JSON config: nothing to record
        return model

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        """Log this round's metrics as one row; never stop training."""
        row = xgboost_row(evals_log)
        if self.define_metric:
            _declare(list(row))
            self.define_metric = False  # W&B declares them once, at the first round
        _shim.log({**row, "epoch": epoch})
        return False

    def after_training(self, model: Any) -> Any:
        """Log ``best_score`` and ``best_iteration`` when XGBoost kept them."""
        if self.log_model:
            warn_once(
                "xgboost-log_model",
                "wandb.integration.xgboost: WandbCallback(log_model=True) uploads no model "
                "under raysweep (there is no W&B server); save it yourself to keep it",
                stacklevel=4,
            )
        best_score = model.attr("best_score")
        if best_score is not None:
            _shim.log({"best_score": float(best_score),
                       "best_iteration": int(model.attr("best_iteration"))})
        return model


class _LegacyCallback(WandbCallback):
    """What ``wandb_callback()`` returns: callable with XGBoost's old ``env`` argument (as
    W&B's was) and a ``TrainingCallback`` too, so current XGBoost accepts it."""

    def __init__(self) -> None:
        super().__init__(log_feature_importance=False, define_metric=False)

    def __call__(self, env: Any) -> None:
        _shim.log({key: value for key, value in env.evaluation_result_list})

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        _shim.log(xgboost_row(evals_log))
        return False

    def before_training(self, model: Any) -> Any:
        return model


def wandb_callback() -> _LegacyCallback:
    """W&B's older XGBoost callback: logs each round's metrics (no ``epoch``, no config)."""
    warn_once(
        "xgboost-wandb_callback",
        "wandb_callback will be deprecated in favor of WandbCallback. Please use "
        "WandbCallback for more features.",
    )
    return _LegacyCallback()

