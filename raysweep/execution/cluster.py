"""Can the Ray cluster ever run one trial? Live nodes and, on autoscaling clusters, node types.

Ray waits forever for a trial that no node can hold: on a fixed cluster Tune only warns after a
minute, and an autoscaler only logs "No available node types can fulfill resource request" on
the head. raysweep checks before the sweep starts:

- a trial is one resource bundle on **one node** (``{CPU: 1, GPU: 4}`` needs a node with four
  GPUs, never two nodes with two);
- on a fixed cluster it fits if some live node has the resources;
- on an autoscaling cluster it also fits if some node type the autoscaler may launch has them
  (``available_node_types`` of the cluster config). When the node types cannot be read, raysweep
  does not fail: Ray waits, as it would anyway.

Where the autoscaler's node types come from, first match wins (:func:`cluster_shape`):

1. this process started the head node (``ray.init()``): its own ``--autoscaling-config``;
2. the cluster config that autoscaler v2 / KubeRay publish in the GCS (``node_group_configs``);
3. the autoscaler (``monitor.py``) of this cluster running on this host: its
   ``--autoscaling-config`` file (a driver on the head: ``ray exec``, ``ray job submit``);
4. the autoscaler status in the GCS: node types named ``node_<id>`` are the read-only mirror of
   a cluster started by hand (fixed); other names mean autoscaling with node types unknown here.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from raysweep.ray_internals.cluster import (
    autoscaler_status,
    head_autoscaling_config,
    prepare_cluster_config,
    published_node_groups,
)

__all__ = [
    "ClusterShape",
    "NodeType",
    "autoscaling_from_status",
    "cluster_shape",
    "monitor_config_path",
    "node_types_from_config",
    "unfit_message",
]

# The read-only autoscaler of a cluster started by hand gives each node its own type with this
# prefix (ray.autoscaler._private.util.format_readonly_node_type).
_READONLY_TYPE_PREFIX = "node_"
_MONITOR_SCRIPTS = ("autoscaler/_private/monitor.py", "autoscaler/v2/monitor.py")


@dataclass(frozen=True)
class NodeType:
    """A node type an autoscaler may launch (one entry of ``available_node_types``).

    Attributes:
        name: The node type's name.
        resources: What one node of this type has, or None when the config leaves it to the
            provider to detect at launch (then it is unknown here).
        max_workers: How many the autoscaler may launch; None if unbounded or unknown.
        min_workers: How many it keeps running.
    """

    name: str
    resources: Mapping[str, float] | None
    max_workers: int | None = None
    min_workers: int = 0


@dataclass(frozen=True)
class ClusterShape:
    """What a cluster has and may add.

    Attributes:
        nodes: Total resources of each live node.
        autoscaling: True if an autoscaler may add nodes, False for a fixed cluster, None if
            that could not be found out.
        node_types: The worker node types the autoscaler may launch (the head's type left
            out: the head is a live node), or None if unknown.
    """

    nodes: tuple[Mapping[str, float], ...]
    autoscaling: bool | None = False
    node_types: tuple[NodeType, ...] | None = None


def _fits(request: Mapping[str, float], have: Mapping[str, float]) -> bool:
    return all(float(have.get(k, 0.0)) >= v for k, v in request.items() if v > 0)


def _fmt(resources: Mapping[str, float], keys: Iterable[str] | None = None) -> str:
    keys = list(resources) if keys is None else list(keys)
    return "{" + ", ".join(f"{k}: {float(resources.get(k, 0.0)):g}" for k in keys) + "}"


def _node_summary(request: Mapping[str, float], nodes: Iterable[Mapping[str, float]]) -> str:
    keys = list(request)
    shapes = Counter(_fmt(n, keys) for n in nodes)
    parts = [f"{shape} x{count}" if count > 1 else shape for shape, count in shapes.most_common(6)]
    return ", ".join(parts) or "none"


def unfit_message(request: Mapping[str, float], shape: ClusterShape) -> str | None:
    """Say why no node can ever run a trial that asks for ``request``, or None if one can.

    Pure: no Ray. ``None`` also when it cannot be known (an autoscaler with unknown node types).

    >>> nodes = ({"CPU": 1.0}, {"CPU": 2.0, "GPU": 2.0})
    >>> unfit_message({"CPU": 1.0, "GPU": 2.0}, ClusterShape(nodes)) is None
    True
    >>> print(unfit_message({"CPU": 1.0, "GPU": 4.0}, ClusterShape(nodes)))
    no node of the Ray cluster can ever run a trial: a trial asks for {CPU: 1, GPU: 4} on one \
