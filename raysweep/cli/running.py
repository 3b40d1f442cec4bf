"""``raysweep run``, ``resume``, ``stop`` and ``cancel``: a sweep on Ray, and control of one."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from raysweep.cli.common import (
    escape,
    exit_code,
    exit_invalid,
    fail,
    load_or_exit,
    make_console,
    summary,
)
from raysweep.cli.outcome import print_outcome, run_with_view
from raysweep.errors import SweepConfigError
from raysweep.execution.options import trial_cap
from raysweep.files import SCRIPT_FILE
from raysweep.program.wandb_package import MODES
from raysweep.sweep.config import resource_issues
from raysweep.sweep.model import Method, SweepConfig

if TYPE_CHECKING:
    from rich.console import Console

    from raysweep.analysis.warm_start import WarmStart


@click.command()
@click.argument("sweep", type=click.Path(dir_okay=False), metavar="SWEEP|SCRIPT.py")
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
@click.option("--wandb", "wandb_mode", type=click.Choice(MODES), default="shim",
              show_default=True,
              help="What `import wandb` gives programs: raysweep's stand-in (no account, no "
                   "network), or the installed wandb package (your W&B dashboard too).")
@click.option("--warm-start", "warm_start", multiple=True, metavar="PATH",
              type=click.Path(exists=True, dir_okay=True),
              help="Earlier results the searcher learns first (repeatable): a sweep directory, "
                   "or a CSV/Parquet file with a column per parameter and one for the metric. "
                   "Not trials of this sweep; they do not count toward --count/run_cap.")
@click.option("--dashboard", "with_dashboard", is_flag=True, default=False,
              help="Also serve `raysweep dashboard` on 127.0.0.1:8765 (another free port if "
                   "that one is taken) over the run's storage folder while it runs, and "
                   "print its URL.")
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
    warm_start: tuple[str, ...],
    with_dashboard: bool,
) -> None:
    """Run a W&B sweep file on Ray, or a Python script that calls wandb.sweep/wandb.agent.

    Each trial runs the sweep's `program` through its `command` (W&B macros such as ${args}
    work), from the sweep file's directory. Programs report metrics with `raysweep.log({...})`,
    by printing lines `@raysweep {"loss": 0.1}`, or, unchanged W&B scripts, with
    `wandb.log({...})`; each report is one step.

    A script (SCRIPT.py) written in W&B's tutorial style runs unedited: its
    `sweep_id = wandb.sweep(config)` and `wandb.agent(sweep_id, function=train, count=N)`
    calls become sweeps on Ray, whose trials call `train()`. --count replaces the
    agents' count; the other options apply to every sweep the script runs.

    \b
    Exit codes: 0 every trial ended normally (finished, stopped early, or
    `raysweep stop`); 1 a trial failed, or the first trials all failed and the
    sweep was ended; 2 nothing ran (invalid input, or the sweep could not start);
    3 `raysweep cancel`; 130 Ctrl-C.

    \b
    Examples:
      raysweep run examples/quickstart/sweep.yaml
      raysweep run sweep.yaml --count 20 --seed 1
      raysweep run sweep.yaml --address auto --gpu 1
      raysweep run sweep.yaml --warm-start raysweep_results/old-sweep --warm-start runs.csv
      raysweep run train_sweep.py --count 10
      raysweep run sweep.yaml --dashboard
    """
    from raysweep.cli.script import is_script, run_script
    from raysweep.execution.options import RunOptions
    from raysweep.execution.tuner import run_sweep

    resources: dict[str, float] = {}
    if cpu is not None:
        resources["cpu"] = cpu
    if gpu is not None:
        resources["gpu"] = gpu
    for issue in resource_issues(resources):  # the rules of raysweep.resources, per flag
        flag = issue.path.rsplit(".", 1)[-1]
        fail(f"--{flag} {resources[flag]:g}: {issue.message}", issue.hint)
    console = make_console()
    if is_script(sweep):
        if warm_start:
            fail("--warm-start applies to a sweep file; a script's sweeps are started by its "
                 "wandb.sweep() calls", "Run the sweep's YAML file with --warm-start")
        if name is not None:
            fail("--name names one sweep directory; a script's sweeps are named by its "
                 "wandb.sweep() calls (the config's name, else the project, then the time)",
                 "Leave out --name, or set 'name' in the script's sweep config")
        if with_dashboard:
            from raysweep.files import default_storage

            _start_dashboard(console, Path(storage) if storage else default_storage(), None)
        run_script(sweep, console, {
            "address": address, "storage": storage, "seed": seed,
            "resources": resources or None, "max_concurrent_trials": max_concurrent,
            "max_failures": max_failures, "num_cpus": num_cpus, "num_gpus": num_gpus,
            "wandb": wandb_mode,
        }, count)
    cfg = load_or_exit(sweep)
    cap = trial_cap(cfg, count)
    warm = _read_warm_start(warm_start, cfg)
    if cap is None and cfg.method is Method.GRID and warm is not None:
        # The combinations the earlier results ran are skipped.
        from raysweep.search import GridProposer

        grid = GridProposer(cfg.parameters)
        for earlier in warm.runs:
            grid.mark_seen(earlier.config)
        cap = grid.remaining
    if cap is None and cfg.method is Method.GRID:
        cap = cfg.parameters.grid_size()
    from raysweep.analysis.live import LiveView

    view = LiveView(console, cfg, cap)
    started: list[Path] = []

    def on_start(sweep_dir: Path, _cfg: SweepConfig) -> None:
        started.append(sweep_dir)
        where = "a private local Ray" if address is None else f"Ray at {address}"
        console.print(f"[bold]raysweep[/]: {escape(summary(cfg, count))} on {escape(where)}")
        console.print(f"  results: {escape(str(sweep_dir))}")
        if with_dashboard:
            _start_dashboard(console, sweep_dir.parent, sweep_dir.name)
        view.__enter__()

    options = RunOptions(
        count=count, address=address, storage=storage, name=name, seed=seed,
        resources=resources or None, max_concurrent_trials=max_concurrent,
        max_failures=max_failures, num_cpus=num_cpus, num_gpus=num_gpus,
        on_start=on_start, on_change=view.update, wandb=wandb_mode,
        warm_start=list(warm_start), warm_read=warm,
    )
    result = run_with_view(view, started, lambda: run_sweep(cfg, None, options))
    _finish(console, result)


def _start_dashboard(console: Console, folder: Path, sweep_name: str | None) -> None:
    """Serve the dashboard over ``folder`` in a daemon thread (it ends with the run) and
    print its URL: the sweep's page when the sweep is known, else the sweeps page."""
    from raysweep.dashboard.handle import open_dashboard

    board = open_dashboard(folder)  # 8765, or any free port when it is taken
    url = board.url if sweep_name is None else board.sweep_url(sweep_name)
    console.print(f"  dashboard: {escape(url)} (ends with this run; `raysweep dashboard "
                  f"{escape(str(folder))}` serves it on its own)")


