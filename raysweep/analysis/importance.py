"""Parameter importance and correlation, as W&B's parameter-importance panel shows them.

W&B fits a random forest (parameters -> metric) and shows its feature importances next to the
linear correlation of each parameter with the metric. This module does the same with a small
random forest written in NumPy, so neither scikit-learn nor any other model library is needed
and the numbers are the same on every machine (fixed seed):

- **Encoding.** Numeric and boolean parameters are one feature each; parameters whose values
  are all positive, span at least two decades and look log-distributed
  (``log_uniform_values`` and the like) are taken as ``log10``, so the correlation is the one
  the user means. Categorical parameters are
  one-hot encoded, one feature per value (``optimizer=adam``), as W&B shows them; a parameter
  with more than :data:`MAX_LEVELS` values gets one ordinal feature instead. Parameters with a
  single value carry no information and are left out. Missing numbers take the median.
- **Importance.** Mean decrease in impurity (the squared-error reduction of every split made
  on a feature, summed over the forest, normalised to sum to 1), as scikit-learn's
  ``RandomForestRegressor.feature_importances_``, which W&B reports. Trees are grown on
  bootstrap samples, with every feature considered at each split (scikit-learn's default for
  regression) and candidate thresholds at up to :data:`N_BINS` quantiles of each feature
  (histogram splits, as LightGBM and scikit-learn's ``HistGradientBoosting`` do), which keeps
  a 2,000-trial sweep well under a second.
- **Correlation.** Pearson's r of each feature with the metric (NaN for a constant feature).

Trials without a finite metric value (failed, or not reported yet) are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Encoded", "MAX_LEVELS", "N_BINS", "encode_parameters", "forest_importance",
           "parameter_importance"]

MAX_LEVELS = 30
N_BINS = 32
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
    """Encode the ``parameters`` columns of ``frame`` (see the module docstring)."""
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


def _bin(X: np.ndarray, n_bins: int) -> np.ndarray:
    """Replace each column by bin codes ``0..n_bins-1`` (quantile edges of its unique values)."""
    codes = np.zeros(X.shape, dtype=np.int64)
    for j in range(X.shape[1]):
        unique = np.unique(X[:, j])
        if unique.size <= n_bins:
            edges = (unique[:-1] + unique[1:]) / 2
        else:
            qs = np.quantile(unique, np.linspace(0, 1, n_bins + 1)[1:-1])
            edges = np.unique(qs)
        codes[:, j] = np.searchsorted(edges, X[:, j], side="right")
    return codes


def _grow_tree(
    codes: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    n_bins: int,
    max_depth: int,
    min_leaf: int,
    gains: np.ndarray,
) -> None:
    """Grow one regression tree on the weighted samples; add each split's gain to ``gains``."""
    n_features = codes.shape[1]
    offsets = np.arange(n_features) * n_bins
    stack: list[tuple[np.ndarray, int]] = [(np.flatnonzero(weights > 0), 0)]
    while stack:
        idx, depth = stack.pop()
        w = weights[idx]
        if depth >= max_depth or w.sum() < 2 * min_leaf:
            continue
        yi = y[idx]
        flat = (codes[idx] + offsets).ravel()
        w_rep = np.repeat(w, n_features)
        cnt = np.bincount(flat, weights=w_rep, minlength=n_features * n_bins)
        tot = np.bincount(flat, weights=np.repeat(w * yi, n_features),
                          minlength=n_features * n_bins)
        cnt = cnt.reshape(n_features, n_bins).cumsum(axis=1)
        tot = tot.reshape(n_features, n_bins).cumsum(axis=1)
        n_all, s_all = cnt[0, -1], tot[0, -1]
        n_right = n_all - cnt
        s_right = s_all - tot
        ok = (cnt >= min_leaf) & (n_right >= min_leaf)
        if not ok.any():
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            gain = tot**2 / cnt + s_right**2 / n_right - s_all**2 / n_all
        gain = np.where(ok, gain, -np.inf)
        best = int(np.argmax(gain))
        feature, threshold = divmod(best, n_bins)
        if not gain.flat[best] > 1e-12 * max(1.0, abs(s_all**2 / n_all)):
            continue
        gains[feature] += gain.flat[best]
        left = codes[idx, feature] <= threshold
        stack.append((idx[left], depth + 1))
        stack.append((idx[~left], depth + 1))


def forest_importance(
    X: np.ndarray,
    y: np.ndarray,
    *,
    n_trees: int = 48,
    max_depth: int = 8,
    min_leaf: int = 2,
    n_bins: int = N_BINS,
    seed: int = 0,
) -> np.ndarray:
    """Mean-decrease-in-impurity importance of each column of ``X`` for predicting ``y``.

    Args:
        X: ``(n, k)`` feature matrix (finite).
        y: ``(n,)`` target (finite).
        n_trees: Trees in the forest, each grown on a bootstrap sample.
        max_depth: Depth limit of each tree.
        min_leaf: Fewest (bootstrap-weighted) samples in a leaf.
        n_bins: Candidate thresholds per feature, at quantiles.
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
    gains = np.zeros(k)
    if n < 2 * min_leaf or k == 0:
        return gains
    y = np.asarray(y, dtype=float)
    y = (y - y.mean()) / (y.std() or 1.0)
    codes = _bin(X, n_bins)
    rng = np.random.default_rng(seed)
    for _ in range(n_trees):
        weights = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        _grow_tree(codes, y, weights, n_bins, max_depth, min_leaf, gains)
    total = gains.sum()
    return gains / total if total > 0 else gains


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
    trials: pd.DataFrame, parameters: Sequence[str], target: str, *, seed: int = 0
) -> pd.DataFrame:
    """Importance and correlation of each (encoded) parameter for the ``target`` column.

    Returns:
        One row per feature, most important first: ``feature``, ``parameter``,
        ``importance`` (sums to 1), ``correlation`` (Pearson's r), ``n`` (trials used).
    """
    import pandas as pd

    empty = pd.DataFrame(columns=["feature", "parameter", "importance", "correlation", "n"])
    if target not in trials or trials.empty:
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
