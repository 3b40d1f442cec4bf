"""What ``wandb.init`` reads: the sweep's environment and the run's starting config.

The W&B agent starts each run of a sweep with ``WANDB_SWEEP_ID``, ``WANDB_RUN_ID`` and
``WANDB_SWEEP_PARAM_PATH`` (a YAML file of the run's values) in its environment; raysweep does
the same for every trial, and adds ``RAYSWEEP_TRIAL_DIR``. A run created while
``WANDB_RUN_ID`` is set is the sweep's run and reports to raysweep; a run made where a script
cleared the ``WANDB_*`` variables (W&B's cross-validation example does this in its fold
processes) keeps its metrics to itself, as it would in W&B.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from raysweep.program.wandb_config import Config, parse_config, read_config_file

__all__ = [
    "ARTIFACTS_ENV",
    "DEFAULTS_FILE",
    "PARAM_PATH_ENV",
    "RUN_ID_ENV",
    "SWEEP_ID_ENV",
    "TRIAL_DIR_ENV",
    "init_config",
    "sweep_values",
]

SWEEP_ID_ENV = "WANDB_SWEEP_ID"
"""The sweep's id (raysweep's sweep name); ``run.sweep_id`` reads it."""

RUN_ID_ENV = "WANDB_RUN_ID"
"""The run's id (raysweep's trial id); set only for the sweep's run."""

PARAM_PATH_ENV = "WANDB_SWEEP_PARAM_PATH"
"""The YAML file of the run's values, written as the W&B agent writes it."""

TRIAL_DIR_ENV = "RAYSWEEP_TRIAL_DIR"
"""The trial's directory: ``run.dir`` and where ``summary.json`` goes."""

ARTIFACTS_ENV = "RAYSWEEP_ARTIFACTS"
"""A JSON object mapping W&B artifact names (``"name:alias"``) to local paths, from the sweep's
``raysweep.artifacts``: what ``run.use_artifact(name).download()`` returns."""

DEFAULTS_FILE = "config-defaults.yaml"
"""W&B's file of config defaults, read from the working directory by ``wandb.init``."""


def sweep_values(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the sweep's values for this run, from ``WANDB_SWEEP_PARAM_PATH`` ({} if unset)."""
    env = os.environ if environ is None else environ
    path = env.get(PARAM_PATH_ENV)
    if not path:
        return {}
    return read_config_file(path)


def init_config(
    config: Any = None,
    *,
    include_keys: Iterable[str] | None = None,
    exclude_keys: Iterable[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Build the config of a new run as ``wandb.init`` does.

    The defaults are :data:`DEFAULTS_FILE` in the working directory, if there is one, updated
    by ``config`` (anything :func:`~raysweep.program.wandb_config.parse_config` accepts) and
    filtered by ``include_keys`` and ``exclude_keys`` (``wandb.init``'s
    ``config_include_keys`` and ``config_exclude_keys``). The sweep's values
    (:func:`sweep_values`) are merged over them and locked.
    """
    values: dict[str, Any] = {}
    defaults_file = Path(DEFAULTS_FILE)
    if defaults_file.is_file():
        values.update(read_config_file(defaults_file))
    values.update(parse_config(config))
    if include_keys:
        included = set(include_keys)
        values = {k: v for k, v in values.items() if k in included}
    if exclude_keys:
        excluded = set(exclude_keys)
        values = {k: v for k, v in values.items() if k not in excluded}
    cfg = Config()
    cfg.set_defaults(values)
    cfg.merge_locked(sweep_values(environ), user="sweep")
    return cfg
