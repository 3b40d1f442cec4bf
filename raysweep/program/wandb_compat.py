"""W&B run semantics for raysweep's ``wandb`` stand-in, as pure, testable pieces.

raysweep runs scripts written for W&B Sweeps unchanged. For program trials it puts a small
package named ``wandb`` (in :data:`SHIM_DIR`) first on the trial's ``PYTHONPATH``; that package
is a thin layer over this module, which holds the rules a W&B run follows:

- **Config** (:class:`Config`): ``wandb.init(config=defaults)`` sets the defaults
  (``config-defaults.yaml`` in the working directory first, as W&B does), then the sweep's
  values from ``WANDB_SWEEP_PARAM_PATH`` are merged in, nested dicts recursively, and their
  top-level keys are *locked*: a later update of such a key is ignored with W&B's warning
  ``Config item 'k' was locked by 'sweep' (ignored update).`` Changing any other key to a new
  value needs ``allow_val_change=True``, else :class:`ConfigError`, as in W&B.
- **History** (:class:`History`): ``run.log(data, step=None, commit=None)`` builds rows as W&B
  does. Without ``step`` a call commits its row (one row = one raysweep report); with
  ``commit=False`` data accumulates into the current row. With ``step`` the default is not to
  commit: the row is committed when a later call uses a larger step, or at ``finish()``.
  A step lower than the current one is ignored with a warning.
- **Summary** (:class:`Summary`): the last logged value of each key, or the aggregates that
  ``define_metric(name, summary="min"|"max"|"mean"|"first"|"last"|"best"|"none")`` asks for;
  explicit ``summary[k] = v`` writes win until the key is logged again.

In real mode (``raysweep run --wandb real``) the stand-in hands over to the installed ``wandb``
package (:func:`load_real_wandb`) and patches its ``Run.log`` so that raysweep still receives
every committed row (:func:`patch_real_wandb`).

Only the run that W&B would count for the sweep reports to raysweep: one created while
``WANDB_RUN_ID`` is set, as the agent sets it. Runs made where a script cleared the ``WANDB_*``
variables (W&B's cross-validation example does this in its fold processes) keep their metrics
to themselves, as they would in W&B.

This module imports only the standard library, PyYAML and :mod:`raysweep.program.metrics`.
"""

from __future__ import annotations

import atexit
import contextlib
import fnmatch
import functools
import importlib
import math
import os
import sys
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from raysweep.errors import RaysweepWarning
from raysweep.files import write_json_atomic
from raysweep.program.metrics import log

