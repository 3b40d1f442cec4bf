"""What a resumed sweep keeps of its past, read from the sweep directory's own JSON files.

A sweep is resumed from raysweep's files (``trials.jsonl``, ``history.jsonl``,
``searcher.json``, ``scheduler.json``, ``sweep.yaml``), never from Ray's pickles: ended trials
are kept, trials that were running are dropped from the files and run again first, and the
searcher and scheduler continue from their saved states.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raysweep.analysis.tables import compact_trials, read_trials
from raysweep.errors import RaysweepError, SweepConfigError
from raysweep.files import (
    CONFIG_FILE,
    ENDED_STATUSES,
    HISTORY_FILE,
    RERUN_FAILED_FILE,
    SCHEDULER_FILE,
    SEARCHER_FILE,
    AppendLog,
    write_text_atomic,
)
from raysweep.sweep.config import loads
from raysweep.sweep.model import Method, SweepConfig

if TYPE_CHECKING:
    from raysweep.schedulers import SweepScheduler
    from raysweep.search import TuneSearcher

__all__ = [
    "ResumePlan",
    "nothing_left",
    "reconcile",
    "rerun_room",
    "restore_scheduler",
    "restore_searcher",
    "saved_config",
]



@dataclass
class ResumePlan:
    """What a resumed sweep must know about its past (see :func:`reconcile`).

    Attributes:
        ended: How many trials ended before (they count towards ``run_cap``/``count``).
        dropped_ids: Trials that were running when the driver stopped.
        dropped_configs: Their configurations (trial id -> nested config), to run again.
        reruns_failed: Whether the failed trials are among them (``--rerun-failed`` asked
            and the trial cap leaves room: :func:`rerun_room`).
    """

    ended: int
    dropped_ids: set[str]
    dropped_configs: dict[str, dict[str, Any]]
    reruns_failed: bool = False


def saved_config(sweep_dir: Path, meta: Mapping[str, Any]) -> SweepConfig:
    """The configuration a sweep directory keeps (``sweep.yaml``, as the sweep started).

    Raises:
        RaysweepError: the file is missing or unreadable (a SweepConfigError if it no longer
            loads).
    """
    path = sweep_dir / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise RaysweepError(
            f"cannot read the sweep's configuration {path} ({reason}): raysweep resume needs "
            f"the sweep.yaml it saved when the sweep started"
        ) from None
    try:
        # The original file's path: programs run from its directory.
        return loads(text, path=meta.get("source") or str(path))
    except SweepConfigError as exc:
        # But the problems (and their line numbers) are in the saved copy: name that.
        raise type(exc)(exc.issues, str(path)) from None


def reconcile(sweep_dir: Path, *, rerun_failed: bool = False, cap: int = -1) -> ResumePlan:
    """Keep the ended trials of an interrupted sweep and drop the rest from its files.

    Trials that had not ended when the driver died are removed from ``trials.jsonl`` and
    ``history.jsonl`` (each replaced in one rename): they run again, as new trials with the
    same config. The trials file is rewritten with one line per kept trial (a sweep of an
    earlier version gets its ``trials.jsonl`` so), after the history: a crash in between
    leaves files that reconcile the same way again.

    With ``rerun_failed`` (``raysweep resume --rerun-failed``) the failed trials are dropped
    and run again the same way: each is replaced by a new trial of its configuration, which
    takes its place toward ``run_cap``. Their entries are first appended to
    :data:`RERUN_FAILED_FILE`, so their errors stay on record (their trial folders stay too).
    Only when the trial cap (``cap``, <= 0 for none) leaves room to run them: else they stay.
    """
    entries = read_trials(sweep_dir)
    rerun_failed = rerun_failed and _rerun_room(entries, cap)
    dropped = [e for e in entries if e.get("status") not in ENDED_STATUSES
               or (rerun_failed and e.get("status") == "failed")]
    if rerun_failed:
        _keep_failed(sweep_dir, [e for e in dropped if e.get("status") == "failed"])
    dropped_ids = {str(e.get("trial_id")) for e in dropped}
    history = sweep_dir / HISTORY_FILE
    if dropped_ids and history.exists():
        lines = history.read_text(encoding="utf-8").splitlines(keepends=True)
        marks = [json.dumps(tid) for tid in dropped_ids]
        keep_lines = []
        for line in lines:
            if not line.endswith("\n"):
                continue  # cut by the crash
            if not any(mark in line for mark in marks):
                keep_lines.append(line)  # names none of the dropped trials: no need to parse
                continue
            try:
                tid = json.loads(line).get("trial_id")
            except ValueError:
                continue
            if tid not in dropped_ids:
                keep_lines.append(line)
        write_text_atomic(history, "".join(keep_lines), sync=True)
    kept = compact_trials(sweep_dir, drop=dropped_ids)
    configs = {str(e.get("trial_id")): e.get("config") or {}
               for e in dropped if e.get("config") is not None}
    return ResumePlan(ended=kept, dropped_ids=dropped_ids, dropped_configs=configs,
                      reruns_failed=rerun_failed)


def rerun_room(sweep_dir: Path, cap: int) -> bool:
    """Whether ``--rerun-failed`` may run anything: the sweep has failed trials and the trial
    cap (``cap`` <= 0 for none) leaves room beside the trials that ended otherwise.

    :func:`reconcile` checks it on the entries it read before it moves the failed ones out of
    ``trials.jsonl``: a resume that would then run nothing must leave them where they are.
    """
    return _rerun_room(read_trials(sweep_dir), cap)


def _rerun_room(entries: list[dict[str, Any]], cap: int) -> bool:
    failed = sum(1 for e in entries if e.get("status") == "failed")
    kept = sum(1 for e in entries if e.get("status") in ENDED_STATUSES) - failed
    return failed > 0 and (cap <= 0 or kept < cap)


def _keep_failed(sweep_dir: Path, failed: list[dict[str, Any]]) -> None:
    """Append the failed trials' entries to :data:`RERUN_FAILED_FILE`, synced, before they
    leave ``trials.jsonl`` (a crash in between writes them again: a duplicate, not a loss;
    a crash mid-line leaves a partial line, which the next append cuts off first)."""
    if not failed:
        return
    now = time.time()
    log = AppendLog(sweep_dir / RERUN_FAILED_FILE)
    try:
        for entry in failed:
            log.append({**entry, "rerun_requested": now})
        log.sync()
    finally:
        log.close()


def nothing_left(sweep_dir: Path, cfg: SweepConfig, plan: ResumePlan, cap: int) -> str | None:
    """Why resuming the sweep would run no trial, or None if it may run some.

    Says so only when sure: the trial cap (``run_cap`` or ``count``, ``cap`` <= 0 for none)
    is used up, a trial reached ``metric.target``, or every combination of a grid ended
    (without ``type: promotion``, whose re-runs are trials beyond the grid). Otherwise trials
    that were running when the driver stopped leave something to do.
    """
    if cap > 0 and plan.ended >= cap:
        # Checked first: trials that were running would not run again either.
        return f"all {cap} trials it may run have ended"
    if plan.dropped_ids:
        return None
    from raysweep.search import read_saved_searcher

    path = sweep_dir / SEARCHER_FILE
    state = _saved_state(path)
    if not isinstance(state, dict):
        return None
    try:
        # The snapshot and the journal's events after it: the state as the driver left it.
        ledger = read_saved_searcher(path, state).replayed()
    except (KeyError, TypeError, ValueError):
        return None  # not a state this version reads: restore_searcher says so
    if ledger.live or ledger.requeued:
        return None  # trials the searcher handed out and never saw end run again
    if ledger.target_reached:
        return "a trial reached the metric's target"
    et = cfg.early_terminate
    reruns = et is not None and et.type == "promotion"  # re-runs are trials beyond the space
    if (cfg.method is Method.GRID and not reruns
            and plan.ended >= cfg.parameters.grid_size()):
        return f"every one of the grid's {cfg.parameters.grid_size()} combinations has ended"
    if ledger.exhausted and not reruns:
        # The proposer said its space is used up, for good (a grid whose earlier results
        # (--warm-start) covered some combinations ends with fewer trials than its size).
        return "the searcher has proposed every configuration of its space"
    return None


def _saved_state(path: Path) -> Any | None:
    """A state file the sweep wrote for resume (None if it has none), or a clear error."""
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RaysweepError(
            f"{path} is damaged ({exc}): raysweep resume needs it to continue the sweep where "
            f"it stopped. The results so far stay readable (`raysweep results {path.parent}`)"
        ) from None


def restore_searcher(
    searcher: TuneSearcher,
    scheduler: SweepScheduler | None,
    sweep_dir: Path,
    cfg: SweepConfig,
    plan: ResumePlan,
) -> None:
    """Load the searcher's saved state and queue the interrupted trials' configs.

    Call after :func:`restore_scheduler`: a re-run of a promoted configuration is the
    scheduler's to run again, not a proposal.
    """
    from raysweep.search import read_saved_searcher

    path = sweep_dir / SEARCHER_FILE
    state = _saved_state(path)
    if state is not None:
        # The snapshot, then the journal's events after it (searcher.jsonl).
        searcher.load_saved(read_saved_searcher(path, state))
    # A trial the recorder saw running but the searcher already closed (the driver died
    # between the two writes) must run again too.
    searcher.abandon_live()
    if cfg.define_by_run:
        # The engine's search_space() picks the parameters: `parameters` cannot rebuild an
        # interrupted trial's config (it would run with none of its branch). The study holds
        # those trials and proposes again (search/optuna.py).
        return
    flats = [cfg.parameters.flatten(c) for tid, c in plan.dropped_configs.items()
             if not (scheduler is not None and scheduler.runs_again(tid, c))]
    searcher.requeue([f for f in flats if len(f) == len(cfg.parameters)])


def restore_scheduler(
    scheduler: SweepScheduler | None, sweep_dir: Path, plan: ResumePlan
) -> None:
    """Load the scheduler's state saved at the last trial end, minus the dropped trials: its
    last snapshot, then what its log holds after it (a sweep of an earlier version has only
    the snapshot). The result is saved as a new snapshot at once: ``reconcile`` already took
    the dropped trials out of ``trials.jsonl``, so a driver killed before the next trial end
    must not find their values in the saved state again."""
    from raysweep.files import SCHEDULER_LOG_FILE

    if scheduler is None:
        return  # no early termination
    state = _saved_state(sweep_dir / SCHEDULER_FILE)
    if state is not None:
        scheduler.resume_from(state, plan.dropped_ids, log=sweep_dir / SCHEDULER_LOG_FILE)
        scheduler.save_snapshot(sweep_dir / SCHEDULER_FILE)
