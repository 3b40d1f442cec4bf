"""What every command shares: the rich console, how problems are shown, exits with a reason."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from raysweep.errors import Issue, SweepConfigError, UnsupportedSweepError
from raysweep.sweep.config import load
from raysweep.sweep.model import Method, SweepConfig

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "EXIT_INVALID",
    "escape",
    "existing_dir",
    "exit_invalid",
    "fail",
    "load_or_exit",
    "make_console",
    "print_error",
    "print_issues",
    "summary",
]


EXIT_INVALID = 2


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


def fail(message: str, hint: str | None = None) -> NoReturn:
    """Print an error without a traceback and exit 2."""
    console = make_console(stderr=True)
    console.print(f"[bold red]error:[/] {escape(message)}")
    if hint:
        console.print(f"  [dim]{escape(hint)}[/]")
    sys.exit(EXIT_INVALID)


def existing_dir(path: str) -> Path:
    p = Path(path)
    if not p.is_dir():
        fail(f"not a directory: {path}")
    return p


def summary(cfg: SweepConfig) -> str:
    bits = [f"method {cfg.method}"]
    if cfg.metric is not None:
        bits.append(f"metric {cfg.metric.name} ({cfg.metric.goal})")
    if cfg.early_terminate is not None:
        et = cfg.early_terminate
        bands = ", ".join(str(b) for b in et.bands[:5])
        more = ", ..." if len(et.bands) > 5 else ""
        word = "rungs" if et.type == "promotion" else "bands"
        bits.append(f"{et.type} {word} [{bands}{more}]")
    if cfg.method is Method.GRID:
        bits.append(f"{cfg.parameters.grid_size()} combinations")
    if cfg.run_cap is not None:
        bits.append(f"run_cap {cfg.run_cap}")
    return ", ".join(bits)
