"""``early_terminate: {type: promotion}``: promotion-type ASHA, on Ray Tune.

With ``resume: restart`` (the default) a promoted configuration trains again from the start;
with ``resume: checkpoint`` it resumes from the state its paused trial saved
(:mod:`raysweep.program.checkpoint_store`), and trains again only if there is none.

A Tune scheduler can stop trials but cannot start one; only the searcher can. So
:class:`PromotionScheduler` plays both parts of :class:`~.promotion_ladder.PromotionLadder`:

* as the sweep's scheduler it stops every trial at its budget (the next rung) and records its
  value there, and learns which trials start, end, fail or are removed;
* as the searcher's source of re-runs (``TuneSearcher.take_reruns_from``) it hands out, before
  any new proposal, a configuration that qualified for the next rung (:meth:`rerun`), and says
  whether a running trial may still make one due (:meth:`waiting`), so the searcher waits
  instead of finishing.

The searcher's proposer learns from the first trial of each configuration (its best value up to
the first rung); re-runs are not its proposals, but a re-run's better value revises what it
learned (``TuneSearcher._revise``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from raysweep.program.checkpoint_store import STEP_OFFSET_KEY, CheckpointStore

from ._base import LOG_OFFSET_KEY, SweepScheduler
from ._hyperband_rule import valid_history
from .promotion_ladder import PromotionLadder

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

__all__ = ["PromotionScheduler"]

_STATE_VERSION = 1


class PromotionScheduler(SweepScheduler, FIFOScheduler):
    """Stop each trial at its rung; re-run the best configurations to the next rung.

    An iteration is one report (Tune's ``training_iteration``), as for ``type: asha``.

    Args:
        metric: The metric to rank by, as reported to Tune.
        mode: ``"min"`` or ``"max"``.
        rungs: Iterations at which trials stop (W&B's bands for the sweep's settings).
        eta: Reduction factor: the best ``floor(n / eta)`` of a rung's ``n`` go on.

    Attributes:
        ladder: The pure rule.
        stop_reasons: ``trial_id -> reason`` for every trial stopped at its rung.
    """

    reruns_configurations: ClassVar[bool] = True

    def __init__(
        self, *, metric: str, mode: str, rungs: Sequence[int], eta: float,
        resume: str = "restart",
    ) -> None:
        super().__init__()
        if resume not in ("restart", "checkpoint"):
            raise ValueError(f"resume must be 'restart' or 'checkpoint', got {resume!r}")
        self._metric = metric
        self._mode = mode
        self.resume = resume
        self.ladder = PromotionLadder(rungs, eta, mode)
        self._dropped_reruns: set[str] = set()  # see forget()
        self._store: CheckpointStore | None = None
        self._paused: dict[str, int] = {}  # trial -> rung where it paused with a checkpoint

    def use_checkpoints(self, store: CheckpointStore) -> None:
        """With ``resume: checkpoint``: the sweep's checkpoint folders. A promoted
        configuration then resumes from the state its last trial saved, or trains again from
        the start if it saved none (the folder is cleared)."""
        self._store = store

    # -- the searcher's side -----------------------------------------------------------

    def rerun(self, trial_id: str) -> dict[str, Any] | None:
        """The configuration to train again as ``trial_id``, or None: propose a new one.

        Called by the searcher before each new proposal (``TuneSearcher.take_reruns_from``).
        """
        config = self.ladder.take(trial_id)
        if config is None:
            return None
        self._touch_trial(trial_id)  # and the lineage promoted
        resumed = self.ladder.resumed_from(trial_id)
        if self._store is not None and resumed is not None:
            lineage, paused = resumed
            saved = self._store.saved_step(lineage)
            # No usable state: it starts from nothing. A state past the rung where its
            # configuration paused was saved by a trial whose reports were lost (a driver
            # killed after the worker marked a report, before it recorded it; `raysweep
            # resume` drops that trial): resuming there would leave those steps out of the
            # results, so it trains again from the start too.
            if saved == 0 or saved > paused:
                self._store.clear(lineage)
            self._store.hand_out(trial_id, lineage, self.ladder.budget(trial_id))
        return config

    def waiting(self) -> bool:
        """Whether a running trial may still make a re-run due."""
        return self.ladder.waiting()

    def rerun_of(self, trial_id: str) -> str | None:
        """For a running re-run, the first trial of its configuration (the recorder asks
        when the trial starts and keeps it in ``trials.jsonl``); else None."""
        return self.ladder.lineage_of(trial_id)

    # -- Tune hooks --------------------------------------------------------------------

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        """Accept ``tune.TuneConfig``'s metric and mode if they agree with the sweep's."""
        return (metric in (None, self._metric)) and (mode in (None, self._mode))

    def on_trial_add(self, tune_controller: Any, trial: Trial) -> None:
        self.ladder.add(trial.trial_id, trial.config)
        self._touch_trial(trial.trial_id)

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict[str, Any]) -> str:
        """Stop the trial once it has reported as many times as its rung."""
        budget = self.ladder.budget(trial.trial_id)
        iteration = result.get("training_iteration")
        if budget is None or not isinstance(iteration, int):
            return TrialScheduler.CONTINUE
        # A trial resumed from a checkpoint counts on from its configuration's steps.
        offset = result.get(STEP_OFFSET_KEY) or 0
        if iteration + offset < budget:
            return TrialScheduler.CONTINUE
        # The value must be a finite number to rank; valid_history says which are (as W&B).
        value = valid_history([result.get(str(self._metric))])
        self._touch_trial(trial.trial_id)
        # With checkpoints: the step whose state the configuration's folder holds (0: none).
        saved = (None if self._store is None else
                 self._store.saved_step(self.ladder.lineage_of(trial.trial_id) or trial.trial_id))
        stop = self.ladder.reach(trial.trial_id, value[0] if value else None,
                                 paused=bool(saved), resumed=offset > 0)
        reason = stop.reason
        if saved == 0:
            reason += "; it saved no checkpoint, so it trains again from the start"
        elif saved is not None:
            self._paused[trial.trial_id] = stop.rung
            where = "" if saved == stop.rung else f" (its last checkpoint is from step {saved})"
            reason += f"; a promotion resumes it from its checkpoint{where}"
        self.stop_reasons[trial.trial_id] = reason
        return TrialScheduler.STOP

    def paused_at(self, trial_id: str) -> int | None:
        return self._paused.get(trial_id)

    def on_trial_complete(
        self, tune_controller: Any, trial: Trial, result: dict[str, Any] | None
    ) -> None:
        self._touch_trial(trial.trial_id)
        self.ladder.end(trial.trial_id, stopped=trial.trial_id in self.stop_reasons)
        self._ended(trial.trial_id)

    def on_trial_error(self, tune_controller: Any, trial: Trial) -> None:
        # Tune also calls this before it retries a trial (FailureConfig.max_failures); the
        # retry keeps the trial, its id and its budget.
        if not trial.should_recover():  # type: ignore[no-untyped-call]
            self._touch_trial(trial.trial_id)
            self.ladder.end(trial.trial_id, stopped=False, failed=True)
            self._ended(trial.trial_id)

    def on_trial_remove(self, tune_controller: Any, trial: Trial) -> None:
        self._touch_trial(trial.trial_id)
        self.ladder.remove(trial.trial_id)
        self._ended(trial.trial_id)

    def _ended(self, trial_id: str) -> None:
        if self._store is not None:
            self._store.discard_handoff(trial_id)

    def debug_string(self) -> str:
        return f"Promotion ASHA: rungs {self.ladder.rungs}, {len(self.stop_reasons)} stopped."

    # -- persistence -------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The ladder and the reasons, as JSON-compatible data."""
        return {
            "version": _STATE_VERSION,
            "kind": "promotion",
            "metric": self._metric,
            "ladder": self.ladder.state_dict(),
            "stop_reasons": dict(self.stop_reasons),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output.

        Raises:
            ValueError: If it is not this scheduler's state, or was saved for another metric,
                rungs, eta or mode.
        """
        kind = (state.get("version"), state.get("kind"), state.get("metric"))
        if kind != (_STATE_VERSION, "promotion", self._metric):
            raise ValueError(
                f"cannot restore {kind} as promotion state on {self._metric!r} "
                f"(version {_STATE_VERSION})"
            )
        self.ladder.load_state_dict(state["ladder"])
        self.stop_reasons = dict(state["stop_reasons"])

    def trial_state(self, trial_id: str) -> dict[str, Any] | None:
        """What the ladder holds under the id, as a trial and as a lineage."""
        return self.ladder.id_state(trial_id)

    def load_trial_states(self, states: Mapping[str, Mapping[str, Any] | None]) -> None:
        """Replace what the ladder holds under these ids by :meth:`trial_state`'s output."""
        self.ladder.load_id_states(states)

    def _touch_trial(self, trial_id: str) -> None:
        """Mark the trial and its lineage (whose values, promotions or end may change)."""
        self._touch(trial_id, self.ladder.lineage_of(trial_id) or trial_id)

    def resume_from(
        self,
        state: Mapping[str, Any],
        dropped_ids: Iterable[str],
        log: str | os.PathLike[str] | None = None,
    ) -> None:
        """Load a crashed sweep's state; every trial it shows running is dropped, including
        one whose start never reached the trials file: none survived the driver, and one left
        running would make the searcher wait for it forever."""
        self.load_state_dict(state)
        if log is not None:
            self._replay(log, state.get(LOG_OFFSET_KEY))
        self.forget({*dropped_ids, *self.ladder.live_ids()})

    def forget(self, trial_ids: Iterable[str]) -> None:
        """Drop trials that had not ended (see :meth:`runs_again`)."""
        ids = list(trial_ids)
        for trial_id in ids:
            self._touch_trial(trial_id)
        self._dropped_reruns = {t for t in ids if self.ladder.lineage_of(t) is not None}
        self.ladder.forget(ids)
        for trial_id in ids:
            self.stop_reasons.pop(trial_id, None)

    def runs_again(self, trial_id: str, config: Mapping[str, Any]) -> bool:
        """After :meth:`forget`: whether a dropped trial was a re-run, which this scheduler
        hands out again itself (so the searcher must not queue it as a new configuration).
        A re-run that started after the last saved state is recognised by its config."""
        return trial_id in self._dropped_reruns or (
            not self.ladder.knows(trial_id) and self.ladder.has_config(config)
        )
