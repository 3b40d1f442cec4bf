"""``raysweep.run``: run a sweep on Ray Tune and return its tables.

Data flow: ``load(config)`` -> ``make_searcher`` (method) + ``make_scheduler``
(early_terminate) + ``make_trainable`` (program or function) -> ``tune.Tuner(...).fit()`` ->
the sweep directory -> :func:`raysweep.analysis.tables.load_results`.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raysweep.analysis.tables import (
    ENDED_STATUSES,
    META_FILE,
    SweepResult,
    default_storage,
    load_results,
    read_meta,
)
from raysweep.errors import RaysweepError, SweepConfigError
from raysweep.execution.slots import ClusterSlots
from raysweep.sweep.config import Method, SweepConfig, load

if TYPE_CHECKING:
    from raysweep.execution.cluster import ClusterShape
    from raysweep.execution.recorder import SweepRecorder

__all__ = ["RunOptions", "SweepResult", "results", "resume", "run", "sweep_name"]

# Ray reads these when its modules are imported: set them first (ray-tune-notes §0.8, §3).
_RAY_QUIET_ENV = {
    "RAY_AIR_NEW_OUTPUT": "0",
    "RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS": "0",
    # raysweep records every report itself (history.jsonl, trials.json) and never reads Tune's
    # per-trial result.json / progress.csv / TensorBoard files: writing them cost about a fifth
    # of the driver's time in short trials (benchmarks/README.md). "0" brings them back.
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "RAY_DEDUP_LOGS": "0",
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "100000",
    "TUNE_WARN_SLOW_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "100000",
    # A report without the sweep's metric is a normal step (W&B skips such rows); Tune would
    # otherwise end the whole sweep with a ValueError on the first one.
    "TUNE_DISABLE_STRICT_METRIC_CHECKING": "1",
}
# Trials must run where the user expects (their cwd for functions); programs get an explicit cwd.
_WORKER_ENV = {"RAY_CHDIR_TO_TRIAL_DIR": "0"}


@dataclass
class RunOptions:
    """Settings of one run that are not part of the sweep file (CLI flags / keyword args)."""

    count: int | None = None
    address: str | None = None
    storage: str | os.PathLike[str] | None = None
    name: str | None = None
    seed: int | None = None
    resources: Mapping[str, float] | None = None
    max_concurrent_trials: int | None = None
    max_failures: int | None = None
    num_cpus: int | None = None
    num_gpus: int | None = None
    on_start: Callable[[Path, SweepConfig], None] | None = None
    on_change: Callable[[SweepRecorder], None] | None = None
    extra_callbacks: list[Any] = field(default_factory=list)
    # What `import wandb` gives trials: "shim" (the stand-in) or "real" (see wandb_compat).
    wandb: str = "shim"


def sweep_name(cfg: SweepConfig) -> str:
    """Default name of a sweep directory: the sweep's name or file stem, then a timestamp."""
    base = cfg.name or (cfg.path.stem if cfg.path else "sweep")
    base = re.sub(r"[^A-Za-z0-9_.-]+", "-", base).strip("-.") or "sweep"
    return f"{base}-{time.strftime('%Y%m%d-%H%M%S')}"


def results(path: str | os.PathLike[str] | None = None) -> SweepResult:
    """Load a sweep's tables (finished or running); default: the latest sweep."""
    from raysweep.analysis.tables import find_latest_sweep

    return load_results(path if path is not None else find_latest_sweep())


