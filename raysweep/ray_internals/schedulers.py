"""Ray's private scheduler state, reached through named members.

raysweep's ASHA and median schedulers explain their stops and save their state as JSON, which
needs what Ray keeps in private attributes (``AsyncHyperBandScheduler._brackets``,
``_Bracket._rungs``, ``MedianStoppingRule._results``, ...). Every such access is here, behind
named members of two thin subclasses, so that a Ray upgrade that renames them breaks one file.

Checked against Ray 2.60.0 (``ray/tune/schedulers/async_hyperband.py`` and
``median_stopping_rule.py``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from ray.tune.schedulers import AsyncHyperBandScheduler, MedianStoppingRule, TrialScheduler

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

__all__ = ["AshaInternals", "MedianInternals"]

#: One rung of an ASHA bracket: its milestone and ``trial_id -> reward`` recorded there.
Rung = tuple[float, dict[str, float]]


class AshaInternals(AsyncHyperBandScheduler):
    """Ray's ``AsyncHyperBandScheduler``, its private state reached through named members.

    Brackets are named by their index in Ray's bracket list; rewards are Ray's: the metric
    times +1 (max) or -1 (min), so higher is better.
    """

    @property
    def time_attr(self) -> str:
        """The result key that counts time (``training_iteration`` in raysweep)."""
        return str(self._time_attr)

    @property
    def max_t(self) -> float:
        """The last milestone, in units of :attr:`time_attr`."""
        return float(self._max_t)

    @property
    def stops_last_trials(self) -> bool:
        """Whether a trial is stopped once it reaches :attr:`max_t`."""
        return bool(self._stop_last_trials)

    @property
    def reduction_factor(self) -> float:
        """Ray's ``reduction_factor`` (W&B's ``eta``)."""
        return float(self._reduction_factor)

    @property
    def mode(self) -> str | None:
        """``"min"``, ``"max"``, or None until ``tune.TuneConfig`` supplies it."""
        return self._mode

    @property
    def num_stopped(self) -> int:
        """How many trials Ray's ASHA stopped (shown in its status line)."""
        return int(self._num_stopped)

    @num_stopped.setter
    def num_stopped(self, value: int) -> None:
        self._num_stopped = value

    def bracket_rungs(self) -> list[list[Rung]]:
        """Each bracket's rungs, highest milestone first, as Ray holds them (not copies)."""
        return [list(bracket._rungs) for bracket in self._brackets]

    def rungs_of(self, index: int) -> list[Rung]:
        """The rungs of one bracket, highest milestone first (the live dicts)."""
        return list(self._brackets[index]._rungs)

    def cutoff(self, index: int, recorded: Mapping[str, float]) -> float | None:
        """The reward a trial must reach at a rung of bracket ``index`` that holds
        ``recorded``; None if nothing is recorded."""
        value: Any = self._brackets[index].cutoff(dict(recorded))
        return None if value is None else float(value)

    def bracket_of(self, trial_id: str) -> int | None:
        """The index of the trial's bracket, or None if the trial is unknown."""
        bracket = self._trial_info.get(trial_id)
        if bracket is None:
            return None
        return next(i for i, b in enumerate(self._brackets) if b is bracket)

    def brackets_by_trial(self) -> dict[str, int]:
        """``trial_id -> bracket index`` for every trial Ray tracks."""
        index = {id(b): i for i, b in enumerate(self._brackets)}
        return {k: index[id(b)] for k, b in self._trial_info.items()}

    def assign(self, trial_id: str, index: int) -> None:
        """Put the trial in bracket ``index`` (replacing Ray's own choice)."""
        self._trial_info[trial_id] = self._brackets[index]

    def untrack(self, trial_id: str) -> None:
        """Forget the trial's bracket; nothing happens if it has none."""
        self._trial_info.pop(trial_id, None)


