"""Attribute access on the stand-in's packages: real submodules first, else soft no-ops."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from ._soft import soft

__all__ = ["submodule_or_soft"]


def submodule_or_soft(package: str, package_file: str, name: str) -> Any:
    """Return ``<package>.<name>``: the submodule if the stand-in has it, else a no-op.

    For a package's ``__getattr__`` (PEP 562): ``from wandb.sdk import wandb_run`` asks the
    package for the attribute before it imports the submodule, so a no-op must never hide a
    real module. The no-op warns once per package.

    Raises:
        AttributeError: ``name`` is a dunder (so that probes such as ``hasattr`` work).
    """
    if name.startswith("__"):
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    here = Path(package_file).parent
    if (here / f"{name}.py").is_file() or (here / name / "__init__.py").is_file():
        return importlib.import_module(f"{package}.{name}")
    return soft(package, f"{package}.{name}")
