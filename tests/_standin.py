"""The ``wandb`` stand-in imported in the test process, as a trial imports it.

:func:`enter_trial` sets what the W&B agent gives a run; :func:`stand_in_imported`
imports the stand-in under its real name for a block and forgets it afterwards (the modules,
the import hooks and the trial-end hook it registers), so tests stay independent.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from raysweep.program.wandb_agent import end_trial, set_trial_end
from raysweep.program.wandb_package import SHIM_DIR


def enter_trial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make this process look like trial ``t1`` of sweep ``sweep-1``; return its folder."""
    trial_dir = tmp_path / "trial"
    trial_dir.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WANDB_SWEEP_ID", "sweep-1")
    monkeypatch.setenv("WANDB_RUN_ID", "t1")
    monkeypatch.setenv("RAYSWEEP_TRIAL_DIR", str(trial_dir))
    monkeypatch.delenv("WANDB_SWEEP_PARAM_PATH", raising=False)
    monkeypatch.delenv("RAYSWEEP_WANDB", raising=False)
    return trial_dir


@contextlib.contextmanager
def wandb_modules_restored() -> Iterator[None]:
    """Forget every imported ``wandb`` module for the block; restore them and the import
    hooks (``sys.meta_path``) afterwards."""
    saved = {k: m for k, m in sys.modules.items() if k == "wandb" or k.startswith("wandb.")}
    for name in saved:
        del sys.modules[name]
    saved_meta_path = list(sys.meta_path)
    try:
        yield
    finally:
        for name in [k for k in sys.modules if k == "wandb" or k.startswith("wandb.")]:
            del sys.modules[name]
        sys.modules.update(saved)
        sys.meta_path[:] = saved_meta_path


@contextlib.contextmanager
def stand_in_imported(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The stand-in, imported as ``wandb`` for the block; its open run ends without
    reporting afterwards, as a failed trial's does."""
    with wandb_modules_restored():
        saved_end = set_trial_end(None)
        monkeypatch.syspath_prepend(str(SHIM_DIR))
        import wandb as module

        try:
            yield module
        finally:
            end_trial(report=False)
            set_trial_end(saved_end)
