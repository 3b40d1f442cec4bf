"""``wandb.sweep`` and ``wandb.agent`` in a driver: each agent call runs a raysweep sweep on Ray.

W&B's tutorial pattern defines the sweep in Python and hands the agent a function::

    sweep_id = wandb.sweep({"method": "random", "parameters": {...}}, project="demo")
    wandb.agent(sweep_id, function=train, count=20)

With raysweep's stand-in ``wandb`` imported in the driver (``raysweep run script.py``, or
``import raysweep.wandb as wandb`` in a notebook), :class:`AgentHost` answers those calls:

- ``wandb.sweep(config)`` validates the config as ``raysweep validate`` does and returns an id,
  the name of the sweep's future directory under the storage folder (``<name>-<time>``). A
  callable returning a config, a sweep file's path and the id of an existing sweep are
  accepted too.
- ``wandb.agent(sweep_id, function=train, count=N)`` runs up to N trials, each calling
  ``train()`` with no arguments as W&B's agent does, in Ray workers (the stand-in gives
  ``wandb.init``/``wandb.config`` the trial's values there). Without ``count`` it runs until
  the sweep ends (grid exhausted, ``run_cap``) or is stopped, as W&B's agent does. A second
  call with the same id continues the sweep from its directory (``raysweep.resume``) for N
  more trials; so does an id of a sweep run before.
"""

from __future__ import annotations

import dataclasses
import os
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raysweep.analysis.tables import SweepResult, ended_trial_ids
from raysweep.errors import RaysweepError
from raysweep.execution.options import RunOptions, storage_root, sweep_name
from raysweep.files import is_sweep_dir
from raysweep.program.wandb_driver import SweepHost, get_host, set_host
from raysweep.program.wandb_package import import_stand_in
from raysweep.sweep.config import load
from raysweep.sweep.model import SweepConfig

__all__ = ["AgentCall", "AgentHost", "install", "runs_no_function", "use_wandb"]


@dataclass(frozen=True)
class AgentCall:
    """One ``wandb.agent`` call, as raysweep runs it.

    Attributes:
        sweep_id: The id the script passed (the sweep directory's name).
        path: The sweep directory; it exists when ``resume`` is true.
        config: The sweep's config (for a resumed sweep, the copy in its directory is used).
        function: What each trial calls with no arguments, or None for the sweep's program.
        count: For a new sweep, the trials to run; for a resumed one, the trials in all, the
            ended ones included (``raysweep.resume``'s ``count``); None: no limit.
        resume: Whether the sweep continues from its directory.
        index: How many agent calls this host ran before this one.
    """

    sweep_id: str
    path: Path
    config: SweepConfig | None
    function: Callable[[], Any] | None
    count: int | None
    resume: bool
    index: int


Runner = Callable[[AgentCall], Any]
"""Runs one agent call and returns its :class:`SweepResult` (the CLI's shows its live view)."""


class _AgentFunction:
    """Calls the agent's function with no arguments, as W&B's agent does.

    W&B tutorials write ``def train(config=None): with wandb.init(config=config): ...``;
    raysweep's function trials pass the config to functions that take an argument, which
    would make those defaults the sweep's values. This wrapper takes none.
    """

    def __init__(self, function: Callable[[], Any]) -> None:
        self.function = function

    def __call__(self) -> Any:
        return self.function()

    def __repr__(self) -> str:
        return f"wandb.agent function {getattr(self.function, '__qualname__', self.function)}"


