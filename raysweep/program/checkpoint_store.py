"""The checkpoint folders of a sweep whose paused trials resume (``type: promotion``,
``resume: checkpoint``): which folder a trial uses, from which step it resumes, and where it
pauses.

The trial's side of the protocol is :mod:`raysweep.program.checkpoint`. Under the sweep
folder::

    checkpoints/<lineage>/              one configuration's files (RAYSWEEP_CHECKPOINT_DIR)
    checkpoints/<lineage>.step          {"step": k}: the folder holds the state after step k
    checkpoints/handoff/<trial>.json    {"lineage": ..., "end": ...}: a promoted trial's plan

A *lineage* is one configuration's chain of trials, named after its first trial (as in
:class:`~raysweep.schedulers.promotion_ladder.PromotionLadder`). The driver's scheduler writes
the handoff when it promotes a configuration and clears the folder when the configuration
must train again from the start; the worker running a trial reads the handoff, notes at each
report whether the folder changed (:class:`FolderWatch`) and pauses the trial at ``end``.
Workers must see the sweep folder (one machine, or storage all nodes share).

Ray-free.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from raysweep.files import write_json_atomic
from raysweep.program.checkpoint import TMP_PREFIX

__all__ = ["CHECKPOINTS_DIR", "STEP_OFFSET_KEY", "CheckpointStore", "FolderWatch", "Segment"]

CHECKPOINTS_DIR = "checkpoints"
# A folder's files as (name, size, modification time, inode), sorted.
Signature = tuple[tuple[str, int, int, int], ...]
# Added to every report of a trial resumed from a checkpoint: the steps its configuration had
# reported before it, so that its reports count on from there (history, rungs).
STEP_OFFSET_KEY = "raysweep_step_offset"
_HANDOFF = "handoff"


@dataclass(frozen=True)
class Segment:
    """What one trial of a configuration runs.

    Attributes:
        lineage: The configuration's first trial: names its checkpoint folder.
        start: Steps the configuration had reported when its folder's state was saved (0:
            it starts from nothing).
        end: The step at which the trial pauses (its rung), or None: it runs to its end.
    """

    lineage: str
    start: int
    end: int | None


class CheckpointStore:
    """The ``checkpoints/`` folder of one sweep; picklable, used by the driver and workers.

    Args:
        root: The sweep's ``checkpoints`` folder.
        rungs: The steps at which trials pause, ascending (a first trial pauses at the first).
    """

    def __init__(self, root: str | os.PathLike[str], rungs: Sequence[int]) -> None:
        self.root = str(root)
        self.rungs = tuple(int(r) for r in rungs)

    def folder(self, lineage: str) -> Path:
        """The configuration's checkpoint folder (not created)."""
        return Path(self.root) / lineage

    def saved_step(self, lineage: str) -> int:
        """The step whose state the folder holds (0: none). The folder must be as it was when
        that step was reported: a trial killed with its driver may have saved a later state
        it never reported (or a leftover program may still be writing), and that state
        belongs to no step raysweep knows."""
        try:
            with open(Path(self.root) / f"{lineage}.step", encoding="utf-8") as f:
                marker = json.load(f)
            step, files = marker.get("step"), marker.get("files")
        except (OSError, ValueError, AttributeError):
            return 0
        if not (isinstance(step, int) and step > 0):
            return 0
        return step if files == _digest(_signature(self.folder(lineage))) else 0

    def mark(
        self, lineage: str, step: int, signature: Signature | None = None
    ) -> None:
        """Record that the folder, as it is now (or as ``signature`` says), holds the state
        after ``step`` (the worker, at a report; 0: it holds no usable state)."""
        Path(self.root).mkdir(parents=True, exist_ok=True)
        files = _digest(_signature(self.folder(lineage)) if signature is None else signature)
        write_json_atomic(Path(self.root) / f"{lineage}.step",
                          {"step": int(step), "files": files})

    def clear(self, lineage: str) -> None:
        """Empty the configuration's folder: it trains again from the start (the driver,
        before handing out a promotion whose folder has no usable state)."""
        shutil.rmtree(self.folder(lineage), ignore_errors=True)
        (Path(self.root) / f"{lineage}.step").unlink(missing_ok=True)

    def hand_out(self, trial_id: str, lineage: str, end: int | None) -> None:
        """Tell the worker that will run ``trial_id`` which configuration it continues and
        where it pauses (the driver, when it promotes a configuration)."""
        (Path(self.root) / _HANDOFF).mkdir(parents=True, exist_ok=True)
        write_json_atomic(Path(self.root) / _HANDOFF / f"{trial_id}.json",
                          {"lineage": lineage, "end": end})

    def discard_handoff(self, trial_id: str) -> None:
        """The trial is over (the driver): its plan is no longer needed."""
        (Path(self.root) / _HANDOFF / f"{trial_id}.json").unlink(missing_ok=True)

    def segment(self, trial_id: str) -> Segment:
        """What ``trial_id`` runs: a promotion handed out for it, else a new configuration's
        first trial (it pauses at the first rung). ``start`` is the folder's saved step, so a
        retried trial continues from its own last checkpoint too."""
        lineage, end = trial_id, (self.rungs[0] if self.rungs else None)
        try:
            with open(Path(self.root) / _HANDOFF / f"{trial_id}.json", encoding="utf-8") as f:
                plan = json.load(f)
            lineage, end = str(plan["lineage"]), plan["end"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        # An emptied folder no longer matches its marker's digest: saved_step says 0.
        start = self.saved_step(lineage)
        return Segment(lineage, start, None if end is None else int(end))

    def discard_if_empty(self, lineage: str) -> None:
        """Remove the configuration's folder if the trial saved nothing in it."""
        try:
            self.folder(lineage).rmdir()
        except OSError:
            pass  # not empty, or gone


class FolderWatch:
    """Notes, at each report, whether a checkpoint folder changed since the report before.

    The protocol says "save, then report": a folder that changed before report k holds the
    state after step k, so :meth:`report` marks it with k.

    Args:
        store: The sweep's checkpoints.
        segment: The trial's segment; its folder is created.
    """

    def __init__(self, store: CheckpointStore, segment: Segment) -> None:
        self.store = store
        self.segment = segment
        self.folder = store.folder(segment.lineage)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._seen = _signature(self.folder)

    def report(self, step: int) -> None:
        """The trial is about to report ``step`` (counted from the configuration's start)."""
        now = _signature(self.folder)
        if now != self._seen:
            self._seen = now
            if now:
                self.store.mark(self.segment.lineage, step, now)

    def stopped(self) -> None:
        """The trial's program has been stopped at its pause. If it saved again after its
        last report (a program faster than its stop), the folder holds the state of a step
        it never reported: unusable, so its configuration trains again from the start."""
        if _signature(self.folder) != self._seen:
            self.store.mark(self.segment.lineage, 0)

    def pauses_at(self, step: int) -> bool:
        """Whether the trial pauses after reporting ``step``."""
        return self.segment.end is not None and step >= self.segment.end


def _signature(folder: Path) -> Signature:
    """The folder's files (name, size, modification time, inode), temporary files left out.

    The inode tells two saves apart that a coarse clock gives the same time and size:
    :func:`~raysweep.program.checkpoint.save` (and any write-then-rename) makes a new file.
    """
    out = []
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            if name.startswith(TMP_PREFIX):
                continue
            path = os.path.join(dirpath, name)
            try:
                st = os.stat(path)
            except OSError:
                continue
            out.append((os.path.relpath(path, folder), st.st_size, st.st_mtime_ns, st.st_ino))
    return tuple(sorted(out))


def _digest(signature: Signature) -> str:
    return hashlib.sha256(repr(signature).encode()).hexdigest()[:16]
