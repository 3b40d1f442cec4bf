"""How many trials a Ray cluster can run at once.

Two uses: how many trials Tune may keep waiting for a worker (grid and random start many at
once), and how many proposals bayes may have outstanding (each one it makes before the
results of the others arrive is made on guesses, so it makes no more than can run).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping

__all__ = ["ClusterSlots", "slots_on"]


def slots_on(nodes: Iterable[Mapping[str, float]], request: Mapping[str, float]) -> int:
    """How many trials asking for ``request`` fit on ``nodes`` together, node by node.

    A trial runs on one node, so what is left over on each node does not add up.

    >>> slots_on([{"CPU": 2.0}], {"CPU": 1.0})
    2
    >>> slots_on([{"CPU": 8.0, "GPU": 1.5}, {"CPU": 8.0, "GPU": 1.5}], {"CPU": 1.0, "GPU": 1.0})
    2
    >>> slots_on([{"CPU": 1.0}], {"GPU": 0.1})
    0
    >>> slots_on([{"CPU": 4.0, "GPU": 1.0}], {"GPU": 0.1})
    10
    """
    wanted = {k: float(v) for k, v in request.items() if v > 0}
    total = 0
    for node in nodes:
        # The small tolerance keeps 1.0 // 0.1 at 10, not 9.
        fits = [math.floor(float(node.get(k, 0.0)) / v + 1e-9) for k, v in wanted.items()]
        total += min(fits, default=0)
    return total


def _live_nodes() -> list[dict[str, float]]:
    import ray

    return [
        {str(k): float(v) for k, v in (n.get("Resources") or {}).items()}
        for n in ray.nodes()  # type: ignore[no-untyped-call]
        if n.get("Alive")
    ]


class ClusterSlots:
    """How many trials the connected cluster can run at once, read at most once a ``ttl``.

    Args:
        request: What one trial asks for (Ray's resource names).
        can_grow: True if an autoscaler may add nodes: then one more trial may wait beyond
            the live nodes, so the autoscaler sees demand and adds a node.
        ttl: Seconds a reading stays valid (a cluster's nodes change slowly; Ray's node table
            is a remote call).
        nodes: Where the live nodes' resources come from (tests pass their own).
    """

    def __init__(
        self,
        request: Mapping[str, float],
        *,
        can_grow: bool = False,
        ttl: float = 1.0,
        nodes: Callable[[], Iterable[Mapping[str, float]]] = _live_nodes,
    ) -> None:
        self._request = dict(request)
        self._extra = 1 if can_grow else 0
        self._ttl = ttl
        self._nodes = nodes
        self._value = 0
        self._read_at = -math.inf

    def __call__(self) -> int:
        """Trials that can run at once now (at least 1, so a sweep can always start one)."""
        now = time.monotonic()
        if now - self._read_at >= self._ttl:
            self._value = max(1, slots_on(self._nodes(), self._request) + self._extra)
            self._read_at = now
        return self._value
