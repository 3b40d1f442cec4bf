"""Scheduler state saved as a paced snapshot plus a log: resumes as the whole state did. No Ray.

Every scheduler type runs a small sweep on fake trials (as Tune would call it), saving at each
trial end as the recorder does. A copy of the sweep directory taken after any event (also a
log line cut by a kill) must resume to the scheduler that the whole state of the last save
gives (what ``scheduler.json`` held before it had a log), and make the same decisions after.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
from raysweep.schedulers import (
    LOG_OFFSET_KEY,
    SweepScheduler,
    log_path_of,
    make_callbacks,
    make_scheduler,
)

from raysweep.execution.resume import ResumePlan, restore_scheduler
from raysweep.files import SCHEDULER_FILE, SCHEDULER_LOG_FILE, SnapshotPacer
from raysweep.sweep.model import EarlyTerminate, Metric

KINDS = ["hyperband", "asha", "median", "promotion"]
STOP = "STOP"


class _Trial:
    """Stands for Ray's Trial: an id, a config, and no retries left."""

    def __init__(self, trial_id: str, config: dict[str, Any]) -> None:
        self.trial_id = trial_id
        self.config = config

    def should_recover(self) -> bool:
        return False


class _Pacer:
    """A snapshot pacer that says "due" at a seeded random share of saves."""

    def __init__(self, seed: int, share: float) -> None:
        self.rng = random.Random(seed)
        self.share = share

    def due(self) -> bool:
        return self.rng.random() < self.share

    def wrote(self, started: float) -> None:
        pass


def _scheduler(kind: str) -> SweepScheduler:
    scheduler = make_scheduler(EarlyTerminate(kind, max_iter=8, s=3, eta=2), Metric("loss"))
    assert scheduler is not None
    return scheduler


class _Sweep:
    """Drives a scheduler as Tune does: ``width`` trials at a time, one event per step.

    A trial's losses follow from its config (``x + 1 / step``, with a NaN now and then but
    not for ASHA, where Ray's percentile warns of a rung of NaNs), so a re-run of a promoted
    configuration reports what its first trial did. Some trials fail; each trial end is
    followed by a save when a directory is given.
    """

    def __init__(
        self,
        scheduler: SweepScheduler,
        *,
        seed: int,
        trials: int,
        prefix: str = "t",
        width: int = 3,
        steps: int = 8,
        directory: Path | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.rng = random.Random(seed)
        self.trials = trials
        self.prefix = prefix
        self.width = width
        self.steps = steps
        self.directory = directory
        self.started = 0
        self.ended: list[str] = []
        self.live: dict[str, tuple[_Trial, int]] = {}
        self.due_save = False
        self.decisions: list[Any] = []
        self.nans = 0.0 if scheduler.state_dict().get("kind") == "asha" else 0.05

    def done(self) -> bool:
        return not self.due_save and not self.live and self.started >= self.trials

    def step(self) -> str:
        """Run one event; return what it was ("save" for a save)."""
        if self.due_save:
            self.due_save = False
            assert self.directory is not None
            self.scheduler.save(self.directory / SCHEDULER_FILE)
            return "save"
        if len(self.live) < self.width and self.started < self.trials:
            trial_id = f"{self.prefix}{self.started:05d}"
            self.started += 1
            config = self.scheduler.rerun(trial_id)
            self.decisions.append(("rerun", trial_id, config))
            if config is None:
                config = {"x": round(self.rng.random(), 3)}
            trial = _Trial(trial_id, config)
            self.scheduler.on_trial_add(None, trial)  # type: ignore[arg-type]
            self.live[trial_id] = (trial, 0)
            return "add"
        trial_id = self.rng.choice(sorted(self.live))
        trial, step = self.live[trial_id]
        step += 1
        self.live[trial_id] = (trial, step)
        if self.rng.random() < 0.03:
            self.scheduler.on_trial_error(None, trial)  # type: ignore[arg-type]
            return self._end(trial_id, "error")
        loss = math.nan if self.rng.random() < self.nans else trial.config["x"] + 1 / step
        result = {"loss": loss, "training_iteration": step}
        action = self.scheduler.on_trial_result(None, trial, result)  # type: ignore[arg-type]
        self.decisions.append((trial_id, step, action))
        if action == STOP or step >= self.steps:
            self.scheduler.on_trial_complete(None, trial, result)  # type: ignore[arg-type]
            return self._end(trial_id, "complete")
        return "result"

    def _end(self, trial_id: str, event: str) -> str:
        del self.live[trial_id]
        self.ended.append(trial_id)
        self.due_save = self.directory is not None
        return event

    def run(self) -> None:
        while not self.done():
            self.step()


def _whole(scheduler: SweepScheduler) -> dict[str, Any]:
    """The state as the previous version saved it (JSON round trip)."""
    state: dict[str, Any] = json.loads(json.dumps(scheduler.state_dict()))
    return state


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir()}


