"""W&B's LightGBM integration: ``wandb_callback()`` and ``log_summary``.

Each boosting round is one row: every evaluation result as ``<data>_<metric>``
(``valid_0_l2``, ``training_binary_logloss``; cross-validation gives ``<data>_<metric>-mean``
and ``-stdv``) with ``iteration``. At the first round the training parameters go into
``wandb.config`` and the metrics LightGBM minimises get a ``min`` summary, AUC-like ones
``max``. ``log_summary`` puts ``best_iteration`` and ``best_score`` into the summary; its
feature-importance plot and model checkpoint are not made (there is no W&B server).
"""

from __future__ import annotations

from typing import Any

from lightgbm import Booster

from raysweep.program.once import warn_once
from raysweep.program.wandb_integrations import (
    LIGHTGBM_MAXIMIZE,
    LIGHTGBM_MINIMIZE,
    lightgbm_names,
    lightgbm_row,
    summary_mode,
)

from .. import _shim
from ..errors import Error

__all__ = ["log_summary", "wandb_callback"]


class _WandbCallback:
    """LightGBM's callback protocol: called after each round with its ``env``."""

    def __init__(self, log_params: bool, define_metric: bool) -> None:
        self.order = 20  # LightGBM runs callbacks by `order`: after its own recorders
        self.before_iteration = False
        self.log_params = log_params
        self.define_metric = define_metric

    def _first_round(self, env: Any) -> None:
        if self.log_params:
            _shim.config.update(dict(env.params), allow_val_change=True)
        if self.define_metric:
            for name, metric in lightgbm_names(env.evaluation_result_list):
                mode = summary_mode(metric, LIGHTGBM_MINIMIZE, LIGHTGBM_MAXIMIZE)
                if mode is not None:
                    _shim.define_metric(name, summary=mode)

    def __call__(self, env: Any) -> None:
        if env.iteration == env.begin_iteration:
            self._first_round(env)
        row = lightgbm_row(env.evaluation_result_list or ())
        _shim.log({**row, "iteration": env.iteration})


def wandb_callback(log_params: bool = True, define_metric: bool = True) -> _WandbCallback:
    """Return a LightGBM callback that logs each round's evaluation results.

    Args:
        log_params: Put the training parameters into ``wandb.config`` (W&B's default).
        define_metric: Declare ``min``/``max`` summaries for the metrics (W&B's default).
    """
    return _WandbCallback(log_params, define_metric)


def log_summary(
    model: Booster, feature_importance: bool = True, save_model_checkpoint: bool = False
) -> None:
    """Put the booster's ``best_iteration`` and ``best_score`` into the run's summary.

    Args:
        model: The trained ``lightgbm.Booster``.
        feature_importance: W&B logs a bar chart; here nothing is logged.
        save_model_checkpoint: W&B uploads the best model; here it is not (one warning).

    Raises:
        wandb.Error: No run was started, or ``model`` is not a ``lightgbm.Booster``.
    """
    run = _shim.run
    if run is None:
        raise Error("You must call wandb.init() before WandbCallback()")
    if not isinstance(model, Booster):
        raise Error("Model should be an instance of lightgbm.basic.Booster")
    run.summary["best_iteration"] = model.best_iteration
    # {data: {metric: value}}, in LightGBM's defaultdicts: plain dicts for summary.json.
    run.summary["best_score"] = {data: dict(scores) for data, scores in model.best_score.items()}
    if save_model_checkpoint:
        warn_once(
            "lightgbm-checkpoint",
            "wandb.integration.lightgbm: log_summary(save_model_checkpoint=True) uploads no "
            "model under raysweep (there is no W&B server); save it yourself to keep it",
        )
