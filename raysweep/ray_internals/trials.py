"""Ended trials leave Ray Tune's controller, so its per-step work stays flat in long sweeps.

Their folders go too when they are empty.

Tune keeps every trial it ever ran in its controller: each step scans them all (the FIFO
scheduler's ``choose_trial_to_run``, ``is_finished``), its experiment checkpoint serialises
them all again and again, and their objects (configs, last results) stay in memory. In a sweep
of many short trials that makes every trial cost more than the one before. raysweep records
each ended trial itself (``trials.jsonl``, ``history.jsonl``) and never reads Tune's trial
list or its experiment checkpoint back, so the controller can forget an ended trial once Tune
is done with it.

The controller is reached through the wrapper Tune hands to the scheduler
(``TrialRunnerWrapper._tune_controller``) and its private containers; checked against Ray 2.60
(``ray/tune/execution/tune_controller.py``).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from typing import Any

from ray.tune.experiment import Trial
from ray.tune.schedulers import FIFOScheduler

__all__ = ["FifoForgettingEnded", "forget_ended", "longer_trial_ids"]

_ENDED = (Trial.TERMINATED, Trial.ERROR)


def _controller(tune_controller: Any) -> Any:
    """The controller behind the wrapper Tune gives schedulers (or the controller itself)."""
    return getattr(tune_controller, "_tune_controller", tune_controller)


def forget_ended(tune_controller: Any) -> int:
    """Drop the ended trials whose actor Tune has let go from the controller; return how many.

    A trial still tied to an actor (stopping, or its actor kept for reuse) stays until a later
    call. Nothing happens if the controller lacks the expected members (another Ray version):
    the sweep then runs as before, only without this saving.
    """
    controller = _controller(tune_controller)
    trials = getattr(controller, "_trials", None)
    holding = getattr(controller, "_trial_to_actor", None)
    if not isinstance(trials, list) or not isinstance(holding, dict):
        return 0
    ended = [t for t in trials if t.status in _ENDED and t not in holding]
    if not ended:
        return 0
    gone = set(ended)
    trials[:] = [t for t in trials if t not in gone]
    for name in ("_stopped_trials", "_failed_trials", "_trials_to_cache", "_live_trials"):
        members = getattr(controller, name, None)
        if isinstance(members, set):
            members -= gone
    metadata = getattr(controller, "_trial_metadata", None)
    queued = getattr(controller, "_pending_trial_queue_times", None)
    for trial in ended:
        if isinstance(metadata, dict):
            metadata.pop(trial.trial_id, None)
        if isinstance(queued, dict):
            queued.pop(trial, None)
    for trial in ended:
        # The folder in the sweep directory, and Tune's staging folder in Ray's session.
        for where in ("path", "local_path"):
            # A trial that never started has no folder: Tune raises when asked for it.
            with contextlib.suppress(Exception):
                _remove_if_empty(getattr(trial, where))
    return len(ended)


def _remove_if_empty(path: str | None) -> None:
    # Tune creates a folder per trial before it runs; most function trials write nothing
    # there, and a folder per trial would make the sweep directory grow by empty entries.
    # rmdir removes a folder only while it is empty: what a trial wrote stays.
    if path:
        with contextlib.suppress(OSError):
            os.rmdir(path)


class FifoForgettingEnded(FIFOScheduler):
    """Tune's FIFO scheduler (what a sweep without early termination gets) that first drops
    ended trials from the controller (see :func:`forget_ended`)."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Ray is untyped here

    def choose_trial_to_run(self, tune_controller: Any) -> Trial | None:
        forget_ended(tune_controller)
        chosen: Trial | None = super().choose_trial_to_run(tune_controller)
        return chosen


#: Hex digits of a trial id. Tune draws 8 (32 bits): among 100,000 trials two would share an
#: id about as often as not, and raysweep keys its records, histories and folders by it.
TRIAL_ID_DIGITS = 12


@contextlib.contextmanager
def longer_trial_ids() -> Iterator[None]:
    """Within the block, Tune draws trial ids of :data:`TRIAL_ID_DIGITS` hex digits (48 bits:
    one sweep of 100,000 trials in about 50,000 has two trials with one id)."""
    real = Trial.__dict__.get("generate_id")
    if real is None:  # another Ray version: its own ids
        yield
        return

    def generate_id(cls: type) -> str:
        return uuid.uuid4().hex[:TRIAL_ID_DIGITS]

    Trial.generate_id = classmethod(generate_id)  # type: ignore[assignment,method-assign]
    try:
        yield
    finally:
        Trial.generate_id = real  # type: ignore[method-assign]
