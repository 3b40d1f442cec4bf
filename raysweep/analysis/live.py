"""The terminal view of a running sweep (used by the CLI only).

On a terminal: a rich live panel with progress, the best trial so far and the recent trials.
Elsewhere (CI logs, pipes): one plain line per finished trial. A multi-objective sweep shows the
Pareto front's size and each objective's best in place of the best trial, and every
objective's last value on the trial lines.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from raysweep.analysis.pareto import objective_value
from raysweep.files import ENDED_STATUSES as _DONE
from raysweep.sweep.space import dotted

if TYPE_CHECKING:
    from rich.console import Console

    from raysweep.execution.recorder import SweepRecorder
    from raysweep.sweep.model import SweepConfig

_REFRESH_S = 0.25
_MIN_ROWS = 3  # trial rows shown even on a terminal too short for them
_MAX_PARAM_COLUMNS = 6


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.5g}"
    return str(value)


def _note(rec: Mapping[str, Any]) -> str:
    """Why the trial stopped, else which trial's configuration it trains again (or resumes
    from a checkpoint), else ""."""
    if rec.get("stop_reason"):
        return str(rec["stop_reason"])
    if not rec.get("rerun_of"):
        return ""
    start = rec.get("resumed_from_step")
    if start:
        return f"resumes trial {rec['rerun_of']} from its checkpoint at step {start}"
    return f"re-run of trial {rec['rerun_of']}"


def trial_rows(height: int, lines_above: int) -> int:
    """How many trial rows fit a terminal ``height`` lines tall under ``lines_above`` lines.

    The table's header and one line for the cursor below the view are kept free; every row is
    one line (no cell wraps). At least a few rows show, however short the terminal.

    >>> trial_rows(24, 2), trial_rows(60, 3), trial_rows(4, 2)
    (20, 55, 3)
    """
    return max(_MIN_ROWS, height - lines_above - 2)


def _config_text(config: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key, value in config.items():
        if isinstance(value, dict):
            out.extend(_config_text(value, f"{prefix}{key}."))
        else:
            out.append(f"{prefix}{key}={_fmt(value)}")
    return out


class LiveView:
    """Shows a sweep's progress. Call :meth:`update` on every recorder change."""

    def __init__(
        self, console: Console, cfg: SweepConfig, cap: int | None, shown: Iterable[str] = ()
    ) -> None:
        """``shown``: trials not to print again (a resumed sweep's trials that ended before)."""
        self.console = console
        self.cfg = cfg
        self.cap = cap
        self.metric = cfg.metric.name if cfg.metric else None
        self.objectives = [m.name for m in cfg.metrics] if self.metric is None else []
        self.params = [p for p, _ in cfg.parameters.searchable][:_MAX_PARAM_COLUMNS]
        self.live: Any = None
        self._last = 0.0
        self._shown: set[str] = set(shown)
        self._mark = 0  # the recorder's count of ended trials already printed
        self._recorder: SweepRecorder | None = None
        self._started = time.monotonic()

    def __enter__(self) -> LiveView:
        if self.console.is_terminal:
            from rich.live import Live

            self.live = Live(console=self.console, refresh_per_second=4, transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            if self._recorder is not None:
                self.live.update(self.render(self._recorder))
            self.live.__exit__(*exc)
            self.live = None

    def update(self, recorder: SweepRecorder) -> None:
        self._recorder = recorder
        if self.live is None:
            self._plain(recorder)
            return
        now = time.monotonic()
        if now - self._last < _REFRESH_S:
            return
        self._last = now
        self.live.update(self.render(recorder))

    def _plain(self, recorder: SweepRecorder) -> None:
        # Only the trials that ended since the last call: the work per event does not grow
        # with the sweep.
        self._mark, ended = recorder.ended_since(self._mark)
        if not ended:
            return
        counts = recorder.counts()
        done = sum(counts.get(s, 0) for s in _DONE)
        cap = f"/{self.cap}" if self.cap else ""
        fresh = [rec for rec in ended if rec["trial_id"] not in self._shown]
        # Several trials can end in one event (a scheduler's batch of stops): number them
        # one by one up to the count, not each with the count.
        first = done - len(fresh) + 1
        for number, rec in enumerate(fresh, start=first):
            tid = rec["trial_id"]
            bits = [f"[{number}{cap}] trial {tid} {rec['status']}"]
            if self.metric is not None:
                bits.append(f"{self.metric}={_fmt(rec['last'])} (best {_fmt(rec['best'])})")
            for name in self.objectives:
                bits.append(f"{name}={_fmt(objective_value(rec, name))}")
            bits.append(f"steps={rec['steps']}")
            bits.append(" ".join(_config_text(rec.get("config") or {})))
            note = _note(rec)
            if note:
                bits.append(f"[{note}]")
            if rec["status"] == "failed" and rec.get("error"):
                lines = str(rec["error"]).strip().splitlines()
                bits.append(f"error: {lines[-1] if lines else ''}")
            self.console.print(" ".join(bits), markup=False, highlight=False)

    def render(self, recorder: SweepRecorder) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        counts = recorder.counts()
        done = sum(counts.get(s, 0) for s in _DONE)
        cap = str(self.cap) if self.cap else "∞"
        elapsed = time.monotonic() - self._started
        # Every line is one terminal line (cut with "…", never wrapped), so the rows that fit
        # can be counted.
        one_line: dict[str, Any] = {"no_wrap": True, "overflow": "ellipsis"}
        head = Text.assemble(
            ("raysweep ", "bold"),
            f"{self.cfg.method} · ",
            (f"{done}/{cap} done", "bold"),
            f" · {counts.get('running', 0)} running",
            (f" · {counts.get('failed', 0)} failed", "red" if counts.get("failed") else ""),
            f" · {counts.get('stopped', 0)} stopped early · {elapsed:.0f}s",
            **one_line,
        )
        parts: list[Any] = [head]
        best = recorder.best()
        if best is not None and self.metric is not None:
            cfg_text = ", ".join(_config_text(best.get("config") or {}))
            parts.append(
                Text.assemble(
                    ("best ", "bold green"),
                    f"{self.metric}={_fmt(best['best'])} (trial {best['trial_id']}): {cfg_text}",
                    **one_line,
                )
            )
        if self.objectives:
            parts.append(self._front_line(recorder, one_line))
        rows = trial_rows(self.console.height, len(parts))
        shown = recorder.recent(rows)
        if len(shown) < recorder.total:
            # The line saying so takes the place of one row.
            shown = shown[1:]
            earlier = recorder.total - len(shown)
            parts.append(Text(f"… {earlier} earlier trials (raysweep results shows every "
                              "trial)", style="dim", **one_line))
        table = Table(box=None, pad_edge=False, header_style="bold", expand=False)
        table.add_column("trial", no_wrap=True)
        table.add_column("status", no_wrap=True)
        for path in self.params:
            table.add_column(dotted(path), max_width=16, **one_line)
        if self.metric is not None:
            table.add_column(self.metric, justify="right", no_wrap=True)
            table.add_column("best", justify="right", no_wrap=True)
        for name in self.objectives:
            table.add_column(name, justify="right", no_wrap=True)
        table.add_column("steps", justify="right", no_wrap=True)
        # The note (why a trial stopped, a failure's last line) takes the width the other
        # columns leave: its column is the one that may shrink, each cell stays one line.
        table.add_column("note", overflow="ellipsis")
        for rec in shown:
            tid = rec["trial_id"]
            config = rec.get("config") or {}
            values: list[str] = []
            for path in self.params:
                node: Any = config
                for name in path:
                    node = node.get(name) if isinstance(node, dict) else None
                values.append(_fmt(node))
            style = {"failed": "red", "stopped": "yellow", "running": "cyan"}.get(rec["status"])
            note = _note(rec)
            if rec["status"] == "failed" and rec.get("error"):
                lines = str(rec["error"]).strip().splitlines()
                note = lines[-1] if lines else ""
            row: list[str | Text] = [tid, Text(rec["status"], style=style or ""), *values]
            if self.metric is not None:
                row += [_fmt(rec["last"]), _fmt(rec["best"])]
            row += [_fmt(objective_value(rec, name)) for name in self.objectives]
            row += [str(rec["steps"]), Text(note, **one_line)]
            table.add_row(*row)
        parts.append(table)
        return Group(*parts)

    def _front_line(self, recorder: SweepRecorder, one_line: dict[str, Any]) -> Any:
        """A multi-objective sweep's line: the front's size and each objective's best."""
        from rich.text import Text

        size = len(recorder.front())
        bits: list[Any] = [("pareto front ", "bold green"),
                           f"{size} trial{'s' if size != 1 else ''}"]
        for name in self.objectives:
            best = recorder.best_of(name)
            if best is not None:
                value = objective_value(best, name, "best")
                bits.append(f" · best {name}={_fmt(value)} (trial {best['trial_id']})")
        return Text.assemble(*bits, **one_line)
