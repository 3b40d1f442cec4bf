"""The ``raysweep`` command line. The only module that prints.

``validate`` and ``preview`` never import Ray, pandas or scikit-learn, so they answer at once.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from raysweep.errors import Issue, SweepConfigError, UnsupportedSweepError
from raysweep.sweep.config import Method, SweepConfig, load, resource_issues
from raysweep.sweep.space import SearchSpace, dotted

if TYPE_CHECKING:
    from rich.console import Console

EXIT_INVALID = 2

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _print_issues(console: Console, issues: Sequence[Issue], style: str) -> None:
    for issue in issues:
        where = issue.path or "<top level>"
        if issue.line is not None:
            where += f" (line {issue.line})"
        console.print(f"  [{style}]{_escape(where)}[/]: {_escape(issue.message)}")
        if issue.hint:
            console.print(f"    [dim]{_escape(issue.hint)}[/]")


def _print_error(console: Console, exc: SweepConfigError) -> None:
    n = len(exc.issues)
    kind = "not supported" if isinstance(exc, UnsupportedSweepError) else "invalid"
    head = f"{exc.source or 'sweep config'}: {kind}, {n} problem{'s' if n != 1 else ''}"
    console.print(f"[bold red]✗ {_escape(head)}[/]")
    _print_issues(console, exc.issues, "red")


def _param_table(space: SearchSpace) -> Any:
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    table.add_column("parameter")
    table.add_column("distribution")
    table.add_column("values / range", overflow="fold")
    for path, spec in space:
        table.add_row(_escape(dotted(path)), str(spec.distribution), _escape(spec.describe()))
    return table


def _summary(cfg: SweepConfig) -> str:
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


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="raysweep", prog_name="raysweep")
def main() -> None:
    """Run Weights & Biases sweep files on your own machines and clusters, on Ray.

    \b
    Typical use:
      raysweep validate sweep.yaml        check a sweep file, show its parameters
      raysweep preview sweep.yaml -n 5    see what the sweep would try, without running
      raysweep run sweep.yaml             run it on a private local Ray
      raysweep run sweep.yaml --address auto   run it on the Ray cluster of this machine
      raysweep results                    the best trials of the latest sweep
      raysweep report --open              its plots in one HTML file
    """


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file, as a list.")
def validate(files: tuple[str, ...], as_json: bool) -> None:
    """Check sweep files and show their parameters.

    Every problem of a file is listed at once, with its key path, line and a hint. Exit code
    0 if every file is valid, 2 if any is not.
    """
    console = _console()
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
                _print_error(console, exc)
            continue
        report.append(
            {
                "file": name,
                "valid": True,
                "supported": True,
                "method": str(cfg.method),
                "issues": [],
                "warnings": [_issue_json(w) for w in cfg.warnings],
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
            console.print(f"[bold green]✓ {_escape(name)}[/]: {_escape(_summary(cfg))}")
            if cfg.warnings:
                _print_issues(console, cfg.warnings, "yellow")
            console.print(_param_table(cfg.parameters))
    if as_json:
        click.echo(json.dumps(report, indent=2))
    if not ok:
        sys.exit(EXIT_INVALID)


def _exit_invalid(exc: SweepConfigError) -> NoReturn:
    """Show a configuration's problems on stderr and exit 2."""
    _print_error(_console(stderr=True), exc)
    sys.exit(EXIT_INVALID)


def _load_or_exit(name: str) -> SweepConfig:
    try:
        return load(name)
    except SweepConfigError as exc:
        _exit_invalid(exc)


