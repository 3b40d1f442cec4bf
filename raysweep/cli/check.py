"""``raysweep validate`` and ``raysweep preview``: the sweep file checked and shown, no Ray.

Neither imports Ray, pandas or scikit-learn, so both answer at once.
"""

from __future__ import annotations

import json
import math
import sys
from typing import TYPE_CHECKING, Any

import click

from raysweep.cli.common import (
    EXIT_INVALID,
    escape,
    fail,
    load_or_exit,
    make_console,
    print_error,
    print_issues,
    summary,
)
from raysweep.errors import Issue, SweepConfigError, UnsupportedSweepError
from raysweep.sweep.config import load, program_issues, runnable_issues
from raysweep.sweep.model import Engine, Method, SweepConfig
from raysweep.sweep.space import SearchSpace, dotted

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Console


def _param_table(space: SearchSpace) -> Any:
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    table.add_column("parameter")
    table.add_column("distribution")
    table.add_column("values / range", overflow="fold")
    for path, spec in space:
        table.add_row(escape(dotted(path)), str(spec.distribution), escape(spec.describe()))
    return table


def _hooks(cfg: SweepConfig) -> str | None:
    """The user's functions a 2026 ``scheduler`` names, as one line, or None."""
    spec = cfg.scheduler
    if spec is None or spec.source is None:
        return None
    named = [f"{key} {name}()" for key, name in (("optimizer", spec.optimizer),
                                                   ("search_space", spec.search_space)) if name]
    return f"{spec.source}: " + (", ".join(named) if named else "no function named")


def _space_note(cfg: SweepConfig) -> str | None:
    """Why there is no parameter table: the space is the engine's ``search_space()``."""
    spec = cfg.scheduler
    if len(cfg.parameters) or spec is None or spec.search_space is None:
        return None
    return (f"parameters: defined run by run by {spec.search_space}() in {spec.source} "
            "(no `parameters` section)")


def _scheduler_json(cfg: SweepConfig) -> dict[str, Any] | None:
    spec = cfg.scheduler
    if spec is None:
        return None
    return {"engine": str(spec.engine), "source": str(spec.source) if spec.source else None,
            "optimizer": spec.optimizer, "search_space": spec.search_space}


def _issue_json(issue: Issue) -> dict[str, Any]:
    return {"path": issue.path, "message": issue.message, "hint": issue.hint, "line": issue.line}


