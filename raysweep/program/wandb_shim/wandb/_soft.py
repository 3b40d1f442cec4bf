"""The stand-in's soft no-ops: what it does not implement of W&B's API.

``wandb.watch``, ``wandb.alert``, ``import wandb.apis.public`` and any other name or
submodule the stand-in lacks (media, artifacts and the framework integrations are real
modules) resolve to objects whose calls and attributes do nothing, with one warning per kind,
so that a W&B script runs unchanged and its metrics still reach raysweep. Class-like names stay
classes, so ``isinstance`` works.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import types
from typing import Any

from raysweep.program.once import PROGRAM_DIR, warn_once
from raysweep.program.wandb_package import is_stand_in

__all__ = ["SoftModuleFinder", "is_soft", "soft", "warn_unsupported"]


class _SoftMeta(type):
    """Metaclass of no-op classes (``wandb.Image``...): class attributes are no-ops too."""

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Soft(f"{cls.__qualname__}.{name}")


class _Soft(metaclass=_SoftMeta):
    """Stands for an unsupported part of the wandb API: calls and attributes do nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        label = args[0] if type(self) is _Soft and args and isinstance(args[0], str) else None
        object.__setattr__(self, "_label", label or type(self).__qualname__)

    def __call__(self, *args: Any, **kwargs: Any) -> _Soft:
        return _Soft(f"{self._label}()")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Soft(f"{self._label}.{name}")

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def __getitem__(self, key: Any) -> _Soft:
        return _Soft(f"{self._label}[{key!r}]")

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def __iter__(self) -> Any:
        return iter(())

    def __enter__(self) -> _Soft:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def __repr__(self) -> str:
        return f"<wandb {self._label}: no-op under raysweep>"


def warn_unsupported(kind: str, shown: str) -> None:
    """Warn once per ``kind`` that ``shown`` does nothing here.

    The warning points at the user's line, the first caller outside raysweep's program
    package, however many of the stand-in's frames (a subpackage's ``__getattr__``, a module
    finder, importlib) lie between.
    """
    warn_once(
        f"soft-{kind}",
        f"{shown} does nothing under raysweep's wandb stand-in (there is no W&B server); "
        "metrics from wandb.log still reach raysweep. Use `raysweep run --wandb real` to also "
        "send everything to W&B. (Shown once.)",
        outside=(PROGRAM_DIR,),
    )


def soft(kind: str, shown: str, *, warn: bool = True) -> Any:
    """Return the no-op for the name ``shown`` (a class if its last part is capitalised).

    ``kind`` keys the once-only warning; ``warn=False`` where the caller warned already.
    """
    if warn:
        warn_unsupported(kind, shown)
    leaf = shown.rsplit(".", 1)[-1]
    if leaf[:1].isupper():
        # Classes (Image, Table, Artifact...) stay classes, so isinstance() checks work.
        return _SoftMeta(leaf, (_Soft,), {"__module__": "wandb"})
    return _Soft(shown)


def is_soft(value: Any) -> bool:
    """Whether ``value`` is one of the no-ops (``wandb.log`` leaves them out of its rows)."""
    return isinstance(value, (_Soft, _SoftMeta))


class _SoftModule(types.ModuleType):
    """An unknown ``wandb.*`` submodule: every name in it is a no-op."""

    __path__: list[str] = []

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        # Importing the module warned already.
        value = soft(self.__name__, f"{self.__name__}.{name}", warn=False)
        setattr(self, name, value)
        return value


def _imported_by_ray() -> bool:
    """Whether the import being made comes from Ray's code (the first frame outside the
    import machinery and this package)."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if not (name.startswith(("importlib", "wandb")) or name == __name__
                or frame.f_code.co_filename.startswith("<frozen")):
            return bool(name == "ray" or name.startswith("ray."))
        frame = frame.f_back  # type: ignore[assignment]
    return False


class SoftModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes ``import wandb.integration.keras`` (and any other submodule) a soft module."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if not fullname.startswith("wandb.") or not is_stand_in(sys.modules.get("wandb")):
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: Any) -> types.ModuleType:
        # One warning per unknown top-level submodule (wandb.integration, not each below it).
        # Ray Tune's driver imports its own W&B integration (to count callbacks); that import
        # is not the user's and would warn in every sweep run from a notebook or script.
        if not _imported_by_ray():
            warn_unsupported(".".join(spec.name.split(".")[:2]), f"module {spec.name}")
        module = _SoftModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        pass