__all__ = [
    "MODES",
    "MODE_ENV",
    "SHIM_DIR",
    "Config",
    "ConfigError",
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

SHIM_DIR = Path(__file__).resolve().parent / "wandb_shim"
"""The directory that holds the stand-in package ``wandb``; it goes first on ``PYTHONPATH``."""

MODE_ENV = "RAYSWEEP_WANDB"
"""Environment variable telling the stand-in which ``wandb`` to be: ``shim`` or ``real``."""

MODES = ("shim", "real")

SWEEP_ID_ENV = "WANDB_SWEEP_ID"
RUN_ID_ENV = "WANDB_RUN_ID"
PARAM_PATH_ENV = "WANDB_SWEEP_PARAM_PATH"
TRIAL_DIR_ENV = "RAYSWEEP_TRIAL_DIR"  # same name as raysweep.execution.trainable.TRIAL_DIR_ENV

SUMMARY_MODES = ("min", "max", "mean", "first", "last", "best", "copy", "none")

_warned: set[str] = set()


def warn_once(kind: str, message: str, *, stacklevel: int = 3) -> None:
    """Issue ``message`` as a :class:`RaysweepWarning` the first time ``kind`` is seen."""
    if kind in _warned:
        return
    _warned.add(kind)
    warnings.warn(message, RaysweepWarning, stacklevel=stacklevel)


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


# --- config values ------------------------------------------------------------------------


def config_values(doc: Mapping[str, Any] | None) -> dict[str, Any]:
    """Unwrap a W&B config document (``wandb_version: 1`` + ``{name: {value: v}}``).

    Entries that are not ``{value: ...}`` mappings are taken as they are, so plain
    ``config-defaults.yaml`` files (``lr: 0.1``) work too.

    >>> config_values({"wandb_version": 1, "lr": {"desc": None, "value": 0.1}, "n": 3})
    {'lr': 0.1, 'n': 3}
    """
    out: dict[str, Any] = {}
    for key, entry in (doc or {}).items():
        if key in ("wandb_version", "_wandb"):
            continue
        if isinstance(entry, Mapping) and "value" in entry:
            out[str(key)] = entry["value"]
        else:
            out[str(key)] = entry
    return out


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a W&B config file (YAML) into plain values; see :func:`config_values`.

    Raises:
        OSError: The file cannot be read.
        ValueError: It does not hold a YAML mapping.
    """
    import yaml

    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    if doc is None:
        return {}
    if not isinstance(doc, Mapping):
        raise ValueError(f"{os.fspath(path)}: a config file must hold a mapping of names")
    return config_values(doc)


def write_param_file(trial_dir: Path, run_id: str, config: Mapping[str, Any]) -> Path:
    """Write ``config-<run>.yaml`` as the W&B agent writes its ``WANDB_SWEEP_PARAM_PATH``."""
    import yaml

    path = trial_dir / f"config-{run_id}.yaml"
    doc = {"wandb_version": 1, **{k: {"value": v} for k, v in config.items()}}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def sweep_values(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the sweep's values for this run, from ``WANDB_SWEEP_PARAM_PATH`` ({} if unset)."""
    env = os.environ if environ is None else environ
    path = env.get(PARAM_PATH_ENV)
    if not path:
        return {}
    return read_config_file(path)


def merge_dicts(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` updated by ``override``; where both hold a dict, merge recursively.

    >>> merge_dicts({"opt": {"lr": 0.1, "m": 0.9}, "bs": 8}, {"opt": {"lr": 0.01}})
    {'opt': {'lr': 0.01, 'm': 0.9}, 'bs': 8}
    """
    out = dict(base)
    for key, value in override.items():
        old = out.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            out[key] = merge_dicts(old, value)
        else:
            out[key] = value
    return out


def parse_config(source: Any) -> dict[str, Any]:
    """Turn what ``wandb.init(config=...)`` / ``config.update(...)`` accept into a dict.

    Accepts a mapping, a path to a YAML config file, ``None``, or an object with attributes
    such as an ``argparse.Namespace`` (its ``vars()``).

    Raises:
        TypeError: Anything else, as W&B does.
    """
    if source is None:
        return {}
    if isinstance(source, Mapping):
        return {str(k): v for k, v in source.items()}
    if isinstance(source, (str, os.PathLike)):
        return read_config_file(source)
    if hasattr(source, "__dict__"):
        return {k: v for k, v in vars(source).items() if not k.startswith("_")}
    raise TypeError(
        f"config must be a dict, a YAML file name or an object with attributes (such as an "
        f"argparse.Namespace), got {type(source).__name__}"
    )


# --- wandb.config -------------------------------------------------------------------------


class ConfigError(ValueError):
    """A config key was changed without ``allow_val_change=True`` (W&B's ConfigError)."""


class ConfigKeyError(KeyError, AttributeError):
    """A missing config key: a KeyError for ``config[k]``, an AttributeError for ``getattr``."""

    def __str__(self) -> str:
        return f"'{self.args[0]}' is not in the run's config" if self.args else ""


def _differs(a: Any, b: Any) -> bool:
    try:
        return bool(a != b)
    except Exception:  # noqa: BLE001 - arrays and odd objects: compare identity
        return a is not b


class Config:
    """The run's ``wandb.config``: attribute and item access, W&B's locking rules.

    >>> config = Config()
    >>> config.set_defaults({"lr": 0.1, "opt": {"name": "sgd", "m": 0.9}})
    >>> config.merge_locked({"opt": {"name": "adam"}}, user="sweep")
    >>> config.lr, config["opt"]
    (0.1, {'name': 'adam', 'm': 0.9})
    """

    _items: dict[str, Any]
    _locked: dict[str, str]

    def __init__(self) -> None:
        object.__setattr__(self, "_items", {})
        object.__setattr__(self, "_locked", {})

    # Setting values -----------------------------------------------------------------------

    def set_defaults(self, values: Mapping[str, Any]) -> None:
        """Set values without any check (``wandb.init(config=...)`` on a fresh run)."""
        for key, value in values.items():
            self._items[self._key(key)] = value

    def merge_locked(self, values: Mapping[str, Any], user: str = "sweep") -> None:
        """Merge ``values`` over the current ones and lock their top-level keys for ``user``."""
        for key, value in values.items():
            key = self._key(key)
            old = self._items.get(key)
            if isinstance(old, Mapping) and isinstance(value, Mapping):
                value = merge_dicts(old, value)
            self._items[key] = value
            self._locked[key] = user

    def update(self, d: Any = None, allow_val_change: bool | None = None) -> None:
        """Update several keys; locked keys are skipped with W&B's warning."""
        for key, value in parse_config(d).items():
            self._set(key, value, allow_val_change)

    def setdefaults(self, d: Any) -> None:
        """Set the keys of ``d`` that are not set yet."""
        for key, value in parse_config(d).items():
            key = self._key(key)
            if key not in self._items:
                self._items[key] = value

    def update_locked(self, d: Mapping[str, Any], user: str | None = None) -> None:
        """Set and lock keys (W&B's internal API, used by some integrations)."""
        self.merge_locked(d, user or "user")

    def persist(self) -> None:
        """Accepted for compatibility; the config lives in memory."""

    def _set(self, key: str, value: Any, allow_val_change: bool | None) -> None:
        key = self._key(key)
        user = self._locked.get(key)
        if user is not None:
            # W&B's own text, so logs read the same.
            warnings.warn(
                f"Config item '{key}' was locked by '{user}' (ignored update).",
                RaysweepWarning,
                stacklevel=3,
            )
            return
        if not allow_val_change and key in self._items and _differs(self._items[key], value):
            raise ConfigError(
                f'Attempted to change value of key "{key}" from {self._items[key]} to {value}\n'
                "If you really want to do this, pass allow_val_change=True to config.update()"
            )
        self._items[key] = value

    @staticmethod
    def _key(key: Any) -> str:
        # W&B strips leading and trailing dashes, so "--lr" from argparse-like code is "lr".
        return str(key).strip("-")

    # Reading ------------------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._set(key, value, None)

    def __getattr__(self, name: str) -> Any:
        items = self.__dict__.get("_items")
        if items is None or name.startswith("__"):
            raise AttributeError(name)
        try:
            return items[name]
        except KeyError:
            raise ConfigKeyError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._set(name, value, None)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return repr(self._items)

    def get(self, key: str, default: Any = None) -> Any:
        return self._items.get(key, default)

    def keys(self) -> Any:
        return self._items.keys()

    def values(self) -> Any:
        return self._items.values()

    def items(self) -> Any:
        return self._items.items()

    def as_dict(self) -> dict[str, Any]:
        return dict(self._items)

    def locked_keys(self) -> dict[str, str]:
        """Locked keys and who locked them."""
        return dict(self._locked)


# --- history and summary -----------------------------------------------------------------

Row = tuple[int, dict[str, Any]]


class History:
    """The rows of one run's history, built from ``log`` calls by W&B's step/commit rules.

    >>> h = History()
    >>> h.log({"a": 1}, commit=False), h.log({"b": 2})
    ([], [(0, {'a': 1, 'b': 2})])
    >>> h.log({"c": 3}, step=5), h.log({"d": 4}, step=5), h.log({"e": 5}, step=6)
    ([], [], [(5, {'c': 3, 'd': 4})])
    >>> h.flush()
    (6, {'e': 5})
    """

    def __init__(self) -> None:
        self.step = 0
        self._row: dict[str, Any] = {}
        self._pending = False

    def log(
        self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None
    ) -> list[Row]:
        """Add one ``log`` call; return the rows it committed, oldest first."""
        done: list[Row] = []
        if step is not None:
            if step < self.step:
                warn_once(
                    f"step-{step}<{self.step}",
                    f"Tried to log to step {step} that is less than the current step "
                    f"{self.step}. Steps must be monotonically increasing, so this data will "
                    "be ignored.",
                )
                return done
            if step > self.step:
                flushed = self.flush()
                if flushed is not None:
                    done.append(flushed)
                self.step = step
        self._row.update(data)
        self._pending = True
        if commit is None:
            commit = step is None
        if commit:
            done.append((self.step, self._row))
            self._row, self._pending = {}, False
            self.step += 1
        return done

    def flush(self) -> Row | None:
        """Commit the row being built, if any (at a step change, or when the run finishes)."""
        if not self._pending:
            return None
        row = (self.step, self._row)
        self._row, self._pending = {}, False
        return row


class MetricDefinition:
    """What ``define_metric`` declared for one metric name (or glob such as ``val/*``)."""

    def __init__(
        self,
        name: str,
        step_metric: str | None = None,
        summary: str | None = None,
        goal: str | None = None,
        hidden: bool | None = None,
        **extra: Any,
    ) -> None:
        self.name = name
        self.step_metric = step_metric
        self.hidden = hidden
        self.goal = None
        if goal is not None:
            text = str(goal).lower()
            if text in ("minimize", "maximize"):
                self.goal = text
            else:
                warn_once(
                    f"goal-{goal}",
                    f"define_metric({name!r}, goal={goal!r}): goal must be 'minimize' or "
                    "'maximize'; ignored",
                )
        self.summary: tuple[str, ...] = ()
        for mode in str(summary or "").replace(" ", "").split(","):
            if not mode:
                continue
            if mode not in SUMMARY_MODES:
                warn_once(
                    f"summary-{mode}",
                    f"define_metric({name!r}, summary={summary!r}): unknown summary {mode!r} "
                    f"(known: {', '.join(SUMMARY_MODES)}); ignored",
                )
                continue
            self.summary += (mode,)

    def matches(self, key: str) -> bool:
        return key == self.name or ("*" in self.name and fnmatch.fnmatchcase(key, self.name))

    def __repr__(self) -> str:
        return f"MetricDefinition({self.name!r}, summary={self.summary!r}, goal={self.goal!r})"


class _Aggregate:
    def __init__(self, value: Any) -> None:
        self.first = self.last = value
        self.count = 1
        number = _as_number(value)
        self.min = self.max = self.total = number

    def add(self, value: Any) -> None:
        self.last = value
        self.count += 1
        number = _as_number(value)
        if number is None:
            return
        if self.min is None or self.max is None or self.total is None:
            self.min = self.max = self.total = number
            return
        self.min = min(self.min, number)
        self.max = max(self.max, number)
        self.total += number


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return None if math.isnan(value) else float(value)


class Summary:
    """The run's ``summary``: last logged values, ``define_metric`` aggregates, explicit sets.

    >>> s = Summary([MetricDefinition("loss", summary="min")])
    >>> s.observe({"loss": 0.5, "acc": 0.7}); s.observe({"loss": 0.7, "acc": 0.8})
    >>> s["test_acc"] = 0.9
    >>> s.as_dict(), s.unlogged()
    ({'loss': {'min': 0.5}, 'acc': 0.8, 'test_acc': 0.9}, {'test_acc': 0.9})
    """

    _definitions: list[MetricDefinition]
    _data: dict[str, Any]
    _aggregates: dict[str, _Aggregate]
    _explicit: set[str]

    def __init__(self, definitions: list[MetricDefinition] | None = None) -> None:
        object.__setattr__(self, "_definitions", definitions if definitions is not None else [])
        object.__setattr__(self, "_data", {})
        object.__setattr__(self, "_aggregates", {})
        object.__setattr__(self, "_explicit", set())

    def observe(self, row: Mapping[str, Any]) -> None:
        """Update the summary from one committed history row."""
        for key, value in row.items():
            agg = self._aggregates.get(key)
            if agg is None:
                agg = self._aggregates[key] = _Aggregate(value)
            else:
                agg.add(value)
            self._explicit.discard(key)
            definition = self._definition(key)
            modes = definition.summary if definition is not None else ()
            if not modes or modes == ("copy",):
                self._data[key] = value
            elif "none" in modes:
                self._data.pop(key, None)
            else:
                self._data[key] = self._aggregated(agg, modes, definition)

    def _definition(self, key: str) -> MetricDefinition | None:
        exact = [d for d in self._definitions if d.name == key]
        if exact:
            return exact[-1]
        globbed = [d for d in self._definitions if d.matches(key)]
        return globbed[-1] if globbed else None

    @staticmethod
    def _aggregated(
        agg: _Aggregate, modes: tuple[str, ...], definition: MetricDefinition | None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for mode in modes:
            if mode == "min":
                out["min"] = agg.min
            elif mode == "max":
                out["max"] = agg.max
            elif mode == "mean":
                out["mean"] = None if agg.total is None else agg.total / agg.count
            elif mode == "first":
                out["first"] = agg.first
            elif mode in ("last", "copy"):
                out["last"] = agg.last
            elif mode == "best":
                goal = definition.goal if definition is not None else None
                out["best"] = agg.max if goal == "maximize" else agg.min
        return out

    def unlogged(self) -> dict[str, Any]:
        """Explicitly set entries whose keys were never logged since (reported at finish)."""
        return {k: v for k, v in self._data.items() if k in self._explicit}

    def as_dict(self) -> dict[str, Any]:
        return dict(self._data)

    # Mapping interface ----------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = value
        self._explicit.add(key)

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._explicit.discard(key)

    def __getattr__(self, name: str) -> Any:
        data = self.__dict__.get("_data")
        if data is None or name.startswith("__"):
            raise AttributeError(name)
        try:
            return data[name]
        except KeyError:
            raise ConfigKeyError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return repr(self._data)

    def update(self, d: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        for key, value in {**(d or {}), **kwargs}.items():
            self[key] = value

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def keys(self) -> Any:
        return self._data.keys()

    def values(self) -> Any:
        return self._data.values()

    def items(self) -> Any:
        return self._data.items()


def reportable(row: Mapping[Any, Any], prefix: str = "") -> tuple[dict[str, Any], list[str]]:
    """Split a logged row into what raysweep can record and the names it must drop.

    Numbers, booleans, strings and ``None`` are kept; NumPy scalars and one-element arrays or
    tensors are unwrapped with ``.item()``; nested dicts are kept (raysweep flattens them to
    ``a/b``). Media, tables, lists and arrays are dropped; their names are returned.
    The reserved key ``_step`` is dropped silently (raysweep sets it from the row's step).

    >>> reportable({"loss": 0.5, "img": object(), "val": {"acc": 1}, "_step": 3})
    ({'loss': 0.5, 'val': {'acc': 1}}, ['img'])
    """
    keep: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in row.items():
        name = f"{prefix}{key}"
        if not isinstance(key, str) or not key:
            dropped.append(repr(key))
            continue
        if not prefix and key == "_step":
            continue
        if isinstance(value, Mapping):
            inner, lost = reportable(value, name + "/")
            if inner:
                keep[key] = inner
            dropped.extend(lost)
            continue
        scalar = _scalar(value)
        if scalar is _DROP:
            dropped.append(name)
        else:
            keep[key] = scalar
    return keep, dropped


_DROP = object()


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    item = getattr(type(value), "item", None)
    if callable(item):
        try:
            unwrapped = value.item()
        except Exception:  # noqa: BLE001 - arrays with more than one element, odd objects
            return _DROP
        if unwrapped is None or isinstance(unwrapped, (bool, int, float, str)):
            return unwrapped
    return _DROP


# --- real mode ---------------------------------------------------------------------------


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
    for name in [m for m in sys.modules if m == "wandb" or m.startswith("wandb.")]:
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


PYTHONPATH_ENV = "PYTHONPATH"
_loading_real = False


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


def report_row(row: Mapping[str, Any], step: int | None, *, send: bool = True) -> dict[str, Any]:
    """Send one committed history row to raysweep; return what could be recorded.

    Values raysweep cannot record (see :func:`reportable`) are dropped with one warning per
    name. With ``send=False`` nothing is sent (a run that is not the sweep's run).
    """
    clean, dropped = reportable(row)
    for name in dropped:
        warn_once(
            f"drop-{name}",
            f"wandb.log: {name!r} is not a number, so raysweep does not record it "
            "(this warning is shown once per name)",
            stacklevel=4,
        )
    if send:
        try:
            log(clean, step=step)
        except (TypeError, ValueError) as exc:
            warn_once(f"report-{exc}", f"raysweep could not record a logged row: {exc}")
    return clean


# --- function trials ---------------------------------------------------------------------


@contextlib.contextmanager
def function_trial(
    config: Mapping[str, Any],
    *,
    trial_id: str,
    trial_dir: Path,
    sweep_id: str,
    mode: str = "shim",
) -> Iterator[None]:
    """Give a function trial what a program trial gets, so ``import wandb`` in it works.

    For the duration of the trial: the W&B agent's environment variables (and the parameter
    file), and, in shim mode, the stand-in as ``sys.modules["wandb"]`` and first on
    ``sys.path``; in real mode, the installed package, patched. Ray runs one trial at a time
    per worker process, so changing the process state here is safe. A run the function left
    open is finished when it returns (and dropped, without reporting, when it raises).
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
    saved_env = {k: os.environ.get(k) for k in env}
    saved_modules = _wandb_modules()
    saved_module = saved_modules.get("wandb")
    saved_path = list(sys.path)
    os.environ.update(env)
    try:
        if mode == "shim":
            sys.path.insert(0, str(SHIM_DIR))
            if saved_module is not None and not _is_shim(saved_module):
                # The installed wandb was imported before the trial: swap in the stand-in.
                for name in saved_modules:
                    del sys.modules[name]
                importlib.import_module("wandb")
            # Otherwise `import wandb` in the trial finds the stand-in first on sys.path, and a
            # trial that never imports it pays nothing (no import per trial).
        else:
            real = saved_module if saved_module is not None and not _is_shim(saved_module) \
                else load_real_wandb()
            patch_real_wandb(real)
        ok = False
        try:
            yield
            ok = True
        finally:
            shim = sys.modules.get("wandb") if mode == "shim" else None
            if shim is not None and _is_shim(shim):
                shim._end_trial(report=ok)
    finally:
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        sys.path[:] = saved_path
        for name in _wandb_modules():
            if name not in saved_modules:
                del sys.modules[name]
        sys.modules.update(saved_modules)


def _wandb_modules() -> dict[str, Any]:
    return {k: m for k, m in sys.modules.items() if k == "wandb" or k.startswith("wandb.")}


def _is_shim(module: Any) -> bool:
    return module is not None and bool(getattr(module, "_RAYSWEEP_SHIM", False))


def dump_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON atomically (non-JSON values as their ``str``)."""
    write_json_atomic(path, data, indent=2)
