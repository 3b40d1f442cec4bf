"""Which ``wandb`` a trial imports: raysweep's stand-in, or the installed package, patched.

For program trials raysweep puts :data:`SHIM_DIR`, the folder holding the stand-in package
``wandb``, first on ``PYTHONPATH``, so an unchanged W&B script imports the stand-in: no W&B
account, no network. With ``RAYSWEEP_WANDB=real`` (``raysweep run --wandb real``) the stand-in
hands over to the installed ``wandb`` package (:func:`load_real_wandb`), patched so that
raysweep still receives every committed row of the sweep's run (:func:`patch_real_wandb`).
"""

from __future__ import annotations

import atexit
import functools
import importlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from raysweep.program.once import warn_once
from raysweep.program.wandb_history import History, report_row
from raysweep.program.wandb_init import RUN_ID_ENV, SWEEP_ID_ENV

__all__ = [
    "MODES",
    "MODE_ENV",
    "SHIM_DIR",
    "STAND_IN_MARK",
    "check_mode",
    "import_stand_in",
    "is_stand_in",
    "load_real_wandb",
    "patch_real_wandb",
    "pythonpath_with_shim",
    "wandb_modules",
]

SHIM_DIR = Path(__file__).resolve().parent / "wandb_shim"
"""The directory that holds the stand-in package ``wandb``; it goes first on ``PYTHONPATH``."""

MODE_ENV = "RAYSWEEP_WANDB"
"""Environment variable telling the stand-in which ``wandb`` to be: ``shim`` or ``real``."""

MODES = ("shim", "real")
"""The values of :data:`MODE_ENV` (``raysweep run --wandb``)."""

STAND_IN_MARK = "_RAYSWEEP_SHIM"
"""The attribute, true on the stand-in package, by which :func:`is_stand_in` knows it."""

PYTHONPATH_ENV = "PYTHONPATH"
_loading_real = False


def check_mode(mode: str) -> str:
    """Return ``mode`` if it names a wandb mode raysweep knows, else raise ValueError.

    >>> check_mode("real")
    'real'
    """
    if mode not in MODES:
        raise ValueError(f"wandb mode must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


def pythonpath_with_shim(current: str | None) -> str:
    """Return ``PYTHONPATH`` with :data:`SHIM_DIR` first (once)."""
    shim = str(SHIM_DIR)
    rest = [p for p in (current or "").split(os.pathsep) if p and p != shim]
    return os.pathsep.join([shim, *rest])


def is_stand_in(module: Any) -> bool:
    """Whether ``module`` is raysweep's stand-in ``wandb`` (not the installed package).

    >>> import types
    >>> is_stand_in(types.ModuleType("wandb")), is_stand_in(None)
    (False, False)
    """
    return module is not None and bool(getattr(module, STAND_IN_MARK, False))


def wandb_modules() -> dict[str, Any]:
    """The imported modules of whichever ``wandb`` package is loaded, by name."""
    return {k: m for k, m in sys.modules.items() if k == "wandb" or k.startswith("wandb.")}


def import_stand_in() -> Any:
    """Make ``import wandb`` in this process give the stand-in; return the stand-in module.

    For drivers that run W&B code themselves (``raysweep run script.py``, a notebook after
    ``import raysweep.wandb``). :data:`SHIM_DIR` goes first on ``sys.path`` and stays there,
    so the driver sees what its trials see (the stand-in's distribution metadata included);
    an installed ``wandb`` imported before is forgotten.
    """
    current = sys.modules.get("wandb")
    if is_stand_in(current):
        return current
    shim = str(SHIM_DIR)
    sys.path[:] = [shim, *(p for p in sys.path if p != shim)]
    for name in wandb_modules():
        del sys.modules[name]
    importlib.invalidate_caches()
    saved = os.environ.get(MODE_ENV)
    os.environ[MODE_ENV] = "shim"  # "real" would make the stand-in hand over on import
    try:
        module = importlib.import_module("wandb")
    finally:
        if saved is None:
            os.environ.pop(MODE_ENV, None)
        else:
            os.environ[MODE_ENV] = saved
    if not is_stand_in(module):
        raise ImportError(f"`import wandb` found {getattr(module, '__file__', module)}, not "
                          f"raysweep's stand-in in {SHIM_DIR}")
    return module


def load_real_wandb() -> Any:
    """Import the installed ``wandb`` package instead of the stand-in, and patch it.

    Called by the stand-in while it is being imported in real mode: it takes
    :data:`SHIM_DIR` off ``sys.path`` (and off ``PYTHONPATH``, for child processes), forgets
    the stand-in's modules and imports ``wandb`` again, which now finds the real package.

    Raises:
        ImportError: No other ``wandb`` package is installed.
    """
    global _loading_real
    if _loading_real:
        # The "real" package found was the stand-in again (SHIM_DIR reached another way).
        raise ImportError("no wandb package other than raysweep's stand-in is installed")
    shim = str(SHIM_DIR)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != shim]
    if PYTHONPATH_ENV in os.environ:
        rest = [p for p in os.environ[PYTHONPATH_ENV].split(os.pathsep) if p and p != shim]
        os.environ[PYTHONPATH_ENV] = os.pathsep.join(rest)
    for name in wandb_modules():
        del sys.modules[name]
    importlib.invalidate_caches()
    _loading_real = True
    try:
        module = importlib.import_module("wandb")
    except ImportError as exc:
        raise ImportError(
            "raysweep runs this sweep with --wandb real, but the wandb package is not "
            f"installed for {sys.executable} ({exc}). Install it (pip install wandb), or run "
            "with --wandb shim (the default) to use raysweep's stand-in."
        ) from exc
    finally:
        _loading_real = False
    patch_real_wandb(module)
    return module



