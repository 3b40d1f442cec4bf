"""Trial bodies that Ray Tune runs: a W&B-style program, or a Python function.

A **program trial** expands the sweep's ``command`` (W&B macros,
:mod:`raysweep.sweep.command`) into an argv list, runs it from the sweep file's directory (or,
with ``raysweep: {workdir: trial}``, from its trial folder) in its own process group, writes
its output to ``program.log`` in the trial directory and turns each report line
(:mod:`raysweep.program.metrics`) into one ``ray.tune.report`` call, i.e. one step for the
schedulers.
When the trial ends or is stopped, the program's whole process group is killed. The folder of
the interpreter that runs raysweep comes first on the program's ``PATH``, so a command that
calls a literal ``python`` gets the interpreter that has raysweep and the user's packages.

A **function trial** calls ``function(config)`` in the Ray worker; ``raysweep.log`` inside it
reports to Tune. With ``workdir: trial`` it runs with its trial folder as working directory.

Both kinds of trial can ``import wandb``: program trials find raysweep's stand-in first on
``PYTHONPATH`` (or, with ``wandb="real"``, the installed package, patched to also report
to raysweep); function trials get the same through
:func:`raysweep.program.wandb_agent.function_trial`.

Only what a trial needs travels to the workers (:class:`ProgramSpec`), not the whole config.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import shutil
import socket
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raysweep.errors import ProgramFailedError
from raysweep.files import COMPLETED_FILE
from raysweep.program.checkpoint_store import STEP_OFFSET_KEY, CheckpointStore, FolderWatch
from raysweep.sweep.command import build_argv
from raysweep.sweep.model import SweepConfig, Workdir

__all__ = ["ProgramLaunch", "ProgramSpec", "make_trainable", "prepare_program"]

# Keys raysweep adds to every report; the results tables read them and hide them from metrics.
GPUS_KEY = "raysweep_gpus"
NODE_KEY = "raysweep_node"


@dataclass(frozen=True)
class ProgramSpec:
    """What a worker needs to run one program trial.

    Attributes:
        command: The sweep's ``command`` (macros unexpanded), or None for W&B's default.
        program: The sweep's ``program``.
        directory: Where the program runs: the sweep file's directory.
        sweep_id: Identifies the sweep in ``WANDB_SWEEP_ID``.
        kill_grace_s: Seconds between SIGTERM and SIGKILL when a trial is stopped.
        wandb: Which ``wandb`` the program imports: ``"shim"`` (raysweep's stand-in) or
            ``"real"`` (the installed package, patched to also report to raysweep).
        workdir: Where the program runs: ``directory``, or its trial folder
            (``raysweep.workdir``).
        artifacts: W&B artifact names and absolute local paths (``raysweep.artifacts``), as
            ``(name, path)`` pairs.
    """

    command: tuple[Any, ...] | None
    program: str | None
    directory: str
    sweep_id: str
    sweep_dir: str | None = None
    kill_grace_s: float = 5.0
    wandb: str = "shim"
    workdir: Workdir = Workdir.SHARED
    artifacts: tuple[tuple[str, str], ...] = ()
    checkpoints: CheckpointStore | None = None

    @classmethod
    def from_config(
        cls, cfg: SweepConfig, sweep_id: str, sweep_dir: str | None = None, wandb: str = "shim",
        checkpoints: CheckpointStore | None = None,
    ) -> ProgramSpec:
        return cls(
            command=cfg.command,
            program=cfg.program,
            directory=str(cfg.directory),
            sweep_id=sweep_id,
            sweep_dir=sweep_dir,
            wandb=wandb,
            workdir=cfg.options.workdir,
            artifacts=tuple(cfg.artifact_paths().items()),
            checkpoints=checkpoints,
        )


def check_runnable(cfg: SweepConfig) -> None:
    """Before Ray starts: show the config's warnings, and raise if the sweep cannot run as a
    program sweep.

    Each of ``cfg.warnings`` (a misspelled ``${args}``, an ignored key) is issued as a
    :class:`~raysweep.errors.RaysweepWarning` naming the file, key path and line, as
    ``raysweep validate`` lists them. The refusal is
    :func:`raysweep.sweep.config.program_issues`, the check ``raysweep validate`` makes.

    Raises:
        SweepConfigError: The command runs ``${program}`` and the sweep names none, or the
            program is not found.
    """
    import warnings

    from raysweep.errors import RaysweepWarning, SweepConfigError
    from raysweep.sweep.config import program_issues

    source = str(cfg.path) if cfg.path else None
    for issue in cfg.warnings:
        # stacklevel 4: the user's raysweep.run() / resume() call, through run_sweep.
        warnings.warn(f"{source or 'sweep config'}: {issue.render()}", RaysweepWarning,
                      stacklevel=4)
    issues = program_issues(cfg)
    if issues:
        raise SweepConfigError(issues, source)


def make_trainable(
    cfg: SweepConfig,
    sweep_id: str,
    function: Callable[..., Any] | None = None,
    sweep_dir: str | None = None,
    wandb: str = "shim",
    checkpoints: CheckpointStore | None = None,
) -> Callable[[dict[str, Any]], None]:
    """Return the function Ray Tune runs for each trial.

    ``sweep_dir`` is where trial logs go when the worker can see it (local or shared storage);
    otherwise they stay in Ray's trial directory, which Ray syncs to the storage. ``wandb``
    picks the package behind ``import wandb`` (see :class:`ProgramSpec`). ``checkpoints``:
    the sweep's checkpoint folders when paused trials resume from them
    (:mod:`raysweep.program.checkpoint_store`).
    """
    if function is not None:
        return _function_trainable(function, sweep_id, sweep_dir, wandb, cfg.options.workdir,
                                   cfg.artifact_paths(), checkpoints)
    return _program_trainable(
        ProgramSpec.from_config(cfg, sweep_id, sweep_dir, wandb, checkpoints))


def trial_directory(spec_sweep_dir: str | None, trial_id: str) -> Path:
    """The directory of a trial's files (log, parameter files), created if needed."""
    from ray import tune

    if spec_sweep_dir and os.path.isdir(spec_sweep_dir):
        path = Path(spec_sweep_dir) / f"trial_{trial_id}"
    else:
        path = Path(tune.get_context().get_trial_dir())
    path.mkdir(parents=True, exist_ok=True)
    return path


def _node_info() -> dict[str, str]:
    import ray

    try:
        gpus = ",".join(str(g) for g in ray.get_gpu_ids())
    except Exception:  # noqa: BLE001 - outside a Ray worker (unit tests): no GPUs known
        gpus = ""
    return {GPUS_KEY: gpus, NODE_KEY: socket.gethostname()}


class _Pause(Exception):
    """A program reached the step where it pauses: it is stopped before its report goes to
    Tune, so it cannot save a later state over the one that belongs to this step."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(payload)  # in args, so that a copy keeps it
        self.payload = payload


def _reporter(
    extra: Mapping[str, str], watch: FolderWatch | None = None, *, pause_first: bool = False
) -> Callable[[Mapping[str, Any]], None]:
    """Forward each report to Tune, with ``extra`` added. With ``watch`` (a trial of a sweep
    that resumes from checkpoints): note whether the checkpoint folder changed before the
    report, and count its steps on from the segment's start; with ``pause_first``, raise
    :class:`_Pause` at the segment's end instead of reporting (the caller stops the program,
    then reports)."""
    from ray import tune

    count = 0

    def report(metrics: Mapping[str, Any]) -> None:
        nonlocal count
        count += 1
        payload = dict(metrics)
        payload.update(extra)
        if watch is not None:
            step = watch.segment.start + count
            watch.report(step)
            if watch.segment.start:
                payload[STEP_OFFSET_KEY] = watch.segment.start
            if pause_first and watch.pauses_at(step):
                raise _Pause(payload)
        # A function trial needs no pause of its own: Tune's report blocks until the driver
        # has the result, and a stop ends the trial inside it.
        tune.report(payload)

    return report


@contextlib.contextmanager
def checkpoint_segment(
    store: CheckpointStore | None, trial_id: str, environ: dict[str, str] | None = None
) -> Iterator[FolderWatch | None]:
    """For the block, the trial's checkpoint folder watched, and named (with the step it
    resumes from) in ``environ`` (default: this process's environment, restored afterwards).
    Without a store, nothing."""
    if store is None or not os.path.isdir(os.path.dirname(store.root)):
        # Also where this worker cannot see the sweep folder (storage not shared): no
        # checkpoints, and the driver, finding none, has the configuration train again.
        yield None
        return
    from raysweep.program.checkpoint import CHECKPOINT_DIR_ENV, RESUMED_STEP_ENV

    watch = FolderWatch(store, store.segment(trial_id))
    names = {CHECKPOINT_DIR_ENV: str(watch.folder), RESUMED_STEP_ENV: str(watch.segment.start)}
    if environ is not None:
        environ.update(names)  # a program's environment, made for this trial alone
    try:
        with environment_set(names) if environ is None else contextlib.nullcontext():
            yield watch
    finally:
        store.discard_if_empty(watch.segment.lineage)


def _program_trainable(spec: ProgramSpec) -> Callable[[dict[str, Any]], None]:
    def raysweep_program(config: dict[str, Any]) -> None:
        run_program_trial(spec, config)

    return raysweep_program


def run_program_trial(spec: ProgramSpec, config: dict[str, Any]) -> None:
    """Run one program trial inside a Ray worker. Raises ProgramFailedError on a bad exit."""
    from ray import tune

    from raysweep.execution.process import run_program

    trial_id = tune.get_context().get_trial_id()
    trial_dir = trial_directory(spec.sweep_dir, trial_id)
    launch = prepare_program(spec, config, trial_id, trial_dir, os.environ)
    with checkpoint_segment(spec.checkpoints, trial_id, launch.env) as watch:
        try:
            outcome = run_program(
                launch.argv,
                cwd=launch.cwd,
                env=launch.env,
                log_path=str(trial_dir / "program.log"),
                on_report=_reporter(_node_info(), watch, pause_first=True),
                term_grace_s=spec.kill_grace_s,
                # The scheduler stopped the trial at its last report, after the program had
                # ended on its own: the driver reads this to record the trial as finished.
                on_exit_before_stop=lambda: (trial_dir / COMPLETED_FILE).write_text(
                    "the program exited 0 before the scheduler's stop reached it\n",
                    encoding="utf-8",
                ),
            )
        except _Pause as pause:
            # Paused at its rung, the program already stopped: now the report, whose answer
            # is the scheduler's stop.
            if watch is not None:
                watch.stopped()
            tune.report(pause.payload)
            return
    bad = ""
    if outcome.bad_report_lines:
        s = "s" if outcome.bad_report_lines != 1 else ""
        bad = (f"{outcome.bad_report_lines} invalid @raysweep line{s} skipped (first: "
               f"{outcome.first_bad_report})")
    if outcome.returncode != 0 and not outcome.killed:
        tail = outcome.log_tail.rstrip() or "(no output)"
        raise ProgramFailedError(
            f"program exited with status {outcome.returncode}" + (f" ({bad})" if bad else "")
            + f"; last lines of trial_{trial_id}/program.log:\n{tail}"
        )
    if bad and outcome.n_reports == 0 and not outcome.killed:
        # Every report the program made was unreadable: the trial has no result at all, and a
        # "finished" trial without a word would hide why.
        raise ProgramFailedError(
            f"program exited with status 0 but reported nothing valid: {bad}. A report is "
            '@raysweep followed by a JSON object, e.g. @raysweep {"loss": 0.25}; see '
            f"trial_{trial_id}/program.log"
        )


@dataclass(frozen=True)
class ProgramLaunch:
    """How one program trial starts: argv, working directory and complete environment."""

    argv: list[str]
    cwd: str
    env: dict[str, str]


def prepare_program(
    spec: ProgramSpec,
    config: Mapping[str, Any],
    trial_id: str,
    trial_dir: Path,
    environ: Mapping[str, str],
) -> ProgramLaunch:
    """Build what starts one program trial, writing its parameter files (no Ray needed).

    With ``workdir: shared`` the program runs in the sweep file's directory. With ``trial`` it
    runs in ``trial_dir``: the items of argv that name the program's scripts become absolute
    (:func:`anchor_scripts`), and the sweep file's directory's ``config-defaults.yaml`` is
    copied into ``trial_dir``, where ``wandb.init`` (the stand-in's and W&B's) reads it.
    """
    env = trial_environment(environ, spec, trial_id, trial_dir, config)
    per_trial = spec.workdir is Workdir.TRIAL
    # Absolute here, in the worker: a relative directory means the one the shared programs run
    # in, relative to the worker's folder.
    directory = os.path.abspath(spec.directory)
    program = spec.program
    if per_trial and program is not None:
        program = os.path.join(directory, program)
    argv = build_argv(
        spec.command,
        program=program,
        params=config,
        interpreter=sys.executable,
        env_cmd="/usr/bin/env" if os.path.exists("/usr/bin/env") else None,
        args_json_file=str(trial_dir / "config.json"),
        environ=env,
        node=socket.gethostname(),  # named when an ${envvar:NAME} is not set on this node
    )
    if not per_trial:
        return ProgramLaunch(argv, spec.directory, env)
    copy_config_defaults(directory, trial_dir)
    return ProgramLaunch(anchor_scripts(argv, directory, spec.program), str(trial_dir), env)


def anchor_scripts(argv: Sequence[str], directory: str, program: str | None) -> list[str]:
    """Make the items of ``argv`` that name the program's scripts absolute paths in
    ``directory``, for a program that runs in another folder.

    Those items are the sweep's ``program`` as written, a relative ``argv[0]`` with a path
    separator (``./run.sh``), and any other item ending in ``.py`` that names a file in
    ``directory``. Other relative paths are left alone: they name files in the trial's folder.

    >>> anchor_scripts(["python", "train.py", "--lr=1", "out.pkl"], "/p", "train.py")
    ['python', '/p/train.py', '--lr=1', 'out.pkl']
    >>> anchor_scripts(["./run.sh", "--x=1"], "/p", None)
    ['/p/run.sh', '--x=1']
    """
    out: list[str] = []
    for i, item in enumerate(argv):
        script = (
            item == program
            or (i == 0 and os.sep in item)
            or (item.endswith(".py") and not item.startswith("-")
                and os.path.isfile(os.path.join(directory, item)))
        )
        if script and not os.path.isabs(item):
            item = os.path.normpath(os.path.join(directory, item))
        out.append(item)
    return out


def copy_config_defaults(source_dir: str, trial_dir: Path) -> None:
    """Copy W&B's ``config-defaults.yaml`` from ``source_dir`` into ``trial_dir``, if there is
    one: ``wandb.init`` reads it from the working directory."""
    from raysweep.program.wandb_init import DEFAULTS_FILE

    source = Path(source_dir) / DEFAULTS_FILE
    if source.is_file():
        shutil.copyfile(source, trial_dir / DEFAULTS_FILE)


def first_on_path(
    entries: Sequence[str], current: str | None, *, relative_to: str | None = None
) -> str:
    """Return the search path ``current`` (``PATH``, ``PYTHONPATH``) with ``entries`` first.

    Each entry appears once: later copies are dropped, the other items keep their order.
    Folders are compared as written, never through symlinks (a venv's ``bin`` holds links to
    the base interpreter; resolving them would lose the venv). With ``relative_to``, relative
    items of ``current`` are made absolute against it.

    >>> first_on_path(["/venv/bin"], "/usr/bin:/venv/bin/:/bin")
    '/venv/bin:/usr/bin:/bin'
    >>> first_on_path(["/p"], ".:lib", relative_to="/p")
    '/p:/p/lib'
    """
    items = current.split(os.pathsep) if current else []
    if relative_to is not None:
        items = [os.path.join(relative_to, i) if not os.path.isabs(i) else i for i in items]
    firsts = {os.path.normpath(e) for e in entries}
    rest = [i for i in items if not (i and os.path.normpath(i) in firsts)]
    return os.pathsep.join([*entries, *rest])


def path_with_interpreter(current: str | None, executable: str = sys.executable) -> str:
    """Return ``PATH`` with the folder of ``executable`` (raysweep's interpreter) first.

    A command that calls a literal ``python`` (``command: [python, train.py, ${args}]``, or
    ``${env} python``) then runs the interpreter that has raysweep and the user's packages,
    not whichever ``python`` comes first on the workers' ``PATH``. A ``PATH`` that is not set
    stands for the operating system's default, as it does for the program's start.

    >>> path_with_interpreter("/usr/bin:/bin", "/home/u/.venv/bin/python")
    '/home/u/.venv/bin:/usr/bin:/bin'
    """
    current = os.defpath if current is None else current
    if not executable:  # an embedded interpreter may not know its executable
        return current
    return first_on_path([os.path.dirname(os.path.abspath(executable))], current)


def trial_environment(
    base: Mapping[str, str],
    spec: ProgramSpec,
    trial_id: str,
    trial_dir: Path,
    config: Mapping[str, Any],
) -> dict[str, str]:
    """The environment of a program trial, including what a W&B agent gives its runs.

    Writes the parameter files W&B scripts may read: ``config.json`` (for ``${args_json_file}``)
    and ``config-<run>.yaml`` (``WANDB_SWEEP_PARAM_PATH``: ``wandb_version: 1`` followed by
    ``{name: {value: v}}`` entries, as the W&B agent writes it). Puts the ``wandb`` stand-in
    first on ``PYTHONPATH``; ``RAYSWEEP_WANDB`` tells it to stay or to load the real package.
    Puts raysweep's interpreter's folder first on ``PATH`` (:func:`path_with_interpreter`).
    With ``workdir: trial``, the sweep file's directory comes next on ``PYTHONPATH`` (the
    program runs elsewhere and its modules must still import), and relative ``PYTHONPATH``
    items keep meaning that directory.
    """
    from raysweep.program.metrics import TRIAL_ID_ENV
    from raysweep.program.wandb_agent import agent_environment
    from raysweep.program.wandb_package import pythonpath_with_shim

    (trial_dir / "config.json").write_text(json.dumps(config, default=str), encoding="utf-8")
    pythonpath = base.get("PYTHONPATH")
    if spec.workdir is Workdir.TRIAL:
        directory = os.path.abspath(spec.directory)
        pythonpath = first_on_path([directory], pythonpath, relative_to=directory)
    env = dict(base)
    env.update(agent_environment(config, trial_id=trial_id, trial_dir=trial_dir,
                                 sweep_id=spec.sweep_id, mode=spec.wandb,
                                 artifacts=dict(spec.artifacts)))
    env.update(
        {
            TRIAL_ID_ENV: trial_id,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": pythonpath_with_shim(pythonpath),
            "PATH": path_with_interpreter(base.get("PATH")),
        }
    )
    return env


def _function_trainable(
    function: Callable[..., Any],
    sweep_id: str,
    sweep_dir: str | None,
    wandb: str,
    workdir: Workdir = Workdir.SHARED,
    artifacts: Mapping[str, str] | None = None,
    checkpoints: CheckpointStore | None = None,
) -> Callable[[dict[str, Any]], None]:
    from ray import cloudpickle

    takes_config = _takes_argument(function)
    # Pickled apart from this closure and loaded inside `function_trial`, so that an
    # `import wandb` the function brings along (a notebook's global) finds the right package.
    pickled = cloudpickle.dumps(function)  # type: ignore[no-untyped-call]

    def raysweep_function(config: dict[str, Any]) -> None:
        from ray import tune

        from raysweep.program.metrics import set_function_reporter

        trial_id = tune.get_context().get_trial_id()
        trial_dir = trial_directory(sweep_dir, trial_id)
        with checkpoint_segment(checkpoints, trial_id) as watch:
            previous = set_function_reporter(_reporter(_node_info(), watch))
            try:
                _call_function(config, trial_id, trial_dir)
            finally:
                set_function_reporter(previous)

    def _call_function(config: dict[str, Any], trial_id: str, trial_dir: Path) -> None:
        from raysweep.program.wandb_agent import function_trial

        with interpreter_first_on_path(), function_trial(
            config, trial_id=trial_id, trial_dir=trial_dir, sweep_id=sweep_id, mode=wandb,
            artifacts=artifacts,
        ):
            loaded = cloudpickle.loads(pickled)
            with (working_directory(trial_dir) if workdir is Workdir.TRIAL
                  else contextlib.nullcontext()):
                if takes_config:
                    loaded(config)
                else:
                    loaded()

    return raysweep_function


@contextlib.contextmanager
def interpreter_first_on_path() -> Iterator[None]:
    """For the block, raysweep's interpreter's folder first on this process's ``PATH``, as a
    program trial gets it: a function trial that starts a literal ``python`` in a subprocess
    runs the interpreter with the user's packages. Restored afterwards."""
    with environment_set({"PATH": path_with_interpreter(os.environ.get("PATH"))}):
        yield


@contextlib.contextmanager
def environment_set(values: Mapping[str, str]) -> Iterator[None]:
    """For the block, ``values`` in this process's environment; each name's earlier value (or
    its absence) restored afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def working_directory(path: Path) -> Iterator[None]:
    """Run the block with ``path`` as working directory (a function trial's ``workdir: trial``).

    The previous folder's ``config-defaults.yaml`` is copied in (``wandb.init`` reads it from
    the working directory), and relative ``sys.path`` items (a notebook's ``''``) are made
    absolute against the previous folder for the block, so that the modules the function
    imports late still resolve. Ray runs one trial at a time per worker process, so changing
    the process's folder for the trial is safe.
    """
    previous = os.getcwd()
    saved_path = list(sys.path)
    copy_config_defaults(previous, path)
    sys.path[:] = [p if os.path.isabs(p) else os.path.join(previous, p) for p in sys.path]
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)
        sys.path[:] = saved_path


def _takes_argument(function: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return True
    positional = [
        p
        for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    return bool(positional)
