"""What the dashboard knows of each sweep folder, read incrementally (no Ray, no pandas).

Per sweep, :class:`SweepState` keeps each trial's latest entry of ``trials.jsonl`` and byte
offsets into ``trials.jsonl`` and ``history.jsonl``; every read parses only the lines added
since. History rows are never kept: a request streams them from the file (:meth:`SweepState.read`).
A ``trials.jsonl`` that shrank below the offset, or was replaced (the recorder's compaction
renames a new file into place), is read again from the start; a ``history.jsonl`` replaced
(``raysweep resume`` drops unfinished trials' rows) starts a new generation, and a cursor of
an older one gets everything again.

A sweep's state, without a live driver: ``failed`` if a trial failed, ``finished`` if it has
trials and every one ended (finished or stopped), else ``interrupted`` (the driver ended with
trials not run to their end: Ctrl-C, cancel, a lost machine). ``raysweep.json`` does not say
how the driver ended, so a sweep stopped by ``raysweep stop`` reads as finished or interrupted
as its trials say.
"""

from __future__ import annotations

import json
import math
import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raysweep.analysis.tables import read_trial_log
from raysweep.execution.lock import live_holder
from raysweep.files import ENDED_STATUSES, HISTORY_FILE, META_FILE, TRIALS_LOG_FILE, is_sweep_dir

__all__ = [
    "HISTORY_BUDGET",
    "HISTORY_PER_TRIAL",
    "SweepState",
    "Catalog",
    "SweepSummary",
    "sweep_state",
]

# A response holds at most this many history rows per trial, and about this many in all
# (a huge sweep's first request is thinned, evenly along each trial's steps, its last row kept).
HISTORY_PER_TRIAL = 200
HISTORY_BUDGET = 200_000
_CHUNK = 8 << 20  # bytes of history parsed at once (one C-parser call per chunk)


def sweep_state(statuses: Mapping[str, int], live: bool) -> str:
    """The state of a sweep from its trials' status counts and whether a driver runs it.

    >>> sweep_state({"finished": 3, "stopped": 1}, False)
    'finished'
    >>> sweep_state({"finished": 3, "failed": 1}, False), sweep_state({"running": 2}, True)
    ('failed', 'running')
    >>> sweep_state({"finished": 1, "running": 1}, False), sweep_state({}, False)
    ('interrupted', 'interrupted')
    """
    if live:
        return "running"
    if statuses.get("failed"):
        return "failed"
    total = sum(statuses.values())
    ended = sum(statuses.get(s, 0) for s in ENDED_STATUSES)
    return "finished" if total and ended == total else "interrupted"


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _best(entries: Iterator[dict[str, Any]], mode: str, key: Any) -> dict[str, Any] | None:
    """The trial whose ``key(entry)`` is best (first of equals), as ``{trial_id, value}``."""
    best: dict[str, Any] | None = None
    for entry in entries:
        value = _number(key(entry))
        if value is None:
            continue
        if best is None or (value < best["value"] if mode == "min" else value > best["value"]):
            best = {"trial_id": entry.get("trial_id"), "value": value}
    return best


def _objective_best(entry: Mapping[str, Any], name: str) -> Any:
    objectives = entry.get("objectives")
    if not isinstance(objectives, dict) or not isinstance(objectives.get(name), dict):
        return None
    return objectives[name].get("best")


