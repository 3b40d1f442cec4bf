"""W&B's Hyperband early-stopping rule as pure functions (no Ray, no I/O).

This reproduces ``early_terminate: {type: hyperband}`` of wandb/sweeps
(``hyperband_stopping.py``) exactly:

* An *iteration* is one valid logged value of the metric: rows without the metric, NaN,
  +-inf, bools and non-numbers are skipped (:func:`valid_history`). ``_step`` plays no part.
* Every value here is a *loss*: lower is better. Callers negate maximized metrics first;
  only :class:`Decision` turns numbers back into the metric's own units for display.
* The threshold of band ``b`` is an order statistic over **all** runs in any state
  (:func:`threshold`); a running run at band ``b`` is stopped when its value is above it
  (:func:`decide`). W&B re-judges every running run on each controller tick, so a run can be
  stopped later, once more runs have reached its band (:meth:`HyperbandRule.evaluate`).

Deviations, all on inputs W&B crashes on: ``max_iter`` without ``s`` raises ``ValueError``
(W&B: ``KeyError 's'``); ``eta <= 1`` raises ``ValueError`` (W&B: ``IndexError`` at eta 1);
``min_iter`` bands stop before a float overflow (W&B: ``OverflowError``); complex numbers are
not valid values (W&B keeps them and then fails to compare).
"""

from __future__ import annotations

import bisect
import math
import numbers
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from raysweep.numeric import finite_float
from raysweep.sweep.bands import hyperband_bands

from ._stop_reasons import show_number

__all__ = [
    "BANDS_ERROR",
    "Decision",
    "HyperbandRule",
    "bands",
    "decide",
    "threshold",
    "valid_history",
]

K = TypeVar("K", bound=Hashable)

BANDS_ERROR = (
    "Bands must be an array of length at least 1. "
    "Try increasing s, decreasing eta, or increasing min_iter."
)

def _check_eta(eta: float) -> None:
    if finite_float(eta) is None:
        raise ValueError(f"hyperband: eta must be a finite number greater than 1, got {eta!r}")
    if eta <= 1:
        raise ValueError(f"hyperband: eta must be greater than 1, got {eta!r}")


def _check_int(name: str, value: object, lowest: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"hyperband: {name} must be an integer, got {value!r}")
    if value < lowest:
        raise ValueError(f"hyperband: {name} must be at least {lowest}, got {value!r}")
    return int(value)


def bands(
    *,
    eta: float = 3,
    min_iter: int | None = None,
    max_iter: int | None = None,
    s: int | None = None,
) -> tuple[int, ...]:
    """Compute W&B's Hyperband bands: the iteration counts at which runs are judged.

    ``max_iter`` (with ``s``) takes precedence over ``min_iter``, as in W&B. From
    ``max_iter``: divide by ``eta`` ``s`` times, stop once the value drops below 1, keep
    ``int(value)``; ``max_iter`` itself is never a band. From ``min_iter``:
    ``int(min_iter * eta**k)`` for k = 0..99, computed by repeated multiplication as W&B does
    (with ``eta=1.5`` the float rounding shows: 67.5 becomes 67).

    Args:
        eta: Reduction factor, greater than 1.
        min_iter: First band (iterations), at least 1.
        max_iter: Iterations of the longest run, at least 1; needs ``s``.
        s: Number of bands below ``max_iter``, at least 0.

    Returns:
        The bands in ascending order (duplicates kept, as in W&B).

    Raises:
        ValueError: On invalid arguments, or with W&B's message when no band remains.

    >>> bands(min_iter=3)[:4]
    (3, 9, 27, 81)
    >>> bands(max_iter=27, s=2)
    (3, 9)
    >>> bands(max_iter=100, s=3)
    (3, 11, 33)
    >>> bands(min_iter=30, eta=1.5)[:4]
    (30, 45, 67, 101)
    """
    _check_eta(eta)
    if max_iter is not None:
        if s is None:
            raise ValueError("hyperband: 's' is required together with 'max_iter'")
        _check_int("max_iter", max_iter, 1)
        _check_int("s", s, 0)
    elif min_iter is not None:
        _check_int("min_iter", min_iter, 1)
    else:
        raise ValueError(
            'invalid config for hyperband stopping: either "max_iter" or "min_iter" '
            "must be specified"
        )
    found = hyperband_bands(eta, min_iter, max_iter, s)
    if not found:
        raise ValueError(BANDS_ERROR)
    return tuple(found)


def valid_history(values: Iterable[Any]) -> list[float]:
    """Keep the values W&B counts as iterations, as floats.

    W&B's ``is_number``: a finite real number that is not a bool. NaN, +-inf, None,
    strings (``"NaN"`` included), bools (``numpy.bool_`` too) and complex numbers are dropped;
    numpy numbers are kept.

    Args:
        values: The metric's logged values, in order.

    Returns:
        The valid values as floats, in order.

    >>> valid_history([1, None, float("nan"), "NaN", True, float("inf"), 2.5])
    [1.0, 2.5]
    """
    kept: list[float] = []
    for value in values:
        as_float = finite_float(value)
        if as_float is not None:
            kept.append(as_float)
    return kept