def patch_real_wandb(module: Any) -> None:
    """Make the real ``wandb`` also report each committed row of the sweep's run to raysweep.

    Wraps ``wandb.init`` (the sweep's run is the one created while ``WANDB_RUN_ID`` is set;
    ``WANDB_SWEEP_ID`` and ``WANDB_RUN_ID`` are hidden from the real package during ``init``,
    since no W&B server knows raysweep's sweep or trial ids), ``Run.log`` (rows are rebuilt
    with :class:`History`, as the stand-in does) and ``Run.finish`` (flushes the last row).
    Patching twice does nothing.
    """
    if getattr(module, "_raysweep_patched", False):
        return
    run_cls = _real_run_class(module)
    if run_cls is None or not callable(getattr(module, "init", None)):
        warn_once(
            "real-unpatched",
            f"raysweep cannot find wandb.init and the Run class in wandb "
            f"{getattr(module, '__version__', '?')}: metrics logged with it do not reach "
            "raysweep. Also call raysweep.log(), or use --wandb shim.",
        )
        return
    histories: dict[int, History] = {}
    original_init = module.init
    original_log = run_cls.log
    original_finish = run_cls.finish

    @functools.wraps(original_init)
    def init(*args: Any, **kwargs: Any) -> Any:
        is_sweep_run = bool(os.environ.get(RUN_ID_ENV))
        hidden = {k: os.environ.pop(k) for k in (SWEEP_ID_ENV, RUN_ID_ENV) if k in os.environ}
        try:
            run = original_init(*args, **kwargs)
        finally:
            os.environ.update(hidden)
        if is_sweep_run and run is not None and id(run) not in histories:
            histories[id(run)] = History()
        return run

    @functools.wraps(original_log)
    def log_and_report(
        self: Any, data: Any, step: Any = None, commit: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        result = original_log(self, data, step, commit, *args, **kwargs)
        history = histories.get(id(self))
        if history is not None and isinstance(data, Mapping):
            for row_step, row in history.log(dict(data), _step_or_none(step), commit):
                report_row(row, row_step)
        return result

    @functools.wraps(original_finish)
    def finish_and_report(self: Any, *args: Any, **kwargs: Any) -> Any:
        _flush(histories.pop(id(self), None))
        return original_finish(self, *args, **kwargs)

    def flush_all() -> None:
        for key in list(histories):
            _flush(histories.pop(key, None))

    module.init = init
    run_cls.log = log_and_report
    run_cls.finish = finish_and_report
    module._raysweep_patched = True
    # The real package's own exit hook may finish the run without calling Run.finish.
    atexit.register(flush_all)
    # W&B's default console capture redirects file descriptor 1; "wrap" patches sys.stdout
    # only, so raysweep's report lines (written to a copy of fd 1) stay untouched.
    os.environ.setdefault("WANDB_CONSOLE", "wrap")


def _real_run_class(module: Any) -> Any:
    try:
        from importlib import import_module

        return import_module(f"{module.__name__}.sdk.wandb_run").Run
    except (ImportError, AttributeError):
        return getattr(module, "Run", None)


def _step_or_none(step: Any) -> int | None:
    if step is None:
        return None
    try:
        return int(step)
    except (TypeError, ValueError):
        return None


def _flush(history: History | None) -> None:
    if history is None:
        return
    row = history.flush()
    if row is not None:
        report_row(row[1], row[0])
