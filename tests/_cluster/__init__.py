"""Helpers for the cluster tests: private Ray clusters in subprocesses, and their cleanup.

Every cluster gets its own short ``RAY_TMPDIR`` (Ray's socket paths must stay under the 107-byte
AF_UNIX limit) and free ports, so it never meets the session Ray of the ``ray`` tests, another
test run, or a stale ``ray_current_cluster`` file (which ``ray.init("auto")`` would follow to
a cluster that is gone). Token auth is off on every process of it, head, workers and drivers
alike: a process with another setting than its cluster's cannot connect.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BIN = Path(sys.executable).parent


def short_tmpdir(prefix: str) -> str:
    return tempfile.mkdtemp(prefix=prefix, dir="/tmp")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ray_env(tmpdir: str, **extra: str) -> dict[str, str]:
    """The environment of every process of a private cluster (head, workers, drivers)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "PYTEST_"))}
    env.update(
        RAY_TMPDIR=tmpdir,
        RAY_AUTH_MODE="disabled",
        RAY_USAGE_STATS_ENABLED="0",
        PYTHONPATH=str(REPO / "tests"),
    )
    env.update(extra)
    return env


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _ppid(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[1]) if fields[0] != "Z" else None  # a zombie is gone for our purposes


def _pids() -> Iterator[int]:
    for name in os.listdir("/proc"):
        if name.isdigit():
            yield int(name)


def descendants(roots: Iterable[int]) -> set[int]:
    """Live (non-zombie) processes under ``roots``, the roots included."""
    parent = {pid: _ppid(pid) for pid in _pids()}
    alive = {pid for pid, pp in parent.items() if pp is not None}
    found = {r for r in roots if r in alive}
    grew = True
    while grew:
        more = {pid for pid in alive if parent[pid] in found} - found
        found |= more
        grew = bool(more)
    return found


def ray_processes(tmpdir: str, roots: Iterable[int] = ()) -> dict[int, str]:
    """Processes of one private cluster: their command line names its temp dir, or they descend
    from ``roots``. Zombies don't count (PID 1 of a container may not reap)."""
    found = {
        pid: _cmdline(pid)
        for pid in _pids()
        if pid != os.getpid() and tmpdir in _cmdline(pid) and _ppid(pid) is not None
    }
    for pid in descendants(roots):
        found.setdefault(pid, _cmdline(pid))
    return found


def kill_cluster(tmpdir: str, roots: Iterable[int] = (), grace_s: float = 3.0) -> dict[int, str]:
    """Stop every process of a private cluster, by PID. The ``roots`` (a ``ray start --block``
    head) get SIGTERM first and a few seconds to stop their own processes; then SIGTERM to all
    that is left, and SIGKILL after ``grace_s`` (fake worker raylets outlive the head and wait
    for its GCS in vain). Returns what survived (nothing, normally)."""
    roots = list(roots)
    # Children of a killed head are re-parented: remember the whole tree before signalling.
    known = set(ray_processes(tmpdir, roots))

    def alive(among: Iterable[int] | None = None) -> set[int]:
        known.update(ray_processes(tmpdir, roots))
        pids = known if among is None else set(among)
        return {pid for pid in pids if _ppid(pid) is not None}

    def signal_and_wait(pids: set[int], sig: signal.Signals, wait_s: float) -> None:
        for pid in pids:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and alive(pids):
            time.sleep(0.2)

    signal_and_wait(alive(roots), signal.SIGTERM, 8.0)
    signal_and_wait(alive(), signal.SIGTERM, grace_s)
    signal_and_wait(alive(), signal.SIGKILL, 5.0)
    return {pid: _cmdline(pid) for pid in alive()}


def wait_gone(tmpdir: str, timeout_s: float = 15.0) -> dict[int, str]:
    """Wait for the processes of a cluster that is shutting down; return those still there."""
    deadline = time.monotonic() + timeout_s
    while (left := ray_processes(tmpdir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def remove_tmpdir(tmpdir: str) -> None:
    shutil.rmtree(tmpdir, ignore_errors=True)


def fake_autoscaling_config(
    gcs_address: str, head_cpus: int, worker_types: dict[str, dict[str, object]]
) -> dict[str, object]:
    """A cluster config for Ray's ``fake_multinode`` provider, which starts "nodes" as local
    raylets (written here: the wheel lacks the provider's example.yaml)."""
    types: dict[str, object] = {
        "ray.head.default": {
            "resources": {"CPU": head_cpus, "GPU": 0},
            "node_config": {},
            "max_workers": 0,
        }
    }
    types.update(worker_types)
    return {
        "cluster_name": "raysweep-fake",
        "max_workers": 4,
        "provider": {
            "type": "fake_multinode",
            "use_node_id_as_ip": True,
            "disable_node_updaters": True,
            "disable_launch_config_check": True,
            "launch_multiple": True,  # start all the nodes one update asks for, not one
            "gcs_address": gcs_address,
        },
        "available_node_types": types,
        "head_node_type": "ray.head.default",
        "auth": {},
        "upscaling_speed": 2.0,
        "idle_timeout_minutes": 5,
        "docker": {},
        "initialization_commands": [],
        "setup_commands": [],
        "head_setup_commands": [],
        "worker_setup_commands": [],
        "head_start_ray_commands": [],
        "worker_start_ray_commands": [],
        "file_mounts": {},
        "cluster_synced_files": [],
        "file_mounts_sync_continuously": False,
        "rsync_exclude": [],
        "rsync_filter": [],
    }


class HeadProcess:
    """``ray start --head --block`` in its own session, its output collected in a thread."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        import subprocess
        import threading

        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            argv,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_ready(self, timeout_s: float) -> bool:
        """True once Ray says it started; False if the process ended or time ran out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any("Ray runtime started" in line for line in self.lines):
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.2)
        return False

    @property
    def output(self) -> str:
        return "".join(self.lines)


def start_fake_autoscaling_head(
    tmpdir: str,
    worker_types: dict[str, dict[str, object]],
    head_cpus: int = 1,
    attempts: int = 2,
    timeout_s: float = 120.0,
) -> tuple[HeadProcess, str]:
    """Start a head (no GPUs) whose autoscaler launches ``fake_multinode`` worker nodes.

    Retries with new ports if the head does not come up (a port taken between picking and
    binding it). Returns the head and its GCS address."""
    import json

    ip = "127.0.0.1"
    env = ray_env(tmpdir, RAY_FAKE_CLUSTER="1", AUTOSCALER_UPDATE_INTERVAL_S="1")
    head: HeadProcess | None = None
    for _ in range(attempts):
        port = free_port()
        address = f"{ip}:{port}"
        config = Path(tmpdir) / "fake_cluster.yaml"
        config.write_text(
            json.dumps(fake_autoscaling_config(address, head_cpus, worker_types)),
            encoding="utf-8",
        )
        argv = [
            str(BIN / "ray"), "start", "--head", "--block",
            f"--port={port}", f"--node-ip-address={ip}",
            f"--num-cpus={head_cpus}", "--num-gpus=0",
            f"--autoscaling-config={config}",
            "--include-dashboard=false", f"--dashboard-port={free_port()}",
            "--dashboard-agent-listen-port=0", "--object-store-memory=100000000",
            "--disable-usage-stats",
        ]  # fmt: skip
        head = HeadProcess(argv, env)
        if head.wait_ready(timeout_s):
            return head, address
        kill_cluster(tmpdir, [head.proc.pid], grace_s=3.0)
    assert head is not None
    raise RuntimeError(f"the fake autoscaling head did not start:\n{head.output[-3000:]}")