def threshold(histories: Iterable[Sequence[float]], band: int, eta: float) -> float:
    """Compute the loss a run must not exceed at ``band``, over every run that reached it.

    ``sorted(values)[int(len(values) * (1 / eta))]``, where ``values`` holds each history's
    ``band``-th value. W&B multiplies by ``1 / eta`` rather than dividing by ``eta``; the two
    differ at some sizes (eta 1.1, 33 values: index 30, not 29), so this keeps W&B's form.
    Ties with the threshold survive, so about ``floor(n / eta) + 1`` of ``n`` runs pass.

    Args:
        histories: Valid, sign-adjusted histories of all runs, in any state.
        band: A band (iterations), at least 1.
        eta: Reduction factor, greater than 1.

    Returns:
        The threshold, or ``inf`` when no run has reached ``band``.

    >>> threshold([[5.0, 4.0], [6.0, 1.0], [7.0, 3.0], [9.0]], band=2, eta=3)
    3.0
    >>> threshold([[1.0]], band=2, eta=3)
    inf
    """
    _check_int("band", band, 1)
    values = sorted(h[band - 1] for h in histories if len(h) >= band)
    if not values:
        return math.inf
    return values[int((1.0 / eta) * len(values))]


@dataclass(frozen=True)
class Decision:
    """The verdict on one running run at its latest band.

    ``value`` and ``threshold`` are in the metric's own units (un-negated for maximized
    metrics), so ``reason`` reads as the user logged the numbers.

    Attributes:
        stop: Whether the run must stop.
        band: The latest band the run has reached (iterations).
        value: The compared value: the run's value at ``band`` when strict, else its best.
        threshold: The band's threshold.
        reason: One line for logs and results, e.g. ``"stopped at band 9: 0.41 > threshold
            0.37"``.
    """

    stop: bool
    band: int
    value: float
    threshold: float
    reason: str

    @classmethod
    def judge(
        cls, *, band: int, loss: float, limit: float, strict: bool, maximize: bool = False
    ) -> Decision:
        """Build the decision for a run whose compared ``loss`` meets ``limit`` at ``band``.

        Args:
            band: The run's latest band.
            loss: The compared value, sign-adjusted (lower is better).
            limit: The band's threshold, sign-adjusted.
            strict: Whether ``loss`` is the value at the band (True) or the best so far.
            maximize: Whether the metric is maximized; only changes how numbers are shown.

        Returns:
            The decision; it stops the run when ``loss > limit``.

        >>> Decision.judge(band=9, loss=0.41, limit=0.37, strict=True).reason
        'stopped at band 9: 0.41 > threshold 0.37'
        >>> Decision.judge(band=3, loss=-0.6, limit=-0.52, strict=False, maximize=True).reason
        'kept at band 3: best 0.6 >= threshold 0.52'
        """
        stop = loss > limit
        sign = -1.0 if maximize else 1.0
        value, shown_limit = sign * loss, sign * limit
        if maximize:
            relation = "<" if stop else ">="
        else:
            relation = ">" if stop else "<="
        verb = "stopped" if stop else "kept"
        label = "" if strict else "best "
        reason = (
            f"{verb} at band {band}: {label}{show_number(value)} {relation} "
            f"threshold {show_number(shown_limit)}"
        )
        return cls(
            stop=stop, band=band, value=value + 0.0, threshold=shown_limit + 0.0, reason=reason
        )

    def reason_at(self, step: int) -> str:
        """The reason, for a run that this decision stops at its ``step``-th value.

        A run is judged at its latest band, which its step has passed when the band's
        threshold moved later (another run reached the band) or its value came after the
        band; the reason then names the step where it really ended, and the band.

        >>> d = Decision.judge(band=3, loss=0.41, limit=0.37, strict=True)
        >>> d.reason_at(3)
        'stopped at band 3: 0.41 > threshold 0.37'
        >>> d.reason_at(6)
        'stopped at step 6 (band 3): 0.41 > threshold 0.37'
        """
        if step == self.band:
            return self.reason
        # ``reason`` is "<verb> at band <band>: <comparison>", as judge() writes it.
        comparison = self.reason.split(": ", 1)[-1]
        return f"stopped at step {step} (band {self.band}): {comparison}"


def _latest_band(bands_: Sequence[int], length: int) -> int | None:
    index = bisect.bisect_right(bands_, length)
    return bands_[index - 1] if index else None


