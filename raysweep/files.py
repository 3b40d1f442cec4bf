"""The sweep directory: where it goes, what its files are called, and how they are written.

Every file raysweep rewrites while a sweep runs (the snapshots ``searcher.json`` and
``scheduler.json``, a compacted ``trials.jsonl``, the report, a W&B run's ``summary.json``) is
written next to its target under a unique temporary name and renamed into place: a reader, or
a driver killed mid-write, sees the old file or the new one, never a mix. (A trial's parameter
files are written once, before its program starts, so nobody can read them half done.) They
get the mode ``open()`` would give a new file (0666 less the umask), so shared storage and web
servers can read them. The logs (``*.jsonl``) are appended a whole line at a time instead.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "AppendLog",
    "CANCEL_FILE",
    "COMPLETED_FILE",
    "CONFIG_FILE",
    "ENDED_STATUSES",
    "HISTORY_FILE",
    "LOCK_FILE",
    "META_FILE",
    "SCHEDULER_FILE",
    "SCHEDULER_LOG_FILE",
    "SEARCHER_FILE",
    "SEARCHER_LOG_FILE",
    "STOP_FILE",
    "STORAGE_ENV",
    "SnapshotPacer",
    "TRIALS_FILE",
    "TRIALS_LOG_FILE",
    "cut_partial_line",
    "default_storage",
    "is_sweep_dir",
    "read_log",
    "write_json_atomic",
    "write_lines_atomic",
    "write_text_atomic",
]

# What a sweep directory holds besides Ray's own files (the names are part of its format:
# `raysweep resume` and `raysweep results` read directories written by earlier versions).
META_FILE = "raysweep.json"  # the sweep's name, method, metric, ...; marks a sweep directory
CONFIG_FILE = "sweep.yaml"  # the configuration as the sweep started
TRIALS_FILE = "trials.json"  # one entry per trial: status, config, last and best values
# (written by earlier versions; read when a sweep has no TRIALS_LOG_FILE)
TRIALS_LOG_FILE = "trials.jsonl"  # appended: a trial's entry each time it changes; last wins
HISTORY_FILE = "history.jsonl"  # one line per report
SEARCHER_FILE = "searcher.json"  # the searcher's state, for resume (a snapshot)
SEARCHER_LOG_FILE = "searcher.jsonl"  # appended: the searcher's events since its snapshots
SCHEDULER_FILE = "scheduler.json"  # the early-termination state, for resume (a snapshot)
SCHEDULER_LOG_FILE = "scheduler.jsonl"  # appended: what changed since its snapshots
SCRIPT_FILE = "script.json"  # a sweep run by a script's wandb.agent call: which script, which call
WARM_START_FILE = "warm_start.json"  # the earlier results a warm-started sweep was told
RERUN_FAILED_FILE = "rerun_failed.jsonl"  # failed trials replaced by `resume --rerun-failed`
STOP_FILE = "STOP"  # written by `raysweep stop`: start no new trials
CANCEL_FILE = "CANCEL"  # written by `raysweep cancel`: also end the running ones
# In a trial's directory: its program had exited 0 on its own when the scheduler's stop reached
# it (the stop came at its last report), so the trial finished rather than being stopped.
COMPLETED_FILE = "completed"
LOCK_FILE = "driver.lock"  # held by the one driver running the sweep: host, pid, heartbeat

# A trial in one of these states (``trials.jsonl``) is over and never runs again, also not
# on `raysweep resume`.
ENDED_STATUSES = ("finished", "stopped", "failed")

STORAGE_ENV = "RAYSWEEP_STORAGE"


def default_storage() -> Path:
    """Where sweeps go unless told otherwise: ``$RAYSWEEP_STORAGE`` or ``./raysweep_results``."""
    return Path(os.environ.get(STORAGE_ENV) or "raysweep_results").expanduser()


def is_sweep_dir(path: Path) -> bool:
    """Whether ``path`` is a sweep directory (it has :data:`META_FILE`)."""
    return (path / META_FILE).is_file()


def write_text_atomic(path: str | os.PathLike[str], text: str, *, sync: bool = False) -> None:
    """Replace ``path`` by ``text`` (UTF-8) in one rename.

    ``sync`` also waits until the data is on disk (survives a crash of the machine, not just
    of the process); it costs a few milliseconds, so frequent writers use it sparingly.
    """
    write_lines_atomic(path, [text.encode("utf-8")], sync=sync)


def write_lines_atomic(
    path: str | os.PathLike[str], lines: Iterable[bytes], *, sync: bool = True
) -> None:
    """Replace ``path`` by ``lines`` in one rename; streamed, never held whole (the compaction
    of a log larger than memory should be). ``sync``: as for :func:`write_text_atomic`."""
    target = Path(path)
    fd, tmp = _create_temporary(target)
    try:
        with os.fdopen(fd, "wb") as f:
            f.writelines(lines)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        # The rename did not happen: leave no temporary file behind.
        tmp.unlink(missing_ok=True)
        raise


def _create_temporary(target: Path) -> tuple[int, Path]:
    """Create a new file with a unique name next to ``target``; return its descriptor and path.

    Its mode is 0666 less the umask, as for ``open()``: ``tempfile.mkstemp`` would make every
    file raysweep writes 0600 whatever the umask, unreadable to the user's group and web server.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue  # another writer's temporary: draw another name
    raise FileExistsError(f"no free temporary name next to {target}")


