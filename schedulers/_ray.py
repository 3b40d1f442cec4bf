"""Ray's ASHA and median stopping rule, recording why they stop a trial.

Ray's ``AsyncHyperBandScheduler`` and ``MedianStoppingRule`` answer ``STOP`` without a word, so
the results table could not tell a trial stopped early from one that finished. The thin
subclasses here call the parent's ``on_trial_result`` unchanged and, when it answers ``STOP``,
put one line in :attr:`stop_reasons` (``trial_id -> reason``), worked out from the parent's
own state, e.g. ``"stopped at rung 9: 0.41 > cutoff 0.37 (top 1/3 of 4 earlier trials)"``.
The decisions are Ray's, bit for bit, with two changes to the median rule that raysweep's
trials need (see :class:`RecordingMedian`).

Their state (rungs, histories, reasons) is JSON data (:meth:`state_dict`), which
:class:`SchedulerStateCallback` writes into Tune's experiment checkpoints, so a resumed sweep
keeps it (Ray itself never checkpoints a scheduler, ray#30838).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from ray.tune.schedulers import AsyncHyperBandScheduler, MedianStoppingRule, TrialScheduler

from raysweep.files import write_json_atomic

from ._resume import ResumableState
from .hyperband import WandbHyperbandCallback

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

__all__ = ["RecordingAsha", "RecordingMedian", "SchedulerStateCallback"]

_STATE_VERSION = 1


def _fmt(number: float) -> str:
    return f"{number + 0.0:.4g}"


def _worse(mode: str | None) -> str:
    return "<" if mode == "max" else ">"


def _json_number(value: Any) -> float | None:
    # NaN rewards are legal in Ray's rungs (nanpercentile skips them); JSON has no NaN.
    number = float(value)
    return number if math.isfinite(number) else None


def _from_json(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _check_state(state: Mapping[str, Any], kind: str) -> None:
    if state.get("version") != _STATE_VERSION or state.get("kind") != kind:
        raise ValueError(
            f"cannot restore {kind} state {state.get('kind')!r} version "
            f"{state.get('version')!r} (this raysweep reads {kind!r} version {_STATE_VERSION})"
        )


def _load_json(checkpoint_path: str) -> Any:
    with open(checkpoint_path, encoding="utf-8") as handle:
        return json.load(handle)


class RecordingAsha(ResumableState, AsyncHyperBandScheduler):
    """Ray's ASHA (``AsyncHyperBandScheduler``), recording why it stops each trial.

    Takes the parent's arguments unchanged (raysweep passes :func:`~._mapping.asha_params`).
    A trial is judged once per rung, when it first reaches the rung's milestone, against the
    trials recorded there before it: it stops if its reward is below the ``(1 - 1/rf)``
    percentile of theirs.

    Attributes:
        stop_reasons: ``trial_id -> reason`` for every trial this scheduler stopped, e.g.
            ``"stopped at rung 9: 0.41 > cutoff 0.37 (top 1/3 of 4 earlier trials)"``; with
            ``stop_last_trials``, a trial stopped at ``max_t`` gets ``"stopped at max_t 81
            (training budget)"``.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stop_reasons: dict[str, str] = {}

    def on_trial_add(self, tune_controller: Any, trial: Trial) -> None:
        """Assign a bracket to a new trial; a trial restored from state keeps its own."""
        known = self._trial_info.get(trial.trial_id)
        super().on_trial_add(tune_controller, trial)
        if known is not None:
            self._trial_info[trial.trial_id] = known

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict[str, Any]) -> str:
        """Judge the trial as Ray's ASHA does; record the reason when it stops it."""
        trial_id = trial.trial_id
        bracket = self._trial_info.get(trial_id)
        before = _rungs_holding(bracket, trial_id)
        action: str = super().on_trial_result(tune_controller, trial, result)
        if action == TrialScheduler.STOP:
            self.stop_reasons[trial_id] = self._reason(trial_id, result, bracket, before)
        return action

    def on_trial_remove(self, tune_controller: Any, trial: Trial) -> None:
        """Forget a trial removed before it ran (Ray raises if it was never added)."""
        self._trial_info.pop(trial.trial_id, None)

    def debug_string(self) -> str:
        """Summarize the scheduler for Tune's status output."""
        return f"{super().debug_string()}\nStopped with a reason: {len(self.stop_reasons)}"

    def _reason(
        self, trial_id: str, result: Mapping[str, Any], bracket: Any, before: set[float]
    ) -> str:
        if self._stop_last_trials and result[self._time_attr] >= self._max_t:
            return f"stopped at max_t {self._max_t:g} (training budget)"
        for milestone, recorded in getattr(bracket, "_rungs", ()):
            if milestone in before or trial_id not in recorded:
                continue
            earlier = {k: v for k, v in recorded.items() if k != trial_id}
            cutoff = bracket.cutoff(earlier)
            if cutoff is None:
                break
            # Rewards are metric * op with op = +1 (max) or -1 (min): the same op maps back.
            shown = float(cutoff) * (1.0 if self._mode == "max" else -1.0)
            return (
                f"stopped at rung {milestone:g}: {_fmt(float(result[str(self._metric)]))} "
                f"{_worse(self._mode)} cutoff {_fmt(shown)} "
                f"(top 1/{self._reduction_factor:g} of {len(earlier)} earlier trials)"
            )
        return "stopped by ASHA"  # not reached with Ray 2.60's bracket logic

    # -- persistence -------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Return the rungs, bracket assignments and reasons as JSON-compatible data."""
        index = {id(b): i for i, b in enumerate(self._brackets)}
        return {
            "version": _STATE_VERSION,
            "kind": "asha",
            "metric": self._metric,
            "mode": self._mode,
            "brackets": [
                [
                    [milestone, {k: _json_number(v) for k, v in recorded.items()}]
                    for milestone, recorded in bracket._rungs
                ]
                for bracket in self._brackets
            ],
            "trials": {k: index[id(b)] for k, b in self._trial_info.items()},
            "num_stopped": self._num_stopped,
            "stop_reasons": dict(self.stop_reasons),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output.

        Raises:
            ValueError: If the state is not ASHA's, or its rungs, metric or mode differ.
        """
        _check_state(state, "asha")
        ours = [[m for m, _ in b._rungs] for b in self._brackets]
        saved = [[m for m, _ in b] for b in state["brackets"]]
        if saved != ours or (state["metric"], state["mode"]) != (self._metric, self._mode):
            raise ValueError(
                f"cannot restore ASHA state saved for another config: saved rungs {saved} on "
                f"{state['metric']!r}/{state['mode']!r}, this scheduler has {ours} on "
                f"{self._metric!r}/{self._mode!r}"
            )
        for bracket, rungs in zip(self._brackets, state["brackets"], strict=True):
            for (_, recorded), (_, values) in zip(bracket._rungs, rungs, strict=True):
                recorded.clear()
                recorded.update({k: _from_json(v) for k, v in values.items()})
        self._trial_info.update({k: self._brackets[i] for k, i in state["trials"].items()})
        self._num_stopped = int(state["num_stopped"])
        self.stop_reasons = dict(state["stop_reasons"])

    def forget(self, trial_ids: Iterable[str]) -> None:
        """Drop these trials from every rung (a resumed sweep runs them again as new trials,
        so their old values must not count twice in the cutoffs)."""
        for trial_id in trial_ids:
            for bracket in self._brackets:
                for _, recorded in bracket._rungs:
                    recorded.pop(trial_id, None)
            self._trial_info.pop(trial_id, None)
            self.stop_reasons.pop(trial_id, None)

    def save(self, checkpoint_path: str) -> None:
        """Write :meth:`state_dict` as JSON (Ray's own ``save`` pickles ``__dict__``)."""
        write_json_atomic(checkpoint_path, self.state_dict())

    def restore(self, checkpoint_path: str) -> None:
        """Read a file written by :meth:`save`."""
        self.load_state_dict(_load_json(checkpoint_path))


def _rungs_holding(bracket: Any, trial_id: str) -> set[float]:
    return {m for m, recorded in getattr(bracket, "_rungs", ()) if trial_id in recorded}


def _never_paused() -> float:
    return -math.inf


@dataclass(frozen=True)
class _TrialKey:
    """Stands for a trial in Ray's median bookkeeping: equal by id, so the state survives a
    restore (Ray keys its dicts by ``Trial`` objects, which compare by identity)."""

    trial_id: str

    def __str__(self) -> str:
        return self.trial_id


def _as_trial(key: _TrialKey) -> Trial:
    # Ray's median rule only hashes, compares and prints the trials it is given.
    return cast("Trial", key)


class RecordingMedian(ResumableState, MedianStoppingRule):
    """Ray's ``MedianStoppingRule``, recording why it stops each trial.

    Takes the parent's arguments (raysweep passes :func:`~._mapping.median_params`). At each
    result from ``grace_period`` on, a trial stops if its best value so far is worse than the
    median, over the other trials that got at least as far, of their running means (the mean
    of their values from ``grace_period`` to now). Two changes to Ray, for raysweep's trials:

    * **Never pauses.** With too few trials to compare, Ray *pauses* the trial when others
      wait (``min_time_slice``); a raysweep trial has no checkpoint, so it would start over.
      Here it runs on, as Ray's own rule does when nobody waits.
    * **One value per step.** Ray appends the stopping (or last) result again from
      ``on_trial_complete``, counting it twice in that trial's running mean; a result whose
      ``time_attr`` is not above the trial's last one replaces what the trial reported from
      that time on (a duplicate, or a restarted trial). Only ``time_attr`` and the metric of
      each result are kept, not the whole result.

    Attributes:
        stop_reasons: ``trial_id -> reason`` for every trial this scheduler stopped, e.g.
            ``"stopped at step 12: best 0.41 > median 0.37 of 5 trials' running means"``.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stop_reasons: dict[str, str] = {}
        # Ray's defaultdict(lambda) cannot be pickled by the standard pickle (pauses, its
        # only user, never happen here anyway).
        self._last_pause = defaultdict(_never_paused)

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict[str, Any]) -> str:
        """Judge the trial as Ray's median rule does; record the reason when it stops it."""
        key = _TrialKey(trial.trial_id)
        slim = self._slim(key, result)
        if slim is None:
            return TrialScheduler.CONTINUE
        action: str = super().on_trial_result(tune_controller, _as_trial(key), slim)
        if action == TrialScheduler.STOP:
            self.stop_reasons[key.trial_id] = self._reason(key, slim)
        return action

    def on_trial_complete(
        self, tune_controller: Any, trial: Trial, result: dict[str, Any] | None
    ) -> None:
        """Record a finished or stopped trial's last result, once."""
        key = _TrialKey(trial.trial_id)
        slim = self._slim(key, result or {})
        if slim is not None:
            super().on_trial_complete(tune_controller, _as_trial(key), slim)

    def _on_insufficient_samples(self, tune_controller: Any, trial: Any, time: float) -> str:
        return TrialScheduler.CONTINUE

    def debug_string(self) -> str:
        """Summarize the scheduler for Tune's status output."""
        return f"{super().debug_string()} Stopped with a reason: {len(self.stop_reasons)}."

    def _slim(self, key: _TrialKey, result: Mapping[str, Any]) -> dict[str, Any] | None:
        """Keep ``time_attr`` and the metric; drop what the trial reported from that time on."""
        if self._time_attr not in result or self._metric not in result:
            return None
        time, metric = result[self._time_attr], str(self._metric)
        history = self._results.get(_as_trial(key))
        if history and history[-1][self._time_attr] >= time:
            history[:] = [r for r in history if r[self._time_attr] < time]
        return {self._time_attr: time, metric: result[metric]}

    def _reason(self, key: _TrialKey, slim: Mapping[str, Any]) -> str:
        time = slim[self._time_attr]
        # As Ray does: the other trials that got at least this far, their finite means.
        trial = _as_trial(key)
        others = [k for k in self._trials_beyond_time(time) if k != trial]
        means = [m for m in (self._running_mean(k, time) for k in others) if np.isfinite(m)]
        best = float(self._best_result(trial))  # type: ignore[no-untyped-call]
        label = "step" if self._time_attr == "training_iteration" else self._time_attr
        return (
            f"stopped at {label} {time:g}: best {_fmt(best)} "
            f"{_worse(self._mode)} median {_fmt(float(np.median(means)))} of "
            f"{len(means)} trials' running means"
        )

    # -- persistence -------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Return every trial's ``[time, value]`` pairs and the reasons as JSON data."""
        return {
            "version": _STATE_VERSION,
            "kind": "median",
            "metric": self._metric,
            "mode": self._mode,
            "results": {
                key.trial_id: [
                    [r[self._time_attr], _json_number(r[self._metric])] for r in history
                ]
                for key, history in self._results.items()
            },
            "stopped": sorted(key.trial_id for key in self._stopped_trials),
            "stop_reasons": dict(self.stop_reasons),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output.

        Raises:
            ValueError: If the state is not the median rule's, or its metric or mode differ.
        """
        _check_state(state, "median")
        if (state["metric"], state["mode"]) != (self._metric, self._mode):
            raise ValueError(
                "cannot restore median state saved for another metric: saved "
                f"{state['metric']!r}/{state['mode']!r}, this scheduler has "
                f"{self._metric!r}/{self._mode!r}"
            )
        self._results = defaultdict(list)
        for trial_id, pairs in state["results"].items():
            self._results[_TrialKey(trial_id)] = [
                {self._time_attr: t, self._metric: _from_json(v)} for t, v in pairs
            ]
        self._stopped_trials = {_TrialKey(t) for t in state["stopped"]}
        self.stop_reasons = dict(state["stop_reasons"])

    def forget(self, trial_ids: Iterable[str]) -> None:
        """Drop these trials' results (a resumed sweep runs them again as new trials, so
        their old results must not count twice in the medians)."""
        for trial_id in trial_ids:
            self._results.pop(_TrialKey(trial_id), None)
            self._stopped_trials.discard(_TrialKey(trial_id))
            self.stop_reasons.pop(trial_id, None)

    def save(self, checkpoint_path: str) -> None:
        """Write :meth:`state_dict` as JSON."""
        write_json_atomic(checkpoint_path, self.state_dict())

    def restore(self, checkpoint_path: str) -> None:
        """Read a file written by :meth:`save`."""
        self.load_state_dict(_load_json(checkpoint_path))


class SchedulerStateCallback(WandbHyperbandCallback):
    """Carry a recording scheduler's stop reasons and state through Tune.

    * Writes the stop reason into the stopping result under :data:`STOP_REASON_KEY` (Tune
      hands schedulers a flattened copy of the result, and callbacks the result itself).
    * Returns the scheduler's :meth:`state_dict` from :meth:`get_state`, which Tune saves
      with every experiment checkpoint and hands back to :meth:`set_state` on
      ``Tuner.restore`` (before the restored trials are added again).

    Args:
        scheduler: A :class:`RecordingAsha` or :class:`RecordingMedian` passed to
            ``tune.TuneConfig(scheduler=...)``.
    """

    # The behaviour is WandbHyperbandCallback's: both schedulers expose ``stop_reasons``,
    # ``state_dict`` and ``load_state_dict``.