node, and the nodes have {CPU: 1, GPU: 0}, {CPU: 2, GPU: 2}. Lower `raysweep.resources` (or \
--cpu/--gpu), or add a node that has them
    """
    request = {k: float(v) for k, v in request.items() if v}
    if not shape.nodes or any(_fits(request, node) for node in shape.nodes):
        return None  # no nodes at all: not connected in a way that shows them
    ask = _fmt(request)
    have = _node_summary(request, shape.nodes)
    lower = "Lower `raysweep.resources` (or --cpu/--gpu)"
    fixed_message = (
        f"no node of the Ray cluster can ever run a trial: a trial asks for {ask} on one "
        f"node, and the nodes have {have}. {lower}, or add a node that has them"
    )
    if shape.autoscaling is False:
        return fixed_message
    if shape.autoscaling is None or shape.node_types is None:
        return None  # cannot tell; Ray waits for nodes that may come
    launchable = [t for t in shape.node_types if t.max_workers is None or t.max_workers > 0]
    known = [t for t in launchable if t.resources]
    if any(_fits(request, t.resources or {}) for t in known):
        return None
    unknown = [t for t in launchable if not t.resources]
    if unknown:
        # Types whose resources the provider detects at launch: judge them by their live nodes,
        # which is only possible once every node they can have is up (on-premise clusters).
        fixed = all(t.max_workers is not None and t.min_workers == t.max_workers for t in unknown)
        expected = 1 + sum(t.min_workers for t in shape.node_types)
        if not (fixed and len(shape.nodes) >= expected):
            return None
    if not known:
        return fixed_message  # every node it can have is up: a fixed cluster in effect
    types = ", ".join(
        f"{t.name} {_fmt(t.resources or {}, request)}"
        + (f" (up to {t.max_workers})" if t.max_workers is not None else "")
        for t in known
    )
    return (
        f"no node type of the autoscaling Ray cluster can ever run a trial: a trial asks for "
        f"{ask} on one node; the live nodes have {have} and the node types it may add are "
        f"{types}. {lower}, or add a node type that has them to the cluster config "
        "(`available_node_types`)"
    )


def node_types_from_config(config: Mapping[str, Any]) -> tuple[NodeType, ...]:
    """The node types of a cluster config (``ray up`` YAML or the autoscaler's copy) that the
    autoscaler may launch as workers.

    >>> cfg = {"max_workers": 4, "head_node_type": "head", "available_node_types": {
    ...     "head": {"resources": {"CPU": 8}},
    ...     "gpu": {"resources": {"CPU": 4, "GPU": 1}, "max_workers": 2},
    ...     "big": {"resources": {}}}}
    >>> [(t.name, t.resources, t.max_workers) for t in node_types_from_config(cfg)]
    [('gpu', {'CPU': 4.0, 'GPU': 1.0}, 2), ('big', None, 4)]
    """
    types = config.get("available_node_types") or {}
    head = config.get("head_node_type")
    global_max = config.get("max_workers")
    out = []
    for name, spec in types.items():
        if not isinstance(spec, Mapping) or (name == head and not spec.get("max_workers")):
            continue  # the head's type, unless workers are of that type too (on-premise)
        raw = spec.get("resources")
        resources = None
        if isinstance(raw, Mapping) and raw:
            resources = {str(k): float(v) for k, v in raw.items()}
        max_workers = spec.get("max_workers", global_max)
        if isinstance(global_max, int) and isinstance(max_workers, int):
            max_workers = min(max_workers, global_max)
        out.append(
            NodeType(
                name=str(name),
                resources=resources,
                max_workers=int(max_workers) if isinstance(max_workers, int) else None,
                min_workers=int(spec.get("min_workers") or 0),
            )
        )
    return tuple(out)


def _load_cluster_config(path: str) -> dict[str, Any] | None:
    import yaml

    try:
        with open(os.path.expanduser(path), encoding="utf-8") as f:
            config = yaml.safe_load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict):
        return None
    return prepare_cluster_config(config)


def _view_from_config_path(path: str | None) -> tuple[bool | None, tuple[NodeType, ...] | None]:
    if not path:
        return False, None
    config = _load_cluster_config(path)
    if config is None:
        return True, None
    return True, node_types_from_config(config)


def _own_head_view() -> tuple[bool | None, tuple[NodeType, ...] | None] | None:
    """Source 1: this process started the head node."""
    is_head, config_path = head_autoscaling_config()
    if not is_head:
        return None
    return _view_from_config_path(config_path)


def _gcs_config_view() -> tuple[bool | None, tuple[NodeType, ...] | None] | None:
    """Source 2: the cluster config published in the GCS (autoscaler v2, KubeRay)."""
    groups = published_node_groups()
    if groups is None:
        return None
    types = tuple(
        NodeType(
            name=g["name"],
            resources=g["resources"] or None,
            max_workers=None if g["max_count"] < 0 else g["max_count"],
            min_workers=g["min_count"],
        )
        for g in groups
    )
    return True, types


def _local_addresses() -> set[str]:
    import ray

    addresses = {"127.0.0.1", "localhost"}
    try:
        addresses.add(ray.util.get_node_ip_address())  # type: ignore[no-untyped-call]
    except Exception:  # noqa: BLE001 - best effort
        pass
    return addresses


def _split_address(address: str) -> tuple[str, str]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), port


def monitor_config_path(
    gcs_address: str, cmdlines: Iterable[list[str]], local: set[str] | None = None
) -> tuple[bool, str | None]:
    """Find this cluster's autoscaler among process command lines.

    Returns ``(found, path)``: ``path`` is its ``--autoscaling-config`` (None: read-only).

    >>> lines = [["python", "/ray/autoscaler/_private/monitor.py", "--gcs-address=10.0.0.5:6379",
    ...           "--autoscaling-config=/home/u/ray_bootstrap_config.yaml"]]
    >>> monitor_config_path("10.0.0.5:6379", lines)
    (True, '/home/u/ray_bootstrap_config.yaml')
    >>> monitor_config_path("10.0.0.5:6380", lines)
    (False, None)
    """
    want_host, want_port = _split_address(gcs_address)
    local = local or set()
    for argv in cmdlines:
        if not any(any(s in arg for s in _MONITOR_SCRIPTS) for arg in argv[:4]):
            continue
        opts = dict(a[2:].split("=", 1) for a in argv if a.startswith("--") and "=" in a)
        host, port = _split_address(opts.get("gcs-address", ""))
        same_host = host == want_host or (host in local and want_host in local)
        if port == want_port and same_host:
            return True, opts.get("autoscaling-config") or None
    return False, None


def _proc_cmdlines() -> Iterable[list[str]]:
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        if b"monitor.py" in raw:
            yield [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _monitor_view() -> tuple[bool | None, tuple[NodeType, ...] | None] | None:
    """Source 3: this cluster's autoscaler process on this host."""
    import ray

    gcs_address = ray.get_runtime_context().gcs_address
    found, path = monitor_config_path(gcs_address, _proc_cmdlines(), _local_addresses())
    if not found:
        return None
    return _view_from_config_path(path)


def autoscaling_from_status(status: Mapping[str, Any]) -> bool | None:
    """Read the autoscaler status the monitor writes to the GCS (``ray status`` shows it).

    >>> autoscaling_from_status({"autoscaler_report": {"active_nodes": {"node_ab12": 1}}})
    False
    >>> autoscaling_from_status({"autoscaler_report": {"active_nodes": {"ray.head.default": 1},
    ...                          "pending_launches": {"gpu_worker": 1}}})
    True
    >>> autoscaling_from_status({}) is None
    True
    """
    report = status.get("autoscaler_report") or {}
    names: set[str] = set()
    for key in ("active_nodes", "idle_nodes", "pending_launches"):
        names.update((report.get(key) or {}).keys())
    names.update((report.get("node_type_mapping") or {}).values())
    for entry in (report.get("pending_nodes") or []) + (report.get("failed_nodes") or []):
        if isinstance(entry, (list, tuple)) and len(entry) > 1:
            names.add(str(entry[1]))
    if not names:
        return None
    return any(not n.startswith(_READONLY_TYPE_PREFIX) for n in names)


def _status_view() -> tuple[bool | None, tuple[NodeType, ...] | None] | None:
    """Source 4: the autoscaler status in the GCS."""
    status = autoscaler_status()
    if status is None:
        return None
    autoscaling = autoscaling_from_status(status)
    if autoscaling is None:
        return None
    return autoscaling, None


def cluster_shape() -> ClusterShape:
    """Describe the cluster the current Ray connection belongs to (see the module docstring)."""
    import ray

    nodes = tuple(
        {str(k): float(v) for k, v in (n.get("Resources") or {}).items()}
        for n in ray.nodes()  # type: ignore[no-untyped-call]
        if n.get("Alive")
    )
    for source in (_own_head_view, _gcs_config_view, _monitor_view, _status_view):
        try:
            view = source()
        except Exception:  # noqa: BLE001 - private Ray APIs: a source that breaks is skipped
            view = None
        if view is not None:
            return ClusterShape(nodes, autoscaling=view[0], node_types=view[1])
    return ClusterShape(nodes, autoscaling=None)
