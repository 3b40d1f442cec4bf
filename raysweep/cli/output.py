"""``raysweep results`` and ``raysweep report``: a sweep directory as a table, a file, a page."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import click

from raysweep.cli.common import (
    escape,
    fail,
    make_console,
)


@click.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "parquet"]),
              default="table", show_default=True,
              help="json prints the table as a JSON array of records.")
@click.option("--history", is_flag=True, help="The long table: one row per report.")
@click.option("--pareto", is_flag=True,
              help="Only the trials on the Pareto front of a multi-objective sweep "
                   "(metrics:), ordered by the first objective.")
@click.option("-n", "top", type=click.IntRange(min=1), default=None,
              help="Only the N best trials [table format default: 20].")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write to this file instead of standard output (required for parquet on a "
                   "terminal). Without --format, a .csv, .json or .parquet name sets it.")
@click.pass_context
def results(
    ctx: click.Context, directory: str | None, fmt: str, history: bool, pareto: bool,
    top: int | None, output: str | None
) -> None:
    """Show the trials of a sweep, best first [default: the latest sweep].

    Works while the sweep runs and after it ended. DIRECTORY is the sweep directory that
    `raysweep run` printed; without it, the most recent one under ./raysweep_results (or
    $RAYSWEEP_STORAGE). A multi-objective sweep's trials come Pareto front first (the pareto
    column), each part ordered by the first objective.
    """
    from raysweep.analysis.tables import find_latest_sweep, load_results
    from raysweep.errors import RaysweepError

    try:
        path = Path(directory) if directory else find_latest_sweep()
        result = load_results(path)
    except RaysweepError as exc:
        fail(str(exc))
    if pareto and history:
        fail("--pareto and --history cannot be used together: --pareto picks trials, "
             "--history shows reports (filter the history by the front's trial_id instead)")
    if output is not None and fmt == "table":
        fmt = _file_format(output, explicit=ctx.get_parameter_source("fmt")
                           is click.core.ParameterSource.COMMANDLINE)
    table = result.history if history else result.trials
    if pareto:
        try:
            table = result.pareto
        except RaysweepError as exc:
            fail(f"--pareto: {exc}")
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
    if not explicit and suffix in _FILE_FORMATS:
        return suffix
    if explicit:
        fail(f"-o {output}: --format table is for the terminal; a file is written as "
             "--format csv, json or parquet")
    what = f"a .{suffix} file" if suffix else "a file without an extension"
    fail(f"-o {output}: raysweep cannot write {what}; name the file .csv, .json or .parquet, "
         "or give --format csv, json or parquet")


_FILE_FORMATS = ("csv", "json", "parquet")


def _print_table(result: Any, table: Any, history: bool) -> None:
    from rich.table import Table

    console = make_console()
    if not console.is_terminal:
        console.width = 250  # pipes and logs: one line per row instead of folded cells
    meta = result.meta
    head = f"{meta.get('name')}: {meta.get('method')}"
    if result.metric:
        head += f", {result.metric} ({meta.get('goal')})"
    for name, mode in result.objectives:
        head += f", {name} ({mode}imize)"
    console.print(f"[bold]{escape(head)}[/]  {escape(str(result.path))}")
    view = Table(box=None, pad_edge=False, header_style="bold")
    # The other metrics' last values: a few fit a terminal; JSON and CSV have them all.
    hidden = set([] if history else result.summary_columns[_SHOWN_SUMMARY_COLUMNS:])
    columns = [
        c
        for c in table.columns
        if c not in hidden
        and not (c in _OPTIONAL_COLUMNS and table[c].isna().all())
        and not (c in _HIDE_WHEN_ZERO and not table[c].fillna(0).any())
    ]
    for col in columns:
        view.add_column(escape(str(col)), overflow="fold",
                        max_width=_SHORT_ERROR_CHARS if col == "error" else 40)
    for _, row in table.iterrows():
        view.add_row(*(escape(_fmt_cell(row[c]) if c != "error" else short_error(row[c]))
                       for c in columns))
    console.print(view)
    if hidden:
        console.print(f"({len(hidden)} more reported metrics: --format csv or json shows them)")


_OPTIONAL_COLUMNS = ("rerun_of", "resumed_from_step", "paused_at", "node", "gpus",
                     "stop_reason", "runtime_s", "error")
_HIDE_WHEN_ZERO = ("retries", "bad_lines")
_SHOWN_SUMMARY_COLUMNS = 3
_SHORT_ERROR_CHARS = 60


def short_error(error: Any) -> str:
    """One line of a trial's error for the terminal table: the exception's line (the last
    line), or for a failed program its exit status, cut to 60 characters.

    >>> short_error("program exited with status 1; last lines of x/program.log:\\nboom")
    'program exited with status 1: boom'
    >>> short_error("Traceback (most recent call last):\\n  File ...\\nValueError: bad x")
    'ValueError: bad x'
    >>> short_error(None)
    '-'
    """
    if not isinstance(error, str) or not error.strip():
        return "-"
    lines = [line.strip() for line in error.strip().splitlines() if line.strip()]
    head, last = lines[0], lines[-1]
    if head.startswith("program exited with status"):
        status = head.split(";", 1)[0]
        text = status if len(lines) == 1 else f"{status}: {last}"
    else:
        text = last
    if len(text) > _SHORT_ERROR_CHARS:
        text = text[: _SHORT_ERROR_CHARS - 3] + "..."
    return text


def _fmt_cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


@click.command()
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

    console = make_console()
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
    console.print(f"report: {escape(str(target))} ({summary})")
    if open_browser:
        import webbrowser

        if not webbrowser.open(target.resolve().as_uri()):
            console.print(f"no web browser found here; open {escape(str(target.resolve()))} "
                          "on a machine that has one")
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
        console.print(f"stopped watching; report: {escape(str(target))}")
