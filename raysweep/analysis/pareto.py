"""The Pareto front of a multi-objective sweep (``metrics:``): which points no other beats.

Pure numpy, no pandas: :mod:`raysweep.analysis.tables`, the live view (through the recorder)
and the figures share it. A point ``q`` dominates ``p`` when it is at least as good in every
objective and better in one (each objective's goal says which way is better); the front is the
set of points nothing dominates. Equal points do not dominate each other, so a duplicate of a
front point is on the front too. Rows with a missing (NaN) or infinite value are never on the
front and never dominate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from raysweep.numeric import finite_float

__all__ = [
    "FRONT_STATUSES", "dominates", "meta_objectives", "objective_value", "pareto_mask", "signs",
]

FRONT_STATUSES = ("finished", "stopped")
"""The statuses of trials that can be on a Pareto front: those that ran to an end (failed,
running and interrupted trials never are)."""

# Rows compared at once in the general case, and how many front rows each block meets at
# once: the (block x front rows x objectives) booleans stay a few megabytes.
_BLOCK = 512
_FRONT_CHUNK = 4096


def signs(goals: Sequence[str]) -> np.ndarray:
    """+1 for each objective to minimise, -1 for each to maximise: values times these are
    minimised.

    Args:
        goals: Each objective's goal: W&B's ``minimize`` / ``maximize`` (a :class:`Goal`) or
            Tune's ``min`` / ``max``.

    Raises:
        ValueError: a goal is none of these.

    >>> signs(["minimize", "max"]).tolist()
    [1.0, -1.0]
    """
    out = []
    for goal in goals:
        word = str(goal)
        if word in ("minimize", "min"):
            out.append(1.0)
        elif word in ("maximize", "max"):
            out.append(-1.0)
        else:
            raise ValueError(f"a goal must be 'minimize' or 'maximize', but got {goal!r}")
    return np.array(out, dtype=float)


def dominates(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether each row of ``a`` dominates ``b`` (values to minimise; broadcasts).

    >>> dominates(np.array([[1.0, 2.0], [1.0, 3.0], [2.0, 2.0]]), np.array([1.0, 3.0])).tolist()
    [True, False, False]
    """
    # Column by column: numpy's reductions over a short last axis are slow.
    k = np.shape(a)[-1]
    no_worse: np.ndarray = a[..., 0] <= b[..., 0]
    better: np.ndarray = a[..., 0] < b[..., 0]
    for j in range(1, k):
        no_worse = no_worse & (a[..., j] <= b[..., j])
        better = better | (a[..., j] < b[..., j])
    out: np.ndarray = no_worse & better
    return out


def pareto_mask(values: np.ndarray, goals: Sequence[str]) -> np.ndarray:
    """Which rows of ``values`` are on the Pareto front.

    Two objectives take O(n log n) (one sort and a running minimum); more take blocks of rows
    compared with the front found so far, in an order where a point's dominators come first.

    Args:
        values: One row per point, one column per objective (n x k, k >= 1).
        goals: Each column's goal (see :func:`signs`).

    Returns:
        A boolean array of n: True for the nondominated rows with a finite value in every
        column.

    Raises:
        ValueError: ``values`` is not two-dimensional, or ``goals`` does not name one goal
            per column.

    >>> pareto_mask(np.array([[1, 5], [2, 2], [3, 3], [2, 2], [0, np.nan]]),
    ...             ["minimize", "minimize"]).tolist()
    [True, True, False, True, False]
    >>> pareto_mask(np.array([[0.1, 0.9], [0.2, 0.95], [0.3, 0.8]]), ["min", "max"]).tolist()
    [True, True, False]
    """
    data = np.asarray(values, dtype=float)
    if data.ndim != 2:
        raise ValueError(f"values must be two-dimensional (points x objectives), but got "
                         f"shape {data.shape}")
    n, k = data.shape
    if len(goals) != k:
        raise ValueError(f"goals must name one goal per column ({k}), but got {len(goals)}")
    mask = np.zeros(n, dtype=bool)
    ok = np.all(np.isfinite(data), axis=1)
    points = data[ok] * signs(goals)
    if len(points):
        mask[np.flatnonzero(ok)] = _front_2(points) if k == 2 else _front_k(points)
    return mask


