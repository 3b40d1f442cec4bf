"""raysweep's stand-in for the ``wandb`` package, for scripts written for W&B Sweeps.

raysweep puts the directory above this package first on ``PYTHONPATH`` of every program
trial, so ``import wandb`` in an unchanged W&B script finds this module: no W&B account, no
network. ``wandb.init`` reads the sweep's values from ``WANDB_SWEEP_PARAM_PATH`` as W&B does,
and every committed ``wandb.log`` row becomes one ``raysweep.log`` report. The rules live in
``raysweep.program`` (its package docstring maps them). Media, tables and charts are saved in
the trial's folder, never as metrics (``_media``, ``plot``); artifacts are local paths that the
sweep file maps, and logged ones are copied into the trial's folder (``_artifacts``). What else
W&B offers (``watch``, ``alert``, ...) is accepted and does nothing, with one warning.

With ``RAYSWEEP_WANDB=real`` (``raysweep run --wandb real``) this module replaces itself with
the installed ``wandb`` package, patched so that raysweep still receives the metrics.
Outside raysweep trials this directory is never on the path, so a real ``wandb`` is untouched.
"""

import os as _os
import sys as _sys

from raysweep.program.wandb_package import MODE_ENV as _MODE_ENV

if _os.environ.get(_MODE_ENV) == "real":
    from raysweep.program.wandb_package import load_real_wandb as _load_real_wandb

    # The import system returns what sys.modules holds once this body has run.
    _sys.modules[__name__] = _load_real_wandb()
else:
    from . import _shim, plot
    from ._agent import agent, sweep
    from ._artifacts import Artifact
    from ._media import Audio, Histogram, Html, Image, Molecule, Object3D, Plotly, Table, Video
    from ._shim import (
        Run,
        Settings,
        config,
        define_metric,
        finish,
        init,
        log,
        log_artifact,
        log_model,
        login,
        restore,
        run,
        save,
        setup,
        summary,
        teardown,
        termerror,
        termlog,
        termwarn,
        use_artifact,
        use_model,
    )
    from .errors import CommError, Error, UsageError
    from .plot import plot_table

    __version__ = _shim.__version__
    __getattr__ = _shim.__getattr__  # unknown names: soft no-ops (PEP 562)
    _RAYSWEEP_SHIM = True  # raysweep.program.wandb_package.STAND_IN_MARK: is_stand_in() reads it
    _shim.bind(_sys.modules[__name__])

    __all__ = [
        "Artifact",
        "Audio",
        "Histogram",
        "Html",
        "Image",
        "Molecule",
        "Object3D",
        "Plotly",
        "Table",
        "Video",
        "log_artifact",
        "log_model",
        "plot",
        "plot_table",
        "use_artifact",
        "use_model",
        "CommError",
        "Error",
        "Run",
        "Settings",
        "UsageError",
        "agent",
        "config",
        "define_metric",
        "finish",
        "init",
        "log",
        "login",
        "restore",
        "run",
        "save",
        "setup",
        "summary",
        "sweep",
        "teardown",
        "termerror",
        "termlog",
        "termwarn",
    ]
