"""Tune's trainable lookups, answered from memory while a sweep runs.

For every trial, Tune looks its trainable up in Ray's global registry several times
(``Trial.__init__``, its placement group, its actor): each lookup is a round trip to the GCS's
key-value store and, for ``get``, an unpickling of the whole function. In sweeps of short
trials that was a sizeable share of the driver's time per trial, for a value that cannot change
during the run (raysweep registers its trainable once, before ``Tuner.fit``).

Checked against Ray 2.60 (``ray/tune/registry.py``: ``_global_registry``, ``_Registry.get``
and ``contains``, ``TRAINABLE_CLASS``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

__all__ = ["cached_trainable_lookups"]


@contextlib.contextmanager
def cached_trainable_lookups() -> Iterator[None]:
    """Within the block, answer the registry's trainable lookups from memory after the first.

    Only found trainables are remembered (an unknown name is asked again); other categories
    go to Ray as before. The registry is left as it was afterwards, also if Ray lacks the
    members (another version): then nothing is cached.
    """
    try:
        from ray.tune import registry

        reg: Any = registry._global_registry
        category = registry.TRAINABLE_CLASS
        real_get, real_contains = reg.get, reg.contains
    except (ImportError, AttributeError):
        yield
        return
    found: dict[str, Any] = {}

    def get(cat: str, key: str) -> Any:
        if cat != category:
            return real_get(cat, key)
        if key not in found:
            found[key] = real_get(cat, key)
        return found[key]

    def contains(cat: str, key: str) -> bool:
        if cat == category and key in found:
            return True
        return bool(real_contains(cat, key))

    reg.get, reg.contains = get, contains
    try:
        yield
    finally:
        # The instance attributes shadowed the class's methods: removing them restores Ray's.
        del reg.get, reg.contains
