"""The stand-in's runs: ``init``, ``log``, ``finish``, ``define_metric`` and soft no-ops.

See the package docstring and :mod:`raysweep.program.wandb_compat` for the rules.
"""

from __future__ import annotations

import atexit
import importlib.abc
import importlib.machinery
import os
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from raysweep.program import wandb_compat as compat

from .errors import Error
from .util import generate_id

__version__ = "0.19.0+raysweep.shim"

run: Run | None = None
config: compat.Config = compat.Config()
summary: compat.Summary = compat.Summary()

_package: types.ModuleType | None = None
_atexit_registered = False

def bind(package: types.ModuleType) -> None:
    """Remember the ``wandb`` package module, whose ``run``/``config``/``summary`` we set."""
    global _package
    _package = package
    if not any(isinstance(f, _SoftModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(_SoftModuleFinder())


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
        config: The run's :class:`raysweep.program.wandb_compat.Config` (also ``wandb.config``).
        summary: The run's :class:`raysweep.program.wandb_compat.Summary` (also ``wandb.summary``).
        sweep_id: ``WANDB_SWEEP_ID`` (raysweep's sweep name) or None.
    """

    resumed = False
    offline = True
    disabled = False
    url: str | None = None
    entity: str | None = None

    def __init__(
        self,
        *,
        run_id: str,
        name: str,
        project: str,
        entity: str | None,
        config: compat.Config,
        reports: bool,
        sweep_id: str | None,
        directory: str | None,
        group: str | None = None,
        job_type: str | None = None,
        tags: Any = None,
        notes: str | None = None,
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
        self._definitions: list[compat.MetricDefinition] = []
        self.summary = compat.Summary(self._definitions)
        self._history = compat.History()
        self._reports = reports
        self._dir = directory
        self._pid = os.getpid()
        self._finished = False

    # Attributes of W&B's Run that scripts read ------------------------------------------------

    @property
    def step(self) -> int:
        """The step the next ``log`` call writes to."""
        return self._history.step

    @property
    def dir(self) -> str:
        """A folder for the run's files: the trial directory in a raysweep trial."""
        if self._dir is None:
            import tempfile

            self._dir = tempfile.mkdtemp(prefix=f"wandb-{self.id}-")
        return self._dir

    @property
    def path(self) -> str:
        return "/".join(p for p in (self.entity, self.project, self.id) if p)

    def get_url(self) -> str | None:
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
        :class:`raysweep.program.wandb_compat.History`.

        Each committed row is one raysweep report (one step for early termination).
        """
        if self._finished:
            compat.warn_once(
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
                compat.warn_once(f"step-{step!r}", f"wandb.log: step={step!r} is not an int; "
                                 "ignored")
                step = None
        data = {k: v for k, v in data.items() if not isinstance(v, (_Soft, _SoftMeta))}
        for row_step, row in self._history.log(data, step, None if commit is None else
                                               bool(commit)):
            self._commit(row_step, row)

    def _commit(self, step: int | None, row: Mapping[str, Any]) -> None:
        clean = compat.report_row(row, step, send=self._reports)
        self.summary.observe(clean)

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
    ) -> compat.MetricDefinition:
        """Declare how a metric is summarised (``summary="min"``...); it is reported as logged."""
        definition = compat.MetricDefinition(
            name, step_metric=step_metric, summary=summary, goal=goal, hidden=hidden
        )
        self._definitions.append(definition)
        return definition

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
            unlogged = self.summary.unlogged()
            if unlogged and self._reports:
                # W&B's sweeps read the summary too: a metric only ever set there still counts.
                compat.report_row(unlogged, None)
        trial_dir = os.environ.get(compat.TRIAL_DIR_ENV)
        if self._reports and trial_dir and os.path.isdir(trial_dir):
            compat.dump_json(Path(trial_dir) / "summary.json", self.summary.as_dict())
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
        if name.startswith("_"):
            raise AttributeError(name)
        return _soft(f"Run.{name}", f"wandb.run.{name}")


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
    **kwargs: Any,
) -> Run:
    """Start a run: defaults from ``config-defaults.yaml`` and ``config``, then the sweep's.

    Every other argument of W&B's ``init`` is accepted and ignored.
    """
    current = run
    if current is not None and not current._finished and current._pid == os.getpid():
        if reinit in (None, False, "default", "return_previous"):
            compat.warn_once(
                "init-twice",
                "wandb.init() was called while a run is active; returning that run (pass "
                "reinit=True to finish it and start another)",
            )
            return current
        current.finish()
    run_id_env = os.environ.get(compat.RUN_ID_ENV) or None
    sweep_id = os.environ.get(compat.SWEEP_ID_ENV) or None
    if id and run_id_env and id != run_id_env:
        compat.warn_once("init-id", "Ignored wandb.init() arg id when running a sweep.")
    run_id = run_id_env or id or generate_id()

    values: dict[str, Any] = {}
    defaults_file = Path("config-defaults.yaml")
    if defaults_file.is_file():
        values.update(compat.read_config_file(defaults_file))
    values.update(compat.parse_config(config))
    if config_include_keys:
        values = {k: v for k, v in values.items() if k in set(config_include_keys)}
    if config_exclude_keys:
        values = {k: v for k, v in values.items() if k not in set(config_exclude_keys)}
    cfg = compat.Config()
    cfg.set_defaults(values)
    cfg.merge_locked(compat.sweep_values(), user="sweep")

    trial_dir = os.environ.get(compat.TRIAL_DIR_ENV)
    new = Run(
        run_id=run_id,
        name=name or os.environ.get("WANDB_NAME") or f"run-{run_id}",
        project=project or os.environ.get("WANDB_PROJECT") or "uncategorized",
        entity=entity or os.environ.get("WANDB_ENTITY"),
        config=cfg,
        reports=run_id_env is not None,
        sweep_id=sweep_id,
        directory=dir or (trial_dir if run_id_env else None),
        group=group,
        job_type=job_type,
        tags=tags,
        notes=notes,
    )
    _set_globals(run=new, config=cfg, summary=new.summary)
    _register_atexit()
    return new


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


def define_metric(name: str, *args: Any, **kwargs: Any) -> compat.MetricDefinition:
    """``wandb.define_metric``: see :meth:`Run.define_metric`."""
    if run is None:
        raise Error("You must call wandb.init() before wandb.define_metric()")
    return run.define_metric(name, *args, **kwargs)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """``wandb.finish``: finish the active run, if any."""
    if run is not None:
        run.finish(exit_code=exit_code, quiet=quiet)


def end_trial(report: bool) -> None:
    """Finish the open run at the end of a function trial and reset the module's state.


    Called by :func:`raysweep.program.wandb_compat.function_trial`; ``report=False`` when the
    function raised (the trial failed or was stopped: nothing more may be reported).
    """
    if run is not None:
        run._end(report=report)
    _set_globals(run=None, config=compat.Config(), summary=compat.Summary())


def _register_atexit() -> None:
    global _atexit_registered
    if not _atexit_registered:
        _atexit_registered = True
        atexit.register(_finish_at_exit)


def _finish_at_exit() -> None:
    # W&B finishes the active run when the script ends; so do we (last row, summary.json).
    if run is not None:
        run.finish()


def sweep(sweep: Any = None, entity: str | None = None, project: str | None = None,
          **kwargs: Any) -> str:
    """``wandb.sweep``: inside a raysweep trial the sweep exists already; return its id."""
    compat.warn_once(
        "sweep",
        "wandb.sweep() does nothing under raysweep: raysweep runs the sweep itself (this "
        "trial is one of its runs)",
    )
    return os.environ.get(compat.SWEEP_ID_ENV) or "raysweep"


def agent(sweep_id: str | None = None, function: Any = None, entity: str | None = None,
          project: str | None = None, count: int | None = None, **kwargs: Any) -> None:
    """``wandb.agent``: inside a raysweep trial, run ``function`` once (this trial's run)."""
    compat.warn_once(
        "agent",
        "wandb.agent() under raysweep runs the function once: raysweep starts one trial per "
        "configuration and `count` is set with `raysweep run --count`",
    )
    if function is None:
        return
    try:
        function()
    except BaseException:
        if run is not None:
            run._end(report=False)
        raise
    finish()


def login(*args: Any, **kwargs: Any) -> bool:
    """``wandb.login``: there is nothing to log in to; returns True."""
    compat.warn_once(
        "login",
        "wandb.login() does nothing under raysweep's wandb stand-in (no W&B server is used; "
        "run with --wandb real to log to W&B)",
    )
    return True


def setup(*args: Any, **kwargs: Any) -> None:
    """``wandb.setup``: nothing to set up."""


def teardown(*args: Any, **kwargs: Any) -> None:
    """``wandb.teardown``: nothing to tear down."""


def termlog(string: str = "", newline: bool = True, repeat: bool = True, **kwargs: Any) -> None:
    print(f"wandb: {string}", file=sys.stderr, end="\n" if newline else "")


def termwarn(string: str = "", **kwargs: Any) -> None:
    print(f"wandb: WARNING {string}", file=sys.stderr)


def termerror(string: str = "", **kwargs: Any) -> None:
    print(f"wandb: ERROR {string}", file=sys.stderr)


# --- soft no-ops ----------------------------------------------------------------------------


class _SoftMeta(type):
    """Metaclass of no-op classes (``wandb.Image``...): class attributes are no-ops too."""

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Soft(f"{cls.__qualname__}.{name}")


class _Soft(metaclass=_SoftMeta):
    """Stands for an unsupported part of the wandb API: calls and attributes do nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        label = args[0] if type(self) is _Soft and args and isinstance(args[0], str) else None
        object.__setattr__(self, "_label", label or type(self).__qualname__)

    def __call__(self, *args: Any, **kwargs: Any) -> _Soft:
        return _Soft(f"{self._label}()")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Soft(f"{self._label}.{name}")

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def __getitem__(self, key: Any) -> _Soft:
        return _Soft(f"{self._label}[{key!r}]")

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def __iter__(self) -> Any:
        return iter(())

    def __enter__(self) -> _Soft:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def __repr__(self) -> str:
        return f"<wandb {self._label}: no-op under raysweep>"


def _warn_unsupported(kind: str, shown: str) -> None:
    compat.warn_once(
        f"soft-{kind}",
        f"{shown} does nothing under raysweep's wandb stand-in (there is no W&B server); "
        "metrics from wandb.log still reach raysweep. Use `raysweep run --wandb real` to also "
        "send everything to W&B. (Shown once.)",
        stacklevel=5,
    )


def _soft(kind: str, shown: str, *, warn: bool = True) -> Any:
    if warn:
        _warn_unsupported(kind, shown)
    leaf = shown.rsplit(".", 1)[-1]
    if leaf[:1].isupper():
        # Classes (Image, Table, Artifact...) stay classes, so isinstance() checks work.
        return _SoftMeta(leaf, (_Soft,), {"__module__": "wandb"})
    return _Soft(shown)


def __getattr__(name: str) -> Any:
    """Any other ``wandb.<name>``: a no-op (class or callable), with one warning."""
    if name.startswith("__"):
        raise AttributeError(f"module 'wandb' has no attribute {name!r}")
    value = _soft(name, f"wandb.{name}")
    if _package is not None:
        setattr(_package, name, value)  # later lookups skip this function (and the warning)
    return value


class _SoftModule(types.ModuleType):
    """An unknown ``wandb.*`` submodule: every name in it is a no-op."""

    __path__: list[str] = []

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        # Importing the module warned already.
        value = _soft(self.__name__, f"{self.__name__}.{name}", warn=False)
        setattr(self, name, value)
        return value


class _SoftModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes ``import wandb.integration.keras`` (and any other submodule) a soft module."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        parent = sys.modules.get("wandb")
        if not fullname.startswith("wandb.") or not getattr(parent, "_RAYSWEEP_SHIM", False):
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: Any) -> types.ModuleType:
        # One warning per unknown top-level submodule (wandb.integration, not each below it).
        _warn_unsupported(".".join(spec.name.split(".")[:2]), f"module {spec.name}")
        module = _SoftModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        pass
