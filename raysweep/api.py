"""The Python API: ``raysweep.run``, ``raysweep.resume`` and ``raysweep.results``.

These check their arguments and hand over to :mod:`raysweep.execution.tuner`, which runs the
sweep on Ray Tune; the tables come back from the sweep directory
(:func:`raysweep.analysis.tables.load_results`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raysweep.analysis.tables import SweepResult, find_latest_sweep, load_results
from raysweep.execution.options import RunOptions
from raysweep.sweep.config import load
from raysweep.sweep.model import SweepConfig

if TYPE_CHECKING:
    from raysweep.execution.recorder import SweepRecorder

__all__ = ["SweepResult", "results", "resume", "run"]


def results(path: str | os.PathLike[str] | None = None) -> SweepResult:
    """Load a sweep's tables (finished or running); default: the latest sweep."""
    return load_results(path if path is not None else find_latest_sweep())


def run(
    config: str | os.PathLike[str] | Mapping[str, Any] | SweepConfig,
    function: Callable[..., Any] | None = None,
    count: int | None = None,
    address: str | None = None,
    storage: str | os.PathLike[str] | None = None,
    name: str | None = None,
    seed: int | None = None,
    *,
    resources: Mapping[str, float] | None = None,
    max_concurrent_trials: int | None = None,
    max_failures: int | None = None,
    num_cpus: int | None = None,
    num_gpus: int | None = None,
    wandb: str = "shim",
    on_start: Callable[[Path, SweepConfig], None] | None = None,
    on_change: Callable[[SweepRecorder], None] | None = None,
    extra_callbacks: list[Any] | None = None,
    warm_start: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
) -> SweepResult:
    """Run a sweep and return its results.

    Args:
        config: A sweep file path, a dict (as for ``wandb.sweep``) or a loaded config.
        function: A Python function ``train(config)`` that calls :func:`raysweep.log`; if None,
            the sweep's ``program`` / ``command`` runs as a subprocess per trial.
        count: Maximum number of trials (with ``run_cap``, the smaller one wins).
        address: A Ray cluster to join (``"auto"``, ``"ray://..."``, ``"host:port"``). None
            starts a private local Ray for this sweep (or uses the one already initialised in
            this process).
        storage: Folder for sweep directories. Default: the ``raysweep.storage`` key, else
            ``$RAYSWEEP_STORAGE``, else ``./raysweep_results``.
        name: Name of the sweep directory; default ``<sweep name>-<timestamp>``.
        seed: Seed for random and bayes; overrides ``raysweep.seed``.
        resources: What one trial asks for (``{"cpu": 2, "gpu": 0.5}``); overrides the
            file's ``raysweep.resources``.
        max_concurrent_trials: At most this many trials at once; default: the file's
            ``raysweep.max_concurrent_trials``, else as many as the cluster can run.
        max_failures: Retries of a failed trial (-1: without limit); default: the file's
            ``raysweep.max_failures``, else 0.
        num_cpus: CPUs of the private local Ray (default: all of this machine's).
        num_gpus: GPUs of the private local Ray (default: all of this machine's).
        wandb: What ``import wandb`` gives trials: ``"shim"`` (raysweep's stand-in) or
            ``"real"`` (the installed package, patched to also report to raysweep).
        on_start: Called with the sweep directory and config once the sweep starts.
        on_change: Called with the recorder after each trial event (a live view). The
            recorder keeps what a view shows, whatever the sweep's size: ``counts()``,
            ``best()`` (multi-objective sweeps: ``best_of(name)`` and ``front()``, the
            Pareto front), ``recent(n)`` (the last trials to start), ``ended_since(mark)``,
            ``total``; its ``trials`` holds the trials that have not ended. The ended ones are
            in the sweep directory (:func:`results`).
        extra_callbacks: More Ray Tune callbacks. The ``trials`` lists Tune passes them hold
            the trials that have not ended: raysweep lets Tune forget the others.
        warm_start: Earlier results the searcher learns before its first proposal: sweep
            directories, or CSV / Parquet files with a column per parameter (dotted paths
            for nested ones) and one for the metric (its last value; empty or a ``status``
            of ``failed``: a failed run). Bayes starts from them, grid skips the combinations
            they ran, random draws as without them. They are not trials of this sweep and do
            not count toward ``count``/``run_cap``; ``warm_start.json`` in the sweep
            directory lists the sources. Rows of configs outside the space are skipped, with
            one warning.

    Returns:
        The sweep's tables: ``.trials``, ``.history``, ``.best``, ``.path``. How the sweep
        ended is ``.meta["ended_by"]``: None (it ran out of trials), ``"stop"``,
        ``"cancel"``, ``"guard"`` (its first trials all failed), ``"target"`` (an
        objective of a multi-objective sweep reached its ``target``) or ``"interrupt"``
        (Ctrl-C); ``.meta["end_reason"]`` says it in words. Multi-objective sweeps have
        ``.pareto`` (the nondominated trials) and a ``pareto`` column in ``.trials``.

    Raises:
        SweepConfigError: the sweep file is invalid.
        RaysweepError: the sweep cannot start (no program, Ray cluster not reachable,
            another driver already running a sweep of that name, a ``warm_start`` source
            that is not one, ...).
    """
    from raysweep.execution.tuner import run_sweep

    if isinstance(warm_start, str | os.PathLike):
        warm_start = [warm_start]
    options = RunOptions(
        count=count, address=address, storage=storage, name=name, seed=seed,
        resources=resources, max_concurrent_trials=max_concurrent_trials,
        max_failures=max_failures, num_cpus=num_cpus, num_gpus=num_gpus, wandb=wandb,
        on_start=on_start, on_change=on_change, extra_callbacks=list(extra_callbacks or ()),
        warm_start=list(warm_start or ()),
    )
    return run_sweep(load(config), function, options)


