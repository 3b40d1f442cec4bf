"""One sweep on Ray Tune: the searcher, scheduler, trainable and recorder wired into a Tuner.

``run_sweep`` starts a new sweep directory and ``resume_sweep`` continues one; both end in
:func:`fit`, which builds the pieces (each from its own module), runs ``Tuner.fit`` and loads
the tables back from the sweep directory (the recorder wrote every trial there).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from raysweep.analysis.tables import SweepResult, load_results, read_meta
from raysweep.analysis.warm_start import WarmStart, read_warm_start
from raysweep.errors import RaysweepError, SweepConfigError
from raysweep.execution.lock import DriverLock
from raysweep.execution.options import (
    RunOptions,
    check_options,
    storage_root,
    sweep_name,
    trial_count,
    trial_resources,
)
from raysweep.execution.ray_session import quiet_callbacks, ray_for
from raysweep.execution.resume import (
    ResumePlan,
    nothing_left,
    reconcile,
    restore_scheduler,
    restore_searcher,
    saved_config,
)
from raysweep.execution.slots import ClusterSlots
from raysweep.files import CONFIG_FILE, META_FILE, SEARCHER_FILE, write_json_atomic
from raysweep.program.checkpoint_store import CHECKPOINTS_DIR, CheckpointStore
from raysweep.sweep.model import Method, SweepConfig

__all__ = ["fit", "resume_sweep", "run_sweep", "write_meta"]


def run_sweep(
    cfg: SweepConfig, function: Callable[..., Any] | None, options: RunOptions
) -> SweepResult:
    """Run ``cfg`` in a new sweep directory (see :func:`raysweep.run`)."""
    from raysweep.execution.trainable import check_runnable

    check_options(options, function)
    check_engine(cfg)
    if function is None:
        check_runnable(cfg)
    # Read now, so a bad source is reported before anything starts.
    warm = options.warm_read
    if warm is None and options.warm_start:
        warm = read_warm_start(options.warm_start, cfg)
    storage = storage_root(cfg, options)
    name = options.name or sweep_name(cfg)
    if "://" in storage:
        # Checked before Ray starts: nothing would run.
        raise RaysweepError(
            f"remote storage URIs are not supported yet ({storage}); use a folder that every "
            "node can reach (a shared file system), e.g. --storage /shared/raysweep_results"
        )
    sweep_dir = Path(storage) / name
    _refuse_existing(sweep_dir, name, storage)
    _make_storage(sweep_dir.parent)
    with DriverLock(sweep_dir, remove_empty_dir=True):
        # Again under the lock: another driver may have started this name meanwhile.
        _refuse_existing(sweep_dir, name, storage)
        with ray_for(options):
            return fit(cfg, function, options, sweep_dir, warm=warm)


def _refuse_existing(sweep_dir: Path, name: str, storage: str) -> None:
    if (sweep_dir / META_FILE).exists():
        raise RaysweepError(
            f"a sweep named {name!r} already exists in {storage}; continue it with "
            f"`raysweep resume {sweep_dir}`, or choose another --name"
        )


def resume_sweep(
    sweep_dir: Path, function: Callable[..., Any] | None, options: RunOptions, *,
    wandb_given: bool,
) -> SweepResult:
    """Continue the sweep in ``sweep_dir`` (see :func:`raysweep.resume`).

    ``wandb_given`` says whether the caller chose ``options.wandb``; if not, the sweep resumes
    with the ``wandb`` it was started with. A sweep with nothing left to run (see
    :func:`~raysweep.execution.resume.nothing_left`) starts no Ray: its tables come back with
    ``meta["ended_by"] == "nothing"`` and the reason in ``meta["end_reason"]``.

    Raises:
        RaysweepError: another driver runs the sweep (its lock is live), or the sweep cannot
            continue (see :func:`run_sweep`).
    """
    from raysweep.execution.trainable import check_runnable

    meta = read_meta(sweep_dir)
    cfg = saved_config(sweep_dir, meta)
    if not wandb_given:
        options.wandb = meta.get("wandb", "shim")
    check_options(options, function)
    check_engine(cfg)
    options.storage = str(sweep_dir.parent)
    options.name = sweep_dir.name
    # Before reconcile: the files belong to a driver that still runs, if there is one.
    with DriverLock(sweep_dir):
        cap = trial_count(cfg, options)
        if options.rerun_failed and cfg.define_by_run:
            raise RaysweepError(
                "--rerun-failed cannot run the failed trials' configurations again in a "
                "define-by-run space (scheduler.search_space): the study proposes every "
                "configuration itself. Resume without --rerun-failed"
            )
        plan = reconcile(sweep_dir, rerun_failed=options.rerun_failed, cap=cap)
        why = nothing_left(sweep_dir, cfg, plan, cap)
        if why is not None:
            result = load_results(sweep_dir)
            if options.rerun_failed and not plan.reruns_failed:
                why += ("; --rerun-failed found no failed trial to run again, or no room "
                        "for one (raise --count)")
            result.meta["end_reason"] = f"nothing left to do: {why}"
            result.meta["ended_by"] = "nothing"
            return result
        if function is None:
            check_runnable(cfg)
        with ray_for(options):
            return fit(cfg, function, options, sweep_dir, resume=plan)


def _make_storage(root: Path) -> None:
    """Create the folder that holds sweep directories, before Ray starts, or say why not."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RaysweepError(
            f"cannot create the results folder {root}: {exc.strerror or exc}. Choose another "
            "with --storage (or `raysweep: {storage: DIR}` in the sweep file)"
        ) from None


