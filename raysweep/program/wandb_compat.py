"""W&B run semantics for raysweep's ``wandb`` stand-in: a map, and the names callers import.

raysweep runs scripts written for W&B Sweeps unchanged, with a small package named ``wandb``
(in :data:`SHIM_DIR`) that a trial imports instead of W&B's. That package is a thin layer over
these rules, one module per concept:

- :mod:`~raysweep.program.wandb_config`: ``wandb.config`` (:class:`Config`), its locked sweep
  keys and ``allow_val_change``.
- :mod:`~raysweep.program.wandb_history`: ``wandb.log`` rows by step and commit
  (:class:`History`), and what of a row raysweep records (:func:`report_row`).
- :mod:`~raysweep.program.wandb_summary`: ``run.summary`` and ``define_metric``
  (:class:`Summary`, :class:`MetricDefinition`).
- :mod:`~raysweep.program.wandb_init`: what ``wandb.init`` reads, the sweep's environment
  (``WANDB_SWEEP_ID``, ...) and its config arguments.
- :mod:`~raysweep.program.wandb_agent`: what the W&B agent does for a run: the parameter file,
  the environment, and :func:`function_trial` for functions run in a Ray worker.
- :mod:`~raysweep.program.wandb_package`: which ``wandb`` a trial imports, the stand-in
  (:data:`SHIM_DIR` on the path) or the installed package, patched (``--wandb real``).

The stand-in imports these modules; none of them imports the stand-in.
"""

from __future__ import annotations

from raysweep.program.once import warn_once
from raysweep.program.wandb_agent import function_trial, write_param_file
from raysweep.program.wandb_config import (
    Config,
    ConfigError,
    ConfigKeyError,
    config_values,
    merge_dicts,
    parse_config,
    read_config_file,
)
from raysweep.program.wandb_history import History, report_row, reportable
from raysweep.program.wandb_init import sweep_values
from raysweep.program.wandb_package import (
    MODE_ENV,
    MODES,
    SHIM_DIR,
    check_mode,
    load_real_wandb,
    patch_real_wandb,
    pythonpath_with_shim,
)
from raysweep.program.wandb_summary import MetricDefinition, Summary

__all__ = [
    "MODES",
    "MODE_ENV",
    "SHIM_DIR",
    "Config",
    "ConfigError",
    "ConfigKeyError",
    "History",
    "MetricDefinition",
    "Summary",
    "check_mode",
    "config_values",
    "function_trial",
    "load_real_wandb",
    "merge_dicts",
    "parse_config",
    "patch_real_wandb",
    "pythonpath_with_shim",
    "read_config_file",
    "report_row",
    "reportable",
    "sweep_values",
    "warn_once",
    "write_param_file",
]