@dataclass
class AgentHost(SweepHost):
    """Answers ``wandb.sweep`` / ``wandb.agent`` in this process (see the module docstring).

    Attributes:
        options: Keyword arguments for ``raysweep.run`` and ``raysweep.resume`` (address,
            seed, max_concurrent_trials, ...). ``storage`` goes to ``run`` only.
        count: Replaces every agent call's ``count`` (``raysweep run script.py --count``).
        runner: Runs each call; default :func:`run_call`.
        resume_call: ``(index, sweep directory)``: the script runs again to continue the sweep
            its agent call number ``index`` (from 0) ran; that call resumes the directory and
            the other calls run nothing (``raysweep resume`` of a script's sweep).
        results: The result of every agent call run so far, in order.
        calls: How many agent calls the script made so far.
    """

    options: dict[str, Any] = field(default_factory=dict)
    count: int | None = None
    runner: Runner | None = None
    resume_call: tuple[int, Path] | None = None
    results: list[Any] = field(default_factory=list)
    calls: int = 0
    _configs: dict[str, SweepConfig] = field(default_factory=dict)

    @property
    def storage(self) -> str | None:
        value = self.options.get("storage")
        return None if value is None else str(value)

    def sweep(self, sweep: Any, *, entity: str | None = None,
              project: str | None = None) -> str:
        """Validate a sweep config and return the id of its sweep (see the module docstring).

        Raises:
            SweepConfigError: The config is invalid (every problem, with its key path).
            RaysweepError: A string that is neither a sweep file nor an existing sweep's id.
        """
        if isinstance(sweep, (str, os.PathLike)):
            existing = self._existing(str(sweep))
            if existing is not None:
                return str(sweep)
            if not Path(sweep).is_file():
                raise RaysweepError(
                    f"wandb.sweep({str(sweep)!r}): no sweep file and no sweep of that id in "
                    f"{self._root(None)}. Pass the sweep's config (a dict), a sweep file, or "
                    "the id of a sweep raysweep ran before (its folder's name)"
                )
        elif callable(sweep) and not isinstance(sweep, Mapping):
            sweep = sweep()
        if sweep is None:
            raise RaysweepError("wandb.sweep() needs the sweep's config (a dict like W&B's)")
        cfg = load(sweep if not hasattr(sweep, "model_dump") else sweep.model_dump())
        if cfg.name is None and project:
            # W&B shows a dict sweep under its project; the project names the folder here.
            cfg = dataclasses.replace(cfg, name=project)
        sweep_id = self._new_id(cfg)
        self._configs[sweep_id] = cfg
        return sweep_id

    def agent(
        self,
        sweep_id: str,
        function: Callable[[], Any] | None,
        *,
        entity: str | None = None,
        project: str | None = None,
        count: int | None = None,
    ) -> Any:
        """Run the agent's trials (see the module docstring); return the sweep's results.

        Raises:
            RaysweepError: No sweep has that id, or the call has no function and the sweep
                no program.
        """
        index = self.calls
        self.calls += 1
        if self.resume_call is not None:
            return self._resume_call(index, function, count)
        if self.count is not None:
            count = self.count
        cfg = self._configs.get(sweep_id)
        path = self._existing(sweep_id)
        if path is None and cfg is None:
            short = _short_id(sweep_id)
            cfg = self._configs.get(short)
            path = self._existing(short)
            sweep_id = short
        if path is None and cfg is None:
            raise RaysweepError(
                f"wandb.agent({sweep_id!r}): no sweep has this id. Create it first with "
                f"sweep_id = wandb.sweep(config); the ids of sweeps run before are their "
                f"folders' names in {self._root(None)}"
            )
        if function is None and runs_no_function(cfg, path):
            raise RaysweepError(
                f"wandb.agent({sweep_id!r}) was given no function, and the sweep names no "
                "program to run: pass the training function, wandb.agent(sweep_id, "
                "function=train)"
            )
        resume = path is not None
        if path is None:
            assert cfg is not None  # narrowed above: not both None
            path = Path(self._root(cfg)) / sweep_id
        if resume and count is not None:
            count += len(ended_trial_ids(path))
        return self._run(AgentCall(
            sweep_id=sweep_id, path=path, config=cfg,
            function=None if function is None else _AgentFunction(function),
            count=count, resume=resume, index=index,
        ))

    def _resume_call(self, index: int, function: Callable[[], Any] | None,
                     count: int | None) -> Any:
        assert self.resume_call is not None  # the caller checked
        wanted, path = self.resume_call
        if index != wanted:
            return None  # another call of the script: it ran (or runs) its own sweep
        # The call's count was the sweep's whole size when it started: it is again now,
        # unless the command line gives the total.
        return self._run(AgentCall(
            sweep_id=path.name, path=path, config=None,
            function=None if function is None else _AgentFunction(function),
            count=self.count if self.count is not None else count, resume=True, index=index,
        ))

    def _run(self, call: AgentCall) -> Any:
        result = (self.runner or self.run_call)(call)
        self.results.append(result)
        return result

    def run_call(self, call: AgentCall, **more: Any) -> SweepResult:
        """Run ``call`` with ``raysweep.run`` (a new sweep) or ``raysweep.resume``.

        ``more`` adds keyword arguments to :attr:`options` (the CLI's live view hooks).
        """
        from raysweep.api import resume, run

        options = {k: v for k, v in {**self.options, **more}.items() if k != "storage"}
        if call.resume:
            return resume(call.path, call.function, count=call.count, **options)
        assert call.config is not None  # a new sweep always has its config
        return run(call.config, call.function, count=call.count, storage=call.path.parent,
                   name=call.path.name, **options)

    # ---------------------------------------------------------------------------------------

    def _root(self, cfg: SweepConfig | None) -> str:
        if cfg is None:
            from raysweep.files import default_storage

            return str(Path(self.storage or default_storage()).expanduser().resolve())
        return storage_root(cfg, RunOptions(storage=self.storage))

    def _existing(self, sweep_id: str) -> Path | None:
        """The directory of an existing sweep with this id (a folder name or a path)."""
        if not sweep_id:
            return None
        cfg = self._configs.get(sweep_id)
        candidates = [Path(self._root(cfg)) / sweep_id]
        if cfg is None and (os.sep in sweep_id or sweep_id.startswith(".")):
            candidates.append(Path(sweep_id).expanduser())
        for path in candidates:
            if is_sweep_dir(path):
                return path.resolve()
        return None

    def _new_id(self, cfg: SweepConfig) -> str:
        base = sweep_name(cfg)
        root = Path(self._root(cfg))
        sweep_id, n = base, 1
        while sweep_id in self._configs or (root / sweep_id).exists():
            n += 1
            sweep_id = f"{base}-{n}"
        return sweep_id


