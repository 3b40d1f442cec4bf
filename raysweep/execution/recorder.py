"""Driver-side record of a sweep: what :mod:`raysweep.analysis.tables` reads, and what the
live view shows.

Files in the sweep directory (next to Ray's own):

- ``raysweep.json``: the sweep's metadata (method, metric, goal, parameter names), written once.
- ``sweep.yaml``: the sweep file as loaded.
- ``history.jsonl``: one JSON line per report (``trial_id``, ``step``, the metrics), appended
  and flushed as results arrive. Non-finite numbers are written as ``null``. A crash can only
  cut the last line, which the reader skips.
- ``trials.json``: one entry per trial (status, config, metric summary, node, GPUs, error, stop
  reason), rewritten atomically (temporary file, then rename) at most every second and at
  every trial's end, so a crash at any moment leaves a readable sweep.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ray.tune import Callback

from raysweep.execution.trainable import GPUS_KEY, NODE_KEY
from raysweep.files import (
    HISTORY_FILE,
    SCHEDULER_FILE,
    TRIALS_FILE,
    write_text_atomic,
)
from raysweep.numeric import finite_float
from raysweep.schedulers import STOP_REASON_KEY

if TYPE_CHECKING:
    from raysweep.schedulers import SweepScheduler

__all__ = ["StopReasons", "SweepRecorder", "TrialRecord"]

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
        STOP_REASON_KEY,
    }
)
_SNAPSHOT_EVERY_S = 1.0


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

    def save_state(self, path: Path) -> None:
        """Write the scheduler's state (if there is a scheduler) for ``raysweep resume``."""
        if self.scheduler is not None:
            self.scheduler.save(path)


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class TrialRecord(dict):  # type: ignore[type-arg]
    """One trial's entry of ``trials.json`` (a plain dict, so it serialises as is)."""


