"""Load a W&B sweep configuration into a typed, immutable :class:`SweepConfig`.

The schema is W&B's sweep configuration plus one optional raysweep section::

    raysweep:
      resources: {cpu: 2, gpu: 0.5}   # per trial; any other key is a custom Ray resource
      max_concurrent_trials: 4
      max_failures: 1                 # retries per trial
      seed: 0                         # makes random and bayes reproducible
      storage: ./raysweep_results     # where sweep directories go
      unique: true                    # random search: never repeat a configuration
      workdir: trial                  # each trial runs in its own folder (default: shared)
      artifacts:                      # what run.use_artifact(name).download() returns
        "mnist:latest": ./data        # relative to this file's folder

W&B's 2026 schema is accepted as W&B's own validator has it (wandb/sweeps ``config/cfg.py``)::

    method: custom                    # the engine searches: optuna (or ax)
    scheduler:
      engine: optuna                  # wandb (with grid, random, bayes), optuna or ax
      source: hooks.py                # relative to this file's folder; must exist
      optimizer: build_study          # def build_study() -> optuna.Study (sampler, pruner)
      search_space: space             # def space(trial) -> dict: define-by-run parameters
    metrics:                          # several objectives (instead of `metric`)
      - {name: loss, goal: minimize}
      - {name: accuracy, goal: maximize}

``parameters`` may then be left out (the space is ``search_space()``'s); ``scheduler`` excludes
``early_terminate`` (Optuna's pruner stops runs) and ``controller: {type: local}``. A
``scheduler`` with W&B Launch keys (``job``, ``num_workers``, ``settings``) is a Launch
scheduler job and refused, as is ``method: custom`` without a ``scheduler``. What passes but
this machine or version cannot run (an engine not installed, ``search_space`` under Ax, hooks
under ``engine: wandb``) is :func:`runnable_issues`: ``raysweep validate`` shows it as
warnings, ``raysweep run`` refuses it.

Every problem is collected and raised at once as :class:`~raysweep.errors.SweepConfigError`,
each with its key path, the bad value and a hint. Where W&B silently does something else than
the file says (``goal: maximise`` becomes *minimize*), raysweep refuses the file. Configurations
that only W&B's hosted service can run raise :class:`~raysweep.errors.UnsupportedSweepError`.
The checks are hand-written rather than a schema because the rules that matter most compare
values inside one document (min < max, probabilities sum to 1, grid needs enumerable
parameters), and each mistake should get one message.

This module is the front door; the typed values live in :mod:`raysweep.sweep.model`, the
checks in the private ``_check*`` modules.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from raysweep.errors import Issue, SweepConfigError, UnsupportedSweepError
from raysweep.sweep._check import check_document
from raysweep.sweep._check_sections import check_resources
from raysweep.sweep._issues import IssueCollector
from raysweep.sweep.bands import hyperband_bands
from raysweep.sweep.command import missing_program_issue, uses_program
from raysweep.sweep.model import (
    EarlyTerminate,
    Engine,
    Goal,
    Method,
    Metric,
    RaysweepOptions,
    Resources,
    SchedulerSpec,
    SweepConfig,
    Workdir,
)
from raysweep.sweep.yamlfile import load_yaml

__all__ = [
    "AX_MISSING",
    "EarlyTerminate",
    "Engine",
    "Goal",
    "Method",
    "Metric",
    "OPTUNA_MISSING",
    "RaysweepOptions",
    "Resources",
    "SchedulerSpec",
    "SweepConfig",
    "Workdir",
    "from_dict",
    "hyperband_bands",
    "load",
    "loads",
    "program_issues",
    "resource_issues",
    "runnable_issues",
]


def load(source: str | os.PathLike[str] | Mapping[str, Any] | SweepConfig) -> SweepConfig:
    """Load a sweep from a YAML file path, a dict, or return a :class:`SweepConfig` as is.

    Raises:
        SweepConfigError: with every problem found.
        UnsupportedSweepError: for configurations only W&B's service can run.
    """
    if isinstance(source, SweepConfig):
        return source
    if isinstance(source, Mapping):
        return from_dict(source)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            "a sweep is a YAML file path, a dict or a SweepConfig, got "
            f"{type(source).__name__} {source!r}"
        )
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SweepConfigError(
            [Issue("", f"file not found: {path}", "Check the path.")], str(path)
        ) from None
    except IsADirectoryError:
        raise SweepConfigError(
            [Issue("", f"{path} is a directory, not a sweep file")], str(path)
        ) from None
    except UnicodeDecodeError:
        raise SweepConfigError(
            [Issue("", "the file is not UTF-8 text", "Is this a YAML file?")], str(path)
        ) from None
    except OSError as exc:
        raise SweepConfigError([Issue("", f"cannot read the file: {exc}")], str(path)) from None
    return loads(text, path=path)


def loads(text: str, *, path: str | os.PathLike[str] | None = None) -> SweepConfig:
    """Load a sweep from YAML text. ``path`` names the file in messages and sets
    :attr:`SweepConfig.directory`."""
    source = str(path) if path is not None else None
    doc = load_yaml(text)
    if doc.issues and doc.data is None:
        raise SweepConfigError(doc.issues, source)
    return _build(doc.data, path=path, lines=doc.lines, early_issues=doc.issues)


def from_dict(
    data: Mapping[str, Any], *, path: str | os.PathLike[str] | None = None
) -> SweepConfig:
    """Validate a sweep given as a dict (as ``wandb.sweep(dict)`` takes it)."""
    return _build(data, path=path, lines={}, early_issues=[])


def _build(
    data: Any,
    *,
    path: str | os.PathLike[str] | None,
    lines: dict[str, int],
    early_issues: list[Issue],
) -> SweepConfig:
    collector = IssueCollector(lines)
    collector.issues.extend(early_issues)
    cfg = check_document(collector, data, Path(path) if path is not None else None)
    source = str(path) if path is not None else None
    errors = collector.issues
    if errors:
        cls = UnsupportedSweepError if collector.unsupported else SweepConfigError
        raise cls(errors, source)
    assert cfg is not None  # internal invariant: no issues means the checker built a config
    return cfg


def resource_issues(res: Any) -> list[Issue]:
    """Problems of a per-trial resource request given outside the sweep file (the Python
    API's ``resources=``), by the rules of ``raysweep.resources``."""
    collector = IssueCollector({})
    check_resources(collector, res)
    return collector.issues


def program_issues(cfg: SweepConfig) -> list[Issue]:
    """Why the sweep cannot run as a program sweep on this machine: its command runs
    ``${program}`` but it names no program, or the program is neither a file (relative to the
    sweep file's directory, where programs run) nor a command on ``PATH``.

    ``raysweep run`` refuses these before Ray starts and ``raysweep validate`` reports them,
    in the same words. A sweep run with a Python function needs no program.
    """
    if not uses_program(cfg.command):
        return []
    if not cfg.program:
        return [missing_program_issue()]
    target = Path(cfg.program)
    if not target.is_absolute():
        target = cfg.directory / target
    if target.exists() or shutil.which(cfg.program) is not None:
        return []
    return [
        Issue(
            "program",
            f"{cfg.program!r} not found in {cfg.directory}",
            "Programs run from the sweep file's directory; give the path relative to it.",
        )
    ]


OPTUNA_MISSING = "engine: optuna needs Optuna: pip install 'raysweep[optuna]'"
"""Why an ``engine: optuna`` sweep cannot run here (also the searcher's error)."""
AX_MISSING = "engine: ax needs Ax: pip install 'raysweep[ax]'"
"""Why an ``engine: ax`` sweep cannot run here (also the searcher's error)."""


def runnable_issues(cfg: SweepConfig) -> list[Issue]:
    """Why this version of raysweep, on this machine, cannot run a sweep that is valid W&B:
    ``engine: ax`` without Ax or with ``search_space`` (Ax has no define-by-run space),
    ``engine: optuna`` without Optuna, and ``optimizer`` / ``search_space`` under ``engine:
    wandb`` (raysweep's own searchers read ``parameters``).

    ``raysweep run`` refuses these before Ray starts; ``raysweep validate`` shows them as
    warnings, because the file itself is right. Nothing is imported: installed means
    importable by name.

    >>> runnable_issues(from_dict({"method": "grid", "parameters": {"x": {"values": [1]}}}))
    []
    """
    spec = cfg.scheduler
    if spec is None:
        return []
    out = []
    if spec.engine is Engine.AX:
        if importlib.util.find_spec("ax") is None:
            out.append(Issue("scheduler.engine", AX_MISSING,
                             "Or use engine: optuna, which raysweep runs."))
        if spec.search_space is not None:
            where = f" in {spec.source}" if spec.source is not None else ""
            out.append(Issue(
                "scheduler.search_space",
                f"engine: ax has no define-by-run space: it cannot call "
                f"{spec.search_space}(){where}",
                "Ax searches a fixed space: describe it in `parameters`, or configure it in "
                "the Client that `scheduler.optimizer` returns; for a conditional space use "
                "engine: optuna.",
            ))
    elif spec.engine is Engine.OPTUNA and importlib.util.find_spec("optuna") is None:
        out.append(Issue("scheduler.engine", OPTUNA_MISSING))
    elif spec.engine is Engine.WANDB:
        where = f" in {spec.source}" if spec.source is not None else ""
        for key, name in (("optimizer", spec.optimizer), ("search_space", spec.search_space)):
            if name is not None:
                out.append(Issue(
                    f"scheduler.{key}",
                    f"engine: wandb runs raysweep's own {cfg.method} search, which reads "
                    f"`parameters`: it cannot call {name}(){where}",
                    "For your own study or a define-by-run space, use `scheduler.engine: "
                    "optuna` with `method: custom`; or remove `optimizer` and "
                    "`search_space`.",
                ))
    return out
