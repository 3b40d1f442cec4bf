"""``wandb.plot``: W&B's preset charts, each a table and the kind of chart drawn from it.

A chart logged with ``wandb.log`` is saved as its table (CSV), with the chart's kind and fields
in the trial's media index; it never becomes a metric.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from raysweep.program.wandb_media import confusion_counts, pr_points, roc_points

from ._media import Media, Table

__all__ = [
    "CustomChart",
    "bar",
    "confusion_matrix",
    "histogram",
    "line",
    "line_series",
    "plot_table",
    "pr_curve",
    "roc_curve",
    "scatter",
]


class CustomChart(Media):
    """What ``wandb.plot.*`` return: ``table``, the chart's ``kind``, ``fields`` and ``title``."""

    _kind = "chart"

    def __init__(self, kind: str, table: Table, fields: dict[str, Any], title: str = "",
                 split_table: bool = False) -> None:
        self.kind = kind
        self.table = table
        self.fields = fields
        self.title = title
        self.split_table = split_table

    def _encode(self) -> tuple[str, bytes, dict[str, Any]] | None:
        encoded = self.table._encode()
        assert encoded is not None  # a table always encodes
        suffix, payload, meta = encoded
        meta.update(chart=self.kind, fields=self.fields, title=self.title)
        return suffix, payload, meta

    def __str__(self) -> str:
        return f"Chart({self.kind})"


def _table(table: Any) -> Table:
    if not isinstance(table, Table):
        raise TypeError(f"wandb.plot charts are drawn from a wandb.Table, got "
                        f"{type(table).__name__}")
    return table


def line(table: Table, x: str, y: str, stroke: str | None = None, title: str = "",
         split_table: bool = False) -> CustomChart:
    """A line chart of column ``y`` against column ``x``."""
    return CustomChart("line", _table(table), {"x": x, "y": y, "stroke": stroke}, title,
                       split_table)


def scatter(table: Table, x: str, y: str, title: str = "",
            split_table: bool = False) -> CustomChart:
    """A scatter plot of column ``y`` against column ``x``."""
    return CustomChart("scatter", _table(table), {"x": x, "y": y}, title, split_table)


def bar(table: Table, label: str, value: str, title: str = "",
        split_table: bool = False) -> CustomChart:
    """A bar chart: one bar per row, named by column ``label``, as long as column ``value``."""
    return CustomChart("bar", _table(table), {"label": label, "value": value}, title,
                       split_table)


def histogram(table: Table, value: str, title: str = "",
              split_table: bool = False) -> CustomChart:
    """A histogram of column ``value``."""
    return CustomChart("histogram", _table(table), {"value": value}, title, split_table)


def line_series(xs: Sequence[Any], ys: Sequence[Sequence[Any]],
                keys: Sequence[str] | None = None, title: str = "", xname: str = "x",
                split_table: bool = False) -> CustomChart:
    """Several lines on shared axes: ``xs`` (one list for all, or one per line) and ``ys``."""
    series = [list(np.asarray(y).ravel()) for y in ys]
    names = list(keys) if keys is not None else [f"key_{i}" for i in range(len(series))]
    if len(names) != len(series):
        raise ValueError(f"line_series: {len(names)} keys for {len(series)} lines")
    shared = len(xs) > 0 and np.ndim(xs[0]) == 0
    table = Table(columns=["lineKey", "lineVal", "step"])
    for i, (name, y) in enumerate(zip(names, series, strict=True)):
        x = list(xs) if shared else list(xs[i])
        for step, value in zip(x, y, strict=False):
            table.add_data(name, value, step)
    return CustomChart("line_series", table, {"step": "step", "lineKey": "lineKey",
                                              "lineVal": "lineVal", "xname": xname},
                       title, split_table)


def confusion_matrix(probs: Any = None, y_true: Any = None, preds: Any = None,
                     class_names: Sequence[Any] | None = None, title: str = "",
                     split_table: bool = False) -> CustomChart:
    """A confusion matrix of ``y_true`` against ``preds`` (or the most likely of ``probs``)."""
    if (probs is None) == (preds is None):
        raise ValueError("confusion_matrix needs probs or preds, not both")
    if y_true is None:
        raise ValueError("confusion_matrix needs y_true")
    if preds is None:
        preds = np.argmax(np.asarray(probs), axis=1)
    table = Table(columns=["Actual", "Predicted", "nPredictions"],
                  data=confusion_counts(y_true, preds, class_names))
    return CustomChart("confusion_matrix", table,
                       {"Actual": "Actual", "Predicted": "Predicted",
                        "nPredictions": "nPredictions"}, title, split_table)


def _curves(kind: str, columns: list[str], points: Any, y_true: Any, y_probas: Any,
            labels: Sequence[Any] | None, classes_to_plot: Sequence[Any] | None,
            title: str, split_table: bool) -> CustomChart:
    truth = np.asarray(y_true).ravel()
    probas = np.asarray(y_probas, dtype=np.float64)
    if probas.ndim == 1:
        probas = np.stack([1 - probas, probas], axis=1)
    classes = list(classes_to_plot) if classes_to_plot is not None else list(
        range(probas.shape[1]))
    table = Table(columns=columns)
    for c in classes:
        name = labels[c] if labels is not None else c
        for a, b in points(truth == c, probas[:, int(c)]):
            table.add_data(name, a, b)
    return CustomChart(kind, table, {"x": columns[1], "y": columns[2], "class": "class"},
                       title, split_table)


def roc_curve(y_true: Any, y_probas: Any, labels: Sequence[Any] | None = None,
              classes_to_plot: Sequence[Any] | None = None, title: str = "",
              split_table: bool = False) -> CustomChart:
    """ROC curves, one per class: ``y_probas`` holds one column of scores per class."""
    return _curves("roc_curve", ["class", "fpr", "tpr"], roc_points, y_true, y_probas,
                   labels, classes_to_plot, title, split_table)


def pr_curve(y_true: Any, y_probas: Any, labels: Sequence[Any] | None = None,
             classes_to_plot: Sequence[Any] | None = None, interp_size: int = 21,
             title: str = "", split_table: bool = False) -> CustomChart:
    """Precision-recall curves, one per class (every point; ``interp_size`` is accepted)."""
    return _curves("pr_curve", ["class", "precision", "recall"], pr_points, y_true, y_probas,
                   labels, classes_to_plot, title, split_table)


def plot_table(vega_spec_name: str, data_table: Table, fields: dict[str, Any],
               string_fields: dict[str, Any] | None = None,
               split_table: bool = False) -> CustomChart:
    """A custom chart (``wandb.plot_table``): the table is saved; the Vega spec is named."""
    return CustomChart("custom", _table(data_table), {**fields, "spec": vega_spec_name},
                       str((string_fields or {}).get("title", "")), split_table)
