"""The stand-in's runs: ``init``, ``log``, ``finish``, ``define_metric`` and the rest of W&B's API.

The W&B rules these follow live in ``raysweep.program`` (its package docstring
maps them); this module holds the state of the ``wandb`` module (``run``, ``config``,
``summary``) and the API around it. Names it does not define are no-ops (``_soft``).
"""

from __future__ import annotations

import atexit
import importlib
import os
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from raysweep.files import write_json_atomic
from raysweep.program import wandb_agent
from raysweep.program.checkpoint import checkpoint_dir
from raysweep.program.once import PROGRAM_DIR, warn_once
from raysweep.program.wandb_config import Config
from raysweep.program.wandb_files import (
    RESUMING,
    RunFiles,
    resume_error,
    resume_mode,
    resumed_steps,
)
from raysweep.program.wandb_history import History, report_row
from raysweep.program.wandb_init import RUN_ID_ENV, SWEEP_ID_ENV, TRIAL_DIR_ENV, init_config
from raysweep.program.wandb_summary import MetricDefinition, Summary

from . import _artifacts
from ._media import take_media
from ._soft import SoftModuleFinder, is_soft, soft
from .errors import CommError, Error, UsageError
from .util import generate_id

__version__ = "0.19.0+raysweep.shim"

run: Run | None = None
config: Config = Config()
summary: Summary = Summary()

_package: types.ModuleType | None = None
_atexit_registered = False