@dataclass(frozen=True)
class _TrialKey:
    """Stands for a trial in Ray's median bookkeeping: equal by id, so the state survives a
    restore (Ray keys its dicts by ``Trial`` objects, which compare by identity)."""

    trial_id: str

    def __str__(self) -> str:
        return self.trial_id


def _key(trial_id: str) -> Trial:
    # Ray's median rule only hashes, compares and prints the trials it is given.
    return cast("Trial", _TrialKey(trial_id))


def _never_paused() -> float:
    return -math.inf


class MedianInternals(MedianStoppingRule):
    """Ray's ``MedianStoppingRule``, keyed by trial id, its private state reached through
    named members.

    Two of Ray's private hooks change here: a trial with too few others to compare against
    runs on instead of pausing (Ray pauses when others wait, ``_on_insufficient_samples``),
    and the never-used pause times are kept in a picklable ``defaultdict``.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Ray's defaultdict(lambda) cannot be pickled by the standard pickle (pauses, its
        # only user, never happen here anyway).
        self._last_pause = defaultdict(_never_paused)

    @property
    def time_attr(self) -> str:
        """The result key that counts time (``training_iteration`` in raysweep)."""
        return str(self._time_attr)

    @property
    def mode(self) -> str | None:
        """``"min"``, ``"max"``, or None until ``tune.TuneConfig`` supplies it."""
        return self._mode

    @property
    def grace_period(self) -> float:
        """Nothing is judged before this time, in units of :attr:`time_attr`."""
        return float(self._grace_period)

    def judge(self, tune_controller: Any, trial_id: str, result: dict[str, Any]) -> str:
        """Ray's ``on_trial_result`` for the trial with this id."""
        action: str = MedianStoppingRule.on_trial_result(
            self, tune_controller, _key(trial_id), result
        )
        return action

    def record_last(self, tune_controller: Any, trial_id: str, result: dict[str, Any]) -> None:
        """Ray's ``on_trial_complete`` for the trial with this id."""
        MedianStoppingRule.on_trial_complete(self, tune_controller, _key(trial_id), result)

    def _on_insufficient_samples(self, tune_controller: Any, trial: Any, time: float) -> str:
        return TrialScheduler.CONTINUE

    def results_of(self, trial_id: str) -> list[dict[str, Any]] | None:
        """The results Ray keeps for the trial (the live list), or None if it has none."""
        return cast("list[dict[str, Any]] | None", self._results.get(_key(trial_id)))

    def all_results(self) -> dict[str, list[dict[str, Any]]]:
        """``trial_id -> results`` for every trial."""
        return {str(key): history for key, history in self._results.items()}

    def replace_results(self, results: Mapping[str, list[dict[str, Any]]]) -> None:
        """Replace every trial's results."""
        self._results = defaultdict(list)
        for trial_id, history in results.items():
            self._results[_key(trial_id)] = history

    def stopped_ids(self) -> list[str]:
        """The trials Ray's rule stopped, sorted."""
        return sorted(str(key) for key in self._stopped_trials)

    def replace_stopped(self, trial_ids: Iterable[str]) -> None:
        """Replace the set of stopped trials."""
        self._stopped_trials = {_key(t) for t in trial_ids}

    def drop(self, trial_id: str) -> None:
        """Forget the trial's results and that it was stopped."""
        self._results.pop(_key(trial_id), None)
        self._stopped_trials.discard(_key(trial_id))

    def others_running_means(self, trial_id: str, time: float) -> list[float]:
        """As Ray does: the finite running means, up to ``time``, of the other trials that
        got at least that far."""
        trial = _key(trial_id)
        others = [k for k in self._trials_beyond_time(time) if k != trial]
        means = (self._running_mean(k, time) for k in others)
        return [float(m) for m in means if np.isfinite(m)]

    def best_value(self, trial_id: str) -> float:
        """The trial's best metric value so far, as Ray compares it."""
        return float(self._best_result(_key(trial_id)))  # type: ignore[no-untyped-call]