def _read_warm_start(paths: tuple[str, ...], cfg: SweepConfig) -> WarmStart | None:
    """The earlier results, read once, here, so that a bad source exits before anything
    starts (with code 2); the run uses what was read (``RunOptions.warm_read``)."""
    if not paths:
        return None
    from raysweep.analysis.warm_start import read_warm_start
    from raysweep.errors import RaysweepError

    try:
        return read_warm_start(paths, cfg)
    except RaysweepError as exc:
        fail(str(exc))


def _finish(console: Console, result: Any) -> NoReturn:
    """Print how a sweep went and exit with the code that says it (see ``exit_code``)."""
    print_outcome(console, result)
    sys.exit(exit_code(result.meta.get("ended_by"), result.trials["status"]
                       if len(result.trials) else ()))


@click.command()
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--address", default=None, metavar="ADDR",
              help="Join a Ray cluster instead of starting a private local Ray.")
@click.option("--count", type=click.IntRange(min=1), default=None,
              help="At most N trials in all, the ended ones included (with run_cap in the "
                   "file, the smaller wins).")
@click.option("--num-cpus", type=click.IntRange(min=1), default=None,
              help="Size of the private local Ray [default: all cores].")
@click.option("--num-gpus", type=click.IntRange(min=0), default=None,
              help="GPUs of the private local Ray, a whole number [default: detected].")
@click.option("--rerun-failed", is_flag=True, default=False,
              help="Run the failed trials again first, each as a new trial of its config that "
                   "replaces it (the old entry is kept in rerun_failed.jsonl); reruns count "
                   "toward run_cap/--count in its place.")
