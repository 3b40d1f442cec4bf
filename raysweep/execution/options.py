"""Settings of one run that are not in the sweep file (CLI flags, keyword arguments), checked.

The Python API accepts what the CLI's option types would refuse (``count=0``, ``seed=-1``,
``name="a/b"``); each is refused here with a clear message before anything starts, instead
of a ``TypeError`` deep inside Ray or a sweep that runs with a value that means something else.
"""

from __future__ import annotations

import importlib.util
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raysweep.errors import RaysweepError
from raysweep.files import default_storage
from raysweep.numeric import is_integer
from raysweep.program.wandb_package import MODES
from raysweep.sweep.model import SweepConfig

if TYPE_CHECKING:
    from raysweep.analysis.warm_start import WarmStart
    from raysweep.execution.recorder import SweepRecorder

__all__ = [
    "RunOptions",
    "check_options",
    "check_whole",
    "storage_root",
    "sweep_name",
    "trial_cap",
    "trial_count",
    "trial_resources",
]



@dataclass
class RunOptions:
    """Settings of one run that are not part of the sweep file (CLI flags / keyword args).

    See :func:`raysweep.run` for what each one means.
    """

    count: int | None = None
    address: str | None = None
    storage: str | os.PathLike[str] | None = None
    name: str | None = None
    seed: int | None = None
    resources: Mapping[str, float] | None = None
    max_concurrent_trials: int | None = None
    max_failures: int | None = None
    num_cpus: int | None = None
    num_gpus: int | None = None
    on_start: Callable[[Path, SweepConfig], None] | None = None
    on_change: Callable[[SweepRecorder], None] | None = None
    extra_callbacks: list[Any] = field(default_factory=list)
    wandb: str = "shim"
    warm_start: list[str | os.PathLike[str]] = field(default_factory=list)
    # The earlier results of warm_start, already read (the CLI reads them before anything
    # starts, to exit with code 2 on a bad source); None: read from warm_start.
    warm_read: WarmStart | None = None
    rerun_failed: bool = False


# File names that say nothing about the sweep (most sweep files are called sweep.yaml).
_GENERIC_STEMS = frozenset({"sweep", "sweeps", "config", "sweep_config", "sweep-config"})


def sweep_name(cfg: SweepConfig) -> str:
    """Default name of a sweep directory: ``<base>-<timestamp>``.

    The base is the sweep's ``name``, else the file's stem, else (for ``sweep.yaml`` and the
    like, which would make every folder ``sweep-...``) the name of the file's folder.
    """
    return f"{_base_name(cfg)}-{time.strftime('%Y%m%d-%H%M%S')}"


def _base_name(cfg: SweepConfig) -> str:
    base = cfg.name or ""
    if not base and cfg.path is not None:
        base = cfg.path.stem
        if base.lower() in _GENERIC_STEMS and cfg.path.resolve().parent.name:
            base = cfg.path.resolve().parent.name
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", base).strip("-.") or "sweep"


def storage_root(cfg: SweepConfig, options: RunOptions) -> str:
    """The folder that holds sweep directories (absolute), or a URI as given.

    ``storage=`` wins, then the file's ``raysweep.storage`` (relative to the sweep file, like
    ``program``), then ``$RAYSWEEP_STORAGE`` or ``./raysweep_results``.
    """
    if options.storage is not None:
        raw = str(options.storage)
    elif cfg.options.storage is not None:
        raw = cfg.options.storage
        if "://" not in raw and not os.path.isabs(os.path.expanduser(raw)):
            raw = str(cfg.directory / raw)
    else:
        raw = str(default_storage())
    if "://" in raw:
        return raw
    return str(Path(raw).expanduser().resolve())


def trial_cap(cfg: SweepConfig, count: int | None) -> int | None:
    """The smaller of ``count`` (the --count flag) and the file's ``run_cap``; None if neither."""
    caps = [c for c in (count, cfg.run_cap) if c is not None]
    return min(caps) if caps else None


def trial_count(cfg: SweepConfig, options: RunOptions) -> int:
    """How many trials Tune runs: :func:`trial_cap`, or -1 for no limit."""
    cap = trial_cap(cfg, options.count)
    return -1 if cap is None else cap


def trial_resources(cfg: SweepConfig, options: RunOptions) -> dict[str, float]:
    """What one trial asks Ray for: the file's ``raysweep.resources``, then ``resources=``."""
    res = cfg.options.resources.as_ray()
    for key, value in (options.resources or {}).items():
        upper = key.upper() if key.lower() in ("cpu", "gpu") else key
        res[upper] = float(value)
    return {k: v for k, v in res.items() if v}


def check_whole(name: str, value: object, least: int) -> None:
    """Refuse anything but None or a whole number >= ``least`` (what the CLI's ranges allow).

    >>> check_whole("count", 0, 1)
    Traceback (most recent call last):
    ...
    raysweep.errors.RaysweepError: count must be a whole number >= 1, got 0
    """
    if value is not None and (not is_integer(value) or value < least):
        raise RaysweepError(f"{name} must be a whole number >= {least}, got {value!r}")


def check_options(options: RunOptions, function: object) -> None:
    """Refuse options the CLI's types would have refused (see the module docstring).

    Raises:
        RaysweepError: naming the option and the value.
    """
    if function is not None and not callable(function):
        raise RaysweepError(
            f"function must be a Python function train(config) that calls raysweep.log, got "
            f"{type(function).__name__} {function!r}"
        )
    if options.wandb not in MODES:
        raise RaysweepError(
            f"wandb must be 'shim' (raysweep's stand-in) or 'real' (the installed wandb "
            f"package), got {options.wandb!r}"
        )
    if options.wandb == "real" and importlib.util.find_spec("wandb") is None:
        # Checked before Ray starts: otherwise the first trial finds out, and fails.
        raise RaysweepError(
            "wandb 'real' (--wandb real) runs the installed wandb package, but it is not "
            "installed for this Python: `pip install wandb`, or use raysweep's stand-in "
            "(--wandb shim, the default)"
        )
    folder = options.name
    if folder is not None and (not isinstance(folder, str) or folder in ("", ".", "..")
                               or "/" in folder or os.sep in folder):
        # A path would put the sweep directory outside the storage folder.
        raise RaysweepError(
            f"name must be a folder name for the sweep directory (no '/'), got {folder!r}; "
            "choose where sweep directories go with storage= (--storage)"
        )
    for source in options.warm_start:
        if not isinstance(source, str | os.PathLike) or not str(source):
            raise RaysweepError(
                f"warm_start must be a list of paths (earlier sweep directories, CSV or Parquet "
                f"files), got {source!r} in {options.warm_start!r}"
            )
    if not isinstance(options.rerun_failed, bool):
        raise RaysweepError(f"rerun_failed must be True or False, got {options.rerun_failed!r}")
    for name, least in (("count", 1), ("seed", 0), ("max_concurrent_trials", 1),
                        ("max_failures", -1)):
        check_whole(name, getattr(options, name), least)
    if options.resources is not None:
        from raysweep.sweep.config import resource_issues

        problems = resource_issues(options.resources)
        if problems:
            said = "; ".join(
                f"{i.path.removeprefix('raysweep.resources').lstrip('.') or 'it'} {i.message}"
                + (f" ({i.hint})" if i.hint else "")
                for i in problems
            )
            raise RaysweepError(
                f"resources={options.resources!r} is not a per-trial resource request: {said}"
            )