def _jsonable(value: Any) -> Any:
    """Plain JSON: non-finite floats become the strings "NaN", "Infinity", "-Infinity"."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file, as a list.")
@click.option("--no-program-check", "program_check", is_flag=True, default=True, flag_value=False,
              help="Report a missing program (or no `program:` while the command runs "
                   "${program}) as a warning, not an error: for a program not written yet, "
                   "or a sweep run with a Python function.")
def validate(files: tuple[str, ...], as_json: bool, program_check: bool) -> None:
    """Check sweep files and show their parameters.

    Every problem of a file is listed at once, with its key path, line and a hint. Warnings
    (a command macro that will not expand, an ignored key) do not fail a file, nor does what
    the file asks that this machine cannot run (`scheduler.engine: ax`, an engine not
    installed): `raysweep run` refuses that. The program is checked as `raysweep run` checks
    it: it must exist, relative to the sweep file's directory (or be a command on PATH). Exit
    code 0 if every file is valid, 2 if any is not.
    """
    console = make_console()
    report = []
    ok = True
    for name in files:
        try:
            cfg = load(name)
        except SweepConfigError as exc:
            ok = False
            report.append(
                {
                    "file": name,
                    "valid": False,
                    "supported": not isinstance(exc, UnsupportedSweepError),
                    "issues": [_issue_json(i) for i in exc.issues],
                    "warnings": [],
                }
            )
            if not as_json:
                print_error(console, exc)
            continue
        program = program_issues(cfg)
        warnings = [*cfg.warnings, *runnable_issues(cfg), *([] if program_check else program)]
        if program and program_check:
            ok = False
            report.append(
                {
                    "file": name,
                    "valid": False,
                    "supported": True,
                    "issues": [_issue_json(i) for i in program],
                    "warnings": [_issue_json(w) for w in warnings],
                }
            )
            if not as_json:
                print_error(console, SweepConfigError(program, name))
                console.print("    [dim](--no-program-check reports this as a warning: for a "
                              "program not written yet, or a sweep run with a Python function)[/]")
                print_issues(console, warnings, "yellow")
            continue
        report.append(
            {
                "file": name,
                "valid": True,
                "supported": True,
                "method": str(cfg.method),
                "engine": str(cfg.engine),
                "scheduler": _scheduler_json(cfg),
                "objectives": [
                    {"name": m.name, "goal": str(m.goal), "target": m.target}
                    for m in cfg.objectives
                ],
                "issues": [],
                "warnings": [_issue_json(w) for w in warnings],
                "parameters": [
                    {
                        "name": dotted(p),
                        "distribution": str(s.distribution),
                        "values": s.describe(),
                    }
                    for p, s in cfg.parameters
                ],
            }
        )
        if not as_json:
            console.print(f"[bold green]✓ {escape(name)}[/]: {escape(summary(cfg))}")
            _print_space(console, cfg, warnings)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    if not ok:
        sys.exit(EXIT_INVALID)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-n", "count", type=click.IntRange(min=1), default=None,
              help="How many configurations to show [grid: all; random/bayes: 10].")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Seed for random draws [default: raysweep.seed in the file, else 0].")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="json prints one array of run configs.")
def preview(file: str, count: int | None, seed: int | None, fmt: str) -> None:
    """Show what a sweep would try, without running anything.

    Grid sweeps list every combination in the order they will run (W&B's order). Random
    sweeps show their first draws from the priors, bayes sweeps their first trials (a
    space-filling design; later trials follow the model), exactly as a run with the same seed
    proposes them. A `method: custom` sweep shows the space its engine searches (the engine,
    Optuna, proposes from the results so far and preview runs none of your code); a space
    defined by `scheduler.search_space` is the function's, so only its name is shown.
    """
    from raysweep.search import make_proposer

    cfg = load_or_exit(file)
    if cfg.method is Method.CUSTOM or cfg.scheduler is not None:
        _preview_engine(cfg, file, fmt)
        if cfg.method is Method.CUSTOM:
            return
    space = cfg.parameters
    if seed is None:
        seed = cfg.options.seed if cfg.options.seed is not None else 0
    total: int | None = None
    limit = count or 10
    if cfg.method is Method.GRID:
        total = space.grid_size()
        limit = total if count is None else min(count, total)
    proposer = make_proposer(cfg, seed=seed)
    if cfg.method is Method.BAYES:
        from raysweep.search.bayes import BayesProposer

        if isinstance(proposer, BayesProposer):  # what comes later depends on the results
            limit = min(limit, proposer.n_initial)
    flats: list[dict[Any, Any]] = []
    while len(flats) < limit:
        flat = proposer.propose()
        if flat is None:
            break
        flats.append(flat)
    configs = [SearchSpace.unflatten(f) for f in flats]
    if fmt == "json":
        click.echo(json.dumps(_jsonable(configs), indent=2))
        return
    _print_preview(cfg, flats, total, seed)


def _preview_engine(cfg: SweepConfig, file: str, fmt: str) -> None:
    """Preview what raysweep can of a 2026 ``scheduler``: refuse what a run refuses (hooks
    under ``engine: wandb``), and for a custom engine say what searches and show the space."""
    issues = runnable_issues(cfg)
    if cfg.engine is Engine.WANDB:
        if issues:
            print_error(make_console(stderr=True), SweepConfigError(issues, file))
            sys.exit(EXIT_INVALID)
        return  # raysweep's own searcher: previewed as usual
    if fmt == "json":
        fail(f"{file}: method custom: engine {cfg.engine} proposes each configuration as "
             "the sweep runs, from the results so far; there is no list to print",
             "Use the table format to see the space it searches.")
    console = make_console()
    head = (f"custom: engine {cfg.engine} proposes each configuration as the sweep runs, "
            "from the results so far; preview runs none of it")
    console.print(f"[bold]{escape(head)}[/]")
    _print_space(console, cfg, issues)


def _print_space(console: Console, cfg: SweepConfig, warnings: Sequence[Issue]) -> None:
    """Below a sweep's first line: the user's hooks, the warnings, then the parameters (a
    table, or where the engine's ``search_space()`` defines them)."""
    hooks = _hooks(cfg)
    if hooks is not None:
        console.print(f"  [dim]{escape(hooks)}[/]")
    print_issues(console, warnings, "yellow")
    note = _space_note(cfg)
    if note is not None:
        console.print(escape(note))
    else:
        console.print(_param_table(cfg.parameters))


def _print_preview(
    cfg: SweepConfig, flats: list[dict[Any, Any]], total: int | None, seed: int
) -> None:
    from rich.table import Table

    console = make_console()
    space = cfg.parameters
    if total is not None:
        head = f"grid: {total} combination{'s' if total != 1 else ''}"
        if len(flats) < total:
            head += f" (showing the first {len(flats)})"
    else:
        head = f"{cfg.method}: {len(flats)} draws from the priors (seed {seed})"
        if cfg.method is Method.BAYES:
            head = (f"bayes: the first {len(flats)} trials, a space-filling design (seed "
                    f"{seed}); later trials follow the model")
    console.print(f"[bold]{escape(head)}[/]")
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("#", justify="right")
    columns = [p for p, _ in space]
    for path in columns:
        table.add_column(escape(dotted(path)), overflow="fold")
    for i, flat in enumerate(flats, 1):
        table.add_row(str(i), *(escape(_fmt_value(flat[p])) for p in columns))
    console.print(table)


def _fmt_value(value: Any) -> str:
    """One value in the preview table: strings plainly (``l2``), except those that would read
    as another value (``'1e-3'``, ``''``, ``'None'``, ``' x'``), which keep their quotes."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return repr(value) if _reads_as_other(value) else value
    return str(value)


def _reads_as_other(text: str) -> bool:
    """Whether a string shown without quotes could pass for a number, a boolean, None or
    another string (empty, or with spaces at its ends)."""
    if not text or text != text.strip():
        return True
    if text.lower() in ("true", "false", "none", "null", "nan", "inf", "-inf", "infinity"):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True