def check_engine(cfg: SweepConfig) -> None:
    """Refuse, before Ray starts, a valid sweep this raysweep cannot run here (its engine is
    not installed or not driven: :func:`raysweep.sweep.config.runnable_issues`).

    Raises:
        SweepConfigError: with each reason and its fix.
    """
    from raysweep.sweep.config import runnable_issues

    issues = runnable_issues(cfg)
    if issues:
        raise SweepConfigError(issues, str(cfg.path) if cfg.path else None)


def _saved_raw(cfg: SweepConfig) -> dict[str, Any]:
    """The config document kept with the results: ``scheduler.source`` made absolute, so a
    resume (which reads the copy in the sweep directory) finds the user's hooks."""
    raw = dict(cfg.raw)
    scheduler = raw.get("scheduler")
    if cfg.scheduler is not None and cfg.scheduler.source is not None and isinstance(
            scheduler, dict):
        raw["scheduler"] = {**scheduler, "source": str(cfg.scheduler.source)}
    return raw


def write_meta(sweep_dir: Path, cfg: SweepConfig, name: str, wandb: str = "shim") -> None:
    """Write the sweep directory's metadata and its copy of the configuration."""
    import yaml

    from raysweep.sweep.space import dotted

    sweep_dir.mkdir(parents=True, exist_ok=True)
    meta = {
        "name": name,
        "method": str(cfg.method),
        "metric": cfg.metric.name if cfg.metric else None,
        "goal": str(cfg.metric.goal) if cfg.metric else None,
        "mode": cfg.metric.mode if cfg.metric else "min",
        **({"metrics": [{"name": m.name, "goal": str(m.goal), "mode": m.mode,
                         "target": m.target} for m in cfg.metrics]} if cfg.metrics else {}),
        "parameters": [dotted(p) for p, _ in cfg.parameters],
        "early_terminate": cfg.early_terminate.type if cfg.early_terminate else None,
        "source": str(cfg.path) if cfg.path else None,
        "run_cap": cfg.run_cap,
        # The parameters are chosen run by run (scheduler.search_space): the tables take
        # their columns from the trials, not from `parameters`.
        "define_by_run": cfg.define_by_run,
        "wandb": wandb,
        "created": time.time(),
    }
    write_json_atomic(sweep_dir / META_FILE, meta, sync=True)
    (sweep_dir / CONFIG_FILE).write_text(
        yaml.safe_dump(json.loads(json.dumps(_saved_raw(cfg), default=str)), sort_keys=False),
        encoding="utf-8",
    )


