"""What the figures and the report show of a sweep, decided once for both: which metric,
which trials column ranks the trials, the trial numbers, the goal, colours and number format.

Functions take a :class:`~raysweep.analysis.tables.SweepResult` (or anything with its
attributes) and never import :mod:`raysweep.analysis.tables`, whose methods call the figures.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from raysweep.analysis.history import HISTORY_KEYS, reported_names
from raysweep.analysis.importance import is_numeric_values
from raysweep.analysis.pareto import meta_objectives
from raysweep.errors import RaysweepError

if TYPE_CHECKING:
    import pandas as pd

    from raysweep.analysis.tables import SweepResult

__all__ = [
    "OTHER_COLOR",
    "STATUS_COLORS",
    "fmt",
    "goal_mode",
    "metric_name",
    "numbers",
    "parameters",
    "running_best",
    "start_order",
    "status_rank",
    "value_column",
]

# Statuses in the order legends list them.
STATUS_COLORS = {
    "finished": "#3b6fb6",
    "stopped": "#e8833a",
    "failed": "#c8372d",
    "running": "#3a9a4a",
    "retrying": "#8e6bbf",
    "interrupted": "#7f7f7f",
    "pending": "#b0b0b0",
}
OTHER_COLOR = "#9a9a9a"


def status_rank(status: str) -> int:
    """Sort key of a status: the order of :data:`STATUS_COLORS`, unknown ones last."""
    return list(STATUS_COLORS).index(status) if status in STATUS_COLORS else 99


def goal_mode(result: SweepResult, metric: str | None = None) -> str:
    """``"max"`` or ``"min"``: the direction in which the metric gets better (``metric``: one
    of a multi-objective sweep's objectives, its own; else the sweep's metric's)."""
    modes = dict(meta_objectives(result.meta))
    if modes:
        return modes.get(metric or "", next(iter(modes.values())))
    return "max" if result.meta.get("mode") == "max" else "min"


def metric_name(result: SweepResult, metric: str | None) -> str | None:
    """The metric to plot: ``metric``, else the sweep's (a multi-objective sweep's first
    objective), else the first one reported.

    Raises:
        RaysweepError: ``metric`` was given, trials have reported, and none reported it (a
            typo would otherwise plot an empty figure that says "no metric reported yet").
    """
    history = result.history
    if metric is not None:
        known = [str(c) for c in history.columns if c not in HISTORY_KEYS]
        if len(history) and metric not in known and metric not in result.trials:
            raise RaysweepError(
                f"no metric {metric!r} in the sweep {result.path}; its trials reported: "
                f"{', '.join(reported_names(history)) or 'nothing'}"
            )
        return metric
    if result.metric is not None:
        return result.metric
    objectives = meta_objectives(result.meta)
    if objectives:
        return objectives[0][0]
    for col in history.columns:
        if col not in HISTORY_KEYS and is_numeric_values(history[col].head(50).tolist()):
            return str(col)
    return None


def value_column(result: SweepResult, metric: str | None) -> tuple[str | None, str]:
    """The trials column that ranks trials for ``metric`` (None if none) and its label."""
    if metric is None:
        return None, ""
    if f"{metric}_best" in result.trials:
        return f"{metric}_best", f"{metric} (best)"
    if metric in result.trials:
        return metric, metric
    return None, metric


def numbers(series: pd.Series) -> np.ndarray:
    """``series`` as floats, NaN where a value is missing or not a number."""
    import pandas as pd

    out: np.ndarray = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float,
                                                                     na_value=np.nan)
    return out


def parameters(result: SweepResult) -> list[str]:
    """The sweep's parameters that the trials table has a column for."""
    return [p for p in result.meta.get("parameters") or [] if p in result.trials]


def start_order(result: SweepResult) -> dict[str, int]:
    """Trial id -> trial number (1-based, in the order trials started)."""
    order = list(result.trial_order) or list(result.trials["trial_id"])
    numbered = {tid: i for i, tid in enumerate(order, 1)}
    for tid in result.trials["trial_id"]:
        numbered.setdefault(tid, len(numbered) + 1)
    return numbered


def running_best(values: np.ndarray, mode: str) -> np.ndarray:
    """The best of ``values`` so far at each position (NaN before the first finite one).

    >>> running_best(np.array([3.0, np.nan, 1.0, 2.0]), "min").tolist()
    [3.0, 3.0, 1.0, 1.0]
    >>> running_best(np.array([np.nan, 1.0, 0.5]), "max").tolist()
    [nan, 1.0, 1.0]
    """
    fill = np.inf if mode == "min" else -np.inf
    accumulate = np.minimum if mode == "min" else np.maximum
    best = accumulate.accumulate(np.where(np.isfinite(values), values, fill))
    best[~np.isfinite(best)] = np.nan
    return best


def fmt(value: Any) -> str:
    """A table cell: floats to 4 significant digits, missing values empty.

    >>> fmt(0.000123456), fmt(None), fmt(float("nan")), fmt("adam")
    ('0.0001235', '', '', 'adam')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    return str(value)
