"""Ray's ASHA and median stopping rule, recording why they stop a trial.

Ray's ``AsyncHyperBandScheduler`` and ``MedianStoppingRule`` answer ``STOP`` without a word, so
the results table could not tell a trial stopped early from one that finished. The thin
subclasses here call the parent's ``on_trial_result`` unchanged and, when it answers ``STOP``,
put one line in ``stop_reasons`` (``trial_id -> reason``), worked out from the parent's own
state, e.g. ``"stopped at rung 9: 0.41 > cutoff 0.37 (top 1/3 of 4 earlier trials)"``.
The decisions are Ray's, bit for bit, with two changes to the median rule that raysweep's
trials need (see :class:`RecordingMedian`). Their state (rungs, histories, reasons) is JSON
data (``state_dict``). Ray's private state is read through
:mod:`raysweep.ray_internals.schedulers` only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from ray.tune.schedulers import TrialScheduler

from raysweep.numeric import finite_float
from raysweep.ray_internals.schedulers import AshaInternals, MedianInternals

from ._base import SweepScheduler
from ._stop_reasons import show_number, worse_relation

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

__all__ = ["RecordingAsha", "RecordingMedian"]

_STATE_VERSION = 1
_UNEXPLAINED = "stopped by ASHA"  # not reached with Ray 2.60's bracket logic


def _from_json(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _check_state(state: Mapping[str, Any], kind: str) -> None:
    if state.get("version") != _STATE_VERSION or state.get("kind") != kind:
        raise ValueError(
            f"cannot restore {kind} state {state.get('kind')!r} version "
            f"{state.get('version')!r} (this raysweep reads {kind!r} version {_STATE_VERSION})"
        )


class RecordingAsha(SweepScheduler, AshaInternals):
    """Ray's ASHA (``AsyncHyperBandScheduler``), recording why it stops each trial.

    Takes the parent's arguments unchanged (raysweep passes
    :func:`~.ray_arguments.asha_params`). A trial is judged once per rung, when it first
    reaches the rung's milestone, against the trials recorded there before it: it stops if its
    reward is below the ``(1 - 1/rf)`` percentile of theirs.

    Attributes:
        stop_reasons: ``trial_id -> reason`` for every trial this scheduler stopped, e.g.
            ``"stopped at rung 9: 0.41 > cutoff 0.37 (top 1/3 of 4 earlier trials)"``; with
            ``stop_last_trials``, a trial stopped at ``max_t`` gets ``"stopped at max_t 81
            (training budget)"``.
    """

    def on_trial_add(self, tune_controller: Any, trial: Trial) -> None:
        """Assign a bracket to a new trial; a trial restored from state keeps its own."""
        known = self.bracket_of(trial.trial_id)
        super().on_trial_add(tune_controller, trial)
        if known is not None:
            self.assign(trial.trial_id, known)
        self._touch(trial.trial_id)

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict[str, Any]) -> str:
        """Judge the trial as Ray's ASHA does; record the reason when it stops it."""
        trial_id = trial.trial_id
        self._touch(trial_id)
        bracket = self.bracket_of(trial_id)
        before = self._rungs_holding(bracket, trial_id)
        action: str = super().on_trial_result(tune_controller, trial, result)
        if action == TrialScheduler.STOP:
            self.stop_reasons[trial_id] = self._reason(trial_id, result, bracket, before)
        return action

    def on_trial_complete(
        self, tune_controller: Any, trial: Trial, result: dict[str, Any]
    ) -> None:
        """Record the trial's last result at its rung, as Ray does, and retire it."""
        self._touch(trial.trial_id)
        super().on_trial_complete(tune_controller, trial, result)

    def on_trial_remove(self, tune_controller: Any, trial: Trial) -> None:
        """Forget a trial removed before it ran (Ray raises if it was never added)."""
        self._touch(trial.trial_id)
        self.untrack(trial.trial_id)

    def debug_string(self) -> str:
        """Summarize the scheduler for Tune's status output."""
        return f"{super().debug_string()}\nStopped with a reason: {len(self.stop_reasons)}"

    def _rungs_holding(self, bracket: int | None, trial_id: str) -> set[float]:
        rungs = () if bracket is None else self.rungs_of(bracket)
        return {m for m, recorded in rungs if trial_id in recorded}

    def _reason(
        self, trial_id: str, result: Mapping[str, Any], bracket: int | None, before: set[float]
    ) -> str:
        if self.stops_last_trials and result[self.time_attr] >= self.max_t:
            return f"stopped at max_t {self.max_t:g} (training budget)"
        if bracket is None:
            return _UNEXPLAINED
        for milestone, recorded in self.rungs_of(bracket):
            if milestone in before or trial_id not in recorded:
                continue
            earlier = {k: v for k, v in recorded.items() if k != trial_id}
            cutoff = self.cutoff(bracket, earlier)
            if cutoff is None:
                break
            # Rewards are metric * op with op = +1 (max) or -1 (min): the same op maps back.
            shown = cutoff * (1.0 if self.mode == "max" else -1.0)
            return (
                f"stopped at rung {milestone:g}: {show_number(float(result[str(self.metric)]))} "
                f"{worse_relation(self.mode)} cutoff {show_number(shown)} "
                f"(top 1/{self.reduction_factor:g} of {len(earlier)} earlier trials)"
            )
        return _UNEXPLAINED

    # -- persistence -------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Return the rungs, bracket assignments and reasons as JSON-compatible data."""
        return {
            "version": _STATE_VERSION,
            "kind": "asha",
            "metric": self.metric,
            "mode": self.mode,
            # NaN rewards are legal in Ray's rungs (nanpercentile skips them); JSON has none.
            "brackets": [
                [
                    [milestone, {k: finite_float(v) for k, v in recorded.items()}]
                    for milestone, recorded in rungs
                ]
                for rungs in self.bracket_rungs()
            ],
            "trials": self.brackets_by_trial(),
            "num_stopped": self.num_stopped,
            "stop_reasons": dict(self.stop_reasons),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output.

        Raises:
            ValueError: If the state is not ASHA's, or its rungs, metric or mode differ.
        """
        _check_state(state, "asha")
        ours = [[m for m, _ in rungs] for rungs in self.bracket_rungs()]
        saved = [[m for m, _ in b] for b in state["brackets"]]
        if saved != ours or (state["metric"], state["mode"]) != (self.metric, self.mode):
            raise ValueError(
                f"cannot restore ASHA state saved for another config: saved rungs {saved} on "
                f"{state['metric']!r}/{state['mode']!r}, this scheduler has {ours} on "
                f"{self.metric!r}/{self.mode!r}"
            )
        for rungs, saved_rungs in zip(self.bracket_rungs(), state["brackets"], strict=True):
            for (_, recorded), (_, values) in zip(rungs, saved_rungs, strict=True):
                recorded.clear()
                recorded.update({k: _from_json(v) for k, v in values.items()})
        for trial_id, index in state["trials"].items():
            self.assign(trial_id, index)
        self.num_stopped = int(state["num_stopped"])
        self.stop_reasons = dict(state["stop_reasons"])

    def trial_state(self, trial_id: str) -> dict[str, Any] | None:
        """The trial's bracket while Ray tracks it, and its rewards as ``[bracket, rung
        index, reward]`` (see :meth:`state_dict`)."""
        state: dict[str, Any] = {}
        bracket = self.bracket_of(trial_id)
        if bracket is not None:
            state["bracket"] = bracket
        rewards = [
            [b, r, finite_float(recorded[trial_id])]
            for b, rungs in enumerate(self.bracket_rungs())
            for r, (_, recorded) in enumerate(rungs)
            if trial_id in recorded
        ]
        if rewards:
            state["rewards"] = rewards
        return state or None

    def load_trial_states(self, states: Mapping[str, Mapping[str, Any] | None]) -> None:
        """Replace these trials' brackets and rewards by :meth:`trial_state`'s output."""
        brackets = self.bracket_rungs()
        for trial_id, state in states.items():
            self._drop(trial_id)
            if state is None:
                continue
            if state.get("bracket") is not None:
                self.assign(trial_id, int(state["bracket"]))
            for b, r, reward in state.get("rewards", ()):
                brackets[b][r][1][trial_id] = _from_json(reward)

    def shared_state(self) -> dict[str, Any]:
        """How many trials Ray's ASHA stopped (its status line shows it)."""
        return {"num_stopped": self.num_stopped}

    def load_shared_state(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`shared_state`'s output."""
        self.num_stopped = int(state["num_stopped"])

    def _drop(self, trial_id: str) -> None:
        for rungs in self.bracket_rungs():
            for _, recorded in rungs:
                recorded.pop(trial_id, None)
        self.untrack(trial_id)

    def forget(self, trial_ids: Iterable[str]) -> None:
        """Drop these trials from every rung (a resumed sweep runs them again as new trials,
        so their old values must not count twice in the cutoffs)."""
        for trial_id in trial_ids:
            self._touch(trial_id)
            self._drop(trial_id)
            self.stop_reasons.pop(trial_id, None)


class RecordingMedian(SweepScheduler, MedianInternals):
    """Ray's ``MedianStoppingRule``, recording why it stops each trial.

    Takes the parent's arguments (raysweep passes :func:`~.ray_arguments.median_params`). At
    each result from ``grace_period`` on, a trial stops if its best value so far is worse than
    the median, over the other trials that got at least as far, of their running means (the
    mean of their values from ``grace_period`` to now). Two changes to Ray, for raysweep's
    trials:

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

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict[str, Any]) -> str:
        """Judge the trial as Ray's median rule does; record the reason when it stops it."""
        trial_id = trial.trial_id
        self._touch(trial_id)
        slim = self._slim(trial_id, result)
        if slim is None:
            return TrialScheduler.CONTINUE
        action = self.judge(tune_controller, trial_id, slim)
        if action == TrialScheduler.STOP:
            self.stop_reasons[trial_id] = self._reason(trial_id, slim)
        return action

    def on_trial_complete(
        self, tune_controller: Any, trial: Trial, result: dict[str, Any] | None
    ) -> None:
        """Record a finished or stopped trial's last result, once."""
        self._touch(trial.trial_id)
        slim = self._slim(trial.trial_id, result or {})
        if slim is not None:
            self.record_last(tune_controller, trial.trial_id, slim)

    def debug_string(self) -> str:
        """Summarize the scheduler for Tune's status output."""
        return f"{super().debug_string()} Stopped with a reason: {len(self.stop_reasons)}."

    def _slim(self, trial_id: str, result: Mapping[str, Any]) -> dict[str, Any] | None:
        """Keep ``time_attr`` and the metric; drop what the trial reported from that time on."""
        if self.time_attr not in result or self.metric not in result:
            return None
        time, metric = result[self.time_attr], str(self.metric)
        history = self.results_of(trial_id)
        if history and history[-1][self.time_attr] >= time:
            history[:] = [r for r in history if r[self.time_attr] < time]
        return {self.time_attr: time, metric: result[metric]}

    def _reason(self, trial_id: str, slim: Mapping[str, Any]) -> str:
        time = slim[self.time_attr]
        means = self.others_running_means(trial_id, time)
        best = self.best_value(trial_id)
        label = "step" if self.time_attr == "training_iteration" else self.time_attr
        return (
            f"stopped at {label} {time:g}: best {show_number(best)} "
            f"{worse_relation(self.mode)} median {show_number(float(np.median(means)))} of "
            f"{len(means)} trials' running means"
        )

    # -- persistence -------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Return every trial's ``[time, value]`` pairs and the reasons as JSON data."""
        return {
            "version": _STATE_VERSION,
            "kind": "median",
            "metric": self.metric,
            "mode": self.mode,
            "results": {
                trial_id: [[r[self.time_attr], finite_float(r[self.metric])] for r in history]
                for trial_id, history in self.all_results().items()
            },
            "stopped": self.stopped_ids(),
            "stop_reasons": dict(self.stop_reasons),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output.

        Raises:
            ValueError: If the state is not the median rule's, or its metric or mode differ.
        """
        _check_state(state, "median")
        if (state["metric"], state["mode"]) != (self.metric, self.mode):
            raise ValueError(
                "cannot restore median state saved for another metric: saved "
                f"{state['metric']!r}/{state['mode']!r}, this scheduler has "
                f"{self.metric!r}/{self.mode!r}"
            )
        self.replace_results(
            {
                trial_id: [{self.time_attr: t, self.metric: _from_json(v)} for t, v in pairs]
                for trial_id, pairs in state["results"].items()
            }
        )
        self.replace_stopped(state["stopped"])
        self.stop_reasons = dict(state["stop_reasons"])

    def trial_state(self, trial_id: str) -> dict[str, Any] | None:
        """The trial's ``[time, value]`` pairs and whether Ray's rule stopped it."""
        state: dict[str, Any] = {}
        history = self.results_of(trial_id)
        if history is not None:
            state["results"] = [
                [r[self.time_attr], finite_float(r[self.metric])] for r in history
            ]
        # Ray's rule marks a trial stopped exactly when it answers STOP, which is when a
        # reason is recorded (the set itself is only read whole, through stopped_ids()).
        if trial_id in self.stop_reasons:
            state["stopped"] = True
        return state or None

    def load_trial_states(self, states: Mapping[str, Mapping[str, Any] | None]) -> None:
        """Replace these trials' results and stops by :meth:`trial_state`'s output (Ray's
        state is replaced whole, once)."""
        results = self.all_results()
        stopped = set(self.stopped_ids())
        for trial_id, state in states.items():
            state = state or {}
            if "results" in state:
                results[trial_id] = [
                    {self.time_attr: t, self.metric: _from_json(v)} for t, v in state["results"]
                ]
            else:
                results.pop(trial_id, None)
            if state.get("stopped"):
                stopped.add(trial_id)
            else:
                stopped.discard(trial_id)
        self.replace_results(results)
        self.replace_stopped(stopped)

    def forget(self, trial_ids: Iterable[str]) -> None:
        """Drop these trials' results (a resumed sweep runs them again as new trials, so
        their old results must not count twice in the medians)."""
        for trial_id in trial_ids:
            self._touch(trial_id)
            self.drop(trial_id)
            self.stop_reasons.pop(trial_id, None)
