"""W&B's run files and resumed runs, mapped onto a trial's checkpoint folder.

In a sweep with ``early_terminate: {type: promotion, resume: checkpoint}`` each trial has a
checkpoint folder (:mod:`raysweep.program.checkpoint`). A W&B script that supports resuming
needs no edit to use it:

- ``wandb.init(resume=...)``: :func:`resume_mode` reads the argument (or ``WANDB_RESUME``) as
  W&B does, and :func:`resume_error` says when W&B would refuse to start: ``"must"`` where the
  configuration has nothing to resume, ``"never"`` where it has. A run started without a
  resuming mode (``"allow"``, ``"must"``, ``"auto"``, ``True``) is never resumed by W&B, so its
  ``wandb.save`` files are not checkpoints here either: its configuration trains again from the
  start when promoted.
- ``wandb.save``: :class:`RunFiles` copies the matching files into the checkpoint folder when
  called, named as W&B names them (relative to ``base_path``; a file in ``run.dir`` relative to
  it). Files saved with ``policy="live"`` are copied again, if they changed, before each report.
- ``wandb.restore``: :meth:`RunFiles.restore` copies a saved file back into ``root``.

The protocol asks that state be saved before the step it belongs to is reported. W&B's own
examples log first and save after; :class:`RunFiles` tells which order a script follows from
its first save after a report (:attr:`RunFiles.log_then_save`), and the run then holds each
report back until the save that follows it (or the next row). Until the order shows, a run
that saved nothing before its first report holds its reports too.
"""

from __future__ import annotations

import filecmp
import glob
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path, PurePath
from typing import Any

from raysweep.program.checkpoint import checkpoint_dir, has_state, resumed_step, save
from raysweep.program.once import PROGRAM_DIR, warn_once

__all__ = [
    "POLICIES",
    "RESUME_ENV",
    "RESUMING",
    "RunFiles",
    "resume_error",
    "resume_mode",
    "resumed_steps",
]

RESUME_ENV = "WANDB_RESUME"
"""W&B's variable for ``wandb.init(resume=...)``, read when the argument is not given."""

RESUMING = frozenset({"allow", "must", "auto"})
"""The modes in which W&B resumes a run that exists."""

_MODES = RESUMING | {"never"}
POLICIES = ("live", "now", "end")
"""``wandb.save``'s policies."""


def resume_mode(value: Any, environ: Mapping[str, str] | None = None) -> str | None:
    """``wandb.init``'s ``resume`` as W&B reads it: ``True`` is ``"auto"``, ``False`` and
    None are None (then ``WANDB_RESUME`` decides).

    A string W&B no longer knows (old versions took a run id) counts as ``"allow"``, with a
    warning, so that such a script still runs.

    >>> resume_mode(True), resume_mode(False, {}), resume_mode(None, {"WANDB_RESUME": "must"})
    ('auto', None, 'must')
    """
    env = os.environ if environ is None else environ
    if value is None:
        value = env.get(RESUME_ENV) or None
    if value is None or value is False:
        return None
    if value is True:
        return "auto"
    if isinstance(value, str) and value.lower() in _MODES:
        return value.lower()
    warn_once(
        f"resume-{value!r}",
        f"wandb.init(resume={value!r}): W&B takes 'allow', 'must', 'never', 'auto' or a bool; "
        "raysweep reads it as 'allow' (resume the run when it has state to resume from)",
        outside=(PROGRAM_DIR,),
    )
    return "allow" if value else None


def resumed_steps() -> int:
    """The steps this trial's configuration had reported when its checkpoint was saved: the
    step a resumed run goes on from. 0 on a first start, or outside a checkpoint sweep."""
    folder, steps = checkpoint_dir(), resumed_step()
    if folder is None or steps <= 0 or not has_state(folder):
        return 0
    return steps


def resume_error(mode: str | None, run_id: str, steps: int, checkpoints: bool) -> str | None:
    """Why W&B would refuse to start this run, or None.

    Only in a checkpoint sweep, where raysweep knows whether the run has something to resume
    (``steps``: :func:`resumed_steps`); elsewhere the stand-in is like W&B offline, which
    ignores ``resume``.
    """
    if not checkpoints:
        return None
    if mode == "must" and steps == 0:
        return (
            f"wandb.init(resume='must') in trial {run_id}: its configuration has no saved state "
            "to resume (this is its first trial, or it saved nothing), and W&B refuses 'must' "
            "for a run that does not exist yet. Pass resume='allow' to resume when there is "
            "state and start afresh otherwise."
        )
    if mode == "never" and steps > 0:
        return (
            f"wandb.init(resume='never') in trial {run_id}, which resumes its configuration "
            f"from step {steps}: W&B refuses 'never' for a run that exists. Pass "
            "resume='allow', or set `resume: restart` in the sweep's early_terminate to train "
            "promoted configurations again from the start."
        )
    return None