def run(
    config: str | os.PathLike[str] | Mapping[str, Any] | SweepConfig,
    function: Callable[..., Any] | None = None,
    count: int | None = None,
    address: str | None = None,
    storage: str | os.PathLike[str] | None = None,
    name: str | None = None,
    seed: int | None = None,
    **kwargs: Any,
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
        storage: Folder (or ``s3://``/``gs://`` URI) for sweep directories. Default: the
            ``raysweep.storage`` key, else ``$RAYSWEEP_STORAGE``, else ``./raysweep_results``.
        name: Name of the sweep directory; default ``<sweep name>-<timestamp>``.
        seed: Seed for random and bayes; overrides ``raysweep.seed``.
        **kwargs: Further :class:`RunOptions` (``resources``, ``max_concurrent_trials``,
            ``max_failures``, ``num_cpus``, ``num_gpus``, callbacks, ``wandb="shim"|"real"``:
            the ``wandb`` package trials import, raysweep's stand-in or the installed one).

    Returns:
        The sweep's tables: ``.trials``, ``.history``, ``.best``, ``.path``.

    Raises:
        SweepConfigError: the sweep file is invalid.
        RaysweepError: the sweep cannot start (no program, Ray cluster not reachable, ...).
    """
    options = RunOptions(count=count, address=address, storage=storage, name=name, seed=seed,
                         **kwargs)
    cfg = load(config)
    return run_sweep(cfg, function, options)


def _storage_root(cfg: SweepConfig, options: RunOptions) -> str:
    if options.storage is not None:
        raw = str(options.storage)
    elif cfg.options.storage is not None:
        raw = cfg.options.storage
        if "://" not in raw and not os.path.isabs(os.path.expanduser(raw)):
            raw = str(cfg.directory / raw)  # relative to the sweep file, like `program`
    else:
        raw = str(default_storage())
    if "://" in raw:
        return raw
    return str(Path(raw).expanduser().resolve())


def _trial_count(cfg: SweepConfig, options: RunOptions) -> int:
    caps = [c for c in (options.count, cfg.run_cap) if c is not None]
    return min(caps) if caps else -1


def _resources(cfg: SweepConfig, options: RunOptions) -> dict[str, float]:
    res = cfg.options.resources.as_ray()
    for key, value in (options.resources or {}).items():
        upper = key.upper() if key.lower() in ("cpu", "gpu") else key
        res[upper] = float(value)
    return {k: v for k, v in res.items() if v}


def _make_storage(root: Path) -> None:
    """Create the folder that holds sweep directories, before Ray starts, or say why not."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RaysweepError(
            f"cannot create the results folder {root}: {exc.strerror or exc}. Choose another "
            "with --storage (or `raysweep: {storage: DIR}` in the sweep file)"
        ) from None


def _unreachable(address: str | None, reason: object) -> RaysweepError:
    return RaysweepError(
        f"cannot reach the Ray cluster at {address!r}: {reason}. Start one with "
        "`ray start --head`, check the address (`ray status` on the head node shows it), or "
        "run without --address to use a private local Ray"
    )


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a ``host:port`` nobody answers at: Ray would retry for minutes."""
    import socket

    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or "://" in address:
        return  # "auto", "ray://...": Ray resolves those itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise _unreachable(address, exc.strerror or exc) from None


def _check_whole(name: str, value: object, least: int) -> None:
    """None, or a whole number >= least (what the CLI's integer ranges allow)."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or value < least):
        raise RaysweepError(f"{name} must be a whole number >= {least}, got {value!r}")


def _check_options(options: RunOptions, function: object) -> None:
    """Keyword arguments of the Python API that the CLI's types would have refused: a clear
    error before anything starts, instead of a TypeError deep inside, or a sweep that runs
    with a value that means something else (``count=0`` is not "no limit")."""
    if function is not None and not callable(function):
        raise RaysweepError(
            f"function must be a Python function train(config) that calls raysweep.log, got "
            f"{type(function).__name__} {function!r}"
        )
    if options.wandb not in ("shim", "real"):
        raise RaysweepError(
            f"wandb must be 'shim' (raysweep's stand-in) or 'real' (the installed wandb "
            f"package), got {options.wandb!r}"
        )
    folder = options.name
    if folder is not None and (not isinstance(folder, str) or folder in ("", ".", "..")
                               or "/" in folder or os.sep in folder):
        # A path would put the sweep directory outside the storage folder.
        raise RaysweepError(
            f"name must be a folder name for the sweep directory (no '/'), got {folder!r}; "
            "choose where sweep directories go with storage= (--storage)"
        )
    for name, least in (("count", 1), ("seed", 0), ("max_concurrent_trials", 1),
                        ("max_failures", -1)):
        _check_whole(name, getattr(options, name), least)
    if options.resources is not None:
        from raysweep.sweep.config import resource_issues

        problems = resource_issues(options.resources)
        if problems:
            said = "; ".join(
                f"{i.path.removeprefix('raysweep.resources').lstrip('.') or 'it'} {i.message}"
                + (f" ({i.hint})" if i.hint else "")
                for i in problems
            )
            raise RaysweepError(
                f"resources={options.resources!r} is not a per-trial resource request: {said}"
            )


def _check_local_size(options: RunOptions) -> None:
    """Ray counts a node's CPUs and GPUs in whole units (it would raise its own ValueError);
    trials may still ask for fractions of them."""
    _check_whole("num_cpus", options.num_cpus, 1)
    _check_whole("num_gpus", options.num_gpus, 0)


def _init_ray(options: RunOptions) -> bool:
    """Start or join Ray; return True if this call started it (and must shut it down)."""
    for key, value in _RAY_QUIET_ENV.items():
        os.environ.setdefault(key, value)
    for key, value in _WORKER_ENV.items():
        os.environ.setdefault(key, value)
    if options.address:
        _check_reachable(options.address)  # also when Ray is up: a wrong address is a mistake
    else:
        _check_local_size(options)
    import ray

    if ray.is_initialized():
        return False
    runtime_env = {"env_vars": dict(_WORKER_ENV)}
    common: dict[str, Any] = {
        "logging_level": "ERROR",
        "log_to_driver": False,
        "runtime_env": runtime_env,
        "configure_logging": True,
    }
    try:
        if options.address:
            ray.init(address=options.address, **common)
        else:
            # "local" always starts a new instance: never attach to a stale cluster by accident
            # (ray-tune-notes §0.7).
            ray.init(
                address="local",
                num_cpus=options.num_cpus,
                num_gpus=options.num_gpus,
                include_dashboard=False,
                **common,
            )
    except ConnectionError as exc:
        raise _unreachable(options.address, exc) from None
    return True


def _check_feasible(resources: dict[str, float], shape: ClusterShape) -> None:
    """Fail fast if no node of the cluster, nor any node type its autoscaler may add, can ever
    give one trial what it asks for (Ray would wait forever).
    See :mod:`raysweep.execution.cluster`."""
    from raysweep.execution.cluster import unfit_message

    message = unfit_message(resources, shape)
    if message is not None:
        raise RaysweepError(message)


def run_sweep(
    cfg: SweepConfig, function: Callable[..., Any] | None, options: RunOptions
) -> SweepResult:
    """Run ``cfg`` (see :func:`run`)."""
    from raysweep.execution.trainable import check_runnable

    _check_options(options, function)
    if function is None:
        check_runnable(cfg)
    storage = _storage_root(cfg, options)
    name = options.name or sweep_name(cfg)
    if "://" in storage:
        # Checked before Ray starts: nothing would run.
        raise RaysweepError(
            f"remote storage URIs are not supported yet ({storage}); use a folder that every "
            "node can reach (a shared file system), e.g. --storage /shared/raysweep_results"
        )
    sweep_dir = Path(storage) / name
    if (sweep_dir / META_FILE).exists():
        raise RaysweepError(
            f"a sweep named {name!r} already exists in {storage}; continue it with "
            f"`raysweep resume {sweep_dir}`, or choose another --name"
        )
    _make_storage(sweep_dir.parent)
    started_ray = _init_ray(options)
    try:
        return _fit(cfg, function, options, storage, name, sweep_dir)
    finally:
        if started_ray:
            import ray

            ray.shutdown()


def _write_meta(sweep_dir: Path, cfg: SweepConfig, name: str, wandb: str = "shim") -> None:
    import json

    import yaml

    from raysweep.files import write_json_atomic
    from raysweep.sweep.space import dotted

    sweep_dir.mkdir(parents=True, exist_ok=True)
    meta = {
        "name": name,
        "method": str(cfg.method),
        "metric": cfg.metric.name if cfg.metric else None,
        "goal": str(cfg.metric.goal) if cfg.metric else None,
        "mode": cfg.metric.mode if cfg.metric else "min",
        "parameters": [dotted(p) for p, _ in cfg.parameters],
        "early_terminate": cfg.early_terminate.type if cfg.early_terminate else None,
        "source": str(cfg.path) if cfg.path else None,
        "run_cap": cfg.run_cap,
        "wandb": wandb,
        "created": time.time(),
    }
    write_json_atomic(sweep_dir / META_FILE, meta, sync=True)
    (sweep_dir / "sweep.yaml").write_text(
        yaml.safe_dump(json.loads(json.dumps(cfg.raw, default=str)), sort_keys=False),
        encoding="utf-8",
    )


def _fit(
    cfg: SweepConfig,
    function: Callable[..., Any] | None,
    options: RunOptions,
    storage: str,
    name: str,
    sweep_dir: Path,
    resume: _ResumePlan | None = None,
) -> SweepResult:
    from ray import tune

    from raysweep.execution.cluster import cluster_shape
    from raysweep.execution.control import SweepControl
    from raysweep.execution.recorder import SEARCHER_FILE, StopReasons, SweepRecorder
    from raysweep.execution.trainable import make_trainable
    from raysweep.schedulers import make_callbacks, make_scheduler
    from raysweep.search import make_searcher

    searcher = make_searcher(cfg, seed=options.seed)
    scheduler = make_scheduler(cfg.early_terminate, cfg.metric)
    if callable(getattr(scheduler, "rerun", None)):
        searcher.take_reruns_from(scheduler)  # type: promotion: re-runs before new proposals
    num_samples = _trial_count(cfg, options)
    if resume is not None:
        _restore_scheduler(scheduler, sweep_dir, resume)
        _restore_searcher(searcher, scheduler, sweep_dir, cfg, resume)
        if num_samples > 0:
            num_samples -= resume.ended
            if num_samples <= 0:
                return load_results(sweep_dir)
    searcher.autosave_to(str(sweep_dir / SEARCHER_FILE))
    resources = _resources(cfg, options)
    shape = cluster_shape()
    _check_feasible(resources, shape)
    slots = ClusterSlots(resources, can_grow=bool(shape.autoscaling))
    if cfg.method is Method.BAYES:
        # Each proposal made before the others' results arrive is made on guesses: no more
        # outstanding than can run (with max_concurrent_trials, Tune's limit applies too).
        searcher.limit_outstanding(slots)
    trainable = tune.with_resources(
        make_trainable(cfg, name, function, str(sweep_dir), options.wandb), resources
    )
    if resume is None:
        _write_meta(sweep_dir, cfg, name, wandb=options.wandb)
    recorder = SweepRecorder(
        sweep_dir,
        cfg.metric.name if cfg.metric else None,
        cfg.metric.mode if cfg.metric else "min",
        stop_reasons=StopReasons(scheduler),
        on_change=options.on_change,
    )
    control = SweepControl(sweep_dir, searcher)
    control.clear_markers()
    max_concurrent = options.max_concurrent_trials or cfg.options.max_concurrent_trials
    max_failures = (
        options.max_failures if options.max_failures is not None else cfg.options.max_failures
    )
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            scheduler=scheduler,
            num_samples=num_samples,
            max_concurrent_trials=max_concurrent,
            reuse_actors=True,
            trial_name_creator=lambda t: f"trial_{t.trial_id}",
            trial_dirname_creator=lambda t: f"trial_{t.trial_id}",
        ),
        run_config=tune.RunConfig(
            name=name,
            storage_path=storage,
            verbose=0,
            failure_config=tune.FailureConfig(max_failures=max_failures),
            # Trial files written where the worker cannot see the storage reach it this way.
            sync_config=tune.SyncConfig(sync_artifacts=True),
            callbacks=[*make_callbacks(scheduler), recorder, control, *options.extra_callbacks],
            stop=control,
        ),
    )
    with _pending_trials(max_concurrent, slots):
        return _drive(tuner, sweep_dir, cfg, options, recorder, control)


_PENDING_ENV = "TUNE_MAX_PENDING_TRIALS_PG"


@contextlib.contextmanager
def _pending_trials(max_concurrent: int | None, slots: ClusterSlots) -> Iterator[None]:
    """Let Tune start as many trials at once as the cluster can run, for this sweep only.

    With a custom searcher and no ``max_concurrent_trials``, Tune keeps one trial waiting for
    a worker at a time (``tune_controller._get_max_pending_trials``), so trials start one by
    one: trials shorter than an actor start run one after another however many CPUs there
    are, and a cluster's slots fill one actor start at a time. At least 4 may wait, so an
    autoscaler sees demand. Bayes is held back by its searcher instead
    (``TuneSearcher.limit_outstanding``). With ``max_concurrent_trials`` Tune uses that; a
    value the user set in the environment wins. Tune reads the variable when the run starts;
    it is put back as it was afterwards.
    """
    if os.environ.get(_PENDING_ENV) or max_concurrent:
        yield
        return
    os.environ[_PENDING_ENV] = str(max(4, min(slots(), 256)))
    try:
        yield
    finally:
        os.environ.pop(_PENDING_ENV, None)


def _drive(
    tuner: Any,
    sweep_dir: Path,
    cfg: SweepConfig,
    options: RunOptions,
    recorder: SweepRecorder | None,
    control: Any,
) -> SweepResult:
    """Run ``tuner`` to its end, keeping the live view attached, and load the tables."""
    from raysweep.execution.recorder import LISTENERS

    if options.on_change is not None:
        LISTENERS[str(sweep_dir)] = options.on_change
    if options.on_start is not None:
        options.on_start(sweep_dir, cfg)
    import logging

    # Tune logs each trial error with a traceback and a summary at the end; raysweep shows
    # both itself (results table, live view), so keep the terminal clean.
    quiet = [logging.getLogger(n) for n in ("ray.tune", "ray.train", "ray.air")]
    levels = [lg.level for lg in quiet]
    for lg in quiet:
        lg.setLevel(logging.CRITICAL)
    try:
        grid = tuner.fit()
    finally:
        for lg, level in zip(quiet, levels, strict=True):
            lg.setLevel(level)
        LISTENERS.pop(str(sweep_dir), None)
        if recorder is not None:
            recorder.snapshot(force=True)
            recorder.close()
    del grid  # the tables come from the sweep directory, which has every trial
    result = load_results(sweep_dir)
    result.meta["end_reason"] = getattr(control, "reason", None)
    return result


def resume(
    path: str | os.PathLike[str],
    function: Callable[..., Any] | None = None,
    **kwargs: Any,
) -> SweepResult:
    """Continue a sweep that was interrupted (Ctrl-C, a killed driver, a lost head node).

    Ended trials (finished, stopped early, failed) are kept and never run again; trials that
    were running are dropped and their configurations run again first; grid continues without
    repeating a combination; random and bayes continue from their saved state; ``run_cap``
    counts every trial that ended; the hyperband histories are restored, so band decisions
    are the same as without the interruption.

    raysweep resumes from its own JSON files in the sweep directory (``searcher.json``,
    ``scheduler.json``, ``trials.json``), not from Ray's pickles.

    Args:
        path: The sweep directory.
        function: The Python function of a function sweep (programs need nothing).
        **kwargs: ``address`` and the other :class:`RunOptions`.
    """

    sweep_dir = Path(path).resolve()
    meta = read_meta(sweep_dir)
    cfg = saved_config(sweep_dir, meta)
    options = RunOptions(**kwargs)
    if "wandb" not in kwargs:
        options.wandb = meta.get("wandb", "shim")  # resume as the sweep was started
    _check_options(options, function)
    options.storage = str(sweep_dir.parent)
    options.name = sweep_dir.name
    plan = _reconcile(sweep_dir, cfg)
    if function is None:
        from raysweep.execution.trainable import check_runnable

        check_runnable(cfg)
    started_ray = _init_ray(options)
    try:
        return _fit(cfg, function, options, str(sweep_dir.parent), sweep_dir.name, sweep_dir,
                    resume=plan)
    finally:
        if started_ray:
            import ray

            ray.shutdown()


def saved_config(sweep_dir: Path, meta: Mapping[str, Any]) -> SweepConfig:
    """The configuration a sweep directory keeps (``sweep.yaml``, as the sweep started).

    Raises:
        RaysweepError: the file is missing or unreadable (a SweepConfigError if it no longer
            loads).
    """
    from raysweep.sweep.config import loads

    path = sweep_dir / "sweep.yaml"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise RaysweepError(
            f"cannot read the sweep's configuration {path} ({reason}): raysweep resume needs "
            f"the sweep.yaml it saved when the sweep started"
        ) from None
    try:
        # The original file's path: programs run from its directory.
        return loads(text, path=meta.get("source") or str(path))
    except SweepConfigError as exc:
        # But the problems (and their line numbers) are in the saved copy: name that.
        raise type(exc)(exc.issues, str(path)) from None


@dataclass
class _ResumePlan:
    """What a resumed sweep must know about its past (see :func:`_reconcile`)."""

    ended: int
    dropped_ids: set[str]
    dropped_configs: dict[str, dict[str, Any]]  # trial id -> config


def _reconcile(sweep_dir: Path, cfg: SweepConfig) -> _ResumePlan:
    """Keep the ended trials of an interrupted sweep and drop the rest from its files.

    Trials that had not ended when the driver died are removed from ``trials.json`` and
    ``history.jsonl`` (atomically): they run again, as new trials with the same config.
    """
    import json

    from raysweep.analysis.tables import HISTORY_FILE, TRIALS_FILE
    from raysweep.files import write_json_atomic, write_text_atomic

    trials_path = sweep_dir / TRIALS_FILE
    try:
        entries = json.loads(trials_path.read_text(encoding="utf-8")).get("trials", [])
    except (OSError, ValueError):
        entries = []
    kept = [e for e in entries if e.get("status") in ENDED_STATUSES]
    dropped = [e for e in entries if e.get("status") not in ENDED_STATUSES]
    dropped_ids = {str(e.get("trial_id")) for e in dropped}
    write_json_atomic(trials_path, {"trials": kept, "updated": time.time()}, sync=True)
    history = sweep_dir / HISTORY_FILE
    if dropped_ids and history.exists():
        lines = history.read_text(encoding="utf-8").splitlines(keepends=True)
        keep_lines = []
        for line in lines:
            if not line.endswith("\n"):
                continue  # cut by the crash
            try:
                tid = json.loads(line).get("trial_id")
            except ValueError:
                continue
            if tid not in dropped_ids:
                keep_lines.append(line)
        write_text_atomic(history, "".join(keep_lines), sync=True)
    configs = {str(e.get("trial_id")): e.get("config") or {}
               for e in dropped if e.get("config") is not None}
    return _ResumePlan(ended=len(kept), dropped_ids=dropped_ids, dropped_configs=configs)


def _saved_state(path: Path) -> Any | None:
    """A state file the sweep wrote for resume (None if it has none), or a clear error."""
    import json

    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RaysweepError(
            f"{path} is damaged ({exc}): raysweep resume needs it to continue the sweep where "
            f"it stopped. The results so far stay readable (`raysweep results {path.parent}`)"
        ) from None


def _restore_searcher(
    searcher: Any, scheduler: Any, sweep_dir: Path, cfg: SweepConfig, plan: _ResumePlan
) -> None:
    """Load the searcher's autosaved state and queue the interrupted trials' configs (after
    :func:`_restore_scheduler`, which keeps the re-runs of promoted configurations)."""
    from raysweep.execution.recorder import SEARCHER_FILE

    state = _saved_state(sweep_dir / SEARCHER_FILE)
    if state is not None:
        searcher.set_state(state)
    searcher.abandon_live()
    # A trial the recorder saw running but the searcher already closed (the driver died
    # between the two writes) must run again too.
    # A re-run of a promoted configuration is the scheduler's to run again, not a proposal.
    runs_again = getattr(scheduler, "runs_again", None)
    flats = [cfg.parameters.flatten(c) for tid, c in plan.dropped_configs.items()
             if not (callable(runs_again) and runs_again(tid, c))]
    searcher.requeue([f for f in flats if len(f) == len(cfg.parameters)])


def _restore_scheduler(scheduler: Any, sweep_dir: Path, plan: _ResumePlan) -> None:
    """Load the scheduler's state saved at the last trial end, minus the dropped trials."""
    from raysweep.execution.recorder import SCHEDULER_FILE

    if not callable(getattr(scheduler, "resume_from", None)):
        return  # no early termination, or a scheduler with nothing to restore
    state = _saved_state(sweep_dir / SCHEDULER_FILE)
    if state is not None:
        scheduler.resume_from(state, plan.dropped_ids)
