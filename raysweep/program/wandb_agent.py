"""What the W&B agent does for each run of a sweep, done by raysweep for each trial.

The agent writes the run's values to a parameter file and starts the run with the sweep's
environment (:func:`agent_environment`; what ``wandb.init`` reads from it is in
:mod:`raysweep.program.wandb_init`). A program trial gets that environment and the stand-in
first on ``PYTHONPATH``. A function trial runs in a Ray worker that raysweep does not start, so
:func:`function_trial` gives it the same for the trial's duration, in the worker's own process.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from raysweep.program.wandb_init import (
    ARTIFACTS_ENV,
    PARAM_PATH_ENV,
    RUN_ID_ENV,
    SWEEP_ID_ENV,
    TRIAL_DIR_ENV,
)
from raysweep.program.wandb_package import (
    MODE_ENV,
    SHIM_DIR,
    check_mode,
    is_stand_in,
    load_real_wandb,
    patch_real_wandb,
    wandb_modules,
)

__all__ = [
    "TrialEnd",
    "agent_environment",
    "end_trial",
    "function_trial",
    "set_trial_end",
    "write_param_file",
]

TrialEnd = Callable[[bool], None]
"""Ends the stand-in's open run at the end of a function trial; the argument is ``report``."""

_trial_end: TrialEnd | None = None


def write_param_file(trial_dir: Path, run_id: str, config: Mapping[str, Any]) -> Path:
    """Write ``config-<run>.yaml`` as the W&B agent writes its ``WANDB_SWEEP_PARAM_PATH``."""
    import yaml

    path = trial_dir / f"config-{run_id}.yaml"
    doc = {"wandb_version": 1, **{k: {"value": v} for k, v in config.items()}}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def agent_environment(
    config: Mapping[str, Any],
    *,
    trial_id: str,
    trial_dir: Path,
    sweep_id: str,
    mode: str,
    artifacts: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Write the trial's parameter file; return the variables the W&B agent would set.

    The variables are ``WANDB_SWEEP_ID``, ``WANDB_RUN_ID`` (the trial id),
    ``WANDB_SWEEP_PARAM_PATH``, ``RAYSWEEP_TRIAL_DIR`` and ``RAYSWEEP_WANDB`` (``mode``), and,
    when the sweep maps artifacts (``artifacts``: names to absolute paths),
    ``RAYSWEEP_ARTIFACTS`` as JSON.

    Raises:
        ValueError: ``mode`` is not one of :data:`~raysweep.program.wandb_package.MODES`.
    """
    check_mode(mode)
    param_path = write_param_file(trial_dir, trial_id, config)
    env = {
        SWEEP_ID_ENV: sweep_id,
        RUN_ID_ENV: trial_id,
        PARAM_PATH_ENV: str(param_path),
        TRIAL_DIR_ENV: str(trial_dir),
        MODE_ENV: mode,
    }
    if artifacts:
        env[ARTIFACTS_ENV] = json.dumps(dict(artifacts))
    return env


def set_trial_end(hook: TrialEnd | None) -> TrialEnd | None:
    """Register what ends the stand-in's open run when a function trial ends.

    The stand-in registers its own when it is imported, so these rules never import the
    stand-in (the dependency runs one way, from the stand-in to the rules).

    Returns:
        The hook registered before.
    """
    global _trial_end
    previous = _trial_end
    _trial_end = hook
    return previous


def end_trial(report: bool) -> None:
    """Finish the stand-in's open run, if any, and reset its state for the next trial.

    ``report=False`` when the trial's function raised (the trial failed or was stopped: nothing
    more may be reported). Does nothing before the stand-in is imported.
    """
    if _trial_end is not None:
        _trial_end(report)


@contextlib.contextmanager
def function_trial(
    config: Mapping[str, Any],
    *,
    trial_id: str,
    trial_dir: Path,
    sweep_id: str,
    mode: str = "shim",
    artifacts: Mapping[str, str] | None = None,
) -> Iterator[None]:
    """Give a function trial what a program trial gets, so ``import wandb`` in it works.

    For the duration of the trial: the W&B agent's environment variables (and the parameter
    file), and, in shim mode, the stand-in first on ``sys.path``; in real mode, the installed
    package, patched. Ray runs one trial at a time per worker process, so changing the process
    state here is safe. A run the function left open is finished when it returns (and dropped,
    without reporting, when it raises). The parameter file is removed when the trial ends.
    """
    env = agent_environment(
        config, trial_id=trial_id, trial_dir=trial_dir, sweep_id=sweep_id, mode=mode,
        artifacts=artifacts,
    )
    saved_env = {k: os.environ.get(k) for k in env}
    saved_modules = wandb_modules()
    saved_module = saved_modules.get("wandb")
    saved_path = list(sys.path)
    saved_end = _trial_end
    os.environ.update(env)
    try:
        if mode == "shim":
            sys.path.insert(0, str(SHIM_DIR))
            if saved_module is not None and not is_stand_in(saved_module):
                # The installed wandb was imported before the trial: forget it, so that
                # `import wandb` in the trial finds the stand-in. A trial that never imports
                # wandb pays nothing.
                for name in saved_modules:
                    del sys.modules[name]
        else:
            real = saved_module if saved_module is not None and not is_stand_in(saved_module) \
                else load_real_wandb()
            patch_real_wandb(real)
        ok = False
        try:
            yield
            ok = True
        finally:
            if mode == "shim" and is_stand_in(sys.modules.get("wandb")):
                end_trial(report=ok)
    finally:
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        sys.path[:] = saved_path
        for name in wandb_modules():
            if name not in saved_modules:
                del sys.modules[name]
        sys.modules.update(saved_modules)
        set_trial_end(saved_end)
        # Read by `wandb.init` during the trial only; removed so that a trial that wrote
        # nothing leaves an empty folder, which raysweep removes (sweeps of many trials).
        Path(env[PARAM_PATH_ENV]).unlink(missing_ok=True)