def resume(
    path: str | os.PathLike[str],
    function: Callable[..., Any] | None = None,
    *,
    count: int | None = None,
    seed: int | None = None,
    address: str | None = None,
    max_concurrent_trials: int | None = None,
    max_failures: int | None = None,
    num_cpus: int | None = None,
    num_gpus: int | None = None,
    resources: Mapping[str, float] | None = None,
    wandb: str | None = None,
    on_start: Callable[[Path, SweepConfig], None] | None = None,
    on_change: Callable[[SweepRecorder], None] | None = None,
    extra_callbacks: list[Any] | None = None,
    rerun_failed: bool = False,
) -> SweepResult:
    """Continue a sweep that was interrupted (Ctrl-C, a killed driver, a lost head node).

    Ended trials (finished, stopped early, failed) are kept and never run again (failed ones
    run again with ``rerun_failed``); trials that
    were running are dropped and their configurations run again first; grid continues without
    repeating a combination; random and bayes continue from their saved state; ``run_cap``
    counts every trial that ended; the hyperband histories are restored, so band decisions
    are the same as without the interruption.

    raysweep resumes from its own JSON files in the sweep directory (``searcher.json`` and
    ``.jsonl``, ``scheduler.json`` and ``.jsonl``, ``trials.jsonl``), not from Ray's pickles.

    Args:
        path: The sweep directory.
        function: The Python function of a function sweep (programs need nothing).
        count: At most this many trials in all, the ended ones included (with ``run_cap``,
            the smaller one wins).
        seed: Seeds the searcher if its saved state is missing (it continues otherwise).
        wandb: As for :func:`run`; default: what the sweep was started with.
        rerun_failed: Run the failed trials again first, each as a new trial of its
            configuration that replaces it (its entry moves to ``rerun_failed.jsonl``; the
            reruns count toward ``run_cap`` in its place). A warm-started sweep needs no
            ``warm_start`` again: its searcher's saved state holds the earlier results.
        address, max_concurrent_trials, max_failures, num_cpus, num_gpus, resources,
        on_start, on_change, extra_callbacks: As for :func:`run`.

    Returns:
        As for :func:`run`. A sweep with nothing left to run starts no Ray and comes back
        with ``.meta["ended_by"] == "nothing"``.

    Raises:
        RaysweepError: another driver is running the sweep (naming it), or the sweep cannot
            continue.
    """
    from raysweep.execution.tuner import resume_sweep

    options = RunOptions(
        count=count, seed=seed, address=address, resources=resources,
        max_concurrent_trials=max_concurrent_trials,
        max_failures=max_failures, num_cpus=num_cpus, num_gpus=num_gpus,
        wandb=wandb if wandb is not None else "shim", on_start=on_start,
        on_change=on_change, extra_callbacks=list(extra_callbacks or ()),
        rerun_failed=rerun_failed,
    )
    return resume_sweep(Path(path).resolve(), function, options, wandb_given=wandb is not None)
