"""One driver per sweep directory: the lock's rules, with fake hosts, pids and clocks (no Ray)."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest

from raysweep.errors import RaysweepError, RaysweepWarning
from raysweep.execution.lock import DriverLock, Holder, live_holder, read_holder, stale_reason
from raysweep.files import LOCK_FILE


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _lock(sweep: Path, clock: Clock, *, host: str = "node-a", pid: int = 100,
          gone: frozenset[int] = frozenset(), **kwargs: object) -> DriverLock:
    return DriverLock(sweep, host=host, pid=pid, clock=clock,
                      alive=lambda p: p not in gone, heartbeat_s=0, **kwargs)  # type: ignore[arg-type]


def test_the_lock_file_names_its_driver_and_goes_away_at_release(tmp_path: Path) -> None:
    clock = Clock()
    lock = _lock(tmp_path, clock, pid=4242)
    assert lock.acquire() is None
    data = json.loads((tmp_path / LOCK_FILE).read_text(encoding="utf-8"))
    assert (data["host"], data["pid"], data["started"], data["heartbeat"]) == (
        "node-a", 4242, clock.now, clock.now)
    lock.release()
    assert not (tmp_path / LOCK_FILE).exists()
    assert not list(tmp_path.iterdir())  # no temporary file left either


def test_a_second_driver_is_refused_naming_the_first(tmp_path: Path) -> None:
    clock = Clock(time.mktime((2025, 3, 4, 5, 6, 7, 0, 0, -1)))
    first = _lock(tmp_path, clock, pid=100)
    first.acquire()
    clock.now += 3
    second = _lock(tmp_path, clock, pid=200)
    with pytest.raises(RaysweepError) as caught:
        second.acquire()
    text = str(caught.value)
    assert f"another driver is running the sweep in {tmp_path}" in text
    assert "pid 100 on node-a, since 2025-03-04 05:06:07 (last heartbeat 3 s ago)" in text
    assert f"raysweep stop {tmp_path}" in text and f"raysweep cancel {tmp_path}" in text
    assert "60 s after its last heartbeat" in text
    # The first driver's lock is untouched.
    assert read_holder(tmp_path) == first.holder


def test_a_lock_whose_process_is_gone_on_this_host_is_taken_over(tmp_path: Path) -> None:
    clock = Clock()
    _lock(tmp_path, clock, pid=100).acquire()  # a driver killed with SIGKILL: never released
    clock.now += 1  # its heartbeat is fresh, but its pid is gone
    second = _lock(tmp_path, clock, pid=200, gone=frozenset({100}))
    note = second.acquire()
    assert note is not None
    assert "took over the lock of an earlier driver" in note
    assert "its process (pid 100 on node-a) is gone" in note
    assert read_holder(tmp_path) == second.holder
    assert second.holder is not None and second.holder.pid == 200


def test_another_hosts_lock_is_live_until_its_heartbeat_stops(tmp_path: Path) -> None:
    clock = Clock()
    _lock(tmp_path, clock, host="node-b", pid=100).acquire()
    clock.now += 59
    # pid 100 does not exist here, but it is node-b's pid: only the heartbeat can tell.
    here = _lock(tmp_path, clock, host="node-a", pid=200, gone=frozenset({100}))
    with pytest.raises(RaysweepError, match="pid 100 on node-b"):
        here.acquire()
    clock.now += 2  # 61 s without a heartbeat
    note = here.acquire()
    assert note is not None and "its last heartbeat was 61 s ago" in note


def test_the_heartbeat_keeps_a_lock_live(tmp_path: Path) -> None:
    clock = Clock()
    holder = _lock(tmp_path, clock, host="node-b", pid=100)
    holder.acquire()
    clock.now += 50
    assert holder.beat()
    clock.now += 50  # 100 s after the start, 50 s after the last beat
    with pytest.raises(RaysweepError, match="last heartbeat 50 s ago"):
        _lock(tmp_path, clock, pid=200).acquire()


def test_a_driver_whose_lock_was_taken_over_stops_beating_and_keeps_the_new_lock(
    tmp_path: Path,
) -> None:
    clock = Clock()
    old = _lock(tmp_path, clock, host="node-b", pid=100)
    old.acquire()
    clock.now += 120  # old hung long enough to look dead
    new = _lock(tmp_path, clock, pid=200)
    assert new.acquire() is not None
    with pytest.warns(RaysweepWarning, match=r"lost the lock .*pid 200 on node-a"):
        assert not old.beat()
    old.release()
    assert read_holder(tmp_path) == new.holder  # not removed by the driver that lost it


def test_as_a_context_manager_a_takeover_warns_and_the_heartbeat_runs(tmp_path: Path) -> None:
    stale = Holder("node-a", 100, 1.0, 1.0, "old")
    (tmp_path / LOCK_FILE).write_text(json.dumps(stale.__dict__), encoding="utf-8")
    lock = DriverLock(tmp_path, host="node-a", pid=200, alive=lambda p: p != 100,
                      heartbeat_s=0.05)
    with pytest.warns(RaysweepWarning, match="took over the lock"), lock:
        first = read_holder(tmp_path)
        assert first is not None and first.pid == 200
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            now = read_holder(tmp_path)
            if now is not None and now.heartbeat > first.heartbeat:
                break
            time.sleep(0.02)
        else:
            raise AssertionError("the heartbeat thread never renewed the lock")
    assert not (tmp_path / LOCK_FILE).exists()


@pytest.mark.parametrize("text", ["", "not json", '{"pid": 1}'])
def test_a_damaged_lock_ages_by_its_file_time(tmp_path: Path, text: str) -> None:
    path = tmp_path / LOCK_FILE
    path.write_text(text, encoding="utf-8")
    clock = Clock(path.stat().st_mtime + 10)
    with pytest.raises(RaysweepError, match="pid 0 on an unknown host"):
        _lock(tmp_path, clock).acquire()
    clock.now += 60
    assert _lock(tmp_path, clock).acquire() is not None


def test_a_new_sweep_that_wrote_nothing_leaves_no_folder(tmp_path: Path) -> None:
    sweep = tmp_path / "s"
    lock = _lock(sweep, Clock(), remove_empty_dir=True)
    lock.acquire()
    assert sweep.is_dir()
    lock.release()
    assert not sweep.exists()
    kept = _lock(sweep, Clock(), remove_empty_dir=True)
    kept.acquire()
    (sweep / "raysweep.json").write_text("{}", encoding="utf-8")
    kept.release()
    assert (sweep / "raysweep.json").exists()


def test_live_holder_sees_only_a_running_driver(tmp_path: Path) -> None:
    assert live_holder(tmp_path) is None  # no lock
    with DriverLock(tmp_path, heartbeat_s=0):
        holder = live_holder(tmp_path)
        assert holder is not None and holder.pid == os.getpid()
    # A fresh lock left by a process of this host that no longer exists (a pid above
    # Linux's largest possible pid, 2**22).
    gone = Holder(socket.gethostname(), 2**22 + 12345, time.time(), time.time(), "t")
    (tmp_path / LOCK_FILE).write_text(json.dumps(gone.__dict__), encoding="utf-8")
    assert stale_reason(gone, host=gone.host, now=time.time()) is not None
    assert live_holder(tmp_path) is None


def _sweep_dir(root: Path, name: str) -> Path:
    sweep = root / name
    sweep.mkdir(parents=True)
    (sweep / "raysweep.json").write_text(json.dumps({"name": name}), encoding="utf-8")
    return sweep


@pytest.mark.parametrize("what", ["stop", "cancel"])
def test_stop_and_cancel_act_on_the_latest_sweep_and_name_its_driver(
    tmp_path: Path, what: str
) -> None:
    from click.testing import CliRunner

    from raysweep.cli import main

    older = _sweep_dir(tmp_path, "older")
    latest = _sweep_dir(tmp_path, "latest")
    os.utime(older / "raysweep.json", (1, 1))
    env = {"RAYSWEEP_STORAGE": str(tmp_path), "COLUMNS": "200"}
    idle = CliRunner().invoke(main, [what], env=env)
    assert idle.exit_code == 2
    said = " ".join(idle.output.split())
    assert f"no driver is running the sweep in {latest}: nothing to {what}" in said
    assert f"raysweep resume {latest}" in said
    assert not (latest / what.upper()).exists()
    with DriverLock(latest, heartbeat_s=0):
        res = CliRunner().invoke(main, [what], env=env)
    assert res.exit_code == 0, res.output
    said = " ".join(res.output.split())
    assert f"{what} requested for {latest}" in said
    assert f"pid {os.getpid()} on {socket.gethostname()}" in said
    assert (latest / what.upper()).exists() and not (older / what.upper()).exists()
