"""Translate a sweep's ``early_terminate`` section into Ray scheduler arguments (pure, no Ray).

W&B words (``goal``, ``min_iter``, ``eta``) come in; Ray words (``mode``, ``grace_period``,
``reduction_factor``) go out, one function per concept, so the mapping is tested without Ray.
The section arrives validated and defaulted by :mod:`raysweep.sweep.config`; its bands are
:attr:`~raysweep.sweep.model.EarlyTerminate.bands`, W&B's arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._hyperband_rule import BANDS_ERROR

if TYPE_CHECKING:
    from raysweep.sweep.model import EarlyTerminate, Metric

__all__ = [
    "AshaParams",
    "MedianParams",
    "PromotionParams",
    "asha_params",
    "median_params",
    "promotion_params",
]

# Iterations are counted by Tune's own per-report counter, which matches W&B's iteration
# (one logged metric value) when the program reports the metric once per report.
_TIME_ATTR = "training_iteration"

# With only ``min_iter`` W&B's ladder is open-ended (100 bands); ASHA needs a max_t, so give
# it this many rungs above the first, far beyond any real run.
_OPEN_ENDED_RUNGS = 20


def _name_and_mode(metric: Metric | None) -> tuple[str | None, str | None]:
    return (None, None) if metric is None else (metric.name, metric.mode)


@dataclass(frozen=True)
class AshaParams:
    """Keyword arguments for ``ray.tune.schedulers.AsyncHyperBandScheduler``."""

    metric: str | None
    mode: str | None
    grace_period: int
    max_t: int
    reduction_factor: float
    time_attr: str = _TIME_ATTR
    brackets: int = 1
    stop_last_trials: bool = False


def asha_params(early_terminate: EarlyTerminate, metric: Metric | None) -> AshaParams:
    """Map W&B hyperband settings onto Ray's ASHA.

    ==================  ===========================================================
    W&B                 Ray ``AsyncHyperBandScheduler``
    ==================  ===========================================================
    ``eta``             ``reduction_factor``
    ``min_iter``        ``grace_period``; ``max_t = ceil(min_iter * eta**20)``
    ``max_iter``, ``s`` ``grace_period = max(1, int(max_iter / eta**s))``,
                        ``max_t = max_iter``
    ``goal``            ``mode`` (``minimize`` -> ``min``, ``maximize`` -> ``max``)
    iteration           ``time_attr = "training_iteration"`` (one per report)
    one ladder          ``brackets = 1``
    no training cap     ``stop_last_trials = False`` (W&B's ``max_iter`` is the last
                        trimming point, not a limit on training)
    ==================  ===========================================================

    ASHA is not W&B-exact: its rungs are ``grace_period * eta**k`` up to ``max_t`` (27, 2, 3
    gives W&B bands [3, 9] but rungs [3, 9, 27]); it judges each trial once per rung, against
    the trials that got there first, with a ``(1 - 1/eta)`` percentile cutoff, which is close
    to W&B ``strict: true``. ``strict: false`` (best so far) has no ASHA counterpart and is
    ignored.

    Args:
        early_terminate: The sweep's ``early_terminate`` section.
        metric: The sweep's ``metric`` section, or None to let ``tune.TuneConfig`` supply
            metric and mode.

    Returns:
        The arguments, without Ray imported.

    Raises:
        ValueError: If neither ``max_iter`` with ``s`` nor ``min_iter`` is set.

    >>> from raysweep.sweep.model import EarlyTerminate
    >>> p = asha_params(EarlyTerminate("asha", max_iter=27, s=2), None)
    >>> p.grace_period, p.max_t, p.reduction_factor
    (3, 27, 3)
    """
    eta = early_terminate.eta
    name, mode = _name_and_mode(metric)
    max_iter, s, min_iter = early_terminate.max_iter, early_terminate.s, early_terminate.min_iter
    if max_iter is not None and s is not None:
        max_t = max_iter
        grace = max(1, int(max_t / eta**s))
    elif min_iter is not None:
        grace = min_iter
        max_t = math.ceil(grace * eta**_OPEN_ENDED_RUNGS)
    else:
        raise ValueError(
            'invalid config for hyperband stopping: either "max_iter" or "min_iter" '
            "must be specified"
        )
    return AshaParams(
        metric=name, mode=mode, grace_period=grace, max_t=max_t, reduction_factor=eta
    )


@dataclass(frozen=True)
class MedianParams:
    """Keyword arguments for ``ray.tune.schedulers.MedianStoppingRule``."""

    metric: str | None
    mode: str | None
    grace_period: int
    time_attr: str = _TIME_ATTR
    min_samples_required: int = 3


def median_params(early_terminate: EarlyTerminate, metric: Metric | None) -> MedianParams:
    """Map ``early_terminate: {type: median}`` onto Ray's ``MedianStoppingRule``.

    The grace period is W&B's first band: ``min_iter``, or the lowest band from ``max_iter``
    and ``s``. Nothing is judged before 3 trials have reported (``min_samples_required``).

    Args:
        early_terminate: The sweep's ``early_terminate`` section.
        metric: The sweep's ``metric`` section, or None to let ``tune.TuneConfig`` supply
            metric and mode.

    Returns:
        The arguments, without Ray imported.

    Raises:
        ValueError: With W&B's message, if the settings give no band.

    >>> from raysweep.sweep.model import EarlyTerminate
    >>> median_params(EarlyTerminate("median", max_iter=81, s=3), None)  # doctest: +ELLIPSIS
    MedianParams(metric=None, mode=None, grace_period=3, ...)
    """
    first = _bands_of(early_terminate)[0]
    name, mode = _name_and_mode(metric)
    return MedianParams(metric=name, mode=mode, grace_period=first)


@dataclass(frozen=True)
class PromotionParams:
    """Keyword arguments for :class:`~.promotion.PromotionScheduler`."""

    metric: str
    mode: str
    rungs: tuple[int, ...]
    eta: float
    resume: str = "restart"


def promotion_params(early_terminate: EarlyTerminate, metric: Metric | None) -> PromotionParams:
    """Map ``early_terminate: {type: promotion}`` onto promotion-type ASHA.

    The rungs are W&B's hyperband bands for the same ``min_iter`` / ``max_iter`` + ``s`` and
    ``eta`` (duplicates dropped); ``eta`` is the reduction factor. ``strict`` has no meaning
    here: a configuration is ranked by its value at the rung.

    Raises:
        ValueError: Without a metric to rank by, or with W&B's message if the settings give
            no band.

    >>> from raysweep.sweep.model import EarlyTerminate, Metric
    >>> p = promotion_params(EarlyTerminate("promotion", max_iter=81, s=3), Metric("loss"))
    >>> p.rungs, p.eta, p.mode
    ((3, 9, 27), 3, 'min')
    """
    if metric is None:
        raise ValueError("early_terminate type 'promotion' needs a metric to rank trials by")
    rungs = tuple(sorted(set(_bands_of(early_terminate))))
    return PromotionParams(
        metric=metric.name, mode=metric.mode, rungs=rungs, eta=early_terminate.eta,
        resume=early_terminate.resume,
    )


def _bands_of(early_terminate: EarlyTerminate) -> tuple[int, ...]:
    found = early_terminate.bands
    if not found:
        raise ValueError(BANDS_ERROR)
    return found
