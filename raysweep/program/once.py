"""Warnings shown once per process, keyed by what they are about.

A trial's program calls ``wandb.log`` or ``raysweep.log`` thousands of times; a warning about
the same thing (a metric that cannot be recorded, a no-op W&B feature, metrics that go
nowhere) is useful once and noise after that.
"""

from __future__ import annotations

import warnings

from raysweep.errors import RaysweepWarning

__all__ = ["reset_warnings", "warn_once"]

_warned: set[str] = set()


def warn_once(kind: str, message: str, *, stacklevel: int = 3) -> None:
    """Issue ``message`` as a :class:`RaysweepWarning` the first time ``kind`` is seen.

    Args:
        kind: What the warning is about; a later call with the same ``kind`` is silent.
        message: The warning's text.
        stacklevel: As for :func:`warnings.warn`, counted from this function: the default
            points at the caller of the function that calls ``warn_once``.
    """
    if kind in _warned:
        return
    _warned.add(kind)
    warnings.warn(message, RaysweepWarning, stacklevel=stacklevel)


def reset_warnings() -> None:
    """Forget which warnings were shown, so each shows again once (as in a new process).

    Tests call it so that each sees the once-only warnings afresh.
    """
    _warned.clear()
