"""The Optuna study's pruner as a sweep's early-termination rule (``engine: optuna``).

Each result that holds the metric is reported to the trial's Optuna trial
(``trial.report(value, step)``, the step being Tune's ``training_iteration``: one per report),
then the study's pruner is asked (``should_prune``); if it says so, the trial stops with the
reason ``"pruned by MedianPruner at step 3"`` and the study is told it was pruned when it
ends. The rule itself lives with the study, in the proposer
(:class:`raysweep.search.optuna.OptunaProposer`); this scheduler only routes Tune's results to
it. Only for one objective: Optuna does not prune multi-objective studies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from raysweep.numeric import finite_float
from raysweep.program.metrics import report_value

from ._base import SweepScheduler

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

__all__ = ["OptunaPrunerScheduler", "PrunerHost"]

_STATE_VERSION = 1


class PrunerHost(Protocol):
    """What holds the study and knows which Optuna trial a Ray trial is."""

    @property
    def prunes(self) -> bool:
        """Whether the study's pruner may stop trials."""
        ...

    def bind(self, trial_id: str, config: Mapping[str, Any]) -> bool:
        """Tie a Ray trial, just added with this config, to its Optuna trial."""
        ...

    def report(self, trial_id: str, value: float, step: int) -> str | None:
        """Report a value; return why the pruner stops the trial, or None."""
        ...


class OptunaPrunerScheduler(SweepScheduler, FIFOScheduler):
    """Stops the trials the Optuna study's pruner prunes.

    Args:
        host: The proposer that holds the study.
        metric: The metric reported to the pruner (Tune's result key, "/" for nesting).
    """

    def __init__(self, host: PrunerHost, metric: str) -> None:
        super().__init__()
        self._host = host
        self._pruned_metric = metric

    def on_trial_add(self, tune_controller: Any, trial: Trial) -> None:
        """Tie the new trial to its Optuna trial. Called by Tune right after the searcher
        proposed its config."""
        self._host.bind(trial.trial_id, trial.config)

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict[str, Any]) -> str:
        """Report the metric to the study and stop the trial if its pruner says so."""
        value = finite_float(report_value(result, self._pruned_metric))
        step = result.get("training_iteration")
        if value is None or not isinstance(step, int):
            return TrialScheduler.CONTINUE
        reason = self._host.report(trial.trial_id, value, step)
        if reason is None:
            return TrialScheduler.CONTINUE
        self.stop_reasons[trial.trial_id] = reason
        self._touch(trial.trial_id)
        return TrialScheduler.STOP

    def debug_string(self) -> str:
        """Summarize the scheduler for Tune's status output."""
        return f"Using the Optuna study's pruner: {len(self.stop_reasons)} trials pruned."

    # -- persistence: the study keeps its own values; only the stop reasons are ours --------

    def state_dict(self) -> dict[str, Any]:
        """The stop reasons, as JSON data."""
        return {"version": _STATE_VERSION, "stop_reasons": dict(self.stop_reasons)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output.

        Raises:
            ValueError: If the state is of another version.
        """
        if state.get("version") != _STATE_VERSION:
            raise ValueError(
                f"cannot restore Optuna pruner state version {state.get('version')!r} "
                f"(this raysweep reads version {_STATE_VERSION})"
            )
        self.stop_reasons = dict(state["stop_reasons"])

    def trial_state(self, trial_id: str) -> Any:
        """Nothing per trial besides its stop reason."""
        return None

    def load_trial_states(self, states: Mapping[str, Any]) -> None:
        """Nothing per trial to restore."""

    def forget(self, trial_ids: Iterable[str]) -> None:
        """Drop the stop reasons of trials that run again."""
        for trial_id in trial_ids:
            self.stop_reasons.pop(trial_id, None)
