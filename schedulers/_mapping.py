"""Translate W&B ``early_terminate`` settings into Ray scheduler arguments (pure, no Ray).

W&B words (``goal``, ``min_iter``, ``eta``) come in; Ray words (``mode``, ``grace_period``,
``reduction_factor``) go out, one function per concept, so the mapping is tested without Ray.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

from ._hyperband_rule import _check_eta, _check_int, bands

__all__ = [
    "STOP_REASON_KEY",
    "AshaParams",
    "EarlyTerminateLike",
    "MedianParams",
    "MetricLike",
    "PromotionParams",
    "asha_params",
    "early_terminate_kind",
    "median_params",
    "mode_of",
    "promotion_params",
]

#: Result key under which raysweep records why the hyperband scheduler stopped a trial.
STOP_REASON_KEY = "raysweep_stop_reason"

# Iterations are counted by Tune's own per-report counter, which matches W&B's iteration
# (one logged metric value) when the program reports the metric once per report.
_TIME_ATTR = "training_iteration"

# With only ``min_iter`` W&B's ladder is open-ended (100 bands); ASHA needs a max_t, so give
# it this many rungs above the first, far beyond any real run.
_OPEN_ENDED_RUNGS = 20

_MODES = {"minimize": "min", "maximize": "max"}


class EarlyTerminateLike(Protocol):
    """What raysweep needs from a parsed ``early_terminate`` section."""

    type: Any  # "hyperband" | "asha" | "median", or a str-valued enum
    min_iter: int | None
    max_iter: int | None
    s: int | None
    eta: float
    strict: bool


class MetricLike(Protocol):
    """What raysweep needs from a parsed ``metric`` section."""

    name: str
    goal: Any  # "minimize" | "maximize", or a str-valued enum


def _plain(value: Any) -> Any:
    # Enums (StrEnum or not) compare by their value.
    return getattr(value, "value", value)


def early_terminate_kind(early_terminate: EarlyTerminateLike) -> str:
    """Return the ``type`` of an ``early_terminate`` section as a plain string.

    >>> from types import SimpleNamespace
    >>> early_terminate_kind(SimpleNamespace(type="asha"))
    'asha'
    """
    return str(_plain(early_terminate.type))


def mode_of(metric: MetricLike | None) -> tuple[str | None, str | None]:
    """Map a W&B ``metric`` section to Tune's ``(metric, mode)``; ``(None, None)`` for None.

    Raises:
        ValueError: If the goal is neither ``minimize`` nor ``maximize``.

    >>> from types import SimpleNamespace
    >>> mode_of(SimpleNamespace(name="acc", goal="maximize"))
    ('acc', 'max')
    >>> mode_of(None)
    (None, None)
    """
    if metric is None:
        return None, None
    goal = str(_plain(metric.goal))
    if goal not in _MODES:
        raise ValueError(f"metric.goal must be 'minimize' or 'maximize', got {goal!r}")
    return metric.name, _MODES[goal]


def _eta_of(early_terminate: EarlyTerminateLike) -> float:
    eta = getattr(early_terminate, "eta", None)
    eta = 3 if eta is None else eta
    _check_eta(eta)
    return eta


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


def asha_params(early_terminate: EarlyTerminateLike, metric: MetricLike | None) -> AshaParams:
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
        early_terminate: The parsed ``early_terminate`` section.
        metric: The parsed ``metric`` section, or None to let ``tune.TuneConfig`` supply
            metric and mode.

    Returns:
        The arguments, without Ray imported.

    Raises:
        ValueError: On invalid settings.

    >>> from types import SimpleNamespace as NS
    >>> p = asha_params(NS(type="asha", min_iter=None, max_iter=27, s=2, eta=3), None)
    >>> p.grace_period, p.max_t, p.reduction_factor
    (3, 27, 3)
    """
    eta = _eta_of(early_terminate)
    name, mode = mode_of(metric)
    max_iter = getattr(early_terminate, "max_iter", None)
    min_iter = getattr(early_terminate, "min_iter", None)
    if max_iter is not None:
        s = getattr(early_terminate, "s", None)
        if s is None:
            raise ValueError("hyperband: 's' is required together with 'max_iter'")
        max_t = _check_int("max_iter", max_iter, 1)
        grace = max(1, int(max_t / eta ** _check_int("s", s, 0)))
    elif min_iter is not None:
        grace = _check_int("min_iter", min_iter, 1)
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


def _bands_of(early_terminate: EarlyTerminateLike) -> tuple[int, ...]:
    """W&B's hyperband bands for the section's ``eta``, ``min_iter``, ``max_iter`` and ``s``."""
    return bands(
        eta=_eta_of(early_terminate),
        min_iter=getattr(early_terminate, "min_iter", None),
        max_iter=getattr(early_terminate, "max_iter", None),
        s=getattr(early_terminate, "s", None),
    )


def median_params(early_terminate: EarlyTerminateLike, metric: MetricLike | None) -> MedianParams:
    """Map ``early_terminate: {type: median}`` onto Ray's ``MedianStoppingRule``.

    The grace period is W&B's first band: ``min_iter``, or the lowest band from ``max_iter``
    and ``s``. Nothing is judged before 3 trials have reported (``min_samples_required``).

    Args:
        early_terminate: The parsed ``early_terminate`` section.
        metric: The parsed ``metric`` section, or None to let ``tune.TuneConfig`` supply
            metric and mode.

    Returns:
        The arguments, without Ray imported.

    Raises:
        ValueError: On invalid settings (as for hyperband).

    >>> from types import SimpleNamespace as NS
    >>> et = NS(type="median", min_iter=None, max_iter=81, s=3, eta=3)
    >>> median_params(et, None)  # doctest: +ELLIPSIS
    MedianParams(metric=None, mode=None, grace_period=3, ...)
    """
    first = _bands_of(early_terminate)[0]
    name, mode = mode_of(metric)
    return MedianParams(metric=name, mode=mode, grace_period=first)


@dataclass(frozen=True)
class PromotionParams:
    """Keyword arguments for :class:`~.promotion.PromotionScheduler`."""

    metric: str
    mode: str
    rungs: tuple[int, ...]
    eta: float


def promotion_params(
    early_terminate: EarlyTerminateLike, metric: MetricLike | None
) -> PromotionParams:
    """Map ``early_terminate: {type: promotion}`` onto promotion-type ASHA.

    The rungs are W&B's hyperband bands for the same ``min_iter`` / ``max_iter`` + ``s`` and
    ``eta`` (duplicates dropped); ``eta`` is the reduction factor. ``strict`` has no meaning
    here: a configuration is ranked by its value at the rung.

    Raises:
        ValueError: On invalid settings (as for hyperband), or without a metric to rank by.

    >>> from types import SimpleNamespace as NS
    >>> p = promotion_params(NS(type="promotion", min_iter=None, max_iter=81, s=3, eta=3),
    ...                      NS(name="loss", goal="minimize"))
    >>> p.rungs, p.eta, p.mode
    ((3, 9, 27), 3, 'min')
    """
    name, mode = mode_of(metric)
    if name is None or mode is None:
        raise ValueError("early_terminate type 'promotion' needs a metric to rank trials by")
    rungs = tuple(sorted(set(_bands_of(early_terminate))))
    return PromotionParams(metric=name, mode=mode, rungs=rungs, eta=_eta_of(early_terminate))