def write_json_atomic(
    path: str | os.PathLike[str], data: Any, *, sync: bool = False, indent: int | None = None
) -> None:
    """:func:`write_text_atomic` of ``json.dumps(data)`` (values JSON lacks as their ``str``).

    ``json.dumps`` runs the C encoder; ``json.dump`` to a file would not (several times slower
    for the states written after every trial).
    """
    text = json.dumps(data, default=str, indent=indent)
    write_text_atomic(path, text + "\n" if indent is not None else text, sync=sync)


class AppendLog:
    """A JSON-lines file that only grows: each record is one line, written and flushed at once.

    A driver killed mid-write cuts at most the last line, which :func:`read_log` skips; a new
    ``AppendLog`` of that file first cuts such a line off, so that its records start on lines
    of their own (and :meth:`offset` is where the next one starts). The file is opened on the
    first append (a sweep that never appends leaves no file).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._file: IO[str] | None = None
        cut_partial_line(self.path)

    def append(self, record: Any, *, sync: bool = False) -> int:
        """Append ``record`` (values JSON lacks as their ``str``); return the file's size after
        it, the offset a snapshot that includes this record stores (see :func:`read_log`).

        ``sync`` also waits until the line is on disk (it survives a crash of the machine).
        """
        if self._file is None:
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        self._file.write(json.dumps(record, default=str) + "\n")
        self._file.flush()
        if sync:
            self.sync()
        return self._file.tell()

    def sync(self) -> bool:
        """Wait until what was appended is on disk; False if that could not be done (nothing
        appended since the file was opened, or a file system that refuses)."""
        if self._file is None:
            return False
        try:
            os.fsync(self._file.fileno())
        except OSError:
            return False
        return True

    def offset(self) -> int:
        """The file's size now (0 if it does not exist yet)."""
        if self._file is not None:
            return self._file.tell()
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __getstate__(self) -> dict[str, Any]:
        # Tune pickles searchers, schedulers and callbacks with the run's settings.
        return {"path": self.path, "_file": None}


def cut_partial_line(path: Path) -> None:
    """Cut a last line without its newline (a writer killed mid-append) off ``path``."""
    try:
        with open(path, "rb+") as f:
            size = f.seek(0, os.SEEK_END)
            if size == 0:
                return
            f.seek(size - 1)
            if f.read(1) == b"\n":
                return
            keep = size
            while keep > 0:
                step = min(keep, 1 << 16)
                f.seek(keep - step)
                at = f.read(step).rfind(b"\n")
                if at >= 0:
                    keep = keep - step + at + 1
                    break
                keep -= step
            f.truncate(keep)
    except FileNotFoundError:
        return


def read_log(path: str | os.PathLike[str], start: int = 0) -> Iterator[dict[str, Any]]:
    """The records of an :class:`AppendLog` from byte offset ``start`` on, in order.

    Records are JSON objects: a last line without its newline (cut by a crash) and lines that
    are not one (damaged) are skipped; a missing file has no records.
    """
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return
    with f:
        f.seek(start)
        for line in f:
            if not line.endswith(b"\n"):
                return
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                yield record


class SnapshotPacer:
    """Says when to rewrite a state file whose size grows with the sweep.

    A snapshot is due once the time since the last one ended is at least ``1 / share`` times
    what that one cost, so snapshots take at most about ``share`` of the driver's time however
    large the state grows; small states are still written at every event. What happens
    between snapshots goes to an :class:`AppendLog`, so nothing is lost.
    """

    def __init__(self, share: float = 0.05) -> None:
        self.share = share
        self._cost = 0.0
        self._ended = -float("inf")

    def due(self) -> bool:
        """Whether a snapshot should be written now."""
        return time.monotonic() - self._ended >= self._cost / self.share

    def wrote(self, started: float) -> None:
        """Record a snapshot that began at ``started`` (``time.monotonic()``) and ends now."""
        self._ended = time.monotonic()
        self._cost = self._ended - started
