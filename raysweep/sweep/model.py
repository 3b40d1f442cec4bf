"""The typed, immutable values a checked sweep file becomes: :class:`SweepConfig` and its parts.

Built only by the checker (through :mod:`raysweep.sweep.config`), so every instance holds values
that passed its rules; nothing here validates.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from raysweep.errors import Issue
from raysweep.sweep.bands import hyperband_bands
from raysweep.sweep.space import SearchSpace

__all__ = [
    "EarlyTerminate",
    "Engine",
    "Goal",
    "Method",
    "Metric",
    "RaysweepOptions",
    "Resources",
    "SchedulerSpec",
    "SweepConfig",
    "Workdir",
]


class Method(str, Enum):
    """Search methods raysweep runs."""

    GRID = "grid"
    RANDOM = "random"
    BAYES = "bayes"
    CUSTOM = "custom"
    """W&B's 2026 schema: the search is the ``scheduler.engine``'s (Optuna, Ax)."""

    def __str__(self) -> str:
        return self.value


class Engine(str, Enum):
    """``scheduler.engine`` (W&B's 2026 schema): what proposes the configurations."""

    WANDB = "wandb"
    """W&B's own methods: ``method: grid | random | bayes`` (raysweep's searchers)."""
    OPTUNA = "optuna"
    AX = "ax"

    def __str__(self) -> str:
        return self.value


class Goal(str, Enum):
    """Direction of optimisation of the metric."""

    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"

    def __str__(self) -> str:
        return self.value

    @property
    def mode(self) -> str:
        """Ray Tune's word for the goal (``min`` / ``max``)."""
        return "min" if self is Goal.MINIMIZE else "max"


class Workdir(str, Enum):
    """Where trials run (``raysweep.workdir``)."""

    SHARED = "shared"
    """All trials in one folder: programs in the sweep file's, functions in the driver's cwd."""
    TRIAL = "trial"
    """Each trial in its own folder (``trial_<id>/`` of the sweep directory)."""

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Metric:
    """The metric a sweep optimises (``metric:``)."""

    name: str
    goal: Goal = Goal.MINIMIZE
    target: float | None = None
    impute: str = "worst"
    impute_while_running: str | bool = False

    @property
    def mode(self) -> str:
        """Ray Tune's word for the goal (``min`` / ``max``), from :attr:`Goal.mode`."""
        return self.goal.mode


@dataclass(frozen=True)
class SchedulerSpec:
    """``scheduler:`` in W&B's 2026 schema: the engine, and the user's hooks in ``source``.

    Attributes:
        engine: What searches.
        source: The Python file holding ``optimizer`` and ``search_space`` (absolute; a
            relative path is read from the sweep file's folder), or None.
        optimizer: The name of a zero-argument function in ``source`` returning the engine's
            optimizer (Optuna: the study, with the user's sampler and pruner; Ax: its client).
        search_space: The name of a define-by-run function ``f(trial)`` in ``source`` that
            calls ``trial.suggest_*`` and returns the run's config (a dict, an object with a
            ``config`` attribute, or None for ``trial.params``).
    """

    engine: Engine = Engine.WANDB
    source: Path | None = None
    optimizer: str | None = None
    search_space: str | None = None


@dataclass(frozen=True)
class EarlyTerminate:
    """``early_terminate:``. ``type`` is W&B's ``hyperband`` or a raysweep extension
    (``asha``, ``median``, ``promotion``)."""

    type: str
    min_iter: int | None = None
    max_iter: int | None = None
    s: int | None = None
    eta: float = 3
    strict: bool = True
    resume: str = "restart"
    """``type: promotion`` only: a promoted configuration trains again from the start
    (``restart``) or resumes from its paused trial's checkpoint (``checkpoint``)."""

    @property
    def bands(self) -> tuple[int, ...]:
        """W&B's hyperband bands: when (in metric reports) runs are judged."""
        return hyperband_bands(self.eta, self.min_iter, self.max_iter, self.s)


@dataclass(frozen=True)
class Resources:
    """Resources one trial asks Ray for."""

    cpu: float = 1.0
    gpu: float = 0.0
    custom: tuple[tuple[str, float], ...] = ()

    def as_ray(self) -> dict[str, float]:
        """Ray's resource dict (``{"CPU": 1, "GPU": 0.5, "my_res": 1}``)."""
        out = {"CPU": self.cpu, "GPU": self.gpu}
        out.update(dict(self.custom))
        return out


@dataclass(frozen=True)
class RaysweepOptions:
    """The optional ``raysweep:`` section."""

    resources: Resources = field(default_factory=Resources)
    max_concurrent_trials: int | None = None
    max_failures: int = 0
    seed: int | None = None
    storage: str | None = None
    unique: bool = False
    workdir: Workdir = Workdir.SHARED
    artifacts: tuple[tuple[str, str], ...] = ()
    """W&B artifact names and the local paths they map to, as written (``raysweep.artifacts``);
    :meth:`SweepConfig.artifact_paths` makes the paths absolute."""


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep. Immutable; build it with :func:`raysweep.sweep.config.load`,
    ``loads`` or ``from_dict``.

    Attributes:
        method: The search algorithm.
        parameters: The flattened search space.
        metric: The metric, or None (grid and random need none).
        early_terminate: Early-stopping settings, or None.
        command: The ``command`` list as written (macros unexpanded), or None for W&B's default.
        program: The ``program`` key.
        run_cap: Maximum number of trials, or None.
        options: The ``raysweep:`` section.
        warnings: Problems that do not stop the sweep (deprecated forms, ignored keys).
        path: The file the config came from, or None. Programs run from its directory.
        raw: The document as loaded, for display and for the copy kept with the results.
            Treat it as read-only.
        metrics: The objectives of a multi-objective sweep (``metrics:``, 2026 schema), else
            ``()``; :attr:`objectives` gives the objectives of any sweep.
        scheduler: ``scheduler:`` (2026 schema: the engine and the user's hooks), or None.
    """

    method: Method
    parameters: SearchSpace
    metric: Metric | None = None
    early_terminate: EarlyTerminate | None = None
    command: tuple[Any, ...] | None = None
    program: str | None = None
    run_cap: int | None = None
    name: str | None = None
    description: str | None = None
    project: str | None = None
    entity: str | None = None
    options: RaysweepOptions = field(default_factory=RaysweepOptions)
    warnings: tuple[Issue, ...] = ()
    path: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    metrics: tuple[Metric, ...] = ()
    scheduler: SchedulerSpec | None = None

    @property
    def objectives(self) -> tuple[Metric, ...]:
        """Every metric the sweep optimises: ``metrics`` (multi-objective, ``metric`` is then
        None), else ``(metric,)``, else ``()``."""
        if self.metrics:
            return self.metrics
        return (self.metric,) if self.metric is not None else ()

    @property
    def define_by_run(self) -> bool:
        """Whether the engine's ``scheduler.search_space`` picks each trial's parameters."""
        return self.scheduler is not None and self.scheduler.search_space is not None

    @property
    def engine(self) -> Engine:
        """``scheduler.engine``, W&B's by default."""
        return self.scheduler.engine if self.scheduler is not None else Engine.WANDB

    def __hash__(self) -> int:
        # Equal configs have equal hashes; the fields hashed are always hashable, unlike the
        # raw document or parameter values that are lists or dicts.
        return hash((self.method, self.path, self.name, self.program, self.run_cap))

    @property
    def directory(self) -> Path:
        """Directory programs run from: the sweep file's, else the current one."""
        return self.path.parent if self.path is not None else Path.cwd()

    def artifact_paths(self) -> dict[str, str]:
        """``raysweep.artifacts`` with absolute paths: a relative one is read from
        :attr:`directory`, ``~`` is the user's home."""
        return {
            name: os.path.normpath(os.path.join(self.directory, os.path.expanduser(path)))
            for name, path in self.options.artifacts
        }

