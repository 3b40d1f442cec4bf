"""One driver per sweep directory, and how other processes reach that driver.

A driver (``raysweep run`` / ``resume``, or the Python API) holds ``DIR/driver.lock`` while it
runs the sweep: a JSON file with its host, pid, start time and a heartbeat it rewrites every
few seconds. A second driver refuses to start, naming the first. A lock outlives a crash
(SIGKILL, a lost machine), so it is *stale*, and taken over with a note, when its holder is on
this host and its pid is gone, or when its heartbeat is older than :data:`STALE_AFTER_S`
(for another host only the heartbeat can tell).

``raysweep stop`` / ``cancel`` write a marker file that the driver polls (:func:`request`);
this module imports no Ray, so those commands answer at once.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType

from raysweep.errors import RaysweepError, RaysweepWarning
from raysweep.files import CANCEL_FILE, LOCK_FILE, STOP_FILE, write_text_atomic

__all__ = [
    "HEARTBEAT_S",
    "STALE_AFTER_S",
    "DriverLock",
    "Holder",
    "live_holder",
    "pid_alive",
    "read_holder",
    "request",
    "stale_reason",
]

HEARTBEAT_S = 5.0  # seconds between two heartbeats of the driver holding the lock
# A heartbeat older than this (seconds) means the driver is gone; well above HEARTBEAT_S, so a
# busy machine or a slow shared file system does not make a live driver look dead.
STALE_AFTER_S = 60.0


@dataclass(frozen=True)
class Holder:
    """Who holds a sweep's lock, as its file says.

    Attributes:
        host: The holder's host name.
        pid: Its process id on that host.
        started: When it took the lock (seconds since the epoch).
        heartbeat: Its last heartbeat (seconds since the epoch).
        token: Unique per lock taken, so a driver only ever removes or renews its own.
    """

    host: str
    pid: int
    started: float
    heartbeat: float
    token: str

    def describe(self, now: float) -> str:
        """Say who the holder is, in words: ``pid 12 on node-a, since 2025-01-02 03:04:05
        (last heartbeat 3 s ago)``."""
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        return (f"pid {self.pid} on {self.host}, since {since} (last heartbeat "
                f"{max(0.0, now - self.heartbeat):.0f} s ago)")


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists on this host (one of another user counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_holder(sweep_dir: Path) -> Holder | None:
    """The holder of ``sweep_dir``'s lock, or None if it has no lock file.

    A lock file that cannot be read as a holder (damaged by hand) reads as an unknown holder
    whose heartbeat is the file's modification time: it goes stale like any other.
    """
    path = Path(sweep_dir) / LOCK_FILE
    try:
        text = path.read_text(encoding="utf-8")
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    except OSError:
        text, mtime = "", time.time()
    try:
        data = json.loads(text)
        return Holder(host=str(data["host"]), pid=int(data["pid"]),
                      started=float(data["started"]), heartbeat=float(data["heartbeat"]),
                      token=str(data["token"]))
    except (ValueError, TypeError, KeyError):
        return Holder(host="an unknown host", pid=0, started=mtime, heartbeat=mtime, token="")


def stale_reason(
    holder: Holder,
    *,
    host: str,
    now: float,
    alive: Callable[[int], bool] = pid_alive,
    stale_after: float = STALE_AFTER_S,
) -> str | None:
    """Why ``holder``'s lock is stale, or None while its driver may still run.

    Args:
        holder: The lock's holder.
        host: This host's name: a pid is only checked on the host it belongs to.
        now: The current time (seconds since the epoch).
        alive: Tells whether a pid of this host exists.
        stale_after: Seconds without a heartbeat after which any holder counts as gone.

    >>> h = Holder("a", 7, 0.0, 100.0, "t")
    >>> stale_reason(h, host="b", now=130.0) is None
    True
    >>> stale_reason(h, host="b", now=200.0)
    'its last heartbeat was 100 s ago'
    >>> stale_reason(h, host="a", now=101.0, alive=lambda pid: False)
    'its process (pid 7 on a) is gone'
    """
    if holder.host == host and not alive(holder.pid):
        return f"its process (pid {holder.pid} on {holder.host}) is gone"
    age = now - holder.heartbeat
    if age > stale_after:
        return f"its last heartbeat was {age:.0f} s ago"
    return None


def live_holder(sweep_dir: Path) -> Holder | None:
    """The driver running the sweep in ``sweep_dir`` now, or None (no lock, or a stale one)."""
    holder = read_holder(sweep_dir)
    if holder is None or stale_reason(holder, host=socket.gethostname(), now=time.time()):
        return None
    return holder


def request(sweep_dir: Path, what: str) -> Path:
    """Ask the driver of ``sweep_dir`` to ``stop`` or ``cancel``; returns the marker's path.

    The driver polls for the marker twice a second (``execution/control.py``).
    """
    name = STOP_FILE if what == "stop" else CANCEL_FILE
    path = Path(sweep_dir) / name
    path.write_text(f"{what} requested at {time.ctime()}\n", encoding="utf-8")
    return path


class DriverLock:
    """The lock of one sweep directory, held by the driver that runs the sweep.

    Use as a context manager: entering takes the lock (or raises) and starts the heartbeat;
    leaving stops the heartbeat and removes the lock, if it is still this driver's.

    Args:
        sweep_dir: The sweep directory (created if missing).
        remove_empty_dir: Also remove ``sweep_dir`` on release if nothing else is in it (a
            new sweep that ended before it wrote anything leaves no empty folder behind).
        host, pid, clock, alive: This driver's host and pid, the time, and whether a pid of
            this host exists; the defaults are the real ones (tests pass others).
        heartbeat_s: Seconds between heartbeats (0: no heartbeat thread).
        stale_after: See :func:`stale_reason`.
    """

    def __init__(
        self,
        sweep_dir: Path,
        *,
        remove_empty_dir: bool = False,
        host: str | None = None,
        pid: int | None = None,
        clock: Callable[[], float] = time.time,
        alive: Callable[[int], bool] = pid_alive,
        heartbeat_s: float = HEARTBEAT_S,
        stale_after: float = STALE_AFTER_S,
    ) -> None:
        self.sweep_dir = Path(sweep_dir)
        self.path = self.sweep_dir / LOCK_FILE
        self.remove_empty_dir = remove_empty_dir
        self.host = host or socket.gethostname()
        self.pid = os.getpid() if pid is None else pid
        self.clock = clock
        self.alive = alive
        self.heartbeat_s = heartbeat_s
        self.stale_after = stale_after
        self.holder: Holder | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- taking and giving back ----------------------------------------------------------------
    def acquire(self) -> str | None:
        """Take the lock; return a note if a stale lock was taken over, else None.

        Raises:
            RaysweepError: another driver holds the lock (naming it, and what to do).
        """
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        note = None
        for _ in range(5):  # only a race with another driver's takeover repeats this
            now = self.clock()
            mine = Holder(self.host, self.pid, now, now, uuid.uuid4().hex)
            if self._create(mine):
                self.holder = mine
                return note
            seen = self._read_text()
            if seen is None:
                continue  # released meanwhile: try again
            holder = read_holder(self.sweep_dir)
            if holder is None:
                continue
            why = stale_reason(holder, host=self.host, now=now, alive=self.alive,
                               stale_after=self.stale_after)
            if why is None:
                raise RaysweepError(self._refusal(holder, now))
            if self._remove_if_unchanged(seen):
                note = (f"took over the lock of an earlier driver of {self.sweep_dir} "
                        f"({holder.describe(now)}): {why}")
        raise RaysweepError(
            f"cannot take the lock {self.path}: other drivers keep taking it; run one driver "
            "per sweep"
        )

    def _refusal(self, holder: Holder, now: float) -> str:
        return (
            f"another driver is running the sweep in {self.sweep_dir}: {holder.describe(now)}. "
            f"Wait for it to end, or end it with `raysweep stop {self.sweep_dir}` (running "
            f"trials finish) or `raysweep cancel {self.sweep_dir}`, then resume. If that "
            f"driver is gone (its machine died), its lock counts as stale "
            f"{self.stale_after:.0f} s after its last heartbeat; or delete {self.path}"
        )

    def _create(self, holder: Holder) -> bool:
        """Create the lock file with ``holder`` in one step; False if it exists.

        Written to a temporary file and hard-linked into place: the link fails if the lock
        exists (atomic, also on NFS), and a reader never sees a half-written lock.
        """
        tmp = self.sweep_dir / f".{LOCK_FILE}.{holder.token}.tmp"
        tmp.write_text(json.dumps(asdict(holder)), encoding="utf-8")
        try:
            os.link(tmp, self.path)
            return True
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)

    def _read_text(self) -> str | None:
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def _remove_if_unchanged(self, seen: str) -> bool:
        """Remove the lock if it still says ``seen`` (the stale holder's text).

        Renamed away first, then compared: if another driver took the lock, or the holder
        beat, in between, the file is put back (a link, which never overwrites) and kept.
        """
        grave = self.sweep_dir / f".{LOCK_FILE}.{uuid.uuid4().hex}.stale"
        try:
            os.rename(self.path, grave)
        except FileNotFoundError:
            return False
        try:
            if grave.read_text(encoding="utf-8") == seen:
                return True
            try:
                os.link(grave, self.path)
            except FileExistsError:
                pass
            return False
        finally:
            grave.unlink(missing_ok=True)

    def release(self) -> None:
        """Stop the heartbeat and remove the lock if it is still this driver's."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.holder is not None and self._still_mine():
            self.path.unlink(missing_ok=True)
        self.holder = None
        if self.remove_empty_dir:
            try:
                self.sweep_dir.rmdir()
            except OSError:
                pass  # not empty: the sweep wrote its files

    def _still_mine(self) -> bool:
        current = read_holder(self.sweep_dir)
        return (current is not None and self.holder is not None
                and current.token == self.holder.token)

    # -- heartbeat -----------------------------------------------------------------------------
    def beat(self) -> bool:
        """Renew the heartbeat; False (and a warning) if another driver took the lock over."""
        if self.holder is None:
            return False
        if not self._still_mine():
            current = read_holder(self.sweep_dir)
            who = current.describe(self.clock()) if current else "nobody"
            warnings.warn(
                f"this driver lost the lock of {self.sweep_dir} (now held by {who}); two "
                "drivers may now run the sweep: stop one of them",
                RaysweepWarning,
                stacklevel=2,
            )
            self.holder = None
            return False
        renewed = Holder(**{**asdict(self.holder), "heartbeat": self.clock()})
        write_text_atomic(self.path, json.dumps(asdict(renewed)))
        self.holder = renewed
        return True

    def _beat_until_released(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                if not self.beat():
                    return
            except OSError:
                pass  # a shared file system's hiccup: the next beat tries again

    def __enter__(self) -> DriverLock:
        note = self.acquire()
        if note is not None:
            warnings.warn(note, RaysweepWarning, stacklevel=2)
        if self.heartbeat_s > 0:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._beat_until_released, name="raysweep-lock-heartbeat", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
