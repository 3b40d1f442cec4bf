"""Driver-side record of a sweep: what :mod:`raysweep.analysis.tables` reads, and what the
live view shows.

Files in the sweep directory (next to Ray's own):

- ``raysweep.json``: the sweep's metadata (method, metric, goal, parameter names), written once.
- ``sweep.yaml``: the sweep file as loaded.
- ``history.jsonl``: one JSON line per report (``trial_id``, ``step``, the metrics), appended
  and flushed as results arrive. Non-finite numbers are written as ``null``. A crash can only
  cut the last line, which the reader skips.
- ``trials.jsonl``: a trial's whole entry (status, config, metric summary, the last value of
  every other reported metric, node, GPUs, error, stop reason, retries, invalid report lines;
  in a multi-objective sweep, ``objectives``: each objective's last and best value)
  on one line each time it is written: at once at every trial's end, and for running trials
  that changed at most once a second. The last line of a trial wins; a crash can only cut the
  last line, which readers skip. Once the file holds many more lines than trials it is
  rewritten (atomically) with one line per trial, so its size follows the number of trials,
  not the sweep's length. Sweeps of earlier versions have ``trials.json`` (one list) instead,
  converted on resume.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
from ray.tune import Callback

from raysweep.analysis.pareto import (
    FRONT_STATUSES,
    dominates,
    objective_value,
    pareto_mask,
    signs,
)
from raysweep.analysis.tables import compact_trials, read_trial_log
from raysweep.execution.process import BAD_LINES_KEY
from raysweep.execution.trainable import GPUS_KEY, NODE_KEY
from raysweep.files import (
    COMPLETED_FILE,
    HISTORY_FILE,
    SCHEDULER_FILE,
    TRIALS_FILE,
    TRIALS_LOG_FILE,
    AppendLog,
)
from raysweep.numeric import finite_float
from raysweep.program.checkpoint_store import STEP_OFFSET_KEY
from raysweep.program.metrics import report_value
from raysweep.schedulers import STOP_REASON_KEY

if TYPE_CHECKING:
    from raysweep.schedulers import SweepScheduler

__all__ = [
    "RECENT_TRIALS",
    "StopReasons",
    "SweepRecorder",
    "TrialRecord",
    "clean_error",
    "retries_of",
]

# Keys Ray adds to every result; they are not the user's metrics.
RAY_AUTO_KEYS = frozenset(
    {
        "trial_id",
        "experiment_id",
        "date",
        "timestamp",
        "time_this_iter_s",
        "time_total_s",
        "pid",
        "hostname",
        "node_ip",
        "config",
        "time_since_restore",
        "iterations_since_restore",
        "checkpoint_dir_name",
        "done",
        "training_iteration",
        "should_checkpoint",
        "episodes_total",
        "timesteps_total",
        "timesteps_since_restore",
        GPUS_KEY,
        NODE_KEY,
        STEP_OFFSET_KEY,
        STOP_REASON_KEY,
        BAD_LINES_KEY,
    }
)
_SNAPSHOT_EVERY_S = 1.0
# How long after a stop the recorder looks for the worker's word that the program had ended.
_COMPLETED_WAIT_S = 10.0


class StopReasons:
    """Asks the sweep's scheduler (if any) why it stopped a trial and which configuration a
    trial trains again, and saves its state; picklable, and follows the scheduler.

    Args:
        scheduler: The sweep's scheduler, or None without early termination.
    """

    def __init__(self, scheduler: SweepScheduler | None) -> None:
        self.scheduler = scheduler

    def __call__(self, trial_id: str) -> str | None:
        return None if self.scheduler is None else self.scheduler.stop_reason(trial_id)

    def rerun_of(self, trial_id: str) -> str | None:
        """The first trial of the configuration this trial trains again (``type:
        promotion``), or None."""
        return None if self.scheduler is None else self.scheduler.rerun_of(trial_id)

    def paused_at(self, trial_id: str) -> int | None:
        """The step at which the scheduler paused the trial with a checkpoint to resume from
        (``resume: checkpoint``), or None."""
        return None if self.scheduler is None else self.scheduler.paused_at(trial_id)

    def save_state(self, path: Path) -> None:
        """Write the scheduler's state (if there is a scheduler) for ``raysweep resume``."""
        if self.scheduler is not None:
            self.scheduler.save(path)


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class TrialRecord(dict):  # type: ignore[type-arg]
    """One trial's entry of ``trials.jsonl`` (a plain dict, so it serialises as is)."""


