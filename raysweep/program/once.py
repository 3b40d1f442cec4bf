"""Warnings shown once per process, keyed by what they are about.

A trial's program calls ``wandb.log`` or ``raysweep.log`` thousands of times; a warning about
the same thing (a metric that cannot be recorded, a no-op W&B feature, metrics that go
nowhere) is useful once and noise after that.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence

from raysweep.errors import RaysweepWarning

__all__ = ["PROGRAM_DIR", "reset_warnings", "warn_once"]

PROGRAM_DIR = os.path.dirname(os.path.abspath(__file__))
"""raysweep.program, the stand-in included: ``warn_once(outside=(PROGRAM_DIR,))`` points a
warning about the user's call at the user's line, however deep the stand-in's calls go."""

_warned: set[str] = set()


def warn_once(
    kind: str, message: str, *, stacklevel: int = 3, outside: Sequence[str] = ()
) -> None:
    """Issue ``message`` as a :class:`RaysweepWarning` the first time ``kind`` is seen.

    Args:
        kind: What the warning is about; a later call with the same ``kind`` is silent.
        message: The warning's text.
        stacklevel: As for :func:`warnings.warn`, counted from this function: the default
            points at the caller of the function that calls ``warn_once``.
        outside: Folders: if given, the warning points at the innermost caller whose file is
            in none of them (the user's line, however deep the calls below it), and
            ``stacklevel`` is not used.
    """
    if kind in _warned:
        return
    _warned.add(kind)
    if outside:
        stacklevel = _level_outside(tuple(os.path.join(f, "") for f in outside))
    warnings.warn(message, RaysweepWarning, stacklevel=stacklevel)


def _level_outside(folders: tuple[str, ...]) -> int:
    # Level 1 is warn_once; its caller, level 2, is this function's caller's caller. An
    # import statement reaches the stand-in (a package's __getattr__, a module finder) through
    # importlib's frames, which warnings.warn passes over without counting them.
    frame = sys._getframe(2)
    level = 2
    while frame.f_back is not None and (
        frame.f_code.co_filename.startswith(folders) or _is_importlib(frame.f_code.co_filename)
    ):
        frame = frame.f_back
        if not _is_importlib(frame.f_code.co_filename):
            level += 1
    return level


def _is_importlib(filename: str) -> bool:
    """Whether warnings.warn skips this frame when it counts ``stacklevel`` (its own test)."""
    return "importlib" in filename and "_bootstrap" in filename


def reset_warnings() -> None:
    """Forget which warnings were shown, so each shows again once (as in a new process).

    Tests call it so that each sees the once-only warnings afresh.
    """
    _warned.clear()
