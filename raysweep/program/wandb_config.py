"""The run's ``wandb.config``: where its values come from and W&B's rules for changing them.

``wandb.init(config=...)`` sets defaults; the sweep's values are merged over them (nested
dicts recursively) and their top-level keys are *locked*: a later update of such a key is
ignored with W&B's own warning ``Config item 'k' was locked by 'sweep' (ignored update).``
Changing any other key to a new value needs ``allow_val_change=True``, else
:class:`ConfigError`, as in W&B. Scripts written for W&B rely on both rules: the sweep's value
must win over the script's default, and a silent change of a hyperparameter is a bug.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

from raysweep.errors import RaysweepWarning

__all__ = [
    "Config",
    "ConfigError",
    "ConfigKeyError",
    "config_values",
    "merge_dicts",
    "parse_config",
    "read_config_file",
]


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


class ConfigError(ValueError):
    """A config key was changed without ``allow_val_change=True`` (W&B's ConfigError)."""


class ConfigKeyError(KeyError, AttributeError):
    """A missing config or summary key: a KeyError for ``c[k]``, an AttributeError for ``c.k``.

    Being both lets ``getattr(config, k, default)`` and ``hasattr`` work as they do in W&B.
    """

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
            if not _differs(self._items.get(key), value):
                # Integrations (Hugging Face's args, LightGBM's params) set the sweep's own
                # values again: nothing is ignored, so W&B's warning would only be noise.
                return
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
        # A snapshot, so that a loop may set keys while it iterates.
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def __repr__(self) -> str:
        return repr(dict(self.items()))

    def get(self, key: str, default: Any = None) -> Any:
        return self._items.get(key, default)

    def keys(self) -> list[str]:
        """The keys, as a list (W&B's): private ``_`` keys are hidden."""
        return [k for k in self._items if not k.startswith("_")]

    def values(self) -> list[Any]:
        """The values of :meth:`keys`, as a list."""
        return [self._items[k] for k in self.keys()]

    def items(self) -> list[tuple[str, Any]]:
        """The ``(key, value)`` pairs of :meth:`keys`, as a list (W&B's)."""
        return [(k, self._items[k]) for k in self.keys()]

    def as_dict(self) -> dict[str, Any]:
        """A copy of the values, as a plain dict (private ``_`` keys hidden)."""
        return dict(self.items())

    def _as_dict(self) -> dict[str, Any]:
        """Every item, with W&B's private ``_wandb`` entry first, as W&B's run config has it.

        >>> config = Config()
        >>> config.update({"lr": 0.1, "_seen": True})
        >>> config._as_dict(), config.as_dict()
        ({'_wandb': {}, 'lr': 0.1, '_seen': True}, {'lr': 0.1})
        """
        return {"_wandb": {}, **self._items}

    def locked_keys(self) -> dict[str, str]:
        """Locked keys and who locked them."""
        return dict(self._locked)
