"""W&B-exact Hyperband early stopping as a Ray Tune scheduler.

:class:`WandbHyperbandScheduler` applies :class:`~._hyperband_rule.HyperbandRule` to Tune
results. Wire it with :class:`~._base.StopReasonCallback`, which carries its stop reasons into
trial results::

    scheduler = WandbHyperbandScheduler(metric="loss", mode="min", min_iter=3)
    tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(scheduler=scheduler),
        run_config=tune.RunConfig(callbacks=[StopReasonCallback(scheduler)]),
    )

**Ticks versus results.** W&B's controller re-judges every running run on each tick, so a run
can be stopped after the fact, when more runs reach its band. Tune only calls a scheduler with
the result of one trial, and a scheduler may only answer for that trial (stopping another
trial with an outstanding result future would drop that result). So when a result brings a
trial to a band, the trials that sit at the same band are re-judged too (a band's threshold
only moves when a run reaches it; a strict value never changes and a best-so-far only
improves, so nobody else can flip to STOP then). Those that fail are *marked*, and get
``STOP`` on their next result, whatever it holds. A marked trial that finishes first just
finishes, like a W&B run that exits before the agent's stop command lands.

**Iterations.** An iteration is one valid value of the metric in a result
(:func:`~._hyperband_rule.valid_history`); results without it, or with NaN/inf, do not count
and are never judged. A trial that restarts (``FailureConfig.max_failures``, or a resumed
experiment) reports a ``training_iteration`` that is not above its last one: its history is
cut back to the values reported before that iteration, as if those later ones never happened.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from raysweep.numeric import is_integer

from ._base import SweepScheduler
from ._hyperband_rule import Decision, HyperbandRule, threshold, valid_history

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

__all__ = ["WandbHyperbandScheduler"]

_STATE_VERSION = 1
_MODES = ("min", "max")


class WandbHyperbandScheduler(SweepScheduler, FIFOScheduler):
    """Stop trials exactly as W&B's ``early_terminate: hyperband`` does.

    Trials run in FIFO order; a trial is judged whenever it reports the metric, against every
    trial seen so far in any state (finished and failed trials count, as in W&B).

    Args:
        metric: The metric to judge, as reported to Tune. If None, taken from
            ``tune.TuneConfig(metric=...)``.
        mode: ``"min"`` or ``"max"``. If None, taken from ``tune.TuneConfig(mode=...)``.
        min_iter: W&B ``min_iter`` (iterations).
        max_iter: W&B ``max_iter`` (iterations); takes precedence over ``min_iter``.
        s: W&B ``s``, required with ``max_iter``.
        eta: W&B ``eta``, greater than 1.
        strict: W&B ``strict`` (True: compare the value at the band; False: the best so far).

    Raises:
        ValueError: On an invalid hyperband config (see :func:`~._hyperband_rule.bands`) or
            mode.

    Attributes:
        rule: The pure stopping rule.
        stop_reasons: ``trial_id -> reason`` for every trial this scheduler stopped, e.g.
            ``"stopped at band 9: 0.41 > threshold 0.37"``.
    """

    def __init__(
        self,
        *,
        metric: str | None = None,
        mode: str | None = None,
        min_iter: int | None = None,
        max_iter: int | None = None,
        s: int | None = None,
        eta: float = 3,
        strict: bool = True,
    ) -> None:
        super().__init__()
        _check_mode(mode)
        self._metric = metric
        self._mode = mode
        self.rule = HyperbandRule.from_config(
            eta=eta,
            strict=strict,
            min_iter=min_iter,
            max_iter=max_iter,
            s=s,
            maximize=mode == "max",
        )
        self._band_set = frozenset(self.rule.bands)
        # trial_id -> [(training_iteration, loss)], losses sign-adjusted (lower is better).
        self._histories: dict[str, list[tuple[int, float]]] = {}
        self._live: set[str] = set()
        self._marked: dict[str, Decision] = {}
        # band -> threshold; dropped whenever a history reaches or leaves that band.
        self._limits: dict[int, float] = {}

    # -- Tune hooks --------------------------------------------------------------------

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        """Fill metric and mode from ``tune.TuneConfig`` where the constructor left them unset.

        Called by Tune once, before the first trial. Unlike Ray's schedulers, passing the same
        metric and mode in both places is fine; only conflicting values are refused.

        Returns:
            False (Tune then raises) if a value conflicts with the constructor's, else True.
        """
        if (metric and self._metric and metric != self._metric) or (
            mode and self._mode and mode != self._mode
        ):
            return False
        _check_mode(mode)
        self._metric = self._metric or metric
        self._mode = self._mode or mode
        self.rule = dataclasses.replace(self.rule, maximize=self._mode == "max")
        return True

    def on_trial_add(self, tune_controller: Any, trial: Trial) -> None:
        """Register a new trial; called by Tune when the trial is created (PENDING)."""
        if not self._metric or not self._mode:
            raise ValueError(
                f"{type(self).__name__} needs a metric and a mode: pass them to the scheduler "
                "or to tune.TuneConfig (got "
                f"metric={self._metric!r}, mode={self._mode!r})"
            )
        self._live.add(trial.trial_id)
        self._touch(trial.trial_id)

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict[str, Any]) -> str:
        """Record the trial's metric value and judge it; called by Tune for each result.

        Returns:
            ``TrialScheduler.STOP`` if W&B's rule stops the trial (now, or at an earlier
            result of another trial that brought this trial's band threshold down), else
            ``TrialScheduler.CONTINUE``.
        """
        trial_id = trial.trial_id
        self._live.add(trial_id)
        self._touch(trial_id)
        recorded, restarted = self._record(trial_id, result)
        losses = self._losses(trial_id)
        if restarted:
            # Values left the pool, so any band's threshold may have moved.
            self._rejudge(reporter=trial_id, band=None)
        elif recorded and len(losses) in self._band_set:
            # The value landed on a band: that band's threshold moved (even if this trial is
            # about to stop, its value was logged and counts, as in W&B).
            self._rejudge(reporter=trial_id, band=len(losses))
        marked = self._marked.pop(trial_id, None)
        if marked is not None:
            return self._stop(trial_id, marked, len(losses))
        band = self.rule.latest_band(len(losses))
        if not recorded or band is None:
            return TrialScheduler.CONTINUE
        decision = self.rule.judge(losses, band, self._limit(band))
        if decision.stop:
            return self._stop(trial_id, decision, len(losses))
        return TrialScheduler.CONTINUE

    def on_trial_complete(
        self, tune_controller: Any, trial: Trial, result: dict[str, Any] | None
    ) -> None:
        """Retire a finished or stopped trial; its history keeps counting in thresholds."""
        self._retire(trial.trial_id)

    def on_trial_error(self, tune_controller: Any, trial: Trial) -> None:
        """Retire a failed trial; its history keeps counting (W&B counts crashed runs)."""
        self._retire(trial.trial_id)

    def on_trial_remove(self, tune_controller: Any, trial: Trial) -> None:
        """Retire a trial removed while PENDING or PAUSED."""
        self._retire(trial.trial_id)

    def debug_string(self) -> str:
        """Summarize the scheduler for Tune's status output."""
        shown = ", ".join(str(b) for b in self.rule.bands[:5])
        more = ", ..." if len(self.rule.bands) > 5 else ""
        return (
            f"Using W&B hyperband stopping (bands {shown}{more}; eta {self.rule.eta:g}; "
            f"strict {self.rule.strict}): {len(self.stop_reasons)} trials stopped."
        )

    # -- persistence -------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Return the scheduler's state as JSON-compatible data."""
        return {
            "version": _STATE_VERSION,
            "metric": self._metric,
            "mode": self._mode,
            "rule": {
                "bands": list(self.rule.bands),
                "eta": self.rule.eta,
                "strict": self.rule.strict,
            },
            "histories": {k: [list(p) for p in v] for k, v in self._histories.items()},
            "live": sorted(self._live),
            "marked": {k: dataclasses.asdict(d) for k, d in self._marked.items()},
            "stop_reasons": dict(self.stop_reasons),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore state from :meth:`state_dict`; trials registered since stay live.

        Raises:
            ValueError: If the state is from another version or another hyperband config.
        """
        if state.get("version") != _STATE_VERSION:
            raise ValueError(
                f"cannot restore hyperband state version {state.get('version')!r} "
                f"(this raysweep reads version {_STATE_VERSION})"
            )
        saved_rule = state["rule"]
        ours = {"bands": list(self.rule.bands), "eta": self.rule.eta, "strict": self.rule.strict}
        if saved_rule != ours or state["metric"] != self._metric or state["mode"] != self._mode:
            raise ValueError(
                "cannot restore hyperband state saved for another config: saved "
                f"{saved_rule} on {state['metric']!r}/{state['mode']!r}, this scheduler has "
                f"{ours} on {self._metric!r}/{self._mode!r}"
            )
        self._histories = {
            k: [(int(it), float(loss)) for it, loss in v] for k, v in state["histories"].items()
        }
        self._live |= set(state["live"])
        self._marked = {k: Decision(**d) for k, d in state["marked"].items()}
        self.stop_reasons = dict(state["stop_reasons"])
        self._limits.clear()

    def trial_state(self, trial_id: str) -> dict[str, Any] | None:
        """The trial's history, whether it is live, and its mark (see :meth:`state_dict`)."""
        state: dict[str, Any] = {}
        history = self._histories.get(trial_id)
        if history is not None:
            state["history"] = [list(p) for p in history]
        if trial_id in self._live:
            state["live"] = True
        marked = self._marked.get(trial_id)
        if marked is not None:
            state["marked"] = dataclasses.asdict(marked)
        return state or None

    def load_trial_states(self, states: Mapping[str, Mapping[str, Any] | None]) -> None:
        """Replace these trials' parts of the state by :meth:`trial_state`'s output."""
        for trial_id, state in states.items():
            state = state or {}
            history = state.get("history")
            if history is None:
                self._histories.pop(trial_id, None)
            else:
                self._histories[trial_id] = [(int(it), float(loss)) for it, loss in history]
            if state.get("live"):
                self._live.add(trial_id)
            else:
                self._live.discard(trial_id)
            marked = state.get("marked")
            if marked is None:
                self._marked.pop(trial_id, None)
            else:
                self._marked[trial_id] = Decision(**marked)
        self._limits.clear()

    # -- internals ---------------------------------------------------------------------

    def _record(self, trial_id: str, result: Mapping[str, Any]) -> tuple[bool, bool]:
        """Append the result's metric value to the trial's history.

        Returns:
            Whether a valid value was recorded, and whether the trial had restarted.
        """
        if self._metric is None or self._metric not in result:
            return False, False
        valid = valid_history([result[self._metric]])
        if not valid:
            return False, False
        loss = -valid[0] if self._mode == "max" else valid[0]
        history = self._histories.setdefault(trial_id, [])
        iteration = result.get("training_iteration")
        if not is_integer(iteration):
            # Without Tune's counter, count reports ourselves.
            iteration = history[-1][0] + 1 if history else 1
        restarted = bool(history) and iteration <= history[-1][0]
        if restarted:
            # The trial restarted from a checkpoint (or from scratch): forget what it
            # reported from that iteration on, and every threshold it took part in.
            del history[next(i for i, (it, _) in enumerate(history) if it >= iteration) :]
            self._limits.clear()
        history.append((iteration, loss))
        # Only the threshold of the band this value lands on can move.
        self._limits.pop(len(history), None)
        return True, restarted

    def _losses(self, trial_id: str) -> list[float]:
        return [loss for _, loss in self._histories.get(trial_id, ())]

    def _limit(self, band: int) -> float:
        if band not in self._limits:
            everyone = [[loss for _, loss in h] for h in self._histories.values()]
            self._limits[band] = threshold(everyone, band, self.rule.eta)
        return self._limits[band]

    def _rejudge(self, reporter: str, band: int | None) -> None:
        """Mark the other live trials that W&B's next tick would stop.

        Args:
            reporter: The trial whose result triggered this; it is judged by the caller.
            band: Only trials whose latest band is this one (its threshold just moved), or
                None for all.
        """
        for other in self._live:
            if other == reporter or other in self._marked:
                continue
            losses = self._losses(other)
            latest = self.rule.latest_band(len(losses))
            if latest is None or (band is not None and latest != band):
                continue
            decision = self.rule.judge(losses, latest, self._limit(latest))
            if decision.stop:
                self._marked[other] = decision
                self._touch(other)

    def _stop(self, trial_id: str, decision: Decision, step: int) -> str:
        self.stop_reasons[trial_id] = decision.reason_at(step)
        return TrialScheduler.STOP

    def _retire(self, trial_id: str) -> None:
        self._touch(trial_id)
        self._live.discard(trial_id)
        self._marked.pop(trial_id, None)

    def resume_from(
        self,
        state: Mapping[str, Any],
        dropped_ids: Iterable[str],
        log: str | os.PathLike[str] | None = None,
    ) -> None:
        """As :meth:`SweepScheduler.resume_from`; no saved trial is live any more (each one
        ended, and then it is not live in the last save, or it is dropped)."""
        registered = set(self._live)  # trials added since this scheduler was built
        super().resume_from(state, dropped_ids, log)
        self._live &= registered

    def forget(self, trial_ids: Iterable[str]) -> None:
        """Drop every trace of these trials (a resumed sweep runs them again as new trials,
        so their old reports must not count twice in the band thresholds)."""
        for trial_id in trial_ids:
            self._retire(trial_id)  # marks it touched
            self._histories.pop(trial_id, None)
            self.stop_reasons.pop(trial_id, None)
        self._limits.clear()


def _check_mode(mode: str | None) -> None:
    if mode is not None and mode not in _MODES:
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
