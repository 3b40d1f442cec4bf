"""Parameter importance and correlation, as W&B's parameter-importance panel shows them.

Each parameter is encoded as numbers (:func:`encode_parameters`): one feature per numeric or
boolean parameter, ``log10`` of one that looks log-distributed (so the correlation is the one
the user means), one feature per value of a categorical parameter (``optimizer=adam``, as W&B
shows them). A random forest of the metric on these features gives each feature's importance
(:func:`forest_importance`, summing to 1), shown next to its Pearson correlation with the
metric. Trials without a finite metric value (failed, or not reported yet) are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["COLUMNS", "Encoded", "MAX_LEVELS", "encode_parameters", "forest_importance",
           "parameter_importance"]

# The columns of parameter_importance's table.
COLUMNS = ("feature", "parameter", "importance", "correlation", "n")

# A categorical parameter with more values gets one ordinal feature instead of one per value.
MAX_LEVELS = 30
LOG_SPAN = 100.0  # max / min at which a positive parameter is taken on a log10 scale


@dataclass(frozen=True)
class Encoded:
    """Parameters as a numeric matrix.

    Attributes:
        X: ``(n_trials, n_features)`` float matrix.
        features: Name of each column (``lr``, ``log10(lr)``, ``optimizer=adam``).
        parameters: The parameter each column comes from.
    """

    X: np.ndarray
    features: list[str]
    parameters: list[str]


def is_numeric_values(values: Sequence[Any]) -> bool:
    """True if every non-missing value is a number or a bool (not a string)."""
    seen = False
    for v in values:
        if v is None or (isinstance(v, float) and v != v):
            continue
        if not isinstance(v, (int, float, np.integer, np.floating, np.bool_)):
            return False
        seen = True
    return seen


def _skew(x: np.ndarray) -> float:
    sd = x.std()
    return float(((x - x.mean()) ** 3).mean() / sd**3) if sd > 0 else 0.0


def is_log_scale(x: np.ndarray) -> bool:
    """True if ``x`` looks log-distributed: its finite values are all positive, span at least
    two decades, and are less skewed on a log scale than on a linear one (so a uniform draw
    from [0, 1] that happens to hit 0.001 stays linear).

    >>> bool(is_log_scale(np.array([1e-5, 1e-4, 1e-3, 1e-2])))
    True
    >>> bool(is_log_scale(np.array([0.001, 0.3, 0.5, 0.7, 0.9])))
    False
    """
    finite = x[np.isfinite(x)]
    if not finite.size or finite.min() <= 0 or finite.max() / finite.min() < LOG_SPAN:
        return False
    return abs(_skew(np.log10(finite))) < abs(_skew(finite))


def _levels(values: Sequence[Any]) -> list[str]:
    return sorted({str(v) for v in values}, key=lambda s: (s == "None", s))


def encode_parameters(frame: pd.DataFrame, parameters: Sequence[str]) -> Encoded:
    """Encode the ``parameters`` columns of ``frame`` as numeric features.

    Numbers and booleans give one feature each (``log10`` when :func:`is_log_scale`), missing
    numbers taking the median; categorical values are one-hot encoded, or ordinal past
    :data:`MAX_LEVELS` values. Parameters with one value carry no information and are left
    out, as are names ``frame`` lacks.
    """
    n = len(frame)
    columns: list[np.ndarray] = []
    features: list[str] = []
    owners: list[str] = []
    for name in parameters:
        if name not in frame:
            continue
        values = list(frame[name])
        if is_numeric_values(values):
            x = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
            finite = x[np.isfinite(x)]
            if np.unique(finite).size < 2:
                continue
            x = np.where(np.isfinite(x), x, np.median(finite))
            if is_log_scale(x):
                columns.append(np.log10(x))
                features.append(f"log10({name})")
            else:
                columns.append(x)
                features.append(name)
            owners.append(name)
            continue
        labels = [str(v) for v in values]
        levels = _levels(labels)
        if len(levels) < 2:
            continue
        if len(levels) > MAX_LEVELS:
            code = {lv: i for i, lv in enumerate(levels)}
            columns.append(np.array([code[s] for s in labels], dtype=float))
            features.append(name)
            owners.append(name)
            continue
        arr = np.array(labels, dtype=object)
        for level in levels:
            columns.append((arr == level).astype(float))
            features.append(f"{name}={level}")
            owners.append(name)
    X = np.column_stack(columns) if columns else np.zeros((n, 0))
    return Encoded(X=X, features=features, parameters=owners)


def forest_importance(
    X: np.ndarray,
    y: np.ndarray,
    *,
    n_trees: int = 48,
    max_depth: int = 8,
    min_leaf: int = 2,
    seed: int = 0,
) -> np.ndarray:
    """Mean-decrease-in-impurity importance of each column of ``X`` for predicting ``y``.

    The ``feature_importances_`` of a scikit-learn ``RandomForestRegressor``: the
    squared-error reduction of every split made on a column, summed over the forest and
    normalised to sum to 1. Every column is a split candidate at every node, and the depth
    is limited, so that columns of pure noise gain little.

    Args:
        X: ``(n, k)`` feature matrix (finite).
        y: ``(n,)`` target (finite).
        n_trees: Trees in the forest, each grown on a bootstrap sample.
        max_depth: Depth limit of each tree.
        min_leaf: Fewest samples in a leaf.
        seed: Seed of the bootstrap draws.

    Returns:
        ``(k,)`` non-negative importances summing to 1 (all zero if no split helps).

    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(size=(200, 2))
    >>> imp = forest_importance(X, 3 * X[:, 0] + 0.1 * rng.normal(size=200))
    >>> bool(imp[0] > 0.9)
    True
    """
    n, k = X.shape
    if n < 2 * min_leaf or k == 0:
        return np.zeros(k)
    # Imported here: scikit-learn (with SciPy) takes most of a second to import, and only the
    # importance needs it.
    from sklearn.ensemble import RandomForestRegressor

    forest = RandomForestRegressor(
        n_estimators=n_trees, max_depth=max_depth, min_samples_leaf=min_leaf,
        max_features=1.0, bootstrap=True, random_state=seed,
    )
    forest.fit(X, np.asarray(y, dtype=float))
    importance: np.ndarray = np.asarray(forest.feature_importances_, dtype=float)
    return importance


def correlations(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson's r of each column of ``X`` with ``y`` (NaN where a column is constant)."""
    if X.shape[1] == 0 or len(y) < 2:
        return np.full(X.shape[1], np.nan)
    xc = X - X.mean(axis=0)
    yc = y - y.mean()
    denom = np.sqrt((xc**2).sum(axis=0) * (yc**2).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (xc * yc[:, None]).sum(axis=0) / denom
    return np.where(denom > 0, r, np.nan)


def parameter_importance(
    trials: pd.DataFrame, parameters: Sequence[str], target: str | None, *, seed: int = 0
) -> pd.DataFrame:
    """Importance and correlation of each (encoded) parameter for the ``target`` column.

    Returns:
        One row per feature, most important first: ``feature``, ``parameter``,
        ``importance`` (sums to 1), ``correlation`` (Pearson's r), ``n`` (trials used).
        The empty table when there is no such column (or ``target`` is None) or no trial.
    """
    import pandas as pd

    empty = pd.DataFrame(columns=list(COLUMNS))
    if target is None or target not in trials or trials.empty:
        return empty
    y = pd.to_numeric(trials[target], errors="coerce").to_numpy(dtype=float)
    keep = np.isfinite(y)
    frame = trials.loc[keep]
    y = y[keep]
    enc = encode_parameters(frame, parameters)
    if not enc.features:
        return empty
    importance = forest_importance(enc.X, y, seed=seed)
    table = pd.DataFrame(
        {
            "feature": enc.features,
            "parameter": enc.parameters,
            "importance": importance,
            "correlation": correlations(enc.X, y),
            "n": len(y),
        }
    )
    return table.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)