def _resumed(kind: str, files: dict[str, bytes], directory: Path, dropped: set[str]) -> Any:
    directory.mkdir()
    for name, data in files.items():
        (directory / name).write_bytes(data)
    scheduler = _scheduler(kind)
    restore_scheduler(scheduler, directory, ResumePlan(len(files), dropped, {}))
    return scheduler


def _reference(kind: str, state: dict[str, Any] | None, dropped: set[str]) -> Any:
    scheduler = _scheduler(kind)
    if state is not None:
        scheduler.resume_from(state, dropped)
    return scheduler


def _same_after(resumed: SweepScheduler, reference: SweepScheduler) -> None:
    """Both hold the same state and make the same decisions on the same new trials."""
    assert resumed.state_dict() == reference.state_dict()
    assert resumed.stop_reasons == reference.stop_reasons
    runs = [_Sweep(s, seed=7, trials=6, prefix="n") for s in (resumed, reference)]
    for run in runs:
        run.run()
    assert runs[0].decisions == runs[1].decisions
    assert resumed.state_dict() == reference.state_dict()


def test_log_file_name_is_the_snapshots_with_jsonl() -> None:
    assert log_path_of(Path("d") / SCHEDULER_FILE) == Path("d") / SCHEDULER_LOG_FILE


@pytest.mark.parametrize("kind", KINDS)
def test_a_copy_taken_after_any_event_resumes_as_the_whole_state_did(
    tmp_path: Path, kind: str
) -> None:
    directory = tmp_path / "sweep"
    directory.mkdir()
    scheduler = _scheduler(kind)
    scheduler.pacer = _Pacer(seed=1, share=0.25)  # type: ignore[assignment]
    sweep = _Sweep(scheduler, seed=3, trials=14, directory=directory)
    saved: dict[str, Any] | None = None  # the whole state at the last save
    copies = []
    while not sweep.done():
        log = directory / SCHEDULER_LOG_FILE
        log_before = _size(log)
        state_before = saved
        event = sweep.step()
        if event == "save":
            saved = _whole(scheduler)
        # The trials file lists the trials started and not ended: a resume drops them.
        dropped = set(sweep.live)
        copies.append((_files(directory), saved, dropped))
        log_after = _size(log)
        if event == "save" and log_after > log_before:
            # Killed while appending this line: the part written is ignored.
            files = _files(directory)
            files[SCHEDULER_LOG_FILE] = files[SCHEDULER_LOG_FILE][: log_after - 3]
            copies.append((files, state_before, dropped))
    assert len(sweep.ended) == 14
    snapshots = json.loads((directory / SCHEDULER_FILE).read_text())[LOG_OFFSET_KEY]
    assert 0 < snapshots < (directory / SCHEDULER_LOG_FILE).stat().st_size  # both in use
    for i, (files, state, dropped) in enumerate(copies):
        resumed = _resumed(kind, files, tmp_path / f"copy{i}", dropped)
        _same_after(resumed, _reference(kind, state, dropped))


@pytest.mark.parametrize("kind", KINDS)
def test_a_resumed_sweep_saves_on_and_resumes_again(tmp_path: Path, kind: str) -> None:
    # The first save after a resume is a snapshot: the old log lines still name the trials
    # the resume dropped.
    first = _scheduler(kind)
    first.pacer = SnapshotPacer(share=1e-9)
    sweep = _Sweep(first, seed=19, trials=12, directory=tmp_path)
    while len(sweep.ended) < 7 or sweep.due_save:
        sweep.step()
    dropped = set(sweep.live)
    assert dropped
    second = _scheduler(kind)
    second.pacer = SnapshotPacer(share=1e-9)
    restore_scheduler(second, tmp_path, ResumePlan(7, dropped, {}))
    _Sweep(second, seed=23, trials=6, prefix="r", directory=tmp_path).run()
    third = _scheduler(kind)
    restore_scheduler(third, tmp_path, ResumePlan(13, set(), {}))
    _same_after(third, _reference(kind, _whole(second), set()))


@pytest.mark.parametrize("kind", KINDS)
def test_restore_reads_the_snapshot_and_the_log_after_it(tmp_path: Path, kind: str) -> None:
    scheduler = _scheduler(kind)
    scheduler.pacer = _Pacer(seed=2, share=0.3)  # type: ignore[assignment]
    _Sweep(scheduler, seed=5, trials=10, directory=tmp_path).run()
    fresh = _scheduler(kind)
    fresh.restore(str(tmp_path / SCHEDULER_FILE))
    assert fresh.state_dict() == scheduler.state_dict()
    assert fresh.stop_reasons == scheduler.stop_reasons