def _short_id(sweep_id: str) -> str:
    """The last part of W&B's ``entity/project/id`` form.

    >>> _short_id("me/demo/abc-20261206-101010"), _short_id("abc")
    ('abc-20261206-101010', 'abc')
    """
    return sweep_id.strip("/").rsplit("/", 1)[-1]


def runs_no_function(cfg: SweepConfig | None, path: Path | None) -> bool:
    """Whether a sweep has no program to run (so its agent needs a function)."""
    if cfg is None and path is not None:
        from raysweep.analysis.tables import read_meta
        from raysweep.execution.resume import saved_config

        cfg = saved_config(path, read_meta(path))
    return cfg is not None and cfg.program is None and cfg.command is None


def install(host: AgentHost | None = None) -> types.ModuleType:
    """Make ``import wandb`` in this process give raysweep's stand-in, answered by ``host``.

    Returns the stand-in module. Without ``host``, the host already installed stays (the one
    of ``raysweep run script.py``, with its command-line options), else a new
    :class:`AgentHost` with ``raysweep.run``'s defaults.
    """
    module: types.ModuleType = import_stand_in()
    if host is not None or get_host() is None:
        set_host(host if host is not None else AgentHost())
    return module


# raysweep.run's keywords that use_wandb passes on; the rest are per agent call.
_OPTIONS = ("address", "storage", "seed", "resources", "max_concurrent_trials",
            "max_failures", "num_cpus", "num_gpus", "wandb", "on_start", "on_change",
            "extra_callbacks")


def use_wandb(**options: Any) -> types.ModuleType:
    """Run this process's ``wandb.sweep`` / ``wandb.agent`` calls with raysweep; return ``wandb``.

    The one line to add to a notebook written for W&B Sweeps (before its ``import wandb``,
    or use its return value): ``wandb = raysweep.use_wandb()``. ``options`` are
    :func:`raysweep.run`'s (``address="auto"``, ``storage=``, ``max_concurrent_trials=``,
    ``seed=``...) and apply to every sweep the notebook's agent calls run.

    Raises:
        TypeError: An option :func:`raysweep.run` does not take.
    """
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise TypeError(f"use_wandb() got unknown options {unknown}; it takes "
                        f"{', '.join(_OPTIONS)}")
    return install(AgentHost(options=dict(options)))