def bind(package: types.ModuleType) -> None:
    """Remember the ``wandb`` package module, whose ``run``/``config``/``summary`` we set.

    Also registers :func:`end_trial` for function trials and the finder of unknown submodules.
    """
    global _package
    _package = package
    wandb_agent.set_trial_end(end_trial)
    if not any(isinstance(f, SoftModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(SoftModuleFinder())


def _set_globals(**values: Any) -> None:
    globals().update(values)
    if _package is not None:
        for name, value in values.items():
            setattr(_package, name, value)


class Settings:
    """``wandb.Settings(...)``: accepts any setting and keeps it as an attribute."""

    def __init__(self, **kwargs: Any) -> None:
        self.__dict__.update(kwargs)


class Run:
    """A run of the stand-in: what ``wandb.init()`` returns and ``wandb.run`` holds.

    Attributes:
        id: ``WANDB_RUN_ID`` in a sweep (raysweep's trial id), else a random id.
        config: The run's :class:`raysweep.program.wandb_config.Config` (also ``wandb.config``).
        summary: The run's :class:`raysweep.program.wandb_summary.Summary` (also
            ``wandb.summary``).
        sweep_id: ``WANDB_SWEEP_ID`` (raysweep's sweep name) or None.
    """

    offline = True
    disabled = False
    url: str | None = None
    entity: str | None = None
    # W&B's id for attaching another process to the run; None means "start a run there"
    # (Lightning's WandbLogger keeps it when pickled for spawned workers).
    _attach_id: str | None = None

    def __init__(
        self,
        *,
        run_id: str,
        name: str,
        project: str,
        entity: str | None,
        config: Config,
        reports: bool,
        sweep_id: str | None,
        directory: str | None,
        group: str | None = None,
        job_type: str | None = None,
        tags: Any = None,
        notes: str | None = None,
        resume: str | None = None,
        start_step: int = 0,
        checkpoints: Path | None = None,
    ) -> None:
        self.id = run_id
        self.name = name
        self.project = project
        self.entity = entity
        self.config = config
        self.sweep_id = sweep_id
        self.group = group
        self.job_type = job_type
        self.tags = tuple(tags or ())
        self.notes = notes
        self._definitions: list[MetricDefinition] = []
        self.summary = Summary(self._definitions)
        self._history = History(start_step)
        self._start_step = start_step
        self._resume = resume
        self._reports = reports
        self._dir = directory
        self._pid = os.getpid()
        self._finished = False
        # Saved files are checkpoints only where W&B would resume the run (resume=...).
        self._files = RunFiles(lambda: self.dir,
                               checkpoints if resume in RESUMING else None)
        self._held: tuple[int | None, dict[str, Any]] | None = None

    # Attributes of W&B's Run that scripts read ------------------------------------------------

    @property
    def step(self) -> int:
        """The step the next ``log`` call writes to (a resumed run goes on from its steps)."""
        return self._history.step

    @property
    def starting_step(self) -> int:
        """The run's first step: the steps it had when resumed, else 0."""
        return self._start_step

    @property
    def resumed(self) -> bool:
        """Whether the run goes on from a paused trial's saved state: the trial resumes its
        configuration, and ``wandb.init(resume=...)`` allowed it."""
        return self._start_step > 0 and self._resume in RESUMING

    @property
    def dir(self) -> str:
        """A folder for the run's files: the trial directory in a raysweep trial.

        Outside a trial, a folder of this run's own: ``<dir>/wandb/run-<id>/files`` (as W&B
        lays it out) with ``wandb.init(dir=...)``, else a new temporary folder.
        """
        if self._dir is None:
            import tempfile

            self._dir = tempfile.mkdtemp(prefix=f"wandb-{self.id}-")
        return self._dir

    @property
    def display_name(self) -> str:
        """The run's name (W&B's older name for it)."""
        return self.name

    def project_name(self) -> str:
        """The run's project."""
        return self.project

    @property
    def path(self) -> str:
        """``entity/project/id``, as W&B names a run."""
        return "/".join(p for p in (self.entity, self.project, self.id) if p)

    def get_url(self) -> str | None:
        """None: without a W&B server the run has no web page (nor do the next two)."""
        return None

    def get_project_url(self) -> str | None:
        return None

    def get_sweep_url(self) -> str | None:
        return None

    # The API -----------------------------------------------------------------------------

    def log(
        self,
        data: Mapping[str, Any],
        step: int | None = None,
        commit: bool | None = None,
        sync: bool | None = None,
    ) -> None:
        """Log one row (or part of one) of metrics; see
        :class:`raysweep.program.wandb_history.History`.

        Each committed row is one raysweep report (one step for early termination).
        """
        if self._finished:
            warn_once(
                f"log-finished-{self.id}",
                f"Run {self.id} is finished. The call to `log` will be ignored.",
            )
            return
        if not isinstance(data, Mapping):
            raise ValueError("wandb.log must be passed a dictionary")
        if step is not None:
            try:
                step = int(step)
            except (TypeError, ValueError):
                warn_once(f"step-{step!r}", f"wandb.log: step={step!r} is not an int; "
                                 "ignored")
                step = None
        data = {k: v for k, v in data.items() if not is_soft(v)}
        data = take_media(self, data, step)  # saved in the trial folder, never metrics
        for row_step, row in self._history.log(data, step, None if commit is None else
                                               bool(commit)):
            self._commit(row_step, row)

    def _commit(self, step: int | None, row: Mapping[str, Any]) -> None:
        clean = report_row(row, step, send=False)
        self.summary.observe(clean)
        if not self._reports:
            return
        self._send_held()
        self._files.reported()
        if self._files.holds_reports():
            # The script saves the state of this step after logging it: the report waits
            # for that save (or the next row), so that its state is in the folder first.
            self._held = (step, clean)
        else:
            self._send(step, clean)

    def _send(self, step: int | None, row: Mapping[str, Any]) -> None:
        self._files.before_report()
        report_row(row, step)

    def _send_held(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            self._send(*held)

    def save(
        self,
        glob_str: Any,
        base_path: Any = None,
        policy: str = "live",
        glob: bool = True,
    ) -> list[str]:
        """Save files with the run: in a sweep that resumes trials from checkpoints, copy
        what ``glob_str`` matches into the trial's checkpoint folder now (and, with
        ``policy="live"``, again before each report when they changed); see
        :mod:`raysweep.program.wandb_files`. Returns the copies' paths.
        """
        if self._files.folder is None:
            _save_does_nothing(self._resume)
            return []
        saved = self._files.save(glob_str, base_path, policy, glob)
        self._send_held()
        return saved

    def restore(
        self,
        name: str,
        run_path: str | None = None,
        replace: bool = False,
        root: str | None = None,
    ) -> Any:
        """``wandb.restore`` for this run: see :func:`restore`."""
        return restore(name, run_path or self.path, replace, root or self.dir)

    def define_metric(
        self,
        name: str,
        step_metric: str | None = None,
        step_sync: bool | None = None,
        hidden: bool | None = None,
        summary: str | None = None,
        goal: str | None = None,
        overwrite: bool | None = None,
        **kwargs: Any,
    ) -> MetricDefinition:
        """Declare how a metric is summarised (``summary="min"``...); it is reported as logged."""
        definition = MetricDefinition(
            name, step_metric=step_metric, summary=summary, goal=goal, hidden=hidden
        )
        self._definitions.append(definition)
        return definition

    def use_artifact(self, artifact_or_name: Any, *args: Any, **kwargs: Any) -> Any:
        """The local artifact the sweep file maps the name to (``raysweep.artifacts``)."""
        return _artifacts.use_artifact(self, artifact_or_name, *args, **kwargs)

    def log_artifact(self, artifact_or_path: Any, *args: Any, **kwargs: Any) -> Any:
        """Copy the artifact's files into the trial folder's ``artifacts/<name>/``."""
        return _artifacts.log_artifact(self, artifact_or_path, *args, **kwargs)

    def log_model(self, path: Any, *args: Any, **kwargs: Any) -> Any:
        """``log_artifact`` of type ``model``."""
        return _artifacts.log_model(self, path, *args, **kwargs)

    def use_model(self, name: str) -> str:
        """The local path the sweep file maps the model ``name`` to."""
        return _artifacts.use_model(self, name)

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """Commit the last row, write ``summary.json`` to the trial directory, end the run."""
        self._end(report=True)

    def _end(self, report: bool) -> None:
        if self._finished:
            return
        self._finished = True
        if self._pid != os.getpid():
            return  # a forked copy: the process that created the run finishes it
        if report:
            row = self._history.flush()
            if row is not None:
                self._commit(*row)
            self._send_held()
            unlogged = self.summary.unlogged()
            if unlogged and self._reports:
                # W&B's sweeps read the summary too: a metric only ever set there still counts.
                report_row(unlogged, None)
        trial_dir = os.environ.get(TRIAL_DIR_ENV)
        if self._reports and trial_dir and os.path.isdir(trial_dir):
            write_json_atomic(Path(trial_dir) / "summary.json", self.summary.as_dict(), indent=2)
        if run is self:
            _set_globals(run=None)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.finish(exit_code=0)
            return
        try:
            self.finish(exit_code=1)
        except BaseException:  # noqa: BLE001 - keep the exception that ended the block
            pass

    def __repr__(self) -> str:
        return f"<wandb Run {self.id} (raysweep stand-in)>"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            # Dunders stay missing, so that copy, pickle and hasattr probes work.
            raise AttributeError(name)
        if name.startswith("_"):
            # W&B's private members that integrations call (Hugging Face's
            # `run._label(code=...)`, `run._set_config_wandb(...)`): silent no-ops.
            return soft(f"Run.{name}", f"wandb.run.{name}", warn=False)
        return soft(f"Run.{name}", f"wandb.run.{name}")


def init(
    config: Any = None,
    project: str | None = None,
    entity: str | None = None,
    name: str | None = None,
    reinit: Any = None,
    id: str | None = None,  # noqa: A002 - W&B's name
    dir: str | None = None,  # noqa: A002 - W&B's name
    *,
    group: str | None = None,
    job_type: str | None = None,
    tags: Any = None,
    notes: str | None = None,
    config_exclude_keys: Any = None,
    config_include_keys: Any = None,
    resume: Any = None,
    resume_from: Any = None,
    fork_from: Any = None,
    **kwargs: Any,
) -> Run:
    """Start a run: defaults from ``config-defaults.yaml`` and ``config``, then the sweep's.

    ``resume`` has W&B's meaning in a sweep that resumes trials from checkpoints (see
    :mod:`raysweep.program.wandb_files`). Every other argument of W&B's ``init`` is accepted
    and ignored.
    """
    if sum(o is not None for o in (fork_from, resume, resume_from)) > 1:
        raise ValueError("`fork_from`, `resume`, or `resume_from` are mutually exclusive. "
                         "Please specify only one of them.")
    if resume_from is not None or fork_from is not None:
        warn_once("resume-from", "wandb.init(resume_from=... / fork_from=...) is ignored: "
                  "raysweep's wandb stand-in cannot rewind or fork a run (there is no W&B "
                  "server); the run starts as a new one", outside=(PROGRAM_DIR,))
    current = run
    if current is not None and not current._finished and current._pid == os.getpid():
        if reinit in (None, False, "default", "return_previous"):
            warn_once(
                "init-twice",
                "wandb.init() was called while a run is active; returning that run (pass "
                "reinit=True to finish it and start another)",
            )
            return current
        current.finish()
    run_id_env = os.environ.get(RUN_ID_ENV) or None
    sweep_id = os.environ.get(SWEEP_ID_ENV) or None
    if id and run_id_env and id != run_id_env:
        warn_once("init-id", "Ignored wandb.init() arg id when running a sweep.")
    run_id = run_id_env or id or generate_id()
    mode = resume_mode(resume)
    # Only the sweep's run is the trial's: a run a script starts beside it resumes nothing.
    checkpoints = checkpoint_dir() if run_id_env else None
    start = resumed_steps() if checkpoints is not None else 0
    refused = resume_error(mode, run_id, start, checkpoints is not None)
    if refused is not None:
        raise UsageError(refused)

    cfg = init_config(
        config, include_keys=config_include_keys, exclude_keys=config_exclude_keys
    )
    trial_dir = os.environ.get(TRIAL_DIR_ENV)
    new = Run(
        run_id=run_id,
        name=name or os.environ.get("WANDB_NAME") or f"run-{run_id}",
        project=project or os.environ.get("WANDB_PROJECT") or "uncategorized",
        entity=entity or os.environ.get("WANDB_ENTITY"),
        config=cfg,
        reports=run_id_env is not None,
        sweep_id=sweep_id,
        directory=trial_dir if run_id_env and trial_dir else _run_folder(dir, run_id),
        group=group,
        job_type=job_type,
        tags=tags,
        notes=notes,
        resume=mode,
        start_step=start,
        checkpoints=checkpoints,
    )
    _set_globals(run=new, config=cfg, summary=new.summary)
    _register_atexit()
    return new


def _run_folder(base: Any, run_id: str) -> str | None:
    """``<base>/wandb/run-<id>/files`` (created), W&B's folder for a run's files; None
    without ``base``."""
    if base is None:
        return None
    folder = Path(os.fspath(base)) / "wandb" / f"run-{run_id}" / "files"
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder)


def log(
    data: Mapping[str, Any],
    step: int | None = None,
    commit: bool | None = None,
    sync: bool | None = None,
) -> None:
    """``wandb.log``: log to the active run (:meth:`Run.log`)."""
    if run is None:
        raise Error("You must call wandb.init() before wandb.log()")
    run.log(data, step=step, commit=commit, sync=sync)


def define_metric(name: str, *args: Any, **kwargs: Any) -> MetricDefinition:
    """``wandb.define_metric``: see :meth:`Run.define_metric`."""
    if run is None:
        raise Error("You must call wandb.init() before wandb.define_metric()")
    return run.define_metric(name, *args, **kwargs)


def use_artifact(artifact_or_name: Any, *args: Any, **kwargs: Any) -> Any:
    """``wandb.use_artifact``: see :meth:`Run.use_artifact`."""
    if run is None:
        raise Error("You must call wandb.init() before wandb.use_artifact()")
    return run.use_artifact(artifact_or_name, *args, **kwargs)


def log_artifact(artifact_or_path: Any, *args: Any, **kwargs: Any) -> Any:
    """``wandb.log_artifact``: see :meth:`Run.log_artifact`."""
    if run is None:
        raise Error("You must call wandb.init() before wandb.log_artifact()")
    return run.log_artifact(artifact_or_path, *args, **kwargs)


def log_model(path: Any, *args: Any, **kwargs: Any) -> Any:
    """``wandb.log_model``: see :meth:`Run.log_model`."""
    if run is None:
        raise Error("You must call wandb.init() before wandb.log_model()")
    return run.log_model(path, *args, **kwargs)


def use_model(name: str) -> str:
    """``wandb.use_model``: see :meth:`Run.use_model`."""
    if run is None:
        raise Error("You must call wandb.init() before wandb.use_model()")
    return run.use_model(name)


def save(
    glob_str: Any, base_path: Any = None, policy: str = "live", glob: bool = True
) -> list[str]:
    """``wandb.save``: see :meth:`Run.save`."""
    if run is None:
        raise Error("You must call wandb.init() before wandb.save()")
    return run.save(glob_str, base_path=base_path, policy=policy, glob=glob)


def restore(
    name: str, run_path: str | None = None, replace: bool = False, root: str | None = None
) -> Any:
    """``wandb.restore``: the file ``name`` saved by this run, as an open file in ``root``
    (default ``run.dir``), as W&B returns it.

    In a trial that resumes its configuration, the file the paused trial saved with
    ``wandb.save`` is copied there from the checkpoint folder. A file already in ``root`` is
    returned as it is unless ``replace``.

    Raises:
        ValueError: As W&B: the run has no such file, or no run and no ``run_path``.
        CommError: ``run_path`` names another run: there is no W&B server to download from.
    """
    current = run if run is not None and not run._finished else None
    if run_path is None and current is None:
        raise ValueError("run_path required when calling wandb.restore before wandb.init")
    this_run = current is not None and (
        run_path is None or str(run_path).rstrip("/").rsplit("/", 1)[-1] == current.id)
    if root is None:
        root = current.dir if current is not None else os.getcwd()
    path = Path(root) / name
    if path.exists() and not replace:
        return open(path)  # W&B returns the file open (text)
    if not this_run or current is None:
        raise CommError(
            f"wandb.restore({name!r}, run_path={run_path!r}): raysweep's wandb stand-in has no "
            "W&B server to download another run's files from. Map the file to a local path "
            "(e.g. an artifact in the sweep's raysweep.artifacts) or run with --wandb real."
        )
    # W&B downloads what the run's earlier trials saved: here, the trial's checkpoint folder.
    folder = checkpoint_dir() if current._reports else None
    found = RunFiles(lambda: current.dir, folder).restore(name, root) if folder else None
    if found is None:
        raise ValueError(
            f"File {name} not found in {run_path or root}. (raysweep: the run has no saved "
            "file of that name; restore only when wandb.run.resumed is True, and save the "
            "file with wandb.save before the paused trial reports its step.)"
        )
    return open(found)


def _save_does_nothing(mode: str | None) -> None:
    if checkpoint_dir() is None:
        why = ("there is no W&B server, and this sweep does not resume trials from "
               "checkpoints; set `early_terminate: {type: promotion, resume: checkpoint}` for "
               "wandb.save files to be a paused trial's state")
    else:
        why = ("the run was started without wandb.init(resume=...), so W&B would never resume "
               "it and its saved files are no checkpoint: its configuration trains again from "
               "the start when promoted. Pass resume='allow' (or set WANDB_RESUME=allow) to "
               "resume it from what it saves")
    warn_once("soft-save", f"wandb.save does nothing under raysweep's wandb stand-in ({why}). "
              "(Shown once.)", outside=(PROGRAM_DIR,))


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """``wandb.finish``: finish the active run, if any."""
    if run is not None:
        run.finish(exit_code=exit_code, quiet=quiet)


def end_trial(report: bool) -> None:
    """Finish the open run at the end of a function trial and reset the module's state.

    Registered with :func:`raysweep.program.wandb_agent.set_trial_end`, so that
    :func:`~raysweep.program.wandb_agent.function_trial` calls it; ``report=False`` when the
    function raised (the trial failed or was stopped: nothing more may be reported).
    """
    if run is not None:
        run._end(report=report)
    _set_globals(run=None, config=Config(), summary=Summary())


def _register_atexit() -> None:
    global _atexit_registered
    if not _atexit_registered:
        _atexit_registered = True
        atexit.register(_finish_at_exit)


def _finish_at_exit() -> None:
    # W&B finishes the active run when the script ends; so do we (last row, summary.json).
    if run is not None:
        run.finish()


def login(*args: Any, **kwargs: Any) -> bool:
    """``wandb.login``: there is nothing to log in to; returns True."""
    warn_once(
        "login",
        "wandb.login() does nothing under raysweep's wandb stand-in (no W&B server is used; "
        "run with --wandb real to log to W&B)",
    )
    return True


def require(*args: Any, **kwargs: Any) -> None:
    """``wandb.require``: W&B's feature switches (``"service"``...); nothing to switch here."""


def setup(*args: Any, **kwargs: Any) -> None:
    """``wandb.setup``: nothing to set up."""


def teardown(*args: Any, **kwargs: Any) -> None:
    """``wandb.teardown``: nothing to tear down."""


def termlog(string: str = "", newline: bool = True, repeat: bool = True, **kwargs: Any) -> None:
    """``wandb.termlog``: print ``wandb: <string>`` to standard error, as W&B does."""
    print(f"wandb: {string}", file=sys.stderr, end="\n" if newline else "")


def termwarn(string: str = "", **kwargs: Any) -> None:
    """``wandb.termwarn``: print ``wandb: WARNING <string>`` to standard error."""
    print(f"wandb: WARNING {string}", file=sys.stderr)


def termerror(string: str = "", **kwargs: Any) -> None:
    """``wandb.termerror``: print ``wandb: ERROR <string>`` to standard error."""
    print(f"wandb: ERROR {string}", file=sys.stderr)


_MORE = ("require",)
"""Functions of this module that ``wandb.<name>`` gives although the package does not import
them by name."""


def __getattr__(name: str) -> Any:
    """Any other ``wandb.<name>``: a submodule of the stand-in (``wandb.sklearn``,
    ``wandb.integration``...) imported on first use, else a no-op (class or callable), with
    one warning."""
    if name.startswith("__"):
        raise AttributeError(f"module 'wandb' has no attribute {name!r}")
    here = Path(__file__).parent
    if name in _MORE:
        value = globals()[name]
    elif (here / f"{name}.py").is_file() or (here / name / "__init__.py").is_file():
        # `wandb.sklearn.plot_roc(...)` without `import wandb.sklearn` works in W&B; and
        # `from wandb import sklearn` must find the module, not a no-op.
        value = importlib.import_module(f"{__package__}.{name}")
    else:
        value = soft(name, f"wandb.{name}")
    if _package is not None:
        setattr(_package, name, value)  # later lookups skip this function (and the warning)
    return value