def _front_2(points: np.ndarray) -> np.ndarray:
    """The front of finite two-objective points to minimise."""
    x, y = points[:, 0], points[:, 1]
    order = np.lexsort((y, x))  # by x, then y
    xs, ys = x[order], y[order]
    # A group is the points of one x; its first has the group's least y.
    starts = np.r_[True, xs[1:] != xs[:-1]]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(xs)), 0))
    # The least y among points of smaller x: those before the group in this order.
    before = np.r_[np.inf, np.minimum.accumulate(ys)[:-1]]
    first_y = ys[group_start]
    keep = (ys == first_y) & (first_y < before[group_start])
    out = np.empty(len(xs), dtype=bool)
    out[order] = keep
    return out


def _front_k(points: np.ndarray) -> np.ndarray:
    """The front of finite points to minimise, any number of objectives.

    In the order of (sum, then the values in turn), a dominator comes before the point it
    dominates (rounding keeps sums ordered, and equal sums fall to the values), so each point
    needs comparing only with the front of the points before it and with its own block:
    dominance is transitive, so a dominated dominator has an undominated one before it.
    """
    keys = [points[:, j] for j in range(points.shape[1] - 1, -1, -1)]
    order = np.lexsort((*keys, points.sum(axis=1)))
    ordered = points[order]
    keep = np.zeros(len(ordered), dtype=bool)
    front = ordered[:0]
    for start in range(0, len(ordered), _BLOCK):
        block = ordered[start:start + _BLOCK]
        beaten = np.zeros(len(block), dtype=bool)
        for lo in range(0, len(front), _FRONT_CHUNK):
            part = front[lo:lo + _FRONT_CHUNK]
            beaten |= dominates(part[None, :, :], block[:, None, :]).any(axis=1)
        # A point that a beaten one dominates is beaten by the front too: only the others
        # need comparing with each other.
        alive = np.flatnonzero(~beaten)
        rest = block[alive]
        beaten[alive] = dominates(rest[None, :, :], rest[:, None, :]).any(axis=1)
        keep[start:start + len(block)] = ~beaten
        front = np.concatenate([front, block[~beaten]])
    out = np.empty(len(ordered), dtype=bool)
    out[order] = keep
    return out


def meta_objectives(meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The ``(name, mode)`` pairs of a multi-objective sweep's ``raysweep.json`` (its
    ``metrics`` list), else empty.

    >>> meta_objectives({"metrics": [{"name": "loss", "mode": "min"}, {"name": "acc",
    ...                                "goal": "maximize"}]})
    [('loss', 'min'), ('acc', 'max')]
    >>> meta_objectives({"metric": "loss", "mode": "min"})
    []
    """
    out = []
    for item in meta.get("metrics") or []:
        if isinstance(item, Mapping) and item.get("name") is not None:
            mode = item.get("mode") or ("max" if item.get("goal") == "maximize" else "min")
            out.append((str(item["name"]), "max" if mode == "max" else "min"))
    return out


def objective_value(rec: Mapping[str, Any], name: str, which: str = "last") -> float | None:
    """Objective ``name``'s ``"last"`` or ``"best"`` value in a trial's entry (its
    ``objectives``, as the recorder writes them), or None.

    >>> objective_value({"objectives": {"loss": {"last": 0.5, "best": 0.25}}}, "loss", "best")
    0.25
    """
    slot = (rec.get("objectives") or {}).get(name)
    value = slot.get(which) if isinstance(slot, Mapping) else None
    return finite_float(value) if value is not None else None
