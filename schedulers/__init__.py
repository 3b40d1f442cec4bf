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

Every scheduler built here keeps ``stop_reasons`` (``trial_id -> reason``) for the trials it
stopped, which is how the results table marks them "stopped", and a state that
:func:`make_callbacks` carries through Tune's experiment checkpoints.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from ._hyperband_rule import BANDS_ERROR, Decision, HyperbandRule, bands, valid_history
from ._mapping import (
    STOP_REASON_KEY,
    AshaParams,
    EarlyTerminateLike,
    MedianParams,
    MetricLike,
    PromotionParams,
    asha_params,
    early_terminate_kind,
    median_params,
    mode_of,
    promotion_params,
)

if TYPE_CHECKING:
    from ray.tune import Callback
    from ray.tune.schedulers import TrialScheduler

    from ._ray import RecordingAsha, RecordingMedian, SchedulerStateCallback
    from .hyperband import WandbHyperbandCallback, WandbHyperbandScheduler
    from .promotion import PromotionScheduler

__all__ = [
    "BANDS_ERROR",
    "SCHEDULERS",
    "STOP_REASON_KEY",
    "AshaParams",
    "Decision",
    "HyperbandRule",
    "MedianParams",
    "PromotionParams",
    "PromotionScheduler",
    "RecordingAsha",
    "RecordingMedian",
    "SchedulerStateCallback",
    "WandbHyperbandCallback",
    "WandbHyperbandScheduler",
    "asha_params",
    "bands",
    "make_callbacks",
    "make_scheduler",
    "median_params",
    "promotion_params",
    "valid_history",
]

# Names served by ``__getattr__`` so that importing this package does not import Ray.
_LAZY = {
    "RecordingAsha": "._ray",
    "RecordingMedian": "._ray",
    "SchedulerStateCallback": "._ray",
    "WandbHyperbandCallback": ".hyperband",
    "WandbHyperbandScheduler": ".hyperband",
    "PromotionScheduler": ".promotion",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _hyperband(early_terminate: EarlyTerminateLike, metric: MetricLike | None) -> TrialScheduler:
    from .hyperband import WandbHyperbandScheduler

    name, mode = mode_of(metric)
    strict = getattr(early_terminate, "strict", None)
    eta = getattr(early_terminate, "eta", None)
    return WandbHyperbandScheduler(
        metric=name,
        mode=mode,
        min_iter=getattr(early_terminate, "min_iter", None),
        max_iter=getattr(early_terminate, "max_iter", None),
        s=getattr(early_terminate, "s", None),
        eta=3 if eta is None else eta,
        # W&B's default since sweeps#108, whatever its docs say.
        strict=True if strict is None else strict,
    )


def _asha(early_terminate: EarlyTerminateLike, metric: MetricLike | None) -> TrialScheduler:
    from ._ray import RecordingAsha

    return RecordingAsha(**asdict(asha_params(early_terminate, metric)))


def _median(early_terminate: EarlyTerminateLike, metric: MetricLike | None) -> TrialScheduler:
    from ._ray import RecordingMedian

    return RecordingMedian(**asdict(median_params(early_terminate, metric)))


def _promotion(early_terminate: EarlyTerminateLike, metric: MetricLike | None) -> TrialScheduler:
    from .promotion import PromotionScheduler

    return PromotionScheduler(**asdict(promotion_params(early_terminate, metric)))


#: ``early_terminate.type`` -> builder; the single source of scheduler names.
SCHEDULERS: dict[str, Callable[[EarlyTerminateLike, MetricLike | None], TrialScheduler]] = {
    "hyperband": _hyperband,
    "asha": _asha,
    "median": _median,
    "promotion": _promotion,
}


def make_scheduler(
    early_terminate: EarlyTerminateLike | None, metric: MetricLike | None
) -> TrialScheduler | None:
    """Build the Ray scheduler for a sweep's ``early_terminate`` section.

    With a ``metric``, the scheduler carries the metric and mode itself. Ray's ASHA and
    median schedulers then refuse a ``metric``/``mode`` in ``tune.TuneConfig`` as well
    ("the scheduler you are using was already instantiated with their own metric..."); so
    either leave those out of ``TuneConfig``, or pass ``metric=None`` here and let
    ``TuneConfig`` supply them. (:class:`WandbHyperbandScheduler` accepts both when they
    agree.) Also pass :func:`make_callbacks` to ``tune.RunConfig`` (stop reasons in results,
    state in experiment checkpoints).

    Args:
        early_terminate: The parsed ``early_terminate`` section (``type``, ``min_iter``,
            ``max_iter``, ``s``, ``eta``, ``strict``), or None for no early stopping.
        metric: The parsed ``metric`` section (``name``, ``goal``), or None.

    Returns:
        The scheduler, or None when ``early_terminate`` is None (Tune then runs FIFO).

    Raises:
        ValueError: On an unknown ``type`` or invalid settings.
    """
    if early_terminate is None:
        return None
    kind = early_terminate_kind(early_terminate)
    build = SCHEDULERS.get(kind)
    if build is None:
        raise ValueError(
            f"early_terminate.type must be one of {', '.join(map(repr, SCHEDULERS))}, got {kind!r}"
        )
    return build(early_terminate, metric)


def make_callbacks(scheduler: TrialScheduler | None) -> list[Callback]:
    """Return the Tune callbacks a scheduler from :func:`make_scheduler` needs.

    For :class:`WandbHyperbandScheduler`, a :class:`WandbHyperbandCallback`; for
    :class:`RecordingAsha`, :class:`RecordingMedian` and :class:`PromotionScheduler`, a
    :class:`SchedulerStateCallback`.
    Both write stop reasons into results (key :data:`STOP_REASON_KEY`) and keep the
    scheduler's state in Tune's experiment checkpoints, so ``Tuner.restore`` resumes it.
    Nothing for other schedulers.

    Args:
        scheduler: The scheduler passed to ``tune.TuneConfig``, or None.

    Returns:
        Callbacks for ``tune.RunConfig(callbacks=...)``; possibly empty.
    """
    if scheduler is None:
        return []
    from ._ray import RecordingAsha, RecordingMedian, SchedulerStateCallback
    from .hyperband import WandbHyperbandCallback, WandbHyperbandScheduler
    from .promotion import PromotionScheduler

    if isinstance(scheduler, WandbHyperbandScheduler):
        return [WandbHyperbandCallback(scheduler)]
    if isinstance(scheduler, (RecordingAsha, RecordingMedian, PromotionScheduler)):
        return [SchedulerStateCallback(scheduler)]
    return []
