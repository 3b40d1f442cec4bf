"""What raysweep asks of a scheduler, on top of Tune's own hooks, declared once.

Tune drives a scheduler through ``on_trial_add``/``on_trial_result``/... and reads only its
answers (``CONTINUE``, ``STOP``). raysweep also needs to know *why* a trial was stopped (the
results table shows it), to save the scheduler's state at each trial end and load it again on
``raysweep resume``, and, for ``type: promotion``, to ask for configurations to train again.
:class:`SweepScheduler` declares these, with no-op defaults where a scheduler may have nothing
to say; every scheduler that :func:`~raysweep.schedulers.make_scheduler` builds is one.

**Saving.** A scheduler's state grows with the trials it has seen (every trial's values count
in later decisions), so it is not rewritten at each trial end: :meth:`SweepScheduler.save`
writes a full snapshot (``scheduler.json``) only when its :class:`~raysweep.files.SnapshotPacer`
says so, and otherwise appends to ``scheduler.jsonl`` the state of each trial that changed
since the last save (``trial_state``) and the few values shared by all trials
(``shared_state``). The snapshot holds the log's size when it was written
(:data:`LOG_OFFSET_KEY`); loading it and applying the log's later lines gives the state of the
last save.
"""

from __future__ import annotations

import abc
import json
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ray.tune import Callback
from ray.tune.schedulers import TrialScheduler

from raysweep.files import AppendLog, SnapshotPacer, read_log, write_json_atomic
from raysweep.program.checkpoint_store import CheckpointStore
from raysweep.ray_internals.trials import forget_ended

from ._stop_reasons import STOP_REASON_KEY

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

__all__ = ["LOG_OFFSET_KEY", "StopReasonCallback", "SweepScheduler", "log_path_of"]

#: Key of a snapshot that holds the size of the scheduler's log when the snapshot was written:
#: the lines after it hold what changed later. A snapshot of an earlier version has none (and
#: no log).
LOG_OFFSET_KEY = "log_offset"


