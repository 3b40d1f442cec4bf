"""What raysweep asks of a scheduler, on top of Tune's own hooks, declared once.

Tune drives a scheduler through ``on_trial_add``/``on_trial_result``/... and reads only its
answers (``CONTINUE``, ``STOP``). raysweep also needs to know *why* a trial was stopped (the
results table shows it), to save the scheduler's state at each trial end and load it again on
``raysweep resume``, and, for ``type: promotion``, to ask for configurations to train again.
:class:`SweepScheduler` declares these, with no-op defaults where a scheduler may have nothing
to say; every scheduler that :func:`~raysweep.schedulers.make_scheduler` builds is one.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ray.tune import Callback
from ray.tune.schedulers import TrialScheduler

from raysweep.files import write_json_atomic

from ._stop_reasons import STOP_REASON_KEY

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

__all__ = ["StopReasonCallback", "SweepScheduler"]


class SweepScheduler(TrialScheduler, abc.ABC):
    """A Tune scheduler that raysweep can ask why it stopped a trial, save and resume.

    Put it first among the bases, before the Tune scheduler it extends
    (``class MyScheduler(SweepScheduler, FIFOScheduler)``), so that its :meth:`save` and
    :meth:`restore` (JSON) take the place of the parent's.

    Attributes:
        stop_reasons: ``trial_id -> reason`` for every trial this scheduler stopped, e.g.
            ``"stopped at band 9: 0.41 > threshold 0.37"``; set in the scheduler's decision
            (``on_trial_result``), before Tune tells the callbacks.
        reruns_configurations: Whether :meth:`rerun` may hand out configurations; if so,
            raysweep gives the scheduler to the searcher (``TuneSearcher.take_reruns_from``).
    """

    reruns_configurations: ClassVar[bool] = False

    def __init__(self, **kwargs: Any) -> None:
        # The Tune scheduler after this class in the MRO takes the arguments.
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]  # Ray is untyped here
        self.stop_reasons: dict[str, str] = {}

    # -- stop reasons ----------------------------------------------------------------------

    def stop_reason(self, trial_id: str) -> str | None:
        """Why this scheduler stopped the trial, or None if it did not.

        Called by raysweep's recorder when a trial ends, and by :class:`StopReasonCallback`
        after each result.
        """
        return self.stop_reasons.get(trial_id) or None

    # -- persistence -----------------------------------------------------------------------

    @abc.abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Return everything the decisions depend on, as JSON-compatible data.

        Called through :meth:`save` after each trial ends (Tune has told the scheduler first),
        so the saved state always includes every ended trial.
        """

    @abc.abstractmethod
    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output on a scheduler built from the same settings.

        Raises:
            ValueError: If the state was saved by another kind of scheduler, another format
                version, or for other settings.
        """

    @abc.abstractmethod
    def forget(self, trial_ids: Iterable[str]) -> None:
        """Drop every trace of these trials.

        Called by :meth:`resume_from` with the trials that had not ended: a resumed sweep runs
        them again as new trials, so their old reports must not count twice.
        """

    def resume_from(self, state: Mapping[str, Any], dropped_ids: Iterable[str]) -> None:
        """Load a stopped sweep's last saved state, minus the trials that had not ended.

        Called once by ``raysweep resume``, before any trial starts, with the contents of
        ``scheduler.json``.
        """
        self.load_state_dict(state)
        self.forget(dropped_ids)

    def save(self, checkpoint_path: str) -> None:
        """Write :meth:`state_dict` to ``checkpoint_path`` as JSON, atomically and synced.

        Called by raysweep's recorder at each trial end (``scheduler.json``); synced, so that
        after an OS crash it is not older than the ``trials.json`` a resume pairs it with.
        Tune itself never calls it. Ray's own ``save`` pickles ``__dict__``.
        """
        write_json_atomic(checkpoint_path, self.state_dict(), sync=True)

    def restore(self, checkpoint_path: str) -> None:
        """Read a file written by :meth:`save` (all of it: nothing is forgotten)."""
        with open(checkpoint_path, encoding="utf-8") as handle:
            self.load_state_dict(json.load(handle))

    # -- re-runs (type: promotion) ----------------------------------------------------------

    def rerun(self, trial_id: str) -> dict[str, Any] | None:
        """Return a configuration to train again as ``trial_id``, or None: propose a new one.

        Called by the searcher before each new proposal when
        :attr:`reruns_configurations` is true.
        """
        return None

    def waiting(self) -> bool:
        """Whether a running trial may still make a re-run due (the searcher then waits
        instead of finishing when its proposer has nothing left)."""
        return False

    def rerun_of(self, trial_id: str) -> str | None:
        """For a trial that trains a configuration again, the first trial of that
        configuration; else None. Called by the recorder when the trial is first seen."""
        return None

    def runs_again(self, trial_id: str, config: Mapping[str, Any]) -> bool:
        """Whether the scheduler itself runs this dropped trial's configuration again.

        Called by ``raysweep resume`` after :meth:`resume_from`, for each trial that had not
        ended; those it answers False for are queued in the searcher as proposals.
        """
        return False


class StopReasonCallback(Callback):
    """Write a :class:`SweepScheduler`'s stop reason into the result that stopped the trial.

    The reason then reaches ``trial.last_result``, ``result.json`` and ``ResultGrid`` under
    :data:`STOP_REASON_KEY`. A scheduler cannot do this itself: Tune hands it a flattened copy
    of the result, but hands callbacks the result itself.

    Args:
        scheduler: The scheduler passed to ``tune.TuneConfig(scheduler=...)``.
    """

    def __init__(self, scheduler: SweepScheduler) -> None:
        self.scheduler = scheduler

    def on_trial_result(
        self,
        iteration: int,
        trials: list[Trial],
        trial: Trial,
        result: dict[str, Any],
        **info: Any,
    ) -> None:
        """Add the stop reason to the result; called by Tune after the scheduler's decision."""
        reason = self.scheduler.stop_reason(trial.trial_id)
        if reason is not None:
            result[STOP_REASON_KEY] = reason
