"""The live view of a running sweep: as many trials as the terminal holds, one line each."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console

from raysweep.analysis.live import LiveView, trial_rows
from raysweep.execution import recorder as _recorder
from raysweep.execution.recorder import SweepRecorder
from raysweep.files import COMPLETED_FILE
from raysweep.sweep.config import from_dict

CFG = from_dict({
    "method": "random",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {"lr": {"min": 0.001, "max": 0.1}, "opt": {"values": ["adam", "sgd"]}},
    "program": "train.py",
})
REASON = ("stopped at band 3: loss 0.52 was worse than the threshold 0.41 of the trials that "
          "reached that step")


class _Recorder:
    """What the view's panel reads of the recorder: the count, counts per status, the best
    trial and the most recent trials in start order."""

    def __init__(self, n: int) -> None:
        self.total = n
        self.rows: list[dict[str, Any]] = [
            {"trial_id": f"t{i:04d}", "status": "stopped", "config": {"lr": 0.01, "opt": "adam"},
             "last": 0.5, "best": 0.4, "steps": 3, "stop_reason": REASON}
            for i in range(n)
        ]

    def counts(self) -> dict[str, int]:
        return {"stopped": self.total}

    def best(self) -> dict[str, Any]:
        return self.rows[0]

    def recent(self, n: int) -> list[dict[str, Any]]:
        return self.rows[-n:]


class _Stopper:
    """A scheduler's answers for the recorder: it stopped every trial."""

    def __call__(self, trial_id: str) -> str | None:
        return REASON

    def rerun_of(self, trial_id: str) -> str | None:
        return None

    def paused_at(self, trial_id: str) -> int | None:
        return None

    def save_state(self, path: Path) -> None:
        pass


def _trial(tid: str) -> SimpleNamespace:
    return SimpleNamespace(trial_id=tid, config={"lr": 0.01, "opt": "adam"}, num_failures=0)


def _run(recorder: SweepRecorder, trial: SimpleNamespace) -> None:
    """Start, one report, the end."""
    recorder.on_trial_start(0, [trial], trial)
    recorder.on_trial_result(0, [trial], trial, {"training_iteration": 1, "loss": 0.5})
    recorder.on_trial_complete(0, [trial], trial)


def _render(trials: int, width: int, height: int) -> list[str]:
    console = Console(file=io.StringIO(), width=width, height=height, color_system=None)
    console.print(LiveView(console, CFG, None).render(_Recorder(trials)))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    return [line.rstrip() for line in text.splitlines()]


def test_a_tall_terminal_shows_as_many_trials_as_fit() -> None:
    lines = _render(trials=200, width=160, height=50)
    rows = [line for line in lines if line.startswith("t0")]
    assert len(lines) == 49  # the whole height but the cursor's line
    assert len(rows) == 45 and rows[-1].startswith("t0199")
    assert "… 155 earlier trials" in lines[2]


def test_every_trial_shows_when_the_terminal_holds_them() -> None:
    lines = _render(trials=30, width=160, height=50)
    rows = [line for line in lines if line.startswith("t0")]
    assert [row.split()[0] for row in rows] == [f"t{i:04d}" for i in range(30)]
    assert not any("earlier trials" in line for line in lines)


def test_the_stop_reason_uses_the_width_on_one_line() -> None:
    wide = [line for line in _render(trials=2, width=200, height=20) if line.startswith("t0")]
    assert len(wide) == 2 and all(row.endswith(REASON) for row in wide)
    narrow = [line for line in _render(trials=2, width=100, height=20) if line.startswith("t0")]
    # Cut at the terminal's edge, never wrapped onto a line of its own.
    assert len(narrow) == 2
    for row in narrow:
        assert row.endswith("…") and len(row) == 100
        assert row.split()[:2] == [row[:5], "stopped"]  # the other columns keep their text


def test_a_short_terminal_still_shows_a_few_trials() -> None:
    assert trial_rows(5, 2) == 3
    rows = [line for line in _render(trials=20, width=160, height=5) if line.startswith("t0")]
    assert len(rows) == 2  # three rows, one of them given to the "earlier trials" line


def test_a_resumed_sweep_does_not_print_its_earlier_trials_again(tmp_path: Path) -> None:
    # Not a terminal: one line per ended trial. t0000 and t0001 ended before the resume.
    earlier = SweepRecorder(tmp_path, "loss", "min", stop_reasons=_Stopper())  # type: ignore[arg-type]
    for tid in ("t0000", "t0001"):
        _run(earlier, _trial(tid))
    earlier.on_experiment_end([])
    console = Console(file=io.StringIO(), width=200, color_system=None)
    view = LiveView(console, CFG, 4, shown=["t0000", "t0001"])
    recorder = SweepRecorder(tmp_path, "loss", "min", stop_reasons=_Stopper(),  # type: ignore[arg-type]
                             on_change=view.update)
    _run(recorder, _trial("t0002"))
    recorder.on_experiment_end([])  # the stopped trial is settled: it never said it finished
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 and lines[0].startswith("[3/4] trial t0002 stopped")


def test_a_stopped_trial_that_may_still_be_finished_is_printed_once_settled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [100.0]
    monkeypatch.setattr(_recorder.time, "monotonic", lambda: clock[0])
    console = Console(file=io.StringIO(), width=200, color_system=None)
    view = LiveView(console, CFG, 2)
    recorder = SweepRecorder(tmp_path, "loss", "min", stop_reasons=_Stopper(),  # type: ignore[arg-type]
                             on_change=view.update)
    _run(recorder, _trial("t0000"))
    clock[0] += 5
    _run(recorder, _trial("t0001"))
    clock[0] += 6  # t0000's worker never said its program had ended; t0001's may still
    recorder.on_step_end(0, [])
    assert recorder.unsettled == {"t0001"}
    (tmp_path / "trial_t0001").mkdir()
    (tmp_path / "trial_t0001" / COMPLETED_FILE).write_text("exited 0\n", encoding="utf-8")
    recorder.on_step_end(0, [])
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert [line.split()[1:4] for line in lines] == [
        ["trial", "t0000", "stopped"], ["trial", "t0001", "finished"]]


def test_trials_settled_together_are_numbered_one_by_one(tmp_path: Path) -> None:
    # Stopped trials wait to be settled (their program may still say it finished); the sweep's
    # end settles them all in one event, which numbered every line with the final count.
    console = Console(file=io.StringIO(), width=200, color_system=None)
    view = LiveView(console, CFG, 3)
    recorder = SweepRecorder(tmp_path, "loss", "min", stop_reasons=_Stopper(),  # type: ignore[arg-type]
                             on_change=view.update)
    for tid in ("t0000", "t0001", "t0002"):
        _run(recorder, _trial(tid))
    recorder.on_experiment_end([])
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert [line.split()[:2] for line in lines] == [
        ["[1/3]", "trial"], ["[2/3]", "trial"], ["[3/3]", "trial"]]