@main.command()
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
    proposes them.
    """
    from raysweep.search import make_proposer

    cfg = _load_or_exit(file)
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


def _print_preview(
    cfg: SweepConfig, flats: list[dict[Any, Any]], total: int | None, seed: int
) -> None:
    from rich.table import Table

    console = _console()
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
    console.print(f"[bold]{_escape(head)}[/]")
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("#", justify="right")
    columns = [p for p, _ in space]
    for path in columns:
        table.add_column(_escape(dotted(path)), overflow="fold")
    for i, flat in enumerate(flats, 1):
        table.add_row(str(i), *(_escape(_fmt_value(flat[p])) for p in columns))
    console.print(table)


def _fmt_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value) if isinstance(value, str) else str(value)


def fail(message: str, hint: str | None = None) -> NoReturn:
    """Print an error without a traceback and exit 2."""
    console = _console(stderr=True)
    console.print(f"[bold red]error:[/] {_escape(message)}")
    if hint:
        console.print(f"  [dim]{_escape(hint)}[/]")
    sys.exit(EXIT_INVALID)


def _existing_dir(path: str) -> Path:
    p = Path(path)
    if not p.is_dir():
        fail(f"not a directory: {path}")
    return p


@main.command()
@click.argument("sweep", type=click.Path(dir_okay=False))
@click.option("--address", default=None, metavar="ADDR",
              help="Join a Ray cluster: 'auto' (the cluster of this machine), 'host:port' or "
                   "'ray://host:10001'. Without it, a private local Ray is started and stopped.")
@click.option("--count", type=click.IntRange(min=1), default=None,
              help="Run at most N trials (with run_cap in the file, the smaller wins).")
@click.option("--name", default=None, help="Sweep directory name [default: <name>-<time>].")
@click.option("--storage", default=None, metavar="DIR",
              help="Where sweep directories go [default: raysweep.storage, $RAYSWEEP_STORAGE, "
                   "./raysweep_results].")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="Seed for random and bayes search.")
@click.option("--cpu", "cpu", type=click.FloatRange(min=0), default=None,
              help="CPUs per trial (overrides raysweep.resources.cpu).")
@click.option("--gpu", "gpu", type=click.FloatRange(min=0), default=None,
              help="GPUs per trial, fractions allowed (overrides raysweep.resources.gpu).")
@click.option("--max-concurrent", type=click.IntRange(min=1), default=None,
              help="At most N trials at once.")
@click.option("--max-failures", type=click.IntRange(min=-1), default=None,
              help="Retries per failed trial (-1: forever).")
@click.option("--num-cpus", type=click.IntRange(min=1), default=None,
              help="Size of the private local Ray [default: all cores].")
@click.option("--num-gpus", type=click.IntRange(min=0), default=None,
              help="GPUs of the private local Ray, a whole number [default: detected].")
@click.option("--wandb", "wandb_mode", type=click.Choice(["shim", "real"]), default="shim",
              show_default=True,
              help="What `import wandb` gives programs: raysweep's stand-in (no account, no "
                   "network), or the installed wandb package (your W&B dashboard too).")
def run(
    sweep: str,
    address: str | None,
    count: int | None,
    name: str | None,
    storage: str | None,
    seed: int | None,
    cpu: float | None,
    gpu: float | None,
    max_concurrent: int | None,
    max_failures: int | None,
    num_cpus: int | None,
    num_gpus: int | None,
    wandb_mode: str,
) -> None:
    """Run a W&B sweep file on Ray.

    Each trial runs the sweep's `program` through its `command` (W&B macros such as ${args}
    work), from the sweep file's directory. Programs report metrics with `raysweep.log({...})`,
    by printing lines `@raysweep {"loss": 0.1}`, or, unchanged W&B scripts, with
    `wandb.log({...})`; each report is one step.

    \b
    Examples:
      raysweep run examples/quickstart/sweep.yaml
      raysweep run sweep.yaml --count 20 --seed 1
      raysweep run sweep.yaml --address auto --gpu 1
    """
    from raysweep.api import run as run_sweep

    cfg = _load_or_exit(sweep)
    resources: dict[str, float] = {}
    if cpu is not None:
        resources["cpu"] = cpu
    if gpu is not None:
        resources["gpu"] = gpu
    for issue in resource_issues(resources):  # the rules of raysweep.resources, per flag
        flag = issue.path.rsplit(".", 1)[-1]
        fail(f"--{flag} {resources[flag]:g}: {issue.message}", issue.hint)
    console = _console()
    cap_values = [c for c in (count, cfg.run_cap) if c is not None]
    cap = min(cap_values) if cap_values else (
        cfg.parameters.grid_size() if cfg.method is Method.GRID else None
    )
    from raysweep.analysis.live import LiveView

    view = LiveView(console, cfg, cap)

    def on_start(sweep_dir: Path, _cfg: SweepConfig) -> None:
        where = "a private local Ray" if address is None else f"Ray at {address}"
        console.print(f"[bold]raysweep[/]: {_escape(_summary(cfg))} on {_escape(where)}")
        console.print(f"  results: {_escape(str(sweep_dir))}")
        view.__enter__()

    result = _run_with_view(view, lambda: run_sweep(
        cfg, None, count=count, address=address, storage=storage, name=name, seed=seed,
        resources=resources or None, max_concurrent_trials=max_concurrent,
        max_failures=max_failures, num_cpus=num_cpus, num_gpus=num_gpus,
        on_start=on_start, on_change=view.update, wandb=wandb_mode,
    ))
    _print_outcome(console, result)


def _run_with_view(view: Any, call: Callable[[], Any]) -> Any:
    """Run a sweep while ``view`` shows it; turn every failure into a message, not a traceback.
    """
    from raysweep.errors import RaysweepError

    try:
        try:
            return call()
        finally:
            view.__exit__(None, None, None)
    except SweepConfigError as exc:
        _exit_invalid(exc)
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
        )


def _print_outcome(console: Console, result: Any) -> None:
    trials = result.trials
    counts = trials["status"].value_counts().to_dict() if len(trials) else {}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no trials ran"
    console.print(f"[bold]done[/]: {summary}")
    if result.meta.get("end_reason"):
        console.print(f"[yellow]{_escape(str(result.meta['end_reason']))}[/]")
    best = result.best
    if best is not None:
        console.print(
            f"[bold green]best[/] {_escape(str(result.metric))}={best['value']:.6g} "
            f"(trial {best['trial_id']}, {best['status']})"
        )
        console.print("  " + _escape(json.dumps(best["config"], default=str)))
    note = _missing_metric_note(result)
    if note:
        console.print(f"[yellow]note[/]: {_escape(note)}")
    failed = trials[trials["status"] == "failed"] if len(trials) else trials
    if len(failed):
        first = failed.iloc[0]
        console.print(f"[red]first failure[/] (trial {first['trial_id']}):")
        console.print(_escape(str(first["error"] or "")), markup=False)
    console.print(f"results: {_escape(str(result.path))}")
    console.print(f"  raysweep results {_escape(str(result.path))}")


def _missing_metric_note(result: Any) -> str | None:
    """Which ended trials never reported a number for the sweep's metric, and what they did
    report: usually the program logs the metric under another name, and the sweep's ranking,
    search and early stopping then have no value for those trials."""
    from raysweep.analysis.tables import reported_names

    metric, trials = result.metric, result.trials
    if metric is None or not len(trials):
        return None
    # <metric>_best is the column `best` ranks by: only finite numbers, else empty.
    ended = trials[trials["status"].isin(("finished", "stopped"))
                   & trials[f"{metric}_best"].isna()]
    if not len(ended):
        return None
    ids = [str(t) for t in ended["trial_id"]]
    history = result.history
    rows = history[history["trial_id"].astype(str).isin(ids)] if len(history) else history
    keys = reported_names(rows)
    shown = ", ".join(ids[:3]) + (", ..." if len(ids) > 3 else "")
    return (f"{len(ids)} trial{'s' if len(ids) != 1 else ''} ended without a numeric "
            f"{metric!r} ({shown}); they reported: {', '.join(keys) or 'nothing'}. Check the "
            "name the program logs the metric under.")


@main.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "parquet"]),
              default="table", show_default=True,
              help="json prints the table as a JSON array of records.")
@click.option("--history", is_flag=True, help="The long table: one row per report.")
@click.option("-n", "top", type=click.IntRange(min=1), default=None,
              help="Only the N best trials [table format default: 20].")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write to this file instead of standard output (required for parquet on a "
                   "terminal). Without --format, a .csv, .json or .parquet name sets it.")
@click.pass_context
def results(
    ctx: click.Context, directory: str | None, fmt: str, history: bool, top: int | None,
    output: str | None
) -> None:
    """Show the trials of a sweep, best first [default: the latest sweep].

    Works while the sweep runs and after it ended. DIRECTORY is the sweep directory that
    `raysweep run` printed; without it, the most recent one under ./raysweep_results (or
    $RAYSWEEP_STORAGE).
    """
    from raysweep.analysis.tables import find_latest_sweep, load_results
    from raysweep.errors import RaysweepError

    try:
        path = Path(directory) if directory else find_latest_sweep()
        result = load_results(path)
    except RaysweepError as exc:
        fail(str(exc))
    if output is not None and fmt == "table":
        fmt = _file_format(output, explicit=ctx.get_parameter_source("fmt")
                           is click.core.ParameterSource.COMMANDLINE)
    table = result.history if history else result.trials
    if top is None and fmt == "table" and not history:
        top = 20
    if top is not None:
        table = table.head(top)
    if fmt == "table":
        _print_table(result, table, history)
        return
    if fmt == "parquet" and output is None and sys.stdout.isatty():
        fail("parquet is binary: give -o FILE, or redirect standard output")
    try:
        if fmt == "parquet":
            table.to_parquet(output or sys.stdout.buffer, index=False)
            return
        text = table.to_csv(index=False) if fmt == "csv" else table.to_json(
            orient="records", indent=2, default_handler=str
        )
        if output:
            Path(output).write_text(text if text.endswith("\n") else text + "\n",
                                    encoding="utf-8")
            return
    except OSError as exc:
        fail(f"cannot write {output or 'standard output'}: {exc.strerror or exc}")
    click.echo(text.rstrip("\n"))


def _file_format(output: str, *, explicit: bool) -> str:
    """The file format for ``results -o FILE`` when the format is ``table``: the file's
    suffix, unless ``--format table`` was asked for (a terminal table is not a file format)."""
    suffix = Path(output).suffix.lower().lstrip(".")
    if not explicit and suffix in ("csv", "json", "parquet"):
        return suffix
    fail(f"-o {output}: the table format is for the terminal; give --format csv, json or "
         "parquet (or name the file .csv, .json or .parquet)")


def _print_table(result: Any, table: Any, history: bool) -> None:
    from rich.table import Table

    console = _console()
    if not console.is_terminal:
        console.width = 250  # pipes and logs: one line per row instead of folded cells
    meta = result.meta
    head = f"{meta.get('name')}: {meta.get('method')}"
    if result.metric:
        head += f", {result.metric} ({meta.get('goal')})"
    console.print(f"[bold]{_escape(head)}[/]  {_escape(str(result.path))}")
    view = Table(box=None, pad_edge=False, header_style="bold")
    columns = [
        c
        for c in table.columns
        if c != "error"
        and not (c in _OPTIONAL_COLUMNS and table[c].isna().all())
        and not (c in _HIDE_WHEN_ZERO and not table[c].fillna(0).any())
    ]
    for col in columns:
        view.add_column(_escape(str(col)), overflow="fold", max_width=40)
    for _, row in table.iterrows():
        view.add_row(*(_escape(_fmt_cell(row[c])) for c in columns))
    console.print(view)


_OPTIONAL_COLUMNS = ("rerun_of", "node", "gpus", "stop_reason", "runtime_s")
_HIDE_WHEN_ZERO = ("retries",)


def _fmt_cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@main.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--address", default=None, metavar="ADDR",
              help="Join a Ray cluster instead of starting a private local Ray.")
@click.option("--num-cpus", type=click.IntRange(min=1), default=None,
              help="Size of the private local Ray [default: all cores].")
@click.option("--num-gpus", type=click.IntRange(min=0), default=None,
              help="GPUs of the private local Ray, a whole number [default: detected].")
def resume(directory: str, address: str | None, num_cpus: int | None,
           num_gpus: int | None) -> None:
    """Continue an interrupted sweep (Ctrl-C, killed driver, lost head node).

    Finished trials are kept and never run again; unfinished ones start over; grid continues
    without repeating a combination; random and bayes continue from their saved state;
    run_cap counts every trial ever run. Failed trials are not retried.

    raysweep resumes from its own JSON files in DIRECTORY and unpickles nothing; the
    programs it runs are those of the sweep, so only resume sweeps you trust.
    """
    from raysweep.analysis.live import LiveView
    from raysweep.analysis.tables import load_results
    from raysweep.api import resume as resume_sweep
    from raysweep.errors import RaysweepError
    from raysweep.execution.resume import saved_config
    from raysweep.files import ENDED_STATUSES

    path = _existing_dir(directory)
    try:
        before = load_results(path)
    except RaysweepError as exc:
        fail(str(exc))
    console = _console()
    try:
        cfg = saved_config(path, before.meta)
    except SweepConfigError as exc:
        _exit_invalid(exc)
    except RaysweepError as exc:
        fail(str(exc))
    view = LiveView(console, cfg, cfg.run_cap)

    def on_start(sweep_dir: Path, _cfg: SweepConfig) -> None:
        done = int(before.trials["status"].isin(ENDED_STATUSES).sum())
        console.print(f"[bold]raysweep[/]: resuming {_escape(str(sweep_dir))} "
                      f"({done} trials already ended)")
        view.__enter__()

    result = _run_with_view(
        view,
        lambda: resume_sweep(path, address=address, num_cpus=num_cpus, num_gpus=num_gpus,
                             on_start=on_start, on_change=view.update),
    )
    _print_outcome(console, result)


def _control_command(directory: str, what: str) -> None:
    from raysweep.analysis.tables import is_sweep_dir
    from raysweep.execution.control import request

    path = _existing_dir(directory)
    if not is_sweep_dir(path):
        fail(f"{path} is not a raysweep sweep directory (no raysweep.json)")
    marker = request(path, what)
    _console().print(f"{what} requested ({marker}); the sweep's driver acts on it within a "
                     "second")


@main.command()
@click.argument("directory", type=click.Path(file_okay=False))
def stop(directory: str) -> None:
    """Start no more trials of a running sweep; running trials finish.

    Works from any terminal or node that sees the sweep directory.
    """
    _control_command(directory, "stop")


@main.command()
@click.argument("directory", type=click.Path(file_okay=False))
def cancel(directory: str) -> None:
    """Stop a running sweep now: running trials are killed (their whole process groups).

    Works from any terminal or node that sees the sweep directory.
    """
    _control_command(directory, "cancel")


@main.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="The HTML file to write [default: DIRECTORY/report.html].")
@click.option("--open", "open_browser", is_flag=True, help="Open the report in a web browser.")
@click.option("--watch", type=click.FloatRange(min=1), default=None, metavar="SECONDS",
              help="Rebuild the report every SECONDS while the sweep runs (the open page "
                   "reloads itself); Ctrl-C stops.")
def report(
    directory: str | None, output: str | None, open_browser: bool, watch: float | None
) -> None:
    """Write a sweep's HTML report [default: the latest sweep].

    One self-contained file that opens offline: parallel coordinates, parameter importance
    and correlation, the metric per step of every trial (early-stopped trials marked), the
    best so far by trial number, and a sortable table of trials. Needs plotly:
    pip install 'raysweep[report]'.
    """
    import time

    from raysweep.analysis.report import write_report
    from raysweep.analysis.tables import find_latest_sweep, load_results
    from raysweep.errors import RaysweepError

    console = _console()
    try:
        path = Path(directory) if directory else find_latest_sweep()
    except RaysweepError as exc:
        fail(str(exc))
    target = Path(output) if output else path / "report.html"

    def build(refresh_s: float | None) -> Any:
        try:
            result = load_results(path)
            write_report(result, target, refresh_s=refresh_s)
        except RaysweepError as exc:
            fail(str(exc))
        return result

    result = build(watch)
    counts = result.trials["status"].value_counts().to_dict() if len(result.trials) else {}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no trials yet"
    console.print(f"report: {_escape(str(target))} ({summary})")
    if open_browser:
        import webbrowser

        webbrowser.open(target.resolve().as_uri())
    if watch is None:
        return
    console.print(f"rebuilding every {watch:g} s; Ctrl-C to stop")
    try:
        while True:
            time.sleep(watch)
            result = build(watch)
            n = len(result.trials)
            running = int((result.trials["status"] == "running").sum()) if n else 0
            console.print(f"{time.strftime('%H:%M:%S')} updated: {n} trials, {running} running")
    except KeyboardInterrupt:
        build(None)  # the last version does not reload itself
        console.print(f"stopped watching; report: {_escape(str(target))}")
