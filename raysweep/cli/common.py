"""What every command shares: the rich console, how problems are shown, exits with a reason."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NoReturn

from raysweep.errors import Issue, RaysweepWarning, SweepConfigError, UnsupportedSweepError
from raysweep.sweep.config import load
from raysweep.sweep.model import Method, SweepConfig

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "EXIT_CANCELLED",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_INVALID",
    "EXIT_OK",
    "escape",
    "exit_code",
    "exit_invalid",
    "fail",
    "format_warning",
    "load_or_exit",
    "make_console",
    "print_error",
    "print_issues",
    "summary",
]


# The exit codes of `raysweep run` and `resume` (README "Exit codes"); every other command
# exits 0, or EXIT_INVALID when it cannot do what it was asked.
EXIT_OK = 0  # every trial ended normally: finished, stopped early, or `raysweep stop`
EXIT_FAILED = 1  # a trial failed, the failure guard ended the sweep, or raysweep itself failed
EXIT_INVALID = 2  # nothing ran: bad input, or the sweep could not start (said why)
EXIT_CANCELLED = 3  # `raysweep cancel` ended the sweep; running trials were stopped
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)
_UNENDED = frozenset({"pending", "running", "retrying", "interrupted"})


def exit_code(ended_by: str | None, statuses: Iterable[str]) -> int:
    """The exit code for a sweep that ended this way, with these trial statuses (all of the
    sweep directory's trials, kept ones of a resumed sweep included).

    ``ended_by`` is ``result.meta["ended_by"]``: None (the sweep ran out of trials), ``"stop"``,
    ``"cancel"``, ``"guard"`` (its first trials all failed), ``"target"`` (an objective of a
    multi-objective sweep reached its target), ``"interrupt"`` (Ctrl-C) or ``"nothing"`` (a
    resume with nothing left to run). How it ended wins over the trials.

    >>> exit_code(None, ["finished", "stopped"]), exit_code("stop", ["finished"])
    (0, 0)
    >>> exit_code(None, ["finished", "failed"]), exit_code("guard", ["failed"] * 3)
    (1, 1)
    >>> exit_code("cancel", ["failed", "interrupted"]), exit_code("interrupt", ["finished"])
    (3, 130)
    """
    if ended_by == "interrupt":
        return EXIT_INTERRUPTED
    if ended_by == "cancel":
        return EXIT_CANCELLED
    seen = set(statuses)
    # A trial that never ended without stop, cancel or Ctrl-C: something else cut the sweep.
    if ended_by == "guard" or "failed" in seen or (ended_by is None and seen & _UNENDED):
        return EXIT_FAILED
    return EXIT_OK


def make_console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def print_issues(console: Console, issues: Sequence[Issue], style: str) -> None:
    for issue in issues:
        where = issue.path or "<top level>"
        if issue.line is not None:
            where += f" (line {issue.line})"
        console.print(f"  [{style}]{escape(where)}[/]: {escape(issue.message)}")
        if issue.hint:
            console.print(f"    [dim]{escape(issue.hint)}[/]")


def print_error(console: Console, exc: SweepConfigError) -> None:
    n = len(exc.issues)
    kind = "not supported" if isinstance(exc, UnsupportedSweepError) else "invalid"
    head = f"{exc.source or 'sweep config'}: {kind}, {n} problem{'s' if n != 1 else ''}"
    console.print(f"[bold red]✗ {escape(head)}[/]")
    print_issues(console, exc.issues, "red")


def exit_invalid(exc: SweepConfigError) -> NoReturn:
    """Show a configuration's problems on stderr and exit 2."""
    print_error(make_console(stderr=True), exc)
    sys.exit(EXIT_INVALID)


def load_or_exit(name: str) -> SweepConfig:
    try:
        return load(name)
    except SweepConfigError as exc:
        exit_invalid(exc)


def fail(message: str, hint: str | None = None, code: int = EXIT_INVALID) -> NoReturn:
    """Print an error without a traceback and exit with ``code`` (2 unless told)."""
    console = make_console(stderr=True)
    console.print(f"[bold red]error:[/] {escape(message)}")
    if hint:
        console.print(f"  [dim]{escape(hint)}[/]")
    sys.exit(code)


def summary(cfg: SweepConfig, count: int | None = None) -> str:
    """One line about a sweep: method, metric, early termination, size; with ``count`` (the
    --count flag), the trial cap that applies, the smaller of it and ``run_cap``."""
    bits = [f"method {cfg.method}"]
    if cfg.scheduler is not None:
        bits.append(f"engine {cfg.engine}")
    if cfg.metrics:
        bits.append("metrics " + ", ".join(f"{m.name} ({m.goal})" for m in cfg.metrics))
    if cfg.metric is not None:
        bits.append(f"metric {cfg.metric.name} ({cfg.metric.goal})")
    if cfg.early_terminate is not None:
        et = cfg.early_terminate
        bands = ", ".join(str(b) for b in et.bands[:5])
        more = ", ..." if len(et.bands) > 5 else ""
        word = "rungs" if et.type == "promotion" else "bands"
        resumes = " (paused trials resume from checkpoints)" if et.resume == "checkpoint" else ""
        bits.append(f"{et.type} {word} [{bands}{more}]{resumes}")
    if cfg.method is Method.GRID:
        size = cfg.parameters.grid_size()
        bits.append(f"{size} combination{'s' if size != 1 else ''}")
    if count is not None and (cfg.run_cap is None or count < cfg.run_cap):
        bits.append(f"--count {count}")
    elif cfg.run_cap is not None:
        bits.append(f"run_cap {cfg.run_cap}")
    return ", ".join(bits)


_PYTHON_FORMAT = warnings.formatwarning


def format_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    """Show a :class:`RaysweepWarning` as one ``warning: ...`` line, any other as Python does.

    raysweep's warnings speak to the user about their sweep (a macro that will not expand, a
    stale lock taken over); the file and line of the code that issued them mean nothing there.
    Installed as ``warnings.formatwarning`` by the command line only, so it changes how a
    warning is printed, never whether it is issued or caught.

    >>> format_warning(RaysweepWarning("command: ${argz} expands to nothing"),
    ...                RaysweepWarning, "x.py", 3)
    'warning: command: ${argz} expands to nothing\\n'
    """
    if issubclass(category, RaysweepWarning):
        return f"warning: {message}\n"
    return _PYTHON_FORMAT(message, category, filename, lineno, line)