@pytest.mark.parametrize("kind", KINDS)
def test_a_scheduler_json_of_the_previous_version_still_resumes(
    tmp_path: Path, kind: str
) -> None:
    # Before the log, scheduler.json held the whole state with no offset, and no log existed.
    before = _scheduler(kind)
    sweep = _Sweep(before, seed=11, trials=8)
    while len(sweep.ended) < 6:
        sweep.step()
    old = _whole(before)
    assert LOG_OFFSET_KEY not in old
    (tmp_path / SCHEDULER_FILE).write_text(json.dumps(old), encoding="utf-8")
    dropped = set(sweep.live)
    resumed = _scheduler(kind)
    restore_scheduler(resumed, tmp_path, ResumePlan(6, dropped, {}))
    _same_after(resumed, _reference(kind, old, dropped))


@pytest.mark.parametrize("kind", KINDS)
def test_the_sweeps_end_writes_a_snapshot_that_needs_no_log(tmp_path: Path, kind: str) -> None:
    scheduler = _scheduler(kind)
    scheduler.pacer = SnapshotPacer(share=1e-9)  # after the first, no snapshot is due
    _Sweep(scheduler, seed=13, trials=8, directory=tmp_path).run()
    log_size = (tmp_path / SCHEDULER_LOG_FILE).stat().st_size
    assert json.loads((tmp_path / SCHEDULER_FILE).read_text())[LOG_OFFSET_KEY] < log_size
    (callback,) = make_callbacks(scheduler)
    callback.on_experiment_end(trials=[])
    final = json.loads((tmp_path / SCHEDULER_FILE).read_text())
    assert final.pop(LOG_OFFSET_KEY) == log_size
    assert final == _whole(scheduler)


def test_the_sweeps_end_keeps_the_last_save_if_the_state_changed_since(
    tmp_path: Path,
) -> None:
    # A resume must read the state of the last save; the log already has it.
    scheduler = _scheduler("hyperband")
    scheduler.pacer = SnapshotPacer(share=1e-9)
    _Sweep(scheduler, seed=13, trials=4, directory=tmp_path).run()
    snapshot = (tmp_path / SCHEDULER_FILE).read_bytes()
    scheduler.on_trial_add(None, _Trial("late", {"x": 1.0}))  # type: ignore[arg-type]
    (callback,) = make_callbacks(scheduler)
    callback.on_experiment_end(trials=[])
    assert (tmp_path / SCHEDULER_FILE).read_bytes() == snapshot


# Median judges each result against every earlier trial, so its sweeps are kept shorter.
SIZES = {"hyperband": (200, 2000), "asha": (200, 2000), "promotion": (200, 2000),
         "median": (60, 600)}
WINDOW = 30  # the last saves of a sweep, which are compared


def _bytes_per_trial_end(kind: str, trials: int, directory: Path) -> list[int]:
    """The bytes each of the last :data:`WINDOW` saves appended to the log (no snapshot
    after the first); the snapshot must not have been rewritten."""
    directory.mkdir()
    scheduler = _scheduler(kind)
    scheduler.pacer = SnapshotPacer(share=1e-9)
    sweep = _Sweep(scheduler, seed=17, trials=trials, steps=3, directory=directory)
    log = directory / SCHEDULER_LOG_FILE
    sizes = []
    first_snapshot = None
    while not sweep.done():
        before = _size(log)
        if sweep.step() == "save":
            first_snapshot = first_snapshot or (directory / SCHEDULER_FILE).read_bytes()
            if len(sweep.ended) > trials - WINDOW:
                sizes.append(_size(log) - before)
    assert (directory / SCHEDULER_FILE).read_bytes() == first_snapshot
    return sizes


@pytest.mark.parametrize("kind", KINDS)
def test_bytes_written_per_trial_end_do_not_grow_with_the_ended_trials(
    tmp_path: Path, kind: str
) -> None:
    few, many = SIZES[kind]
    small = _bytes_per_trial_end(kind, few, tmp_path / "few")
    large = _bytes_per_trial_end(kind, many, tmp_path / "many")
    # (A trial that fails may change nothing: median keeps nothing of it, and writes nothing.)
    assert len(small) == len(large) == WINDOW and sum(small) > 0
    # Ten times the trials: the same size per line, give or take the digits of a count
    # in a stop reason (the whole state would be ten times larger).
    assert sum(large) <= 1.2 * sum(small)
    assert max(large) <= 1.2 * max(small)
