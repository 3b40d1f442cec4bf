"""How ``raysweep run`` and ``resume`` show a running sweep and how it went.

Shared by sweep files (:mod:`raysweep.cli.running`) and W&B scripts
(:mod:`raysweep.cli.script`): the live view around the run, failures as messages rather than
tracebacks, and the outcome (counts, best trial, notes, where the results are; for a
multi-objective sweep the Pareto front's size and each objective's best).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raysweep.cli.common import EXIT_FAILED, EXIT_INTERRUPTED, escape, exit_invalid, fail
from raysweep.errors import SweepConfigError

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["bad_lines_note", "missing_metric_note", "print_outcome", "run_with_view"]


def run_with_view(view: Any, started: list[Path], call: Callable[[], Any]) -> Any:
    """Run a sweep while ``view`` shows it; turn every failure into a message, not a traceback.

    ``started`` holds the sweep directory once the sweep started (for the resume hint after
    a second Ctrl-C).
    """
    from raysweep.errors import RaysweepError

    try:
        try:
            return call()
        finally:
            view.__exit__(None, None, None)
    except KeyboardInterrupt:
        # A second Ctrl-C (the first ends the sweep in order), or one before it started.
        if started:
            fail("interrupted (Ctrl-C)",
                 f"Continue the sweep with: raysweep resume {started[0]}", EXIT_INTERRUPTED)
        fail("interrupted (Ctrl-C) before the sweep started", code=EXIT_INTERRUPTED)
    except SweepConfigError as exc:
        exit_invalid(exc)
    except RaysweepError as exc:
        fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - a bug or an unexpected Ray error: keep the details
        import tempfile
        import traceback

        with tempfile.NamedTemporaryFile(
            "w", prefix="raysweep-error-", suffix=".log", delete=False
        ) as f:
            traceback.print_exc(file=f)
        fail(
            f"unexpected error: {type(exc).__name__}: {exc}",
            f"The full traceback is in {f.name}; please include it when reporting a bug.",
            EXIT_FAILED,
        )


def print_outcome(console: Console, result: Any) -> None:
    trials = result.trials
    counts = trials["status"].value_counts().to_dict() if len(trials) else {}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no trials ran"
    console.print(f"[bold]done[/]: {summary}")
    if result.meta.get("end_reason"):
        console.print(f"[yellow]{escape(str(result.meta['end_reason']))}[/]")
    best = result.best
    if best is not None:
        console.print(
            f"[bold green]best[/] {escape(str(result.metric))}={best['value']:.6g} "
            f"(trial {best['trial_id']}, {best['status']})"
        )
        console.print("  " + escape(json.dumps(best["config"], default=str)))
    objectives = getattr(result, "objectives", [])
    if objectives and len(trials):
        size = int(trials["pareto"].astype(bool).sum())
        console.print(f"[bold green]pareto front[/]: {size} trial{'s' if size != 1 else ''} "
                      f"(raysweep results {escape(str(result.path))} --pareto)")
        for name, _ in objectives:
            one = result.best_of(name)
            if one is not None:
                console.print(f"  best {escape(name)}={one['value']:.6g} "
                              f"(trial {one['trial_id']}, {one['status']})")
    note = missing_metric_note(result)
    if note:
        console.print(f"[yellow]note[/]: {escape(note)}")
    note = bad_lines_note(trials)
    if note:
        console.print(f"[yellow]note[/]: {escape(note)}")
    failed = trials[trials["status"] == "failed"] if len(trials) else trials
    if len(failed):
        first = failed.iloc[0]
        console.print(f"[red]first failure[/] (trial {first['trial_id']}):")
        console.print(escape(str(first["error"] or "")), markup=False)
    console.print(f"results: {escape(str(result.path))}")
    console.print(f"  raysweep results {escape(str(result.path))}")
    if result.meta.get("ended_by") in ("stop", "cancel", "interrupt"):
        console.print(f"continue it with: raysweep resume {escape(str(result.path))}")


def bad_lines_note(trials: Any) -> str | None:
    """How many trials printed ``@raysweep`` lines that were not valid reports (they were
    skipped; each trial's program.log says why), or None.

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"trial_id": ["a", "b"], "bad_lines": [0, 3]})
    >>> print(bad_lines_note(frame))  # doctest: +ELLIPSIS
    1 trial printed invalid @raysweep lines (3 in all; the first in trial b), which were ...
    """
    if "bad_lines" not in trials or not len(trials):
        return None
    counts = trials["bad_lines"].fillna(0)
    bad = trials[counts > 0]
    if not len(bad):
        return None
    n = len(bad)
    return (f"{n} trial{'s' if n != 1 else ''} printed invalid @raysweep lines "
            f"({int(counts.sum())} in all; the first in trial {bad.iloc[0]['trial_id']}), "
            "which were skipped: see the bad_lines column and their program.log")


def missing_metric_note(result: Any) -> str | None:
    """Which ended trials never reported a number for the sweep's metric, and what they did
    report: usually the program logs the metric under another name, and the sweep's ranking,
    search and early stopping then have no value for those trials."""
    from raysweep.analysis.history import reported_names

    trials = result.trials
    # A multi-objective sweep: the first objective that ended trials lack (they are left
    # off the Pareto front).
    names = ([result.metric] if result.metric is not None
             else [name for name, _ in getattr(result, "objectives", [])])
    if not names or not len(trials):
        return None
    for metric in names:
        # <metric>_best is the column `best` ranks by: only finite numbers, else empty.
        ended = trials[trials["status"].isin(("finished", "stopped"))
                       & trials[f"{metric}_best"].isna()]
        if len(ended):
            break
    else:
        return None
    ids = [str(t) for t in ended["trial_id"]]
    history = result.history
    rows = history[history["trial_id"].astype(str).isin(ids)] if len(history) else history
    keys = reported_names(rows)
    shown = ", ".join(ids[:3]) + (", ..." if len(ids) > 3 else "")
    return (f"{len(ids)} trial{'s' if len(ids) != 1 else ''} ended without a numeric "
            f"{metric!r} ({shown}); they reported: {', '.join(keys) or 'nothing'}. Check the "
            "name the program logs the metric under.")