def decide(
    history: Sequence[float],
    all_histories: Iterable[Sequence[float]],
    bands: Sequence[int],
    eta: float,
    strict: bool,
    *,
    maximize: bool = False,
) -> Decision | None:
    """Judge one running run, as one W&B controller tick does.

    The run is judged at its latest band ``b <= len(history)``; the compared value is
    ``history[b - 1]`` when ``strict``, else ``min(history)``; the run stops if that value is
    above :func:`threshold`.

    Args:
        history: The run's valid, sign-adjusted history (lower is better).
        all_histories: The same for every run in any state, this one included.
        bands: Ascending bands, from :func:`bands`.
        eta: Reduction factor, greater than 1.
        strict: W&B's ``strict`` (True: the value at the band, W&B's default).
        maximize: Whether the metric is maximized; only changes how the decision shows
            numbers.

    Returns:
        The decision, or None while the run has not reached the first band (it is safe).

    >>> runs = [[4.0, 3.0], [5.0, 2.0], [6.0, 1.0]]
    >>> decide([6.0, 1.0], runs, bands=(1, 2), eta=3, strict=True).reason
    'kept at band 2: 1 <= threshold 2'
    >>> decide([4.0, 3.0], runs, bands=(1, 2), eta=3, strict=True).reason
    'stopped at band 2: 3 > threshold 2'
    >>> decide([9.0], runs, bands=(2,), eta=3, strict=True) is None
    True
    """
    band = _latest_band(bands, len(history))
    if band is None:
        return None
    loss = history[band - 1] if strict else min(history)
    limit = threshold(all_histories, band, eta)
    return Decision.judge(band=band, loss=loss, limit=limit, strict=strict, maximize=maximize)


@dataclass(frozen=True)
class HyperbandRule:
    """W&B's Hyperband stopping rule for one sweep.

    Attributes:
        bands: Ascending bands (iterations), from :func:`bands`.
        eta: Reduction factor, greater than 1.
        strict: Compare the value at the band (True, W&B's default) or the best so far.
        maximize: Whether the metric is maximized. Histories passed in are always
            sign-adjusted losses; this only changes how decisions show numbers.
    """

    bands: tuple[int, ...]
    eta: float = 3
    strict: bool = True
    maximize: bool = False

    def __post_init__(self) -> None:
        _check_eta(self.eta)
        if not self.bands:
            raise ValueError(BANDS_ERROR)
        for band in self.bands:
            _check_int("band", band, 1)
        if list(self.bands) != sorted(self.bands):
            raise ValueError(f"hyperband: bands must be ascending, got {self.bands!r}")

    @classmethod
    def from_config(
        cls,
        *,
        eta: float = 3,
        strict: bool = True,
        min_iter: int | None = None,
        max_iter: int | None = None,
        s: int | None = None,
        maximize: bool = False,
    ) -> HyperbandRule:
        """Build the rule from W&B's ``early_terminate`` keys.

        >>> HyperbandRule.from_config(max_iter=18, s=2).bands
        (2, 6)
        """
        found = bands(eta=eta, min_iter=min_iter, max_iter=max_iter, s=s)
        return cls(bands=found, eta=eta, strict=strict, maximize=maximize)

    def decide(
        self, history: Sequence[float], all_histories: Iterable[Sequence[float]]
    ) -> Decision | None:
        """Judge one running run; see :func:`decide`."""
        return decide(
            history, all_histories, self.bands, self.eta, self.strict, maximize=self.maximize
        )

    def evaluate(
        self, running: Mapping[K, Sequence[float]], everyone: Mapping[K, Sequence[float]]
    ) -> dict[K, Decision]:
        """Re-judge every running run against all runs, as one W&B controller tick.

        Args:
            running: Sign-adjusted valid histories of the running runs, by id.
            everyone: The same for all runs in any state (finished, failed, ...). Running
                runs missing from it are added, since W&B counts every run.

        Returns:
            A decision for each running run that has reached the first band.

        >>> rule = HyperbandRule(bands=(1,), eta=2)
        >>> done = {"a": [1.0]}
        >>> live = {"b": [2.0], "c": [3.0], "d": []}
        >>> {k: d.stop for k, d in rule.evaluate(live, done).items()}
        {'b': False, 'c': True}
        """
        pool = [*everyone.values(), *(h for key, h in running.items() if key not in everyone)]
        # Thresholds only depend on the band; compute each once per tick.
        limits: dict[int, float] = {}
        decisions: dict[K, Decision] = {}
        for key, history in running.items():
            band = self.latest_band(len(history))
            if band is None:
                continue
            if band not in limits:
                limits[band] = threshold(pool, band, self.eta)
            decisions[key] = self.judge(history, band, limits[band])
        return decisions

    def latest_band(self, iterations: int) -> int | None:
        """Return the largest band <= ``iterations``, or None before the first band.

        >>> HyperbandRule(bands=(3, 9)).latest_band(10), HyperbandRule(bands=(3,)).latest_band(2)
        (9, None)
        """
        return _latest_band(self.bands, iterations)

    def judge(self, history: Sequence[float], band: int, limit: float) -> Decision:
        """Judge a run at ``band`` against a precomputed threshold ``limit``.

        Args:
            history: The run's valid, sign-adjusted history; ``len(history) >= band``.
            band: The run's latest band, from :meth:`latest_band`.
            limit: ``threshold(all_histories, band, eta)``.

        Returns:
            The decision.
        """
        loss = history[band - 1] if self.strict else min(history)
        return Decision.judge(
            band=band, loss=loss, limit=limit, strict=self.strict, maximize=self.maximize
        )