class SweepRecorder(Callback):
    """Records every trial and report of a sweep; optionally notifies a live view.

    Args:
        sweep_dir: The sweep's directory.
        metric: Name of the sweep's metric, or None.
        mode: ``"min"`` or ``"max"``.
        stop_reasons: The sweep's scheduler, asked why it stopped a trial, which trial a
            re-run trains again, and for its state; None without early termination.
        on_change: Called (in the driver thread) after each event, for a live view.
    """

    def __init__(
        self,
        sweep_dir: Path,
        metric: str | None,
        mode: str,
        stop_reasons: StopReasons | None = None,
        on_change: Callable[[SweepRecorder], None] | None = None,
    ) -> None:
        self.sweep_dir = Path(sweep_dir)
        self.metric = metric
        self.mode = mode
        self.stop_reasons = stop_reasons or StopReasons(None)
        self.on_change = on_change
        self.trials: dict[str, TrialRecord] = {}
        self.order: list[str] = []
        self._lock = threading.Lock()
        self._last_snapshot = 0.0
        self._last_sync = 0.0
        self._unsynced = False
        # Each trial's JSON, re-encoded only after it changed (see snapshot()).
        self._encoded: dict[str, str] = {}
        self._dirty: set[str] = set()
        self._history: IO[str] | None = None
        self._load_existing()

    def __getstate__(self) -> dict[str, Any]:
        # Tune pickles its callbacks with the run's settings (tuner.pkl) although raysweep
        # never restores from that file; locks, open files and the live view cannot be pickled.
        state = self.__dict__.copy()
        state.update(_lock=None, _history=None, on_change=None, _encoded={}, _dirty=set())
        return state

    # -- persistence ---------------------------------------------------------------------------
    def _load_existing(self) -> None:
        """On resume, keep the trials recorded by the earlier driver."""
        path = self.sweep_dir / TRIALS_FILE
        if not path.exists():
            return
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        for entry in data.get("trials", []):
            tid = entry.get("trial_id")
            if tid and tid not in self.trials:
                self.trials[tid] = TrialRecord(entry)
                self.order.append(tid)

    def _history_file(self) -> IO[str]:
        if self._history is None:
            self.sweep_dir.mkdir(parents=True, exist_ok=True)
            self._history = open(self.sweep_dir / HISTORY_FILE, "a", encoding="utf-8")
        return self._history

    def snapshot(self, force: bool = False) -> None:
        """Rewrite ``trials.json`` (throttled unless ``force``).

        Only trials that changed since the last snapshot are encoded again, so the forced
        snapshots at every trial's start and end stay cheap in long sweeps. The file is
        renamed into place every time (a killed driver leaves it complete) and synced to disk
        at most once a second and by :meth:`close`.
        """
        now = time.monotonic()
        if not force and now - self._last_snapshot < _SNAPSHOT_EVERY_S:
            return
        self._last_snapshot = now
        with self._lock:
            for tid in self._dirty:
                self._encoded.pop(tid, None)
            self._dirty.clear()
            parts = []
            for tid in self.order:
                text = self._encoded.get(tid)
                if text is None:
                    text = self._encoded[tid] = json.dumps(self.trials[tid], default=str)
                parts.append(text)
            # The same text as json.dumps({"trials": [...], "updated": ...}).
            body = '{"trials": [%s], "updated": %s}' % (", ".join(parts), json.dumps(time.time()))
            sync = now - self._last_sync >= _SNAPSHOT_EVERY_S
            write_text_atomic(self.sweep_dir / TRIALS_FILE, body, sync=sync)
            if sync:
                self._last_sync = now
            self._unsynced = not sync

    # -- bookkeeping ---------------------------------------------------------------------------
    def _record(self, trial: Any) -> TrialRecord:
        """The trial's record, created if new; the caller may change it (it is re-encoded)."""
        tid = trial.trial_id
        self._dirty.add(tid)
        rec = self.trials.get(tid)
        if rec is None:
            rec = TrialRecord(
                trial_id=tid,
                status="pending",
                config=trial.config,
                steps=0,
                last=None,
                best=None,
                started=None,
                ended=None,
                node=None,
                gpus=None,
                error=None,
                stop_reason=None,
                failures=0,
                dir=f"trial_{tid}",
            )
            # Asked once, when the trial is first seen (it has started, so the scheduler
            # knows it), not at every report.
            first = self.stop_reasons.rerun_of(tid)
            if first:
                rec["rerun_of"] = first
            self.trials[tid] = rec
            self.order.append(tid)
        return rec

    def _changed(self) -> None:
        listener = self.on_change
        if listener is not None:
            listener(self)

    def better(self, a: float, b: float | None) -> bool:
        """True if metric value ``a`` beats ``b``."""
        if b is None:
            return True
        return a < b if self.mode == "min" else a > b

    # -- Ray hooks -----------------------------------------------------------------------------
    def on_step_end(self, iteration: int, trials: list[Any], **info: Any) -> None:
        # Tune's loop turns many times a second: changes not yet on disk (a trial's start)
        # reach trials.json within about a second even if nothing else happens.
        if self._dirty:
            self.snapshot()

    def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        rec = self._record(trial)
        rec["status"] = "running"
        rec["started"] = rec["started"] or time.time()
        # Not forced: a resumed sweep learns of running trials from the searcher's state
        # (saved at each suggestion), so the file may show a start up to a second late.
        self.snapshot()
        self._changed()

    def on_trial_result(
        self, iteration: int, trials: list[Any], trial: Any, result: dict[str, Any], **info: Any
    ) -> None:
        rec = self._record(trial)
        rec["status"] = "running"
        step = int(result.get("training_iteration") or rec["steps"] + 1)
        rec["steps"] = step
        metrics = {k: v for k, v in result.items() if k not in RAY_AUTO_KEYS}
        rec["node"] = result.get("node_ip") or result.get(NODE_KEY) or rec["node"]
        if result.get(GPUS_KEY) is not None:
            rec["gpus"] = result[GPUS_KEY] or None
        if self.metric is not None and self.metric in metrics:
            value = finite_float(metrics[self.metric])
            rec["last"] = value
            if value is not None and self.better(value, rec["best"]):
                rec["best"] = value
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

    def _finish(self, trial: Any, status: str) -> TrialRecord:
        rec = self._record(trial)
        rec["status"] = status
        rec["ended"] = time.time()
        rec["failures"] = int(getattr(trial, "num_failures", 0) or 0)
        reason = self.stop_reasons(trial.trial_id)
        if reason:
            rec["status"] = "stopped"
            rec["stop_reason"] = reason
        # The scheduler was told first (Tune notifies it before callbacks): its state now
        # includes this trial's history, which a resumed sweep needs for the same decisions.
        self.stop_reasons.save_state(self.sweep_dir / SCHEDULER_FILE)
        return rec

    def on_trial_complete(
        self, iteration: int, trials: list[Any], trial: Any, **info: Any
    ) -> None:
        self._finish(trial, "finished")
        self.snapshot(force=True)
        self._changed()

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        rec = self._finish(trial, "failed")
        rec["error"] = _read_error(trial)
        rec["failures"] = int(getattr(trial, "num_failures", 0) or 0)
        self.snapshot(force=True)
        self._changed()

    def on_trial_recover(
        self, iteration: int, trials: list[Any], trial: Any, **info: Any
    ) -> None:
        rec = self._record(trial)
        rec["status"] = "retrying"
        rec["failures"] = int(getattr(trial, "num_failures", 0) or 0)
        rec["error"] = _read_error(trial)
        self.snapshot(force=True)
        self._changed()

    def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
        for trial in trials:
            rec = self._record(trial)
            if rec["status"] in ("pending", "running", "retrying"):
                rec["status"] = "interrupted"
        self.snapshot(force=True)
        self.close()

    def close(self) -> None:
        if self._history is not None:
            self._history.close()
            self._history = None
        if self._unsynced:
            self._unsynced = False
            try:
                fd = os.open(self.sweep_dir / TRIALS_FILE, os.O_RDONLY)
            except OSError:
                return
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    # -- views ---------------------------------------------------------------------------------
    def counts(self) -> Mapping[str, int]:
        out: dict[str, int] = {}
        for rec in self.trials.values():
            out[rec["status"]] = out.get(rec["status"], 0) + 1
        return out

    def best(self) -> TrialRecord | None:
        best: TrialRecord | None = None
        for tid in self.order:
            rec = self.trials[tid]
            if rec["best"] is None:
                continue
            if best is None or self.better(rec["best"], best["best"]):
                best = rec
        return best


def _read_error(trial: Any) -> str | None:
    path = getattr(trial, "error_file", None)
    if not path:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return _summarise_error(text)


def _summarise_error(text: str, limit: int = 4000) -> str:
    """Keep the useful end of a Ray error file: the exception line and the program's tail."""
    marker = "ProgramFailedError: "
    if marker in text:
        text = text[text.rindex(marker) + len(marker):]
    else:
        lines = [ln for ln in text.strip().splitlines() if ln.strip()]
        text = "\n".join(lines[-15:])
    return text[-limit:].strip()