def fit(
    cfg: SweepConfig,
    function: Callable[..., Any] | None,
    options: RunOptions,
    sweep_dir: Path,
    resume: ResumePlan | None = None,
    *,
    warm: WarmStart | None = None,
) -> SweepResult:
    """Build the sweep's Tuner on the running Ray, run it to its end, load its tables.

    ``warm``: earlier results the searcher learns before its first proposal (a new sweep).
    """
    from ray import tune

    from raysweep.execution.cluster import cluster_shape, unfit_message
    from raysweep.execution.control import SweepControl
    from raysweep.execution.recorder import StopReasons, SweepRecorder
    from raysweep.execution.trainable import make_trainable
    from raysweep.ray_internals.registry import cached_trainable_lookups
    from raysweep.ray_internals.trials import FifoForgettingEnded, longer_trial_ids
    from raysweep.schedulers import make_callbacks, make_engine_scheduler, make_scheduler
    from raysweep.search import make_searcher

    name = sweep_dir.name
    # The sweep directory holds an engine's own state (Optuna's study journal).
    searcher = make_searcher(cfg, seed=options.seed, sweep_dir=sweep_dir)
    scheduler = make_scheduler(cfg.early_terminate, cfg.metric)
    if scheduler is None:
        # `scheduler` and `early_terminate` exclude each other: an engine's pruner, if any.
        scheduler = make_engine_scheduler(searcher, cfg.metric)
    checkpoints = checkpoint_store(cfg, sweep_dir)
    if scheduler is not None:
        # The recorder keeps every trial: Tune need not (ray_internals.trials).
        scheduler.forgets_ended_trials = True
        if checkpoints is not None:
            scheduler.use_checkpoints(checkpoints)
        if scheduler.reruns_configurations:
            searcher.take_reruns_from(scheduler)  # type: promotion: re-runs first
    num_samples = trial_count(cfg, options)
    if resume is not None:
        restore_scheduler(scheduler, sweep_dir, resume)
        restore_searcher(searcher, scheduler, sweep_dir, cfg, resume)
        if num_samples > 0:
            num_samples -= resume.ended
            if num_samples <= 0:
                return load_results(sweep_dir)
    if warm is not None and resume is None:
        # Before the first snapshot, which then holds them: a resume restores them from it.
        searcher.warm_start((run.config, run.values) for run in warm.runs)
        warm.save(sweep_dir)
    searcher.autosave_to(str(sweep_dir / SEARCHER_FILE))
    resources = trial_resources(cfg, options)
    shape = cluster_shape()
    # Fail fast if no node, nor any node type an autoscaler may add, can ever give one trial
    # what it asks for: Ray would wait forever.
    unfit = unfit_message(resources, shape)
    if unfit is not None:
        raise RaysweepError(unfit)
    slots = ClusterSlots(resources, can_grow=bool(shape.autoscaling))
    if cfg.method is Method.BAYES:
        # Each proposal made before the others' results arrive is made on guesses: no more
        # outstanding than can run (with max_concurrent_trials, Tune's limit applies too).
        searcher.limit_outstanding(slots)
    trainable = tune.with_resources(
        make_trainable(cfg, name, function, str(sweep_dir), options.wandb, checkpoints),
        resources
    )
    if resume is None:
        write_meta(sweep_dir, cfg, name, wandb=options.wandb)
    recorder = SweepRecorder(
        sweep_dir,
        cfg.metric.name if cfg.metric else None,
        cfg.metric.mode if cfg.metric else "min",
        stop_reasons=StopReasons(scheduler),
        on_change=options.on_change,
        objectives=[(m.name, m.mode) for m in cfg.metrics],
    )
    # A multi-objective sweep's targets end it here; metric.target is the searcher's.
    control = SweepControl(sweep_dir, searcher, targets=[
        (m.name, m.mode, m.target) for m in cfg.metrics if m.target is not None])
    control.clear_markers()
    max_concurrent = options.max_concurrent_trials or cfg.options.max_concurrent_trials
    max_failures = (
        options.max_failures if options.max_failures is not None else cfg.options.max_failures
    )
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            # Without early termination, still a scheduler that lets Tune forget ended trials.
            scheduler=scheduler if scheduler is not None else FifoForgettingEnded(),
            num_samples=num_samples,
            max_concurrent_trials=max_concurrent,
            reuse_actors=True,
            trial_name_creator=lambda t: f"trial_{t.trial_id}",
            trial_dirname_creator=lambda t: f"trial_{t.trial_id}",
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=str(sweep_dir.parent),
            verbose=0,
            failure_config=tune.FailureConfig(max_failures=max_failures),
            # Trial files written where the worker cannot see the storage reach it this way.
            sync_config=tune.SyncConfig(sync_artifacts=True),
            callbacks=[*make_callbacks(scheduler), recorder, control, *quiet_callbacks(),
                       *options.extra_callbacks],
            stop=control,
        ),
    )
    if options.on_start is not None:
        options.on_start(sweep_dir, cfg)
    with _pending_trials(max_concurrent, slots), _quiet_tune_logs(), _ctrl_c_ends(control), \
            cached_trainable_lookups(), longer_trial_ids():
        try:
            tuner.fit()  # the tables come from the sweep directory, which has every trial
        finally:
            recorder.snapshot(force=True)
            recorder.close()
            searcher.close()  # its last snapshot; the journal holds everything before it
            _remove_empty_trial_dirs(sweep_dir)
    result = load_results(sweep_dir)
    result.meta["end_reason"] = control.reason
    result.meta["ended_by"] = control.ended_by
    return result


