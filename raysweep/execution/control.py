"""Control of a running sweep: ``raysweep stop`` / ``cancel`` from anywhere that sees the sweep
directory, Ctrl-C, and the guard that ends a sweep whose first trials all fail.

``raysweep stop DIR`` writes ``DIR/STOP``: no new trials start, running ones finish.
``raysweep cancel DIR`` writes ``DIR/CANCEL``: running trials are stopped (their programs killed)
and the sweep ends. The driver checks for these files twice a second (at Tune's steps), so it
works for a sweep driven from another terminal or another node, as long as the directory is
shared. Ctrl-C (:meth:`SweepControl.interrupt`) ends the sweep as cancel does.

A multi-objective sweep (``metrics:``) ends when a trial reaches the ``target`` of any of its
objectives, as W&B's ``metric.target`` ends a single-objective sweep (the searcher does that
one): once an ended trial's best value of an objective is at its target (``<=`` to minimise,
``>=`` to maximise), no new trial starts and running ones finish. W&B's schema says nothing
of targets with several metrics; "any" is raysweep's choice, since each target is the user's
"good enough" for that objective.

How the sweep ended is :attr:`SweepControl.ended_by`, one of :data:`END_KINDS` or None (every
trial ran to its end): the command line's exit code is chosen from it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ray.tune import Callback, Stopper

from raysweep.analysis.tables import read_trials
from raysweep.files import CANCEL_FILE, STOP_FILE
from raysweep.numeric import finite_float
from raysweep.program.metrics import report_value

__all__ = ["END_KINDS", "FIRST_FAILURES", "SweepControl"]

# W&B's agent gives up after repeated early failures; raysweep ends the sweep when
# this many trials have ended, every one of them failed.
FIRST_FAILURES = 3
_POLL_S = 0.5
# What ended a sweep early: `raysweep stop`, `raysweep cancel`, the failure guard, Ctrl-C, an
# objective's target reached (multi-objective sweeps).
END_KINDS = ("stop", "cancel", "guard", "interrupt", "target")


class SweepControl(Callback, Stopper):
    """Watches the marker files and the first trials' outcomes.

    Used both as a Tune callback (to see trial ends and to stop the searcher) and as the
    experiment's stopper (to end the sweep).

    Args:
        sweep_dir: The sweep directory.
        searcher: The raysweep searcher; its ``finish()`` makes it propose no more trials.
        guard: Whether to end the sweep when its first trials all fail.
        targets: A multi-objective sweep's targets as ``(name, mode, target)``: the sweep ends
            once an ended trial's best value of one reaches its target. Trials recorded
            before (a resumed sweep) count too.
    """

    def __init__(
        self,
        sweep_dir: Path,
        searcher: Any,
        guard: bool = True,
        targets: Sequence[tuple[str, str, float]] = (),
    ) -> None:
        self.sweep_dir = Path(sweep_dir)
        self.searcher = searcher
        self.guard = guard
        self.targets = tuple(targets)
        # The best value of each objective with a target, per trial that has not ended.
        self._bests: dict[str, dict[str, float]] = {}
        # Outcomes of the first trials to end, in order: all the guard needs (a list of every
        # trial's would grow with the sweep, and Tune pickles its stopper at each checkpoint).
        self.first_outcomes: list[str] = []
        self.ended_count = 0
        self.reason: str | None = None
        self.ended_by: str | None = None  # one of END_KINDS once the sweep is ended early
        self._cancel = False
        self._last_poll = 0.0
        if self.targets:
            for entry in read_trials(self.sweep_dir):
                slots = entry.get("objectives") or {}
                self._check_targets(str(entry.get("trial_id")), {
                    name: slot.get("best") for name, slot in slots.items()
                    if isinstance(slot, Mapping)})
                if self.reason is not None:
                    break

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

    def on_trial_result(
        self, iteration: int, trials: list[Any], trial: Any, result: dict[str, Any], **info: Any
    ) -> None:
        if not self.targets:
            return
        bests = self._bests.setdefault(trial.trial_id, {})
        for name, mode, _ in self.targets:
            # A flat key or a "/" path, as the searcher reads it; bools are no numbers.
            value = finite_float(report_value(result, name))
            if value is None:
                continue
            held = bests.get(name)
            if held is None or (value > held if mode == "max" else value < held):
                bests[name] = value

    def on_trial_complete(
        self, iteration: int, trials: list[Any], trial: Any, **info: Any
    ) -> None:
        self._ended("ok")
        if self.targets:
            self._check_targets(trial.trial_id, self._bests.pop(trial.trial_id, {}))

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._ended("failed")
        if self.targets:
            # A failed trial's values count, as the searcher counts them for metric.target.
            self._check_targets(trial.trial_id, self._bests.pop(trial.trial_id, {}))
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

    def _check_targets(self, trial_id: str, bests: Mapping[str, Any]) -> None:
        """End the sweep (as ``raysweep stop`` does) if ``bests`` reaches a target."""
        if self.reason is not None:
            return
        for name, mode, target in self.targets:
            value = finite_float(bests.get(name))
            if value is None or not (value >= target if mode == "max" else value <= target):
                continue
            self._end("target", (
                f"target reached: trial {trial_id}'s {name}={value:.6g} is at its target "
                f"{target:g} ({'>=' if mode == 'max' else '<='}); no new trials started, "
                "running ones finished"
            ))
            return

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
