"""Control of a running sweep: ``raysweep stop`` / ``cancel`` from anywhere that sees the sweep
directory, Ctrl-C, and the guard that ends a sweep whose first trials all fail.

``raysweep stop DIR`` writes ``DIR/STOP``: no new trials start, running ones finish.
``raysweep cancel DIR`` writes ``DIR/CANCEL``: running trials are stopped (their programs killed)
and the sweep ends. The driver checks for these files twice a second (at Tune's steps), so it
works for a sweep driven from another terminal or another node, as long as the directory is
shared. Ctrl-C (:meth:`SweepControl.interrupt`) ends the sweep as cancel does.

How the sweep ended is :attr:`SweepControl.ended_by`, one of :data:`END_KINDS` or None (every
trial ran to its end): the command line's exit code is chosen from it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ray.tune import Callback, Stopper

from raysweep.files import CANCEL_FILE, STOP_FILE

__all__ = ["END_KINDS", "FIRST_FAILURES", "SweepControl"]

# W&B's agent gives up after repeated early failures; raysweep ends the sweep when
# this many trials have ended, every one of them failed.
FIRST_FAILURES = 3
_POLL_S = 0.5
# What ended a sweep early: `raysweep stop`, `raysweep cancel`, the failure guard, Ctrl-C.
END_KINDS = ("stop", "cancel", "guard", "interrupt")


class SweepControl(Callback, Stopper):
    """Watches the marker files and the first trials' outcomes.

    Used both as a Tune callback (to see trial ends and to stop the searcher) and as the
    experiment's stopper (to end the sweep).

    Args:
        sweep_dir: The sweep directory.
        searcher: The raysweep searcher; its ``finish()`` makes it propose no more trials.
        guard: Whether to end the sweep when its first trials all fail.
    """

    def __init__(self, sweep_dir: Path, searcher: Any, guard: bool = True) -> None:
        self.sweep_dir = Path(sweep_dir)
        self.searcher = searcher
        self.guard = guard
        # Outcomes of the first trials to end, in order: all the guard needs (a list of every
        # trial's would grow with the sweep, and Tune pickles its stopper at each checkpoint).
        self.first_outcomes: list[str] = []
        self.ended_count = 0
        self.reason: str | None = None
        self.ended_by: str | None = None  # one of END_KINDS once the sweep is ended early
        self._cancel = False
        self._last_poll = 0.0

    # -- markers -------------------------------------------------------------------------------
    def _poll(self) -> None:
        now = time.monotonic()
        if now - self._last_poll < _POLL_S:
            return
        self._last_poll = now
        if (self.sweep_dir / CANCEL_FILE).exists() and not self._cancel:
            self._end("cancel", "cancelled: `raysweep cancel` was requested", cancel=True)
        elif (self.sweep_dir / STOP_FILE).exists() and self.reason is None:
            self._end("stop", "stopped: `raysweep stop` was requested; running trials finish")

    def _end(self, kind: str, reason: str, cancel: bool = False) -> None:
        self.ended_by, self.reason = kind, reason
        self._cancel = self._cancel or cancel
        self._finish_searcher()

    def interrupt(self) -> None:
        """End the sweep as ``raysweep cancel`` does, for Ctrl-C.

        Called from the driver's SIGINT handler, between two of Tune's steps: it only sets
        flags, which :meth:`stop_all` acts on.
        """
        if self.ended_by != "interrupt":
            self.ended_by = "interrupt"
            self.reason = "interrupted (Ctrl-C): running trials were stopped"
            self._cancel = True

    def _finish_searcher(self) -> None:
        finish = getattr(self.searcher, "finish", None)
        if callable(finish):
            finish()

    def clear_markers(self) -> None:
        """Remove stop/cancel markers (a resumed sweep starts without them)."""
        for name in (STOP_FILE, CANCEL_FILE):
            (self.sweep_dir / name).unlink(missing_ok=True)

    # -- Callback ------------------------------------------------------------------------------
    def on_step_begin(self, iteration: int, trials: list[Any], **info: Any) -> None:
        self._poll()

    def on_trial_complete(
        self, iteration: int, trials: list[Any], trial: Any, **info: Any
    ) -> None:
        self._ended("ok")

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._ended("failed")
        if (
            self.guard
            and self.reason is None
            and self.ended_count == FIRST_FAILURES
            and all(o == "failed" for o in self.first_outcomes)
        ):
            self._end("guard", (
                f"stopped: the first {FIRST_FAILURES} trials all failed, so the program is "
                "probably broken; fix it and run again (the first error is shown below)"
            ), cancel=True)

    def _ended(self, outcome: str) -> None:
        self.ended_count += 1
        if len(self.first_outcomes) < FIRST_FAILURES:
            self.first_outcomes.append(outcome)

    # -- Stopper -------------------------------------------------------------------------------
    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        return False

    def stop_all(self) -> bool:
        self._poll()
        if self._cancel:
            self._finish_searcher()  # also after interrupt(), which leaves the searcher alone
        return self._cancel
