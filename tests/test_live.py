"""The live view of a running sweep: as many trials as the terminal holds, one line each."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from raysweep.analysis.live import LiveView, trial_rows
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
    """What the view reads of the recorder: the trials in start order, counts, the best."""

    def __init__(self, n: int) -> None:
        self.order = [f"t{i:04d}" for i in range(n)]
        self.trials: dict[str, dict[str, Any]] = {
            tid: {"trial_id": tid, "status": "stopped", "config": {"lr": 0.01, "opt": "adam"},
                  "last": 0.5, "best": 0.4, "steps": 3, "stop_reason": REASON}
            for tid in self.order
        }

    unsettled: frozenset[str] = frozenset()

    def counts(self) -> dict[str, int]:
        return {"stopped": len(self.order)}

    def best(self) -> dict[str, Any]:
        return self.trials[self.order[0]]


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


def test_a_resumed_sweep_does_not_print_its_earlier_trials_again() -> None:
    # Not a terminal: one line per ended trial. t0000 and t0001 ended before the resume.
    console = Console(file=io.StringIO(), width=200, color_system=None)
    view = LiveView(console, CFG, 4, shown=["t0000", "t0001"])
    view.update(_Recorder(3))  # type: ignore[arg-type]
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 and lines[0].startswith("[3/4] trial t0002 stopped")


def test_a_stopped_trial_that_may_still_be_finished_is_printed_once_settled() -> None:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    view = LiveView(console, CFG, 2)
    recorder = _Recorder(2)
    recorder.unsettled = frozenset({"t0001"})
    view.update(recorder)  # type: ignore[arg-type]
    recorder.unsettled = frozenset()
    recorder.trials["t0001"]["status"] = "finished"
    view.update(recorder)  # type: ignore[arg-type]
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert [line.split()[1:4] for line in lines] == [
        ["trial", "t0000", "stopped"], ["trial", "t0001", "finished"]]
