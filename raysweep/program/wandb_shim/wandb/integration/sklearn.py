"""W&B's scikit-learn charts (``wandb.sklearn.plot_*``): accepted, doing nothing.

The charts are drawn by W&B's web app, which raysweep does not have; the functions take any
arguments, never raise, and warn once. Metrics logged with ``wandb.log`` still reach raysweep.
"""

from __future__ import annotations

from typing import Any

from raysweep.program.once import warn_once

__all__ = [
    "plot_calibration_curve",
    "plot_class_proportions",
    "plot_classifier",
    "plot_clusterer",
    "plot_confusion_matrix",
    "plot_elbow_curve",
    "plot_feature_importances",
    "plot_learning_curve",
    "plot_outlier_candidates",
    "plot_precision_recall",
    "plot_regressor",
    "plot_residuals",
    "plot_roc",
    "plot_silhouette",
    "plot_summary_metrics",
]


def _plot(name: str) -> Any:
    def plot(*args: Any, **kwargs: Any) -> None:
        warn_once(
            "wandb.sklearn",
            f"wandb.sklearn.{name}() does nothing under raysweep's wandb stand-in (W&B draws "
            "these charts; there is no W&B server); metrics from wandb.log still reach "
            "raysweep. (Shown once for all wandb.sklearn charts.)",
        )

    plot.__name__ = plot.__qualname__ = name
    plot.__doc__ = f"W&B's ``wandb.sklearn.{name}``: does nothing here (one warning)."
    return plot


plot_calibration_curve = _plot("plot_calibration_curve")
plot_class_proportions = _plot("plot_class_proportions")
plot_classifier = _plot("plot_classifier")
plot_clusterer = _plot("plot_clusterer")
plot_confusion_matrix = _plot("plot_confusion_matrix")
plot_elbow_curve = _plot("plot_elbow_curve")
plot_feature_importances = _plot("plot_feature_importances")
plot_learning_curve = _plot("plot_learning_curve")
plot_outlier_candidates = _plot("plot_outlier_candidates")
plot_precision_recall = _plot("plot_precision_recall")
plot_regressor = _plot("plot_regressor")
plot_residuals = _plot("plot_residuals")
plot_roc = _plot("plot_roc")
plot_silhouette = _plot("plot_silhouette")
plot_summary_metrics = _plot("plot_summary_metrics")
