"""The user's functions named in ``scheduler.optimizer`` / ``search_space``, loaded from
``scheduler.source``, for every engine (this module imports none of their packages).

Every way that can fail is a :class:`~raysweep.errors.RaysweepError` naming the file and the
function. Each source file is executed once per driver, as an import would be: it is in
``sys.modules`` (under a name of its own), and its folder stays on ``sys.path`` (last), so that
the functions may import its neighbours when they run.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from raysweep.errors import RaysweepError
from raysweep.sweep.model import SchedulerSpec

__all__ = ["call_hook", "load_hook"]

_MODULES: dict[Path, ModuleType] = {}


def load_hook(spec: SchedulerSpec, which: str) -> Callable[..., Any]:
    """The function named by ``spec.<which>`` (``optimizer`` or ``search_space``) in
    ``spec.source``.

    Raises:
        RaysweepError: no source file, the file cannot be read or raises when imported, or it
            has no callable of that name.
    """
    name = getattr(spec, which)
    source = spec.source
    where = f"scheduler.{which}: {name!r}"
    if source is None:
        raise RaysweepError(f"{where} needs scheduler.source, the Python file that defines it")
    module = _load_module(Path(source), where)
    hook = getattr(module, name, None)
    if hook is None:
        raise RaysweepError(
            f"{where}: {source} has no function {name!r}; define it there or fix the name"
        )
    if not callable(hook):
        raise RaysweepError(f"{where}: {name!r} in {source} is a {type(hook).__name__}, "
                            "not a function")
    return hook  # type: ignore[no-any-return]


def call_hook(spec: SchedulerSpec, which: str) -> Any:
    """Call ``spec.<which>()`` (no argument) and return what it returns.

    Raises:
        RaysweepError: loading fails (:func:`load_hook`) or the call raises.
    """
    hook = load_hook(spec, which)
    try:
        return hook()
    except Exception as exc:
        raise RaysweepError(
            f"scheduler.{which}: {getattr(spec, which)!r} in {spec.source} raised "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def _load_module(path: Path, where: str) -> ModuleType:
    path = path.resolve()
    if path in _MODULES:
        return _MODULES[path]
    if not path.is_file():
        raise RaysweepError(f"{where}: the source file {path} does not exist")
    # Unique per file (two hooks.py in two folders are two modules), stable across drivers.
    digest = hashlib.sha1(str(path).encode("utf-8")).hexdigest()[:12]
    module_name = f"raysweep_scheduler_source_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise RaysweepError(f"{where}: {path} cannot be imported as a Python file")
    module = importlib.util.module_from_spec(spec)
    # In sys.modules while it runs, as an import does: a dataclass under `from __future__
    # import annotations` (W&B's RunSuggestion) looks its module up there.
    sys.modules[module_name] = module
    # Its folder first on sys.path while it runs, so that it imports its neighbours first.
    folder = str(path.parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    loaded = False
    try:
        spec.loader.exec_module(module)
        loaded = True
    except Exception as exc:
        raise RaysweepError(
            f"{where}: importing {path} raised {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        if not loaded:
            sys.modules.pop(module_name, None)
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(folder)
            if loaded:
                # Then last, for the driver's life: a function that imports a neighbour when
                # called (at each proposal) still finds it; no later import is shadowed by it.
                sys.path.append(folder)
    _MODULES[path] = module
    return module

