"""What Ray's private modules say about the cluster and its autoscaler.

:mod:`raysweep.execution.cluster` asks these readers in turn; a reader whose private API is
missing or changed fails or returns None, and the caller falls back to the next source, so a
new Ray degrades to "unknown", never to a crash.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "autoscaler_status",
    "head_autoscaling_config",
    "prepare_cluster_config",
    "published_node_groups",
]


def prepare_cluster_config(config: dict[str, Any]) -> dict[str, Any]:
    """Fill a ``ray up`` config's defaults (per-type ``max_workers``, the on-premise node
    type) as the autoscaler does; the config unchanged if Ray cannot."""
    try:
        from ray.autoscaler._private.util import prepare_config

        return dict(prepare_config(config))
    except Exception:  # noqa: BLE001 - e.g. fake_multinode has no defaults in the wheel
        return config


def head_autoscaling_config() -> tuple[bool, str | None]:
    """Whether this process started the head node, and then its ``--autoscaling-config``."""
    import ray

    node = getattr(ray._private.worker.global_worker, "node", None)
    if node is None or not getattr(node, "head", False):
        return False, None
    params = getattr(node, "_ray_params", None)
    return True, getattr(params, "autoscaling_config", None)


def published_node_groups() -> list[dict[str, Any]] | None:
    """The node groups of the cluster config that autoscaler v2 and KubeRay publish in the
    GCS (``name``, ``resources``, ``min_count``, ``max_count``; -1: no limit), or None."""
    from ray._private.state import state

    config = state.get_cluster_config()
    if config is None or not config.node_group_configs:
        return None
    return [
        {
            "name": group.name,
            "resources": {str(k): float(v) for k, v in group.resources.items()},
            "min_count": int(group.min_count),
            "max_count": int(group.max_count),
        }
        for group in config.node_group_configs
    ]


def autoscaler_status() -> dict[str, Any] | None:
    """The autoscaler status the monitor writes to the GCS (what ``ray status`` shows)."""
    from ray._private import ray_constants
    from ray.experimental.internal_kv import _internal_kv_get, _internal_kv_initialized

    if not _internal_kv_initialized():  # type: ignore[no-untyped-call]
        return None
    raw = _internal_kv_get(ray_constants.DEBUG_AUTOSCALING_STATUS)
    if not raw:
        return None
    status = json.loads(raw)
    return status if isinstance(status, dict) else None