def _parse_lines(data: bytes) -> list[Any]:
    """The JSON values of whole lines (one C-parser call; a damaged line is skipped)."""
    if not data:
        return []
    try:
        return list(json.loads(b"[" + data.rstrip(b"\n").replace(b"\n", b",") + b"]"))
    except ValueError:
        out = []
        for line in data.split(b"\n"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out


_PREFIX = b'{"trial_id": "'


def _line_trial(line: bytes) -> bytes:
    """The trial id of a history line, read from its start as the recorder writes it (no
    parse), else parsed; ``b""`` for a line that is no trial's row."""
    if line.startswith(_PREFIX):
        end = line.find(b'"', len(_PREFIX))
        if end > 0 and b"\\" not in line[len(_PREFIX):end]:
            return line[len(_PREFIX):end]
    try:
        row = json.loads(line)
    except ValueError:
        return b""
    return str(row.get("trial_id")).encode() if isinstance(row, dict) else b""


def _counts(entries: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """The number of trial entries per status."""
    counts: dict[str, int] = {}
    for entry in entries:
        status = str(entry.get("status"))
        counts[status] = counts.get(status, 0) + 1
    return counts


def _whole(data: bytes) -> bytes:
    """``data`` up to its last newline: a line still being written waits for the next read."""
    return data[: data.rfind(b"\n") + 1]


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


@dataclass
class SweepState:
    """The dashboard's incremental view of one sweep folder; thread-safe.

    Args:
        path: The sweep folder.
    """

    path: Path
    trials: dict[str, dict[str, Any]] = field(default_factory=dict)
    _seq: dict[str, int] = field(default_factory=dict)  # when each trial last changed
    _counter: int = 0
    _trials_inode: int = -1
    _trials_offset: int = 0
    _history_inode: int = -1
    _history_generation: int = 0
    _epoch: str = field(default_factory=lambda: secrets.token_hex(4))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def meta(self) -> dict[str, Any]:
        """``raysweep.json`` (an empty dict if it cannot be read)."""
        try:
            meta = json.loads((self.path / META_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return meta if isinstance(meta, dict) else {}

    def read_trials(self) -> None:
        """Take in the lines added to ``trials.jsonl`` since the last read."""
        with self._lock:
            self._refresh_trials()

    def _refresh_trials(self) -> None:
        path = self.path / TRIALS_LOG_FILE
        ident = _identity(path)
        if ident is None:
            return
        inode, size, _ = ident
        if inode != self._trials_inode or size < self._trials_offset:
            # Compacted or rewritten: read again; a trial counts as changed only if it did.
            self._trials_inode, self._trials_offset = inode, 0
        if size == self._trials_offset:
            return
        with open(path, "rb") as f:
            f.seek(self._trials_offset)
            data = _whole(f.read(size - self._trials_offset))
        self._trials_offset += len(data)
        for entry in _parse_lines(data):
            if not isinstance(entry, dict) or "trial_id" not in entry:
                continue
            tid = str(entry["trial_id"])
            if self.trials.get(tid) != entry:
                self._counter += 1
                self.trials[tid] = entry
                self._seq[tid] = self._counter

    def _history_now(self) -> tuple[int, int]:
        """The history file's generation and size now."""
        ident = _identity(self.path / HISTORY_FILE)
        if ident is None:
            return self._history_generation, 0
        inode, size, _ = ident
        if inode != self._history_inode:
            if self._history_inode != -1:
                self._history_generation += 1
            self._history_inode = inode
        return self._history_generation, size

    def _cursor(self, generation: int, offset: int) -> str:
        return f"{self._epoch}.{self._counter}.{generation}.{offset}"

    def _parse_cursor(self, cursor: str | None) -> tuple[int, int, int] | None:
        if not cursor:
            return None
        parts = cursor.split(".")
        if len(parts) != 4 or parts[0] != self._epoch:
            return None  # another server's (or a restarted one's) cursor: start over
        try:
            seq, generation, offset = (int(p) for p in parts[1:])
        except ValueError:
            return None
        return seq, generation, offset

    def counts(self) -> dict[str, int]:
        """The trials per status."""
        return _counts(self.trials.values())

    def ended_key(self) -> tuple[int, int]:
        """The number of ended trials and the trials file's inode, after reading what was
        added: what the sweep page's figures are kept for (:mod:`raysweep.dashboard.plots`)."""
        with self._lock:
            self._refresh_trials()
            ended = sum(n for s, n in self.counts().items() if s in ENDED_STATUSES)
            return ended, self._trials_inode

    def read(self, cursor: str | None = None) -> dict[str, Any]:
        """The sweep as the API's ``GET /api/sweep/<id>`` returns it (without ``id``).

        With a cursor of this state: only the trials changed and the history rows added
        since. Without (or with a stale one): everything, ``"reset": true``.
        """
        with self._lock:
            self._refresh_trials()
            generation, size = self._history_now()
            since = self._parse_cursor(cursor)
            if since is not None and (since[1] != generation or since[2] > size):
                since = None  # the history file was replaced since that cursor
            meta = self.meta()
            counts = self.counts()
            if since is None:
                trials = list(self.trials.values())
            else:
                trials = [self.trials[t] for t, s in self._seq.items() if s > since[0]]
            start = 0 if since is None else since[2]
            history, end, thinned = self._read_history(start, size, full=since is None)
            out: dict[str, Any] = {
                "meta": meta,
                "state": sweep_state(counts, live_holder(self.path) is not None),
                "counts": counts,
                "best": None,
                "objectives": [],
                "trials": trials,
                "history": history,
                "thinned": thinned,
                "reset": since is None,
                "cursor": self._cursor(generation, end),
            }
            mode = str(meta.get("mode") or "min")
            if meta.get("metric"):
                out["best"] = _best(iter(self.trials.values()), mode, lambda e: e.get("best"))
            for objective in meta.get("metrics") or []:
                if isinstance(objective, dict) and objective.get("name"):
                    name = str(objective["name"])
                    omode = str(objective.get("mode") or "min")
                    out["objectives"].append({
                        "name": name, "mode": omode,
                        "best": _best(iter(self.trials.values()), omode,
                                      lambda e, n=name: _objective_best(e, n)),
                    })
            return out

    def _read_history(self, start: int, size: int, *, full: bool) -> tuple[list[Any], int, bool]:
        """History rows between byte ``start`` and ``size`` (whole lines), the offset read up
        to, and whether rows were left out (a ``full`` read: at most
        :data:`HISTORY_PER_TRIAL` per trial and about :data:`HISTORY_BUDGET` in all; a poll's:
        at most :data:`HISTORY_BUDGET` per trial)."""
        if size <= start:
            return [], start, False
        # A poll after the client's cursor gets every row added since, however many: its curves
        # have no earlier rows to thin, and a row left out would never reach it (a tab that the
        # browser throttled, or a slow poll, must not lose reports). Only a single trial's
        # rows are bounded, by the whole budget.
        cap = HISTORY_BUDGET
        if full:
            cap = HISTORY_PER_TRIAL
            if self.trials:
                cap = max(10, min(cap, HISTORY_BUDGET // len(self.trials)))
        # How many rows each trial has (its entry's reports): every stride-th is kept.
        stride: dict[bytes, int] = {}
        if full:
            for name, entry in self.trials.items():
                reports = entry.get("reports") or entry.get("steps") or 0
                if isinstance(reports, int) and reports > cap:
                    stride[name.encode()] = math.ceil(reports / cap)
        seen: dict[bytes, int] = {}
        kept: dict[bytes, int] = {}
        last: dict[bytes, bytes] = {}  # each trial's last line, if it was left out
        lines: list[bytes] = []
        thinned = False
        end = start
        path = self.path / HISTORY_FILE
        with open(path, "rb") as f:
            f.seek(start)
            remaining = size - start
            tail = b""
            while remaining > 0:
                block = f.read(min(_CHUNK, remaining))
                if not block:
                    break
                remaining -= len(block)
                data = _whole(tail + block)
                tail = (tail + block)[len(data):]
                end += len(data)
                for line in data.split(b"\n")[:-1]:
                    tid = _line_trial(line)
                    i = seen.get(tid, 0)
                    seen[tid] = i + 1
                    if i % stride.get(tid, 1) == 0 and kept.get(tid, 0) < cap:
                        kept[tid] = kept.get(tid, 0) + 1
                        lines.append(line)
                        last.pop(tid, None)
                    else:
                        thinned = True
                        last[tid] = line
        # A trial's last row ends its curve: add it where it was left out. Only the rows
        # kept are parsed (one C-parser call).
        lines.extend(last.values())
        rows = _parse_lines(b"\n".join(lines) + b"\n") if lines else []
        return rows, end, thinned


@dataclass(frozen=True)
class SweepSummary:
    """One row of the sweeps list."""

    counts: dict[str, int]
    best: float | None
    started: float | None


class Catalog:
    """The sweep folders of the storage folders, each with a stable id, and their states.

    A sweep's id is its folder name; where several storage folders hold the same name, the
    later ones are ``<name>@<k>`` (``k`` the storage folder's index). Ids are only ever looked
    up here, never joined into a path.
    """

    def __init__(self, storages: list[Path]) -> None:
        self.storages = [Path(s) for s in storages]
        self._lock = threading.Lock()
        self._states: dict[str, SweepState] = {}
        self._summaries: dict[Path, tuple[Any, SweepSummary]] = {}
        self._meta: dict[Path, tuple[Any, dict[str, Any]]] = {}

    def folders(self) -> dict[str, tuple[int, Path]]:
        """Every sweep folder found now: id -> (storage index, path)."""
        found: dict[str, tuple[int, Path]] = {}
        for k, storage in enumerate(self.storages):
            try:
                children = sorted(p for p in storage.iterdir() if p.is_dir())
            except OSError:
                continue
            for child in children:
                if not is_sweep_dir(child):
                    continue
                sid = child.name if child.name not in found else f"{child.name}@{k}"
                found.setdefault(sid, (k, child))
        return found

    def path_of(self, sweep_id: str) -> Path | None:
        """The folder of sweep ``sweep_id``, or None if no such sweep is found."""
        entry = self.folders().get(sweep_id)
        return None if entry is None else entry[1]

    def state(self, sweep_id: str) -> SweepState | None:
        """The incremental state of sweep ``sweep_id`` (kept while the server runs)."""
        path = self.path_of(sweep_id)
        if path is None:
            return None
        with self._lock:
            state = self._states.get(sweep_id)
            if state is None or state.path != path:
                state = self._states[sweep_id] = SweepState(path)
            return state

    def sweeps(self) -> list[dict[str, Any]]:
        """The rows of ``GET /api/sweeps``."""
        rows = []
        for sid, (k, path) in self.folders().items():
            meta = self._cached_meta(path)
            summary = self._summary(path, meta)
            counts = summary.counts
            rows.append({
                "id": sid,
                "name": meta.get("name", path.name),
                "storage": str(self.storages[k]),
                "state": sweep_state(counts, live_holder(path) is not None),
                "method": meta.get("method"),
                "metric": meta.get("metric") or ", ".join(
                    str(m.get("name")) for m in meta.get("metrics") or [] if isinstance(m, dict)
                ) or None,
                "goal": meta.get("goal"),
                "trials": sum(counts.values()),
                "ended": sum(counts.get(s, 0) for s in ENDED_STATUSES),
                "best": summary.best,
                "started": summary.started if summary.started is not None
                else _number(meta.get("created")),
            })
        return rows

    def _cached_meta(self, path: Path) -> dict[str, Any]:
        ident = _identity(path / META_FILE)
        held = self._meta.get(path)
        if held is not None and held[0] == ident:
            return held[1]
        meta = SweepState(path).meta()
        self._meta[path] = (ident, meta)
        return meta

    def _summary(self, path: Path, meta: dict[str, Any]) -> SweepSummary:
        """Counts, best value and start of a sweep's trials; parsed again only when
        ``trials.jsonl`` changed (size, modification time or inode)."""
        ident = _identity(path / TRIALS_LOG_FILE)
        held = self._summaries.get(path)
        if held is not None and held[0] == ident:
            return held[1]
        entries = read_trial_log(path / TRIALS_LOG_FILE)[0] if ident is not None else {}
        counts = _counts(entries.values())
        best = None
        if meta.get("metric"):
            found = _best(iter(entries.values()), str(meta.get("mode") or "min"),
                          lambda e: e.get("best"))
            best = None if found is None else found["value"]
        starts = [s for s in (_number(e.get("started")) for e in entries.values())
                  if s is not None]
        summary = SweepSummary(counts, best, min(starts) if starts else None)
        self._summaries[path] = (ident, summary)
        return summary
