"""A trial's checkpoint: how trials save their state and get it back when resumed.

With ``early_terminate: {type: promotion, resume: checkpoint}`` a trial that reaches its rung
is paused instead of thrown away, and when its configuration is promoted a new trial resumes
from the state the paused one saved. The protocol is the same for every kind of trial:

- raysweep names one folder per configuration in the environment variable
  ``RAYSWEEP_CHECKPOINT_DIR`` (:data:`CHECKPOINT_DIR_ENV`). It is empty when the
  configuration starts, and holds what the trial saved there when it is resumed;
  ``RAYSWEEP_RESUMED_STEP`` (:data:`RESUMED_STEP_ENV`) then says how many steps it had
  reported (``0`` on a first start).
- **Save, then report.** A trial writes its state into the folder *before* it reports the
  step that state belongs to. raysweep notes, at each report, whether the folder changed since
  the report before, so the folder counts as "the state after step k" from report k on. A
  trial paused at its rung is stopped right after that report; when promoted, its successor
  starts with the folder as it was and reports from step k + 1.
- A trial that never writes to the folder is trained again from the start when promoted
  (as ``resume: restart``); the results say which trials resumed and from which step.

From Python, :func:`raysweep.log` does both in one call, in that order::

    state = raysweep.restore()          # None on a first start
    start = state["epoch"] if state else 0
    for epoch in range(start, 100):
        ...
        raysweep.log({"loss": loss}, checkpoint={"epoch": epoch + 1, "weights": w})

A checkpoint is a picklable object (kept as ``raysweep_state.pkl``), or the path of a file or
a folder, whose contents are copied into the checkpoint folder; :func:`restore` returns the
object, or the path of the copy. Files are written under temporary names and renamed, so a
trial killed while saving leaves the previous state whole. Any other program (any language)
follows the protocol with the environment variables alone.

Standard library only: a trial's program imports this through ``raysweep.log``.
"""

from __future__ import annotations

import os
import pickle
import shutil
import uuid
from pathlib import Path
from typing import Any

__all__ = [
    "CHECKPOINT_DIR_ENV",
    "RESUMED_STEP_ENV",
    "STATE_FILE",
    "TMP_PREFIX",
    "checkpoint_dir",
    "has_state",
    "restore",
    "resumed_step",
    "save",
]

CHECKPOINT_DIR_ENV = "RAYSWEEP_CHECKPOINT_DIR"
RESUMED_STEP_ENV = "RAYSWEEP_RESUMED_STEP"
STATE_FILE = "raysweep_state.pkl"
# Files being written: never part of a checkpoint until renamed.
TMP_PREFIX = ".raysweep-tmp-"


def checkpoint_dir() -> Path | None:
    """The trial's checkpoint folder, or None outside a trial of a sweep that resumes from
    checkpoints."""
    value = os.environ.get(CHECKPOINT_DIR_ENV)
    return Path(value) if value else None


def resumed_step() -> int:
    """How many steps the configuration had reported when this trial's state was saved
    (0 on a first start, or outside such a trial)."""
    try:
        return max(0, int(os.environ.get(RESUMED_STEP_ENV, "0")))
    except ValueError:
        return 0


def has_state(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder`` holds any saved file (files being written do not count)."""
    if not os.path.isdir(folder):
        return False
    return any(not name.startswith(TMP_PREFIX)
               for _dirpath, _dirs, files in os.walk(folder) for name in files)


def save(state: Any, folder: str | os.PathLike[str]) -> None:
    """Write ``state`` into ``folder``: a picklable object as :data:`STATE_FILE`, or the
    contents of a file or folder (given as a path) as copies.

    An object replaces the earlier object; copied files replace files of the same name. Each
    file is written under a temporary name and then renamed, so a reader never sees half a
    file.

    Raises:
        FileNotFoundError: A path that does not exist.
        TypeError: An object that cannot be pickled (the message says what to do).
    """
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    if isinstance(state, (str, os.PathLike)):
        source = Path(state)
        if not source.exists():
            raise FileNotFoundError(
                f"checkpoint path {str(source)!r} does not exist: pass the path of a file or "
                "folder the trial has written, or a picklable object"
            )
        if source.resolve() == target.resolve():
            return  # the trial wrote into the checkpoint folder itself
        if source.is_dir():
            for item in sorted(source.rglob("*")):
                if item.is_file():
                    _copy_atomic(item, target / item.relative_to(source))
        else:
            _copy_atomic(source, target / source.name)
        return
    try:
        data = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as err:
        raise TypeError(
            f"checkpoint of type {type(state).__name__} cannot be pickled ({err}); save it to "
            "a file or folder yourself and pass its path instead"
        ) from None
    _write_atomic(target / STATE_FILE, data)


def restore(folder: str | os.PathLike[str] | None = None) -> Any:
    """The state the configuration's last trial saved, or None if there is none.

    An object saved by :func:`save` (``raysweep.log(..., checkpoint=obj)``) comes back as the
    object; files come back as the checkpoint folder's path (open the files in it). Without
    ``folder``, the trial's own folder (:func:`checkpoint_dir`).
    """
    where = Path(folder) if folder is not None else checkpoint_dir()
    if where is None or not where.is_dir():
        return None
    state_file = where / STATE_FILE
    if state_file.is_file():
        with open(state_file, "rb") as f:
            return pickle.load(f)  # noqa: S301 - the trial's own file, written by save()
    if any(not p.name.startswith(TMP_PREFIX) for p in where.iterdir()):
        return where
    return None


def _copy_atomic(source: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex}")
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _write_atomic(dest: Path, data: bytes) -> None:
    tmp = dest.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