def log_path_of(snapshot_path: str | os.PathLike[str]) -> Path:
    """The log that goes with a snapshot: the same name with ``.jsonl`` for its suffix.

    >>> log_path_of("sweep/scheduler.json").as_posix()
    'sweep/scheduler.jsonl'
    """
    return Path(snapshot_path).with_suffix(".jsonl")


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
        pacer: When :meth:`save` writes a full snapshot rather than a log line.
    """

    reruns_configurations: ClassVar[bool] = False
    #: Set by raysweep's own runs, which record every trial themselves: Tune's controller then
    #: forgets ended trials, so its work per step stays flat in long sweeps. Off for a scheduler
    #: given to a plain ``tune.Tuner``, whose ``ResultGrid`` lists the trials Tune kept.
    forgets_ended_trials: bool = False

    def __init__(self, **kwargs: Any) -> None:
        # The Tune scheduler after this class in the MRO takes the arguments.
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]  # Ray is untyped here
        # Kept for every stopped trial, also after it ended: the recorder asks once the
        # scheduler has retired the trial, and promotion asks which trials it stopped. One
        # short line per stopped trial, next to values the decisions keep for every trial.
        self.stop_reasons: dict[str, str] = {}
        self.pacer = SnapshotPacer()
        # Trials whose state changed since the last save (see _touch).
        self._touched: set[str] = set()
        self._log: AppendLog | None = None
        self._snapshot: Path | None = None  # where the last snapshot went; None: none yet
        self._logged_shared: dict[str, Any] = {}

    # -- stop reasons ----------------------------------------------------------------------

    def choose_trial_to_run(self, tune_controller: Any) -> Any:
        """The parent's choice; with :attr:`forgets_ended_trials`, after Tune's controller
        forgot the ended trials (see :func:`raysweep.ray_internals.trials.forget_ended`)."""
        if self.forgets_ended_trials:
            forget_ended(tune_controller)
        return super().choose_trial_to_run(tune_controller)

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

        Called through :meth:`save` when a snapshot is due (Tune has told the scheduler of the
        trial end first), so a snapshot always includes every ended trial.
        """

    @abc.abstractmethod
    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output on a scheduler built from the same settings.

        Raises:
            ValueError: If the state was saved by another kind of scheduler, another format
                version, or for other settings.
        """

    @abc.abstractmethod
    def trial_state(self, trial_id: str) -> Any:
        """Return what the scheduler holds about one trial (stop reason aside), as JSON data,
        or None if nothing.

        Called by :meth:`save` for each trial marked with :meth:`_touch` since the last save;
        its size must not grow with the number of other trials.
        """

    @abc.abstractmethod
    def load_trial_states(self, states: Mapping[str, Any]) -> None:
        """Replace what the scheduler holds about each trial by :meth:`trial_state`'s output
        (``trial_id -> state``; None: drop the trial).

        Called once when a saved log is replayed, after :meth:`load_state_dict`, with each
        logged trial's last state.
        """

    def shared_state(self) -> dict[str, Any]:
        """Return the few values that belong to no one trial (small), as JSON data.

        Logged by :meth:`save` whenever they changed; none by default.
        """
        return {}

    def load_shared_state(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`shared_state`'s output (when a saved log is replayed)."""

    def _touch(self, *trial_ids: str) -> None:
        """Mark trials whose state changed (or may have): the next log line holds them.

        Subclasses call it wherever a trial's :meth:`trial_state` or stop reason may change.
        """
        self._touched.update(trial_ids)

    @abc.abstractmethod
    def forget(self, trial_ids: Iterable[str]) -> None:
        """Drop every trace of these trials.

        Called by :meth:`resume_from` with the trials that had not ended: a resumed sweep runs
        them again as new trials, so their old reports must not count twice.
        """

    def resume_from(
        self,
        state: Mapping[str, Any],
        dropped_ids: Iterable[str],
        log: str | os.PathLike[str] | None = None,
    ) -> None:
        """Load a stopped sweep's last saved state, minus the trials that had not ended.

        Called once by ``raysweep resume``, before any trial starts, with the contents of
        ``scheduler.json`` and the path of ``scheduler.jsonl``, whose lines after the
        snapshot's :data:`LOG_OFFSET_KEY` are applied before the trials are dropped.
        """
        self.load_state_dict(state)
        if log is not None:
            self._replay(log, state.get(LOG_OFFSET_KEY))
        self.forget(dropped_ids)

    def save(self, checkpoint_path: str | os.PathLike[str]) -> None:
        """Save the state for a resume: a snapshot at ``checkpoint_path`` when one is due, else
        one line in the log next to it (:func:`log_path_of`) with what changed since.

        Called by raysweep's recorder at each trial end (``scheduler.json``), after Tune told
        the scheduler of the trial's end. The first save to a path (also after a load) is a
        snapshot. Both are synced to disk before the recorder writes the trial's end, so after
        an OS crash the scheduler's state is never older than the ``trials.jsonl`` a resume
        pairs it with. Tune itself never calls it; Ray's own ``save`` pickles ``__dict__``.
        """
        path = Path(checkpoint_path)
        if self._log is None or self._snapshot != path or self.pacer.due():
            self.save_snapshot(path)
            return
        shared = self.shared_state()
        if not self._touched and shared == self._logged_shared:
            return  # nothing changed since the last save
        record: dict[str, Any] = {
            "trials": {trial_id: self._trial_record(trial_id) for trial_id in self._touched}
        }
        if shared != self._logged_shared:
            record["shared"] = shared
        self._log.append(record, sync=True)
        # Only once written: a failed write leaves them for the next save.
        self._touched.clear()
        self._logged_shared = shared

    def end_saving(self) -> None:
        """Rewrite the last snapshot with the whole state, so that a resume reads no log, and
        close the log.

        Called by :class:`StopReasonCallback` when the sweep ends. Skipped if nothing was
        saved, or if the state changed since the last save: a resume must read the state of
        the last save, which the log already holds.
        """
        if self._snapshot is not None and not self._touched:
            self.save_snapshot(self._snapshot)
        if self._log is not None:
            self._log.close()  # a later save opens it again

    def save_snapshot(self, checkpoint_path: str | os.PathLike[str]) -> None:
        """Write the whole state to ``checkpoint_path`` now (atomically, synced), with the
        offset of the log's end. Called by :meth:`save` when a snapshot is due."""
        path = Path(checkpoint_path)
        started = time.monotonic()
        log_path = log_path_of(path)
        if self._log is None or self._log.path != log_path:
            if self._log is not None:
                self._log.close()
            self._log = AppendLog(log_path)
        state = self.state_dict()
        state[LOG_OFFSET_KEY] = self._log.offset()
        write_json_atomic(path, state, sync=True)
        self._snapshot = path
        self._touched.clear()
        self._logged_shared = self.shared_state()
        self.pacer.wrote(started)

    def restore(self, checkpoint_path: str | os.PathLike[str]) -> None:
        """Read what :meth:`save` wrote: the snapshot, then the log's later lines (all of it:
        nothing is forgotten)."""
        with open(checkpoint_path, encoding="utf-8") as handle:
            state = json.load(handle)
        self.load_state_dict(state)
        self._replay(log_path_of(checkpoint_path), state.get(LOG_OFFSET_KEY))

    def _trial_record(self, trial_id: str) -> dict[str, Any] | None:
        state = self.trial_state(trial_id)
        reason = self.stop_reasons.get(trial_id)
        if state is None and reason is None:
            return None
        return {"state": state, "stop_reason": reason}

    def _replay(self, log: str | os.PathLike[str], offset: Any) -> None:
        """Apply the log's lines from ``offset`` on (None: a snapshot of an earlier version,
        which has no log); the next :meth:`save` writes a snapshot."""
        self._snapshot = None
        self._touched.clear()
        if not isinstance(offset, int):
            return
        # Each line holds a trial's whole state, so the last line that names it wins.
        entries: dict[str, Any] = {}
        shared: Mapping[str, Any] | None = None
        for record in read_log(log, offset):
            entries.update(record.get("trials", {}))
            shared = record.get("shared", shared)
        self.load_trial_states(
            {trial_id: (entry or {}).get("state") for trial_id, entry in entries.items()}
        )
        for trial_id, entry in entries.items():
            reason = (entry or {}).get("stop_reason")
            if reason is None:
                self.stop_reasons.pop(trial_id, None)
            else:
                self.stop_reasons[trial_id] = reason
        if shared is not None:
            self.load_shared_state(shared)

    def __getstate__(self) -> dict[str, Any]:
        # Tune pickles the scheduler with the run's settings; a copy must not append to a log
        # whose snapshot it did not write.
        state = dict(self.__dict__)
        state.update(_log=None, _snapshot=None)
        return state

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

    def use_checkpoints(self, store: CheckpointStore) -> None:
        """The sweep's checkpoint folders, for a scheduler that resumes paused trials
        (``type: promotion``, ``resume: checkpoint``); the others ignore them."""

    def paused_at(self, trial_id: str) -> int | None:
        """For a trial stopped at its rung with a checkpoint to resume from, that step; else
        None. Called by the recorder when the trial ends."""
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

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        """Write the scheduler's last snapshot (:meth:`SweepScheduler.end_saving`); called by
        Tune once the sweep has ended."""
        self.scheduler.end_saving()