# Trials the live view can show: the most recent by start, and the last to end.
RECENT_TRIALS = 200
# The trials file is compacted (one line per trial) once it has more lines than this many
# per trial, plus _COMPACT_SLACK: each compaction at least doubles the lines before the next.
_COMPACT_RATIO = 2
_COMPACT_SLACK = 1000
_LIVE = ("pending", "running", "retrying")


class SweepRecorder(Callback):
    """Records every trial and report of a sweep; optionally notifies a live view.

    Only the trials that have not ended are kept whole (:attr:`trials`); of the others the
    recorder keeps what a live view shows, maintained as events arrive: the count per
    status (:meth:`counts`), the best trial (:meth:`best`), the most recent trials
    (:meth:`recent`) and those that ended last (:meth:`ended_since`). Memory and the work
    per event do not grow with the number of trials that ended (in a multi-objective sweep,
    apart from the Pareto front's trials, :meth:`front`).

    Args:
        sweep_dir: The sweep's directory.
        metric: Name of the sweep's metric, or None.
        mode: ``"min"`` or ``"max"``.
        stop_reasons: The sweep's scheduler, asked why it stopped a trial, which trial a
            re-run trains again, and for its state; None without early termination.
        on_change: Called (in the driver thread) after each event, for a live view.
        objectives: A multi-objective sweep's objectives as ``(name, mode)`` pairs (``metric``
            is then None): each trial's record holds each one's last and best value under
            ``objectives``, :meth:`best_of` and :meth:`front` follow them.
    """

    def __init__(
        self,
        sweep_dir: Path,
        metric: str | None,
        mode: str,
        stop_reasons: StopReasons | None = None,
        on_change: Callable[[SweepRecorder], None] | None = None,
        objectives: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.sweep_dir = Path(sweep_dir)
        self.metric = metric
        self.mode = mode
        self.objectives = tuple(objectives) if metric is None else ()
        self._best_of: dict[str, tuple[TrialRecord, int]] = {}
        # The Pareto front of the trials that ended (values times signs, to minimise).
        self._signs = signs([m for _, m in self.objectives])
        self._front: list[TrialRecord] = []
        self._front_values = np.zeros((0, len(self.objectives)))
        self.stop_reasons = stop_reasons or StopReasons(None)
        self.on_change = on_change
        # The trials that have not ended (or whose end may still be relabelled), by id.
        self.trials: dict[str, TrialRecord] = {}
        self.total = 0  # trials recorded, those of an earlier driver included
        self._counts: dict[str, int] = {}
        self._best: TrialRecord | None = None
        self._best_place = -1  # its place in the start order: the first of equals wins
        self._place: dict[str, int] = {}  # of each trial in self.trials
        self._recent: deque[TrialRecord] = deque(maxlen=RECENT_TRIALS)
        self._ended: deque[TrialRecord] = deque(maxlen=RECENT_TRIALS)
        self._ended_count = 0
        self._lock = threading.Lock()
        self._log = AppendLog(self.sweep_dir / TRIALS_LOG_FILE)
        self._lines = 0  # whole lines in the trials file
        self._in_file = 0  # trials with a line in it
        self._last_write = 0.0
        self._last_sync = 0.0
        self._unsynced = False
        # Trials changed since their last line, and those with no line yet (both ordered).
        self._dirty: dict[str, None] = {}
        self._unwritten: dict[str, None] = {}
        # Stopped trials whose worker may still say their program had ended: id -> deadline.
        self._maybe_complete: dict[str, float] = {}
        self._history: IO[str] | None = None
        self._load_existing()

    def __getstate__(self) -> dict[str, Any]:
        # Tune pickles its callbacks with the run's settings (tuner.pkl) although raysweep
        # never restores from that file; locks, open files and the live view cannot be pickled.
        state = self.__dict__.copy()
        state.update(_lock=None, _history=None, on_change=None)
        return state

    # -- persistence ---------------------------------------------------------------------------
    def _load_existing(self) -> None:
        """On resume, take over the trials recorded by the earlier driver: their counts, the
        best of them and the most recent, not every record."""
        log = self.sweep_dir / TRIALS_LOG_FILE
        if not log.exists() and (self.sweep_dir / TRIALS_FILE).exists():
            compact_trials(self.sweep_dir)  # an earlier version's file: now a log
        # A line cut by a crash is gone already: AppendLog cut it when it was made.
        entries, self._lines = read_trial_log(log)
        kept: list[TrialRecord] = []
        for entry in entries.values():
            rec = TrialRecord(entry)
            status = str(rec.get("status"))
            self._counts[status] = self._counts.get(status, 0) + 1
            self._offer_best(rec, self.total)
            if self.objectives:
                for name, _ in self.objectives:
                    self._offer_best_of(name, rec, self.total)
                kept.append(rec)
            self._recent.append(rec)
            self.total += 1
        self._in_file = self.total
        if kept:
            self._load_front(kept)

    def _load_front(self, recs: list[TrialRecord]) -> None:
        """The Pareto front of the trials already in the file, in one pass (what
        :meth:`_offer_front` would leave after each of them in turn, in the same order)."""
        judged = [r for r in recs if r.get("status") in FRONT_STATUSES]
        values = np.array([[np.nan if (v := objective_value(r, name, "last")) is None else v
                            for name, _ in self.objectives] for r in judged], dtype=float)
        if not len(judged):
            return
        on = pareto_mask(values, [m for _, m in self.objectives])
        self._front = [judged[i] for i in np.flatnonzero(on)]
        self._front_values = values[on] * self._signs

    def _history_file(self) -> IO[str]:
        if self._history is None:
            self.sweep_dir.mkdir(parents=True, exist_ok=True)
            self._history = open(self.sweep_dir / HISTORY_FILE, "a", encoding="utf-8")
        return self._history

    def snapshot(self, force: bool = False) -> None:
        """Append the trials that changed since their last line to ``trials.jsonl``.

        At most once a second unless ``force``: a running trial's reports reach the file
        within about a second, an end at once (see :meth:`_write_now`).
        """
        now = time.monotonic()
        if not self._dirty or (not force and now - self._last_write < _SNAPSHOT_EVERY_S):
            return
        self._last_write = now
        self._write(list(self._dirty))

    def _write_now(self, tid: str) -> None:
        """Append trial ``tid``'s line now (resume and the tables rely on every end), after
        those of trials not yet in the file, which started before it (the file's order is
        the start order)."""
        tids = [t for t in self._unwritten if t != tid]
        self._write([*tids, tid])

    def _write(self, tids: list[str]) -> None:
        """Append the lines of ``tids``; sync to disk at most once a second (and by
        :meth:`close`); compact the file once it holds many more lines than trials."""
        with self._lock:
            wrote = False
            for tid in tids:
                self._dirty.pop(tid, None)
                rec = self.trials.get(tid)
                if rec is None:
                    continue
                self._log.append(rec)
                wrote = True
                self._lines += 1
                if tid in self._unwritten:
                    del self._unwritten[tid]
                    self._in_file += 1
            if not wrote:
                return
            now = time.monotonic()
            if now - self._last_sync >= _SNAPSHOT_EVERY_S:
                self._last_sync = now
                self._unsynced = not self._log.sync()
            else:
                self._unsynced = True
            if self._lines > _COMPACT_RATIO * self._in_file + _COMPACT_SLACK:
                self._log.close()  # it is replaced: later lines go to the new file
                self._lines = self._in_file = compact_trials(self.sweep_dir)
                self._unsynced = False  # the compacted file is synced

    # -- bookkeeping ---------------------------------------------------------------------------
    def _record(self, trial: Any) -> TrialRecord:
        """The trial's record, created if new; the caller may change it (it is written
        again)."""
        tid = trial.trial_id
        self._dirty[tid] = None
        rec = self.trials.get(tid)
        if rec is None:
            rec = TrialRecord(
                trial_id=tid,
                status="pending",
                config=trial.config,
                steps=0,
                reports=0,
                last=None,
                best=None,
                summary={},
                bad_lines=0,
                started=None,
                ended=None,
                node=None,
                gpus=None,
                error=None,
                stop_reason=None,
                failures=0,
                retries=0,
                dir=f"trial_{tid}",
            )
            # Asked once, when the trial is first seen (it has started, so the scheduler
            # knows it), not at every report.
            first = self.stop_reasons.rerun_of(tid)
            if first:
                rec["rerun_of"] = first
            if self.objectives:
                rec["objectives"] = {name: {"last": None, "best": None}
                                     for name, _ in self.objectives}
            self.trials[tid] = rec
            self._place[tid] = self.total
            self._unwritten[tid] = None
            self._counts["pending"] = self._counts.get("pending", 0) + 1
            self._recent.append(rec)
            self.total += 1
        return rec

    def _set_status(self, rec: TrialRecord, status: str) -> None:
        old = rec["status"]
        if old != status:
            self._counts[old] -= 1
            self._counts[status] = self._counts.get(status, 0) + 1
            rec["status"] = status

    def _offer_best(self, rec: TrialRecord, place: int) -> None:
        """Make ``rec`` the best trial if its best value beats the best so far (or equals it
        and the trial started first, as a scan in start order would find)."""
        value = rec.get("best")
        if value is None:
            return
        best = self._best
        if (best is None or self.better(value, best["best"])
                or (value == best["best"] and place < self._best_place)):
            self._best, self._best_place = rec, place

    def _offer_best_of(self, name: str, rec: TrialRecord, place: int) -> None:
        """:meth:`_offer_best` for one objective of a multi-objective sweep."""
        value = objective_value(rec, name, "best")
        if value is None:
            return
        mode = dict(self.objectives)[name]
        held = self._best_of.get(name)
        if held is None:
            self._best_of[name] = rec, place
            return
        best = objective_value(held[0], name, "best")
        if (best is None or _better(mode, value, best)
                or (value == best and place < held[1])):
            self._best_of[name] = rec, place

    def _offer_front(self, rec: TrialRecord) -> None:
        """Put an ended trial on the Pareto front if nothing there dominates its last values
        (those it dominates leave); the tables' rule (:mod:`raysweep.analysis.pareto`)."""
        if rec.get("status") not in FRONT_STATUSES:
            return
        values = [objective_value(rec, name, "last") for name, _ in self.objectives]
        if any(v is None for v in values):
            return
        point = np.array(values, dtype=float) * self._signs
        if dominates(self._front_values, point).any():
            return
        kept = ~dominates(point, self._front_values)
        self._front = [r for r, k in zip(self._front, kept, strict=True) if k] + [rec]
        self._front_values = np.vstack([self._front_values[kept], point])

    def _settle(self, tid: str) -> None:
        """The trial ended for good: give it to the live view and forget its record."""
        rec = self.trials.pop(tid, None)
        self._place.pop(tid, None)
        self._dirty.pop(tid, None)
        self._unwritten.pop(tid, None)
        if rec is not None:
            self._ended.append(rec)
            self._ended_count += 1
            if self.objectives:
                self._offer_front(rec)

    def _changed(self) -> None:
        listener = self.on_change
        if listener is not None:
            listener(self)

    def better(self, a: float, b: float | None) -> bool:
        """True if metric value ``a`` beats ``b``."""
        return _better(self.mode, a, b)

    # -- Ray hooks -----------------------------------------------------------------------------
    def on_step_end(self, iteration: int, trials: list[Any], **info: Any) -> None:
        if self._maybe_complete:
            self._relabel_completed(final=False)
        # Tune's loop turns many times a second: changes not yet on disk (a trial's start)
        # reach trials.jsonl within about a second even if nothing else happens.
        if self._dirty:
            self.snapshot()

    @property
    def unsettled(self) -> frozenset[str]:
        """Stopped trials that may still turn out finished (see :meth:`_relabel_completed`);
        a view waits before it reports them."""
        return frozenset(self._maybe_complete)

    def _relabel_completed(self, *, final: bool) -> None:
        """Record as finished the stopped trials whose program had already exited 0 when the
        stop reached it (the scheduler judged their last report): nothing was cut short."""
        now = time.monotonic()
        settled = False
        for tid, deadline in list(self._maybe_complete.items()):
            rec = self.trials.get(tid)
            if rec is not None and (self.sweep_dir / rec["dir"] / COMPLETED_FILE).exists():
                self._set_status(rec, "finished")
                rec["stop_reason"] = None
                self._write_now(tid)
            elif not (final or now > deadline):
                continue
            del self._maybe_complete[tid]
            self._settle(tid)
            settled = True
        if settled:
            self._changed()

    def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        rec = self._record(trial)
        self._set_status(rec, "running")
        rec["started"] = rec["started"] or time.time()
        # Not forced: a resumed sweep learns of running trials from the searcher's state
        # (saved at each suggestion), so the file may show a start up to a second late.
        self.snapshot()
        self._changed()

    def on_trial_result(
        self, iteration: int, trials: list[Any], trial: Any, result: dict[str, Any], **info: Any
    ) -> None:
        rec = self._record(trial)
        self._set_status(rec, "running")
        previous = int(rec.get("reports", 0))
        # A trial resumed from a checkpoint counts on from the steps its configuration had.
        offset = result.get(STEP_OFFSET_KEY) or 0
        if "rerun_of" in rec and "resumed_from_step" not in rec:
            rec["resumed_from_step"] = int(offset)
        step = int(result.get("training_iteration") or previous + 1 - offset) + int(offset)
        if step <= previous and (self.metric is not None or self.objectives):
            # A retry starts over from its first step: its steps are counted afresh.
            rec["steps"] = 0
        rec["reports"] = step
        metrics = {k: v for k, v in result.items() if k not in RAY_AUTO_KEYS}
        rec["node"] = result.get("node_ip") or result.get(NODE_KEY) or rec["node"]
        if result.get(GPUS_KEY) is not None:
            rec["gpus"] = result[GPUS_KEY] or None
        if result.get(BAD_LINES_KEY) is not None:
            rec["bad_lines"] = int(result[BAD_LINES_KEY])
        # W&B's run summary: the last value of every key the trial logged.
        summary = rec.setdefault("summary", {})
        summary.update({k: _finite_or_none(v) for k, v in metrics.items()})
        if self.objectives:
            self._fold_objectives(rec, metrics, self._place[trial.trial_id])
        elif self.metric is None:
            rec["steps"] = step
        elif _is_metric_value(report_value(metrics, self.metric)):
            # Only numbers are values of the metric: a string, bool or null is kept in the
            # history but is no step; NaN/inf leave the trial without a last value (the search
            # sees no score) and are no step either, as for hyperband's bands.
            value = finite_float(report_value(metrics, self.metric))
            rec["last"] = value
            if value is not None:
                rec["steps"] = rec["steps"] + 1
                if self.better(value, rec["best"]):
                    rec["best"] = value
                    self._offer_best(rec, self._place[trial.trial_id])
        line = {"trial_id": trial.trial_id, "step": step,
                "time_s": _finite_or_none(result.get("time_total_s"))}
        # A metric named like one of raysweep's columns keeps its value under another name.
        line.update(
            {(f"{k}_reported" if k in line else k): _finite_or_none(v) for k, v in metrics.items()}
        )
        f = self._history_file()
        f.write(json.dumps(line, default=str, allow_nan=False) + "\n")
        f.flush()
        self.snapshot()
        self._changed()

    def _fold_objectives(self, rec: TrialRecord, metrics: Mapping[str, Any], place: int) -> None:
        """A multi-objective sweep's report: each objective's last and best value, as for the
        single metric; a report with a number for any objective is a step."""
        counted = False
        for name, mode in self.objectives:
            # A flat key, else a "/" path into a nested report, as the searcher reads it.
            reported = report_value(metrics, name)
            if not _is_metric_value(reported):
                continue
            value = finite_float(reported)
            slot = rec["objectives"][name]
            if value is not None:
                # The last finite value, as the searcher tells the engine (search/_adapter):
                # the front and the study judge a trial by the same values.
                slot["last"] = value
                counted = True
                if _better(mode, value, slot["best"]):
                    slot["best"] = value
                    self._offer_best_of(name, rec, place)
        if counted:
            rec["steps"] = rec["steps"] + 1

    def _finish(self, trial: Any, status: str) -> TrialRecord:
        rec = self._record(trial)
        self._set_status(rec, status)
        rec["ended"] = time.time()
        rec["failures"] = int(getattr(trial, "num_failures", 0) or 0)
        rec["retries"] = retries_of(rec["failures"], failed=status == "failed")
        reason = self.stop_reasons(trial.trial_id)
        if reason:
            self._set_status(rec, "stopped")
            rec["stop_reason"] = reason
            paused = self.stop_reasons.paused_at(trial.trial_id)
            if paused is not None:
                rec["paused_at"] = paused
            # Its program may have ended on its own just before the stop reached it; the
            # worker says so in the trial directory, a moment after Tune tells us.
            self._maybe_complete[trial.trial_id] = time.monotonic() + _COMPLETED_WAIT_S
        # The scheduler was told first (Tune notifies it before callbacks): its state now
        # includes this trial's history, which a resumed sweep needs for the same decisions.
        self.stop_reasons.save_state(self.sweep_dir / SCHEDULER_FILE)
        return rec

    def _ended_now(self, tid: str) -> None:
        self._write_now(tid)
        if tid not in self._maybe_complete:
            self._settle(tid)
        self._changed()

    def on_trial_complete(
        self, iteration: int, trials: list[Any], trial: Any, **info: Any
    ) -> None:
        self._finish(trial, "finished")
        self._ended_now(trial.trial_id)

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        rec = self._finish(trial, "failed")
        rec["error"] = _read_error(trial)
        self._ended_now(trial.trial_id)

    def on_trial_recover(
        self, iteration: int, trials: list[Any], trial: Any, **info: Any
    ) -> None:
        rec = self._record(trial)
        self._set_status(rec, "retrying")
        rec["failures"] = int(getattr(trial, "num_failures", 0) or 0)
        rec["retries"] = retries_of(rec["failures"], failed=False)
        rec["error"] = _read_error(trial)
        self._write_now(trial.trial_id)
        self._changed()

    def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
        self._relabel_completed(final=True)
        # Only trials that started have a record: one proposed but never started (the sweep
        # ended first) was not interrupted, and on resume the searcher proposes it again.
        for tid, rec in self.trials.items():
            if rec["status"] in _LIVE:
                self._set_status(rec, "interrupted")
                self._dirty[tid] = None
        self.snapshot(force=True)
        self.close()

    def close(self) -> None:
        if self._history is not None:
            self._history.close()
            self._history = None
        if self._unsynced:
            self._unsynced = False
            self._log.sync()
        self._log.close()

    # -- views ---------------------------------------------------------------------------------
    def counts(self) -> Mapping[str, int]:
        """How many trials are in each status (statuses no trial is in left out)."""
        return {status: n for status, n in self._counts.items() if n}

    def best(self) -> TrialRecord | None:
        """The trial with the best value of the metric (the first to start among equals);
        None in a multi-objective sweep (see :meth:`best_of` and :meth:`front`)."""
        return self._best

    def best_of(self, name: str) -> TrialRecord | None:
        """In a multi-objective sweep, the trial with the best value of objective ``name``
        (its ``objectives[name]["best"]``; the first to start among equals), or None."""
        held = self._best_of.get(name)
        return None if held is None else held[0]

    def front(self) -> list[TrialRecord]:
        """In a multi-objective sweep, the ended trials on the Pareto front of their last
        values (finished or stopped trials with a value for every objective, as in the
        tables' ``pareto`` column), in the order they joined it; else empty."""
        return list(self._front)

    def recent(self, n: int) -> list[TrialRecord]:
        """The last ``n`` trials to start (at most :data:`RECENT_TRIALS`), in start order."""
        if n <= 0:
            return []
        return list(self._recent)[-n:]

    def ended_since(self, mark: int) -> tuple[int, list[TrialRecord]]:
        """The trials that ended for good (stopped trials once :attr:`unsettled` no more)
        after ``mark``, in that order, and the mark to give next time (start with 0).

        At most the last :data:`RECENT_TRIALS` are kept for a view that asks late.
        """
        new = min(self._ended_count - mark, len(self._ended))
        return self._ended_count, list(self._ended)[len(self._ended) - new:] if new > 0 else []


def _is_metric_value(value: Any) -> bool:
    """Whether a reported value of the sweep's metric is a number (NaN and inf included).

    >>> [_is_metric_value(v) for v in (0.5, 3, float("nan"), "0.5", True, None)]
    [True, True, True, False, False, False]
    """
    if isinstance(value, (bool, str, bytes)) or value is None:
        return False
    if finite_float(value) is not None:
        return True
    try:
        return math.isnan(value) or math.isinf(value)
    except TypeError:
        return False


def _better(mode: str, a: float, b: float | None) -> bool:
    """True if value ``a`` beats ``b`` (None: no value yet) under ``mode``."""
    if b is None:
        return True
    return a < b if mode == "min" else a > b


def retries_of(failures: int, *, failed: bool) -> int:
    """How many times a trial was started again after a failure.

    Ray counts every failure (``num_failures``); the last one of a trial that ended failed
    was not retried.

    >>> retries_of(1, failed=True), retries_of(2, failed=True), retries_of(1, failed=False)
    (0, 1, 1)
    """
    return max(failures - 1, 0) if failed else failures


def _read_error(trial: Any) -> str | None:
    path = getattr(trial, "error_file", None)
    if not path:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return clean_error(text)


# Tune's error file: "Failure # N (occurred at <time>)" before each failure's text.
_FAILURE_HEADER = re.compile(r"^Failure # \d+ \(occurred at [^)]*\)\s*$", re.MULTILINE)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
# Ray writes "ray::ImplicitFunc.train() (pid=.., ip=.., ...)" in place of every line that
# starts with "Traceback ", the program's own tracebacks in the message included.
_RAY_HEADER = re.compile(r"^ray::\S+\(\) \(pid=\d+.*\)\s*$")
_FRAME = re.compile(r'^  File "(?P<path>[^"]*)", line \d+')
_CARETS = re.compile(r"^\s*[\^~]+\s*$")
# Frames of Ray and of raysweep's own trial code: not the user's.
_INTERNAL_PATH = re.compile(
    r"([/\\](site|dist)-packages[/\\]ray[/\\])|(^python[/\\]ray[/\\])"
    r"|([/\\]raysweep[/\\](execution|program)[/\\])|([/\\]threading\.py$)"
)
_TRACEBACK = "Traceback (most recent call last):"
_PROGRAM_FAILED = "raysweep.errors.ProgramFailedError: "


def clean_error(text: str, limit: int = 4000) -> str:
    """The user's view of a Tune error file: the last failure, as plain text.

    Ray's colour codes, its ``ray::ImplicitFunc.train() (pid=...)`` lines and the frames of
    Ray and raysweep are dropped; the user's frames and the exception stay, under Python's own
    ``Traceback`` line. A failed program's error is raysweep's message: its exit status and
    its last lines of output. At most ``limit`` characters are kept, from the end.
    """
    blocks = _FAILURE_HEADER.split(text)
    text = _ANSI.sub("", blocks[-1]).replace("\r\n", "\n")
    out: list[str] = []
    keep_frame: bool | None = None  # inside a frame: whether it is kept; None outside one
    for line in text.strip("\n").split("\n"):
        frame = _FRAME.match(line)
        if _RAY_HEADER.match(line) or line.startswith("Traceback "):
            out.append(_TRACEBACK)
            keep_frame = None
        elif frame is not None:
            keep_frame = not _INTERNAL_PATH.search(frame["path"])
            if keep_frame:
                out.append(line)
        elif keep_frame is not None and line.startswith("    "):
            if keep_frame:
                out.append(line)  # the frame's source line or its carets
        elif _CARETS.match(line):
            pass  # carets of a frame Ray already dropped
        else:
            keep_frame = None
            out.append(line[len(_PROGRAM_FAILED):] if line.startswith(_PROGRAM_FAILED) else line)
    # A traceback line with none of the user's frames under it says nothing.
    kept = [line for i, line in enumerate(out)
            if line != _TRACEBACK or (i + 1 < len(out) and _FRAME.match(out[i + 1]))]
    # Raysweep's message for a failed program already holds everything after its first line.
    for i, line in enumerate(kept):
        if line.startswith("program exited with status"):
            kept = kept[i:]
            break
    return "\n".join(kept).strip()[-limit:].strip()