def resume(directory: str, address: str | None, count: int | None, num_cpus: int | None,
           num_gpus: int | None, rerun_failed: bool) -> None:
    """Continue an interrupted sweep (Ctrl-C, killed driver, lost head node).

    Finished trials are kept and never run again; unfinished ones start over; grid continues
    without repeating a combination; random and bayes continue from their saved state;
    run_cap counts every trial ever run. Failed trials are not retried, unless
    --rerun-failed: then each runs again with the same config, first, as a new trial that
    replaces the failed one. A warm-started sweep needs no --warm-start again. A sweep with nothing
    left to run says so and starts nothing. Refused while another driver runs the sweep.
    Exit codes as for `raysweep run`, for all of the sweep's trials.

    raysweep resumes from its own JSON files in DIRECTORY and unpickles nothing; the
    programs it runs are those of the sweep, so only resume sweeps you trust.
    """
    from raysweep.analysis.live import LiveView
    from raysweep.analysis.tables import ended_trial_ids, read_meta
    from raysweep.api import resume as resume_sweep
    from raysweep.errors import RaysweepError
    from raysweep.execution.resume import saved_config

    path = Path(directory)
    try:
        meta = read_meta(path)  # says what is wrong with a path that is no sweep
    except RaysweepError as exc:
        fail(str(exc))
    console = make_console()
    if (path / SCRIPT_FILE).is_file():
        from raysweep.cli.script import resume_script

        if rerun_failed:
            fail("--rerun-failed does not apply to a sweep a script's wandb.agent call ran "
                 "yet", f"`raysweep resume {path}` continues it without the failed trials")

        # The trials call a function of the script that ran the sweep: run it again.
        resume_script(path, console, {"address": address, "num_cpus": num_cpus,
                                      "num_gpus": num_gpus}, count)
    try:
        cfg = saved_config(path, meta)
    except SweepConfigError as exc:
        exit_invalid(exc)
    except RaysweepError as exc:
        fail(str(exc))
    # The trials that ended before are summed up in one line, not printed again one by one.
    # Their entries only: the whole tables (every report) would cost seconds in a large sweep.
    kept = ended_trial_ids(path, but_failed=rerun_failed)
    view = LiveView(console, cfg, trial_cap(cfg, count), shown=kept)
    started: list[Path] = []

    def on_start(sweep_dir: Path, _cfg: SweepConfig) -> None:
        started.append(sweep_dir)
        done = len(kept)
        console.print(f"[bold]raysweep[/]: resuming {escape(str(sweep_dir))} "
                      f"({done} trials already ended; {escape(summary(cfg, count))})")
        view.__enter__()

    result = run_with_view(
        view, started,
        lambda: resume_sweep(path, count=count, address=address, num_cpus=num_cpus,
                             num_gpus=num_gpus, on_start=on_start, on_change=view.update,
                             rerun_failed=rerun_failed),
    )
    _finish(console, result)


def _control_command(directory: str | None, what: str) -> None:
    """Ask the driver running a sweep to stop or cancel it (no Ray import: answers at once)."""
    from raysweep.analysis.tables import find_latest_sweep, read_meta
    from raysweep.errors import RaysweepError
    from raysweep.execution.lock import live_holder, request

    try:
        path = Path(directory) if directory else find_latest_sweep()
        read_meta(path)  # the same words as `results` for a path that is no sweep
    except RaysweepError as exc:
        fail(str(exc))
    holder = live_holder(path)
    if holder is None:
        fail(f"no driver is running the sweep in {path}: nothing to {what}",
             f"`raysweep resume {path}` continues it; `raysweep results {path}` shows it")
    import time

    marker = request(path, what)
    # The programs' grace is process.py's (5 s between SIGTERM and SIGKILL).
    then = ("running trials get SIGTERM (SIGKILL 5 s later), then the driver ends"
            if what == "cancel" else "no new trials start; running ones finish")
    make_console().print(
        f"{what} requested for {escape(str(path))} ({escape(marker.name)}): its driver, "
        f"{escape(holder.describe(time.time()))}, sees it within a second; {then}"
    )


@click.command()
@click.argument("directory", type=click.Path(file_okay=False), required=False)
def stop(directory: str | None) -> None:
    """Start no more trials of a running sweep; running trials finish [default: the latest
    sweep].

    Works from any terminal or node that sees the sweep directory.
    """
    _control_command(directory, "stop")


@click.command()
@click.argument("directory", type=click.Path(file_okay=False), required=False)
def cancel(directory: str | None) -> None:
    """Stop a running sweep now: running trials are killed (their whole process groups)
    [default: the latest sweep].

    Works from any terminal or node that sees the sweep directory. The sweep's driver exits
    with code 3; `raysweep resume` continues the sweep.
    """
    _control_command(directory, "cancel")
