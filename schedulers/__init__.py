"""Early stopping for raysweep: W&B ``early_terminate`` settings as Ray Tune schedulers.

:func:`make_scheduler` is the one place that maps a sweep's ``early_terminate`` section to a
Ray scheduler. Ray is imported only when a scheduler is built (or a Ray-backed name below is
first used), so ``import raysweep.schedulers`` stays cheap.

========== ================================================================================
type       scheduler
========== ================================================================================
hyperband  :class:`WandbHyperbandScheduler`: W&B-exact (the default)
asha       :class:`RecordingAsha` (Ray's ASHA) with :func:`asha_params` (not W&B-exact)
median     :class:`RecordingMedian` (Ray's median stopping rule) with :func:`median_params`
promotion  :class:`PromotionScheduler` (promotion-type ASHA, re-runs from the start) with
           :func:`promotion_params`
========== ================================================================================

A sweep whose ``scheduler.engine`` brings its own rule has no ``early_terminate`` (W&B forbids
both): :func:`make_engine_scheduler` builds :class:`OptunaPrunerScheduler`, the Optuna study's
pruner, from the searcher.

Every scheduler built here is a :class:`SweepScheduler`: it keeps ``stop_reasons``
(``trial_id -> reason``) for the trials it stopped, which is how the results table marks them
"stopped", and a JSON state that raysweep saves at each trial end and resumes from: a snapshot
now and then (``scheduler.json``, which holds :data:`LOG_OFFSET_KEY`), and between snapshots
what changed, appended to the log beside it (``scheduler.jsonl``, :func:`log_path_of`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from ._hyperband_rule import (
    BANDS_ERROR,
    Decision,
    HyperbandRule,
    bands,
    decide,
    threshold,
    valid_history,
)
from ._stop_reasons import STOP_REASON_KEY
from .ray_arguments import (
    AshaParams,
    MedianParams,
    PromotionParams,
    asha_params,
    median_params,
    promotion_params,
)

if TYPE_CHECKING:
    from ray.tune import Callback

    from raysweep.sweep.model import EarlyTerminate, Metric

    from ._base import LOG_OFFSET_KEY, StopReasonCallback, SweepScheduler, log_path_of
    from .hyperband import WandbHyperbandScheduler
    from .optuna_pruner import OptunaPrunerScheduler
    from .promotion import PromotionScheduler
    from .ray_schedulers import RecordingAsha, RecordingMedian

__all__ = [
    "BANDS_ERROR",
    "LOG_OFFSET_KEY",
    "SCHEDULERS",
    "STOP_REASON_KEY",
    "AshaParams",
    "Decision",
    "HyperbandRule",
    "MedianParams",
    "OptunaPrunerScheduler",
    "PromotionParams",
    "PromotionScheduler",
    "RecordingAsha",
    "RecordingMedian",
    "StopReasonCallback",
    "SweepScheduler",
    "WandbHyperbandScheduler",
    "asha_params",
    "bands",
    "decide",
    "log_path_of",
    "make_callbacks",
    "make_engine_scheduler",
    "make_scheduler",
    "median_params",
    "promotion_params",
    "threshold",
    "valid_history",
]

# Names served by ``__getattr__`` so that importing this package does not import Ray.
_LAZY = {
    "LOG_OFFSET_KEY": "._base",
    "log_path_of": "._base",
    "RecordingAsha": ".ray_schedulers",
    "RecordingMedian": ".ray_schedulers",
    "StopReasonCallback": "._base",
    "SweepScheduler": "._base",
    "WandbHyperbandScheduler": ".hyperband",
    "PromotionScheduler": ".promotion",
    "OptunaPrunerScheduler": ".optuna_pruner",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _hyperband(early_terminate: EarlyTerminate, metric: Metric | None) -> SweepScheduler:
    from .hyperband import WandbHyperbandScheduler

    return WandbHyperbandScheduler(
        metric=None if metric is None else metric.name,
        mode=None if metric is None else metric.mode,
        min_iter=early_terminate.min_iter,
        max_iter=early_terminate.max_iter,
        s=early_terminate.s,
        eta=early_terminate.eta,
        strict=early_terminate.strict,
    )


def _asha(early_terminate: EarlyTerminate, metric: Metric | None) -> SweepScheduler:
    from .ray_schedulers import RecordingAsha

    return RecordingAsha(**asdict(asha_params(early_terminate, metric)))


def _median(early_terminate: EarlyTerminate, metric: Metric | None) -> SweepScheduler:
    from .ray_schedulers import RecordingMedian

    return RecordingMedian(**asdict(median_params(early_terminate, metric)))


def _promotion(early_terminate: EarlyTerminate, metric: Metric | None) -> SweepScheduler:
    from .promotion import PromotionScheduler

    return PromotionScheduler(**asdict(promotion_params(early_terminate, metric)))


#: ``early_terminate.type`` -> builder; the single source of scheduler names.
SCHEDULERS: dict[str, Callable[[EarlyTerminate, Metric | None], SweepScheduler]] = {
    "hyperband": _hyperband,
    "asha": _asha,
    "median": _median,
    "promotion": _promotion,
}


def make_scheduler(
    early_terminate: EarlyTerminate | None, metric: Metric | None
) -> SweepScheduler | None:
    """Build the Ray scheduler for a sweep's ``early_terminate`` section.

    With a ``metric``, the scheduler carries the metric and mode itself. Ray's ASHA and
    median schedulers then refuse a ``metric``/``mode`` in ``tune.TuneConfig`` as well
    ("the scheduler you are using was already instantiated with their own metric..."); so
    either leave those out of ``TuneConfig``, or pass ``metric=None`` here and let
    ``TuneConfig`` supply them. (:class:`WandbHyperbandScheduler` accepts both when they
    agree.) Also pass :func:`make_callbacks` to ``tune.RunConfig`` (stop reasons in results).

    Args:
        early_terminate: The sweep's ``early_terminate`` section
            (:class:`raysweep.sweep.config.EarlyTerminate`), or None for no early stopping.
        metric: The sweep's ``metric`` section (:class:`raysweep.sweep.config.Metric`), or
            None.

    Returns:
        The scheduler, or None when ``early_terminate`` is None (Tune then runs FIFO).

    Raises:
        ValueError: On an unknown ``type`` or settings that give no band.
    """
    if early_terminate is None:
        return None
    build = SCHEDULERS.get(early_terminate.type)
    if build is None:
        raise ValueError(
            f"early_terminate.type must be one of {', '.join(map(repr, SCHEDULERS))}, "
            f"got {early_terminate.type!r}"
        )
    return build(early_terminate, metric)


def make_engine_scheduler(searcher: Any, metric: Metric | None) -> SweepScheduler | None:
    """Build the early-termination rule that the sweep's engine brings, if any.

    ``engine: optuna``: the study's pruner (:class:`OptunaPrunerScheduler`), when the
    searcher's proposer has a study whose pruner may stop trials (one objective, a pruner
    other than ``NopPruner``). Call it when :func:`make_scheduler` gave None.

    Args:
        searcher: The sweep's ``TuneSearcher``.
        metric: The sweep's metric (None for a multi-objective sweep: nothing to prune).

    Returns:
        The scheduler, or None.
    """
    host = getattr(searcher, "proposer", None)
    if metric is None or not getattr(host, "prunes", False):
        return None
    from .optuna_pruner import OptunaPrunerScheduler

    return OptunaPrunerScheduler(host, metric.name)  # type: ignore[arg-type]


def make_callbacks(scheduler: SweepScheduler | None) -> list[Callback]:
    """Return the Tune callbacks a scheduler from :func:`make_scheduler` needs.

    A :class:`StopReasonCallback`, which writes the scheduler's stop reasons into results (key
    :data:`STOP_REASON_KEY`); nothing without a scheduler.

    Args:
        scheduler: The scheduler passed to ``tune.TuneConfig``, or None.

    Returns:
        Callbacks for ``tune.RunConfig(callbacks=...)``; possibly empty.
    """
    if scheduler is None:
        return []
    from ._base import StopReasonCallback

    return [StopReasonCallback(scheduler)]