class RunFiles:
    """One run's ``wandb.save`` files, copied into the trial's checkpoint folder.

    Args:
        run_dir: Returns ``run.dir`` (W&B also saves the files in it that match a glob).
        folder: The checkpoint folder, or None where saved files are not checkpoints.
    """

    def __init__(self, run_dir: Callable[[], str], folder: Path | None) -> None:
        self._run_dir = run_dir
        self.folder = folder
        self._live: dict[str, tuple[PurePath, PurePath, bool]] = {}
        self._copied: dict[PurePath, tuple[int, int]] = {}
        self._commits = 0
        self._saved_before_first_report: set[str] = set()
        self.log_then_save: bool | None = None
        """Whether the script saves after it logs the step the state belongs to (W&B's
        examples do); None until its first save after a report tells."""

    def save(
        self, glob_str: Any, base_path: Any = None, policy: str = "live", expand: bool = True
    ) -> list[str]:
        """Copy the files ``glob_str`` matches into the checkpoint folder now; return the
        copies' paths (all of the matches', changed or not).

        Raises:
            ValueError: As W&B: a policy other than ``live``, ``now``, ``end``, or a glob
                that is its base path, walks above it, or starts with ``*`` below it.
        """
        if self.folder is None:
            return []
        if isinstance(glob_str, bytes):
            glob_str = glob_str.decode("utf-8")
        glob_path = PurePath(os.path.abspath(os.fspath(glob_str)))
        if base_path is not None:
            base = PurePath(os.path.abspath(os.fspath(base_path)))
        elif not PurePath(os.fspath(glob_str)).is_absolute():
            base = PurePath(os.path.abspath("."))
        else:
            warn_once(
                "save-absolute",
                "Saving files without folders. If you want to preserve subdirectories pass "
                'base_path to wandb.save, i.e. wandb.save("/mnt/folder/file.h5", '
                'base_path="/mnt")',
                outside=(PROGRAM_DIR,),
            )
            base = glob_path.parent.parent
        if policy not in POLICIES:
            raise ValueError('Only "live", "end" and "now" policies are currently supported.')
        _check_glob(glob_path, base)
        key = str(glob_path)
        if self._commits == 0:
            self._saved_before_first_report.add(key)
        elif self.log_then_save is None:
            # The first save after a report: a glob saved before any report is saved before
            # each one; one first saved now belongs to the report just made.
            self.log_then_save = key not in self._saved_before_first_report
        if policy == "live":
            self._live[key] = (glob_path, base, expand)
        return [str(self._copy(source, name)) for source, name in
                self._matches(glob_path, base, expand)]

    def before_report(self) -> None:
        """Copy the files of ``live`` globs that changed since they were copied (a report is
        about to be sent: the folder must hold the state of the step it reports)."""
        for glob_path, base, expand in self._live.values():
            for source, name in self._matches(glob_path, base, expand):
                self._copy(source, name)

    def holds_reports(self) -> bool:
        """Whether a report should wait for the save that follows it: the script logs, then
        saves; or, before its order shows, it saved nothing before its first report."""
        if self.folder is None:
            return False
        if self.log_then_save is None:
            return not self._saved_before_first_report
        return self.log_then_save

    def reported(self) -> None:
        """A report was committed."""
        self._commits += 1

    def restore(self, name: str, root: str | os.PathLike[str]) -> Path | None:
        """Copy the saved file ``name`` into ``root``; its path there, or None if the
        checkpoint folder has no such file."""
        if self.folder is None:
            return None
        source = self.folder / name
        if not source.is_file():
            return None
        dest = Path(root) / name
        save(str(source), dest.parent)
        return dest

    def _matches(
        self, glob_path: PurePath, base: PurePath, expand: bool
    ) -> Iterator[tuple[Path, PurePath]]:
        """The files to save and their names: matches under ``base`` named relative to it
        (a file in ``run.dir`` relative to ``run.dir``), then files in ``run.dir`` that match
        the glob relative to ``base``, as W&B syncs them."""
        run_dir = Path(self._run_dir()).absolute()
        relative = glob_path.relative_to(base)
        sources = (glob.glob(str(glob_path)) if expand
                   else [str(glob_path)] if os.path.lexists(glob_path) else [])
        in_run_dir = (list(run_dir.glob(str(relative))) if expand
                      else [run_dir / relative] if (run_dir / relative).exists() else [])
        seen: set[PurePath] = set()
        for found in [*(Path(s) for s in sorted(sources)), *sorted(in_run_dir)]:
            for source in _files_under(found.absolute()):
                if self.folder is not None and _inside(source, self.folder):
                    continue  # the script wrote into the checkpoint folder itself
                name = (source.relative_to(run_dir) if _inside(source, run_dir)
                        else PurePath(source).relative_to(base))
                if name not in seen:
                    seen.add(name)
                    yield source, name

    def _copy(self, source: Path, name: PurePath) -> Path:
        assert self.folder is not None  # save() returns before this without a folder
        dest = self.folder / name
        try:
            st = source.stat()
        except OSError:
            return dest
        signature = (st.st_size, st.st_mtime_ns)
        if self._copied.get(name) == signature:
            return dest  # unchanged: copying it again would mark old state as new
        if name not in self._copied and _same_file_contents(source, dest):
            # A resumed run saving what it restored: the folder already holds it.
            self._copied[name] = signature
            return dest
        save(str(source), dest.parent)
        self._copied[name] = signature
        return dest


def _check_glob(glob_path: PurePath, base: PurePath) -> None:
    if not str(glob_path).startswith(str(base)):
        raise ValueError("Glob may not walk above the base path")
    if glob_path == base:
        raise ValueError("Glob cannot be the same as the base path")
    relative = glob_path.relative_to(base)
    if relative.parts and relative.parts[0] == "*":
        raise ValueError("Glob may not start with '*' relative to the base path")


def _files_under(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    return [path] if path.is_file() else []


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder.absolute())
    except ValueError:
        return False
    return True


def _same_file_contents(a: Path, b: Path) -> bool:
    try:
        return b.is_file() and a.stat().st_size == b.stat().st_size and filecmp.cmp(
            a, b, shallow=False)
    except OSError:
        return False
