"""What W&B's framework integrations log, as rows: the stand-in's callbacks build on these.

Each function turns what a framework hands its callback (XGBoost's ``evals_log``, LightGBM's
``evaluation_result_list``, Keras's ``logs``) into the row W&B's own integration logs, under
the same names, so that a sweep file written for W&B finds its metric (``validation_0-rmse``,
``valid_0_l2``, ``epoch/val_loss``, ``val_loss``) in raysweep's results. Framework-free.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "KERAS_ACCURACY_HINTS",
    "LIGHTGBM_MAXIMIZE",
    "LIGHTGBM_MINIMIZE",
    "XGBOOST_MAXIMIZE",
    "XGBOOST_MINIMIZE",
    "improved",
    "keras_monitor_mode",
    "lightgbm_names",
    "lightgbm_row",
    "prefixed",
    "summary_mode",
    "xgboost_row",
]

XGBOOST_MINIMIZE = ("rmse", "rmsle", "mae", "mape", "mphe", "logloss", "error", "error@t",
                    "merror")
XGBOOST_MAXIMIZE = ("auc", "aucpr", "ndcg", "map", "ndcg@n", "map@n")
LIGHTGBM_MINIMIZE = ("l1", "l2", "rmse", "mape", "huber", "fair", "poisson", "gamma",
                     "binary_logloss")
LIGHTGBM_MAXIMIZE = ("map", "auc", "average_precision")
KERAS_ACCURACY_HINTS = ("acc",)
"""A monitored Keras metric whose name holds one of these (or starts with ``fmeasure``) is
maximised in ``mode="auto"``, as Keras decides."""


def summary_mode(
    metric: str, minimize: Iterable[str], maximize: Iterable[str]
) -> str | None:
    """The summary W&B's boosting integrations declare for a metric: ``min``, ``max`` or None.

    A name holding ``loss``, or listed in ``minimize``, is minimised; one in ``maximize`` is
    maximised (case-insensitive); any other keeps W&B's default (the last value).

    >>> summary_mode("RMSE", XGBOOST_MINIMIZE, XGBOOST_MAXIMIZE)
    'min'
    >>> summary_mode("auc", XGBOOST_MINIMIZE, XGBOOST_MAXIMIZE), summary_mode("r2", (), ())
    ('max', None)
    """
    name = metric.lower()
    if "loss" in name or name in minimize:
        return "min"
    if name in maximize:
        return "max"
    return None


def xgboost_row(evals_log: Mapping[str, Mapping[str, Sequence[Any]]]) -> dict[str, Any]:
    """The metrics of XGBoost's latest iteration: ``<data>-<metric>`` -> last value.

    >>> xgboost_row({"validation_0": {"rmse": [0.5, 0.4]}, "train": {"mae": [0.3]}})
    {'validation_0-rmse': 0.4, 'train-mae': 0.3}
    """
    return {f"{data}-{metric}": values[-1]
            for data, metrics in evals_log.items()
            for metric, values in metrics.items() if len(values)}


def lightgbm_row(evaluation_result_list: Iterable[Sequence[Any]]) -> dict[str, Any]:
    """One LightGBM iteration's results: ``<data>_<metric>`` -> value.

    Cross-validation results (five items: ``("cv_agg", "valid l2", mean, higher_better,
    stdv)``) give ``<data>_<metric>-mean`` and ``-stdv``.

    >>> lightgbm_row([("valid_0", "l2", 0.25, False), ("cv_agg", "valid auc", 0.9, True, 0.01)])
    {'valid_0_l2': 0.25, 'valid_auc-mean': 0.9, 'valid_auc-stdv': 0.01}
    """
    row: dict[str, Any] = {}
    for item in evaluation_result_list:
        if len(item) == 4:
            row[f"{item[0]}_{item[1]}"] = item[2]
        else:
            data, metric = str(item[1]).split(maxsplit=1)
            row[f"{data}_{metric}-mean"] = item[2]
            row[f"{data}_{metric}-stdv"] = item[4]
    return row


def lightgbm_names(evaluation_result_list: Iterable[Sequence[Any]]) -> list[tuple[str, str]]:
    """``(logged name, metric)`` pairs of :func:`lightgbm_row`, for declaring summaries.

    >>> lightgbm_names([("valid_0", "l2", 0.25, False), ("cv_agg", "valid auc", 0.9, True, 0)])
    [('valid_0_l2', 'l2'), ('valid_auc-mean', 'auc-mean'), ('valid_auc-stdv', 'auc-stdv')]
    """
    names: list[tuple[str, str]] = []
    for item in evaluation_result_list:
        if len(item) == 4:
            names.append((f"{item[0]}_{item[1]}", str(item[1])))
        else:
            data, metric = str(item[1]).split(maxsplit=1)
            names += [(f"{data}_{metric}-{part}", f"{metric}-{part}") for part in ("mean", "stdv")]
    return names


def prefixed(logs: Mapping[str, Any] | None, prefix: str) -> dict[str, Any]:
    """Keras's ``logs`` under W&B's section names (``epoch/loss``...).

    >>> prefixed({"loss": 0.5, "val_loss": 0.6}, "epoch/")
    {'epoch/loss': 0.5, 'epoch/val_loss': 0.6}
    """
    return {f"{prefix}{key}": value for key, value in (logs or {}).items()}


def keras_monitor_mode(monitor: str, mode: str) -> str:
    """``min`` or ``max``: how a monitored Keras metric improves (``mode`` ``auto`` guesses
    from the name, as Keras and W&B's ``WandbCallback`` do; an unknown mode is ``auto``).

    >>> keras_monitor_mode("val_accuracy", "auto"), keras_monitor_mode("val_loss", "auto")
    ('max', 'min')
    >>> keras_monitor_mode("val_loss", "max")
    'max'
    """
    if mode in ("min", "max"):
        return mode
    if any(hint in monitor for hint in KERAS_ACCURACY_HINTS) or monitor.startswith("fmeasure"):
        return "max"
    return "min"


def improved(current: Any, best: float | None, mode: str) -> bool:
    """Whether ``current`` beats ``best`` (None: nothing yet) for ``mode`` ``min``/``max``.

    Values that are not numbers never improve.

    >>> improved(0.4, 0.5, "min"), improved(0.4, 0.5, "max"), improved(0.0, None, "max")
    (True, False, True)
    >>> improved("n/a", None, "min")
    False
    """
    try:
        value = float(current)
    except (TypeError, ValueError):
        return False
    if value != value:  # NaN
        return False
    if best is None:
        return True
    return value < best if mode == "min" else value > best