def checkpoint_store(cfg: SweepConfig, sweep_dir: Path) -> CheckpointStore | None:
    """The sweep's checkpoint folders if its paused trials resume from checkpoints
    (``early_terminate: {type: promotion, resume: checkpoint}``), else None."""
    from raysweep.schedulers import promotion_params

    et = cfg.early_terminate
    if et is None or et.type != "promotion" or et.resume != "checkpoint":
        return None
    # The scheduler's rungs: a first trial pauses at the first.
    rungs = promotion_params(et, cfg.metric).rungs
    return CheckpointStore(sweep_dir / CHECKPOINTS_DIR, rungs)


def _remove_empty_trial_dirs(sweep_dir: Path) -> None:
    """Remove the trial folders that hold nothing (those of the last trials: the others went
    as each trial ended, see ``ray_internals.trials``)."""
    with contextlib.suppress(OSError), os.scandir(sweep_dir) as entries:
        for entry in entries:
            if entry.name.startswith("trial_") and entry.is_dir(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    os.rmdir(entry.path)  # only while empty: what a trial wrote stays


_TUNE_SIGINT_ENV = "TUNE_DISABLE_SIGINT_HANDLER"


@contextlib.contextmanager
def _ctrl_c_ends(control: Any) -> Iterator[None]:
    """Make the first Ctrl-C end the sweep through ``control`` (as ``raysweep cancel`` does),
    so the sweep's end says it was interrupted; a second Ctrl-C raises KeyboardInterrupt.

    Tune's own handler does the same but leaves no trace of the interruption in what ``fit``
    returns; it is switched off for the block. Signal handlers can only be set from the main
    thread: elsewhere (a sweep run from a thread) Ctrl-C is left to Tune.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        yield  # the process was told to ignore Ctrl-C: keep it so
        return

    def first_ctrl_c(signum: int, frame: Any) -> None:
        control.interrupt()
        signal.signal(signal.SIGINT, previous)

    old_env = os.environ.get(_TUNE_SIGINT_ENV)
    os.environ[_TUNE_SIGINT_ENV] = "1"
    signal.signal(signal.SIGINT, first_ctrl_c)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if old_env is None:
            os.environ.pop(_TUNE_SIGINT_ENV, None)
        else:
            os.environ[_TUNE_SIGINT_ENV] = old_env


_PENDING_ENV = "TUNE_MAX_PENDING_TRIALS_PG"


@contextlib.contextmanager
def _pending_trials(max_concurrent: int | None, slots: ClusterSlots) -> Iterator[None]:
    """Let Tune start as many trials at once as the cluster can run, for this sweep only.

    With a custom searcher and no ``max_concurrent_trials``, Tune keeps one trial waiting for
    a worker at a time, so trials start one by one: trials shorter than an actor start run one
    after another however many CPUs there are. At least 4 may wait, so an autoscaler sees
    demand. Bayes is held back by its searcher instead (``TuneSearcher.limit_outstanding``).
    With ``max_concurrent_trials`` Tune uses that; a value the user set in the environment
    wins. Tune reads the variable when the run starts; it is put back as it was afterwards.
    """
    if os.environ.get(_PENDING_ENV) or max_concurrent:
        yield
        return
    os.environ[_PENDING_ENV] = str(max(4, min(slots(), 256)))
    try:
        yield
    finally:
        os.environ.pop(_PENDING_ENV, None)


@contextlib.contextmanager
def _quiet_tune_logs() -> Iterator[None]:
    """Silence Tune's per-trial error tracebacks and end summary for the block: raysweep shows
    both itself (results table, live view), so the terminal stays clean."""
    quiet = [logging.getLogger(n) for n in ("ray.tune", "ray.train", "ray.air")]
    levels = [lg.level for lg in quiet]
    for lg in quiet:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(quiet, levels, strict=True):
            lg.setLevel(level)
