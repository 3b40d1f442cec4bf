"""The searcher's saved state: a snapshot, and a journal of the events since it.

:class:`~raysweep.search.TuneSearcher` keeps, besides its proposer, a :class:`SearchLedger`:
the trials it handed out and has not seen end, the configurations to run again first, the best
value each running trial reported so far, whether a trial reached ``metric.target``.

In a sweep directory the state is two files (names in :mod:`raysweep.files`):

- ``searcher.json``, a snapshot: the ledger, the proposer's state and ``log_offset``, how many
  bytes of the journal it includes. It is rewritten only now and then
  (:class:`~raysweep.files.SnapshotPacer`), since it may grow with the sweep (bayes keeps
  every observation, random with ``unique`` every configuration it used);
- ``searcher.jsonl``, the journal, one line per event that changed the state::

    {"event": "propose", "trial": id, "from": "proposer" | "requeued",
     "config": [[path, value], ...] | null, "seconds": s}
    {"event": "end", "trial": id, "loss": loss | null, "error": bool, "target": bool,
     "losses": [loss, ...] | null}
    {"event": "revise", "config": [[path, value], ...], "loss": loss}

  ``config`` null: the proposer was used up. ``loss`` is what the proposer observed;
  ``target``: the trial reached ``metric.target``; ``losses`` (multi-objective sweeps only, whose
  ``loss`` is null): one loss per objective. ``revise``: a promoted configuration's better
  value, which the proposer took in place of what it had observed of it.

:func:`replay` applies the journal's lines after the snapshot's offset, with the proposer (which
proposes again, deterministic given its state) or without it (what ``raysweep resume`` checks
before Ray starts). Ray-free, no I/O but :func:`read_saved_searcher`.
"""

from __future__ import annotations

import copy
import json
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from raysweep.files import SEARCHER_LOG_FILE, read_log

from ._base import FlatConfig, Proposer

__all__ = [
    "STATE_FORMAT",
    "SavedSearcher",
    "SearchLedger",
    "encode_flat",
    "plain",
    "read_saved_searcher",
    "replay",
]

# /2 added the journal (``log_offset``) and ``exhausted``, and keeps ``best`` for running trials
# only; /1 (written before the journal) holds the whole state and is still read.
STATE_FORMAT = "raysweep.search.TuneSearcher/2"
_READABLE_FORMATS = (STATE_FORMAT, "raysweep.search.TuneSearcher/1")
TIMED_PROPOSALS = 100  # how many of the latest proposals' durations the state keeps


@dataclass
class SearchLedger:
    """What the searcher keeps besides its proposer (see the module's docstring).

    Attributes:
        live: Trial id -> flat config of each trial handed out and not seen to end.
        requeued: Configurations to run again before new proposals (after a resume).
        best: Best finite metric value of each running trial so far (raw, not sign-adjusted).
        target_reached: A finished trial reached ``metric.target``: no trial starts after it.
        exhausted: The proposer has returned None (its space is used up, for good).
        peak_live: The most trials that were ever live at once.
        propose_seconds: How long the proposer took for each of the latest new proposals.
    """

    live: dict[str, FlatConfig] = field(default_factory=dict)
    requeued: list[FlatConfig] = field(default_factory=list)
    best: dict[str, float] = field(default_factory=dict)
    target_reached: bool = False
    exhausted: bool = False
    peak_live: int = 0
    propose_seconds: deque[float] = field(
        default_factory=lambda: deque(maxlen=TIMED_PROPOSALS)
    )

    def start(self, trial_id: str, flat: FlatConfig) -> None:
        """Record that ``trial_id`` runs ``flat``."""
        self.live[trial_id] = flat
        self.peak_live = max(self.peak_live, len(self.live))

    def end(self, trial_id: str, reached: bool) -> FlatConfig | None:
        """Record that ``trial_id`` ended (``reached``: at ``metric.target``); return its config
        if it was live (the proposer's to observe)."""
        self.best.pop(trial_id, None)
        if reached:
            self.target_reached = True
        return self.live.pop(trial_id, None)

    def to_json(self) -> dict[str, Any]:
        """The ledger as JSON-ready data (the searcher state's keys but its proposer's)."""
        return {
            "target_reached": self.target_reached,
            "exhausted": self.exhausted,
            "peak_outstanding": self.peak_live,
            "propose_seconds": [round(t, 6) for t in self.propose_seconds],
            "best": dict(self.best),
            "live": [[trial_id, encode_flat(flat)] for trial_id, flat in self.live.items()],
            "requeued": [encode_flat(flat) for flat in self.requeued],
        }

    @classmethod
    def from_json(cls, state: Mapping[str, Any]) -> SearchLedger:
        """Read a searcher state (:meth:`to_json`'s keys), of this format or an older one.

        Raises:
            ValueError: if ``state`` is not a searcher state raysweep can read.
        """
        if state.get("format") not in _READABLE_FORMATS:
            raise ValueError(
                f"searcher state format must be {STATE_FORMAT!r}, "
                f"but got {state.get('format')!r}"
            )
        ledger = cls(
            live={str(trial_id): decode_flat(items) for trial_id, items in state["live"]},
            requeued=[decode_flat(items) for items in state.get("requeued", [])],
            best={str(k): float(v) for k, v in state["best"].items()},
            target_reached=bool(state["target_reached"]),
            exhausted=bool(state.get("exhausted", False)),
            peak_live=int(state.get("peak_outstanding", 0)),
        )
        ledger.propose_seconds.extend(float(t) for t in state.get("propose_seconds", []))
        return ledger


@dataclass(frozen=True)
class SavedSearcher:
    """A searcher's saved state as a sweep directory holds it.

    Attributes:
        state: The snapshot (``searcher.json``).
        records: The journal's records that the snapshot does not include, in order.
    """

    state: Mapping[str, Any]
    records: list[dict[str, Any]]

    def replayed(self) -> SearchLedger:
        """The ledger as it was after the last record (without the proposer's part).

        Raises:
            ValueError: if the snapshot is not a searcher state raysweep can read.
        """
        ledger = SearchLedger.from_json(self.state)
        replay(ledger, self.records)
        return ledger


def read_saved_searcher(snapshot_path: Path, state: Mapping[str, Any]) -> SavedSearcher:
    """Pair the snapshot ``state``, read from ``snapshot_path``, with the journal beside it.

    A snapshot without ``log_offset`` (written before the journal existed) is the whole state.
    """
    offset = state.get("log_offset")
    if not isinstance(offset, int):
        return SavedSearcher(state, [])
    return SavedSearcher(state, list(read_log(snapshot_path.with_name(SEARCHER_LOG_FILE), offset)))


def replay(
    ledger: SearchLedger, records: Iterable[Mapping[str, Any]], proposer: Proposer | None = None
) -> None:
    """Apply journal records to ``ledger``, and to ``proposer`` if given (it proposes again and
    observes as the original did, so it ends where the original was)."""
    for record in records:
        trial_id = str(record.get("trial"))
        if record.get("event") == "propose":
            _replay_proposal(ledger, trial_id, record, proposer)
        elif record.get("event") == "end":
            flat = ledger.end(trial_id, bool(record.get("target")))
            if flat is None or proposer is None:
                continue
            # A multi-objective sweep's proposer (Optuna's, Ax's) observes a tuple of losses:
            # only its end records have `losses` (the Proposer protocol says float).
            proposer.observe(flat, _recorded_loss(record))  # type: ignore[arg-type]
        elif record.get("event") == "revise" and proposer is not None:
            reviser = getattr(proposer, "revise", None)
            recorded = _decoded(record.get("config"))
            if reviser is not None and recorded is not None:
                reviser(recorded, float(record["loss"]))


def _recorded_loss(record: Mapping[str, Any]) -> float | tuple[float, ...] | None:
    """What the proposer observed at an end: a multi-objective sweep's ``losses`` (one per
    objective), else ``loss``; None: the trial failed.

    >>> _recorded_loss({"loss": None, "losses": [1.5, 2]}), _recorded_loss({"loss": 3})
    ((1.5, 2.0), 3.0)
    """
    losses = record.get("losses")
    if losses is not None:
        return tuple(float(v) for v in losses)
    loss = record.get("loss")
    return None if loss is None else float(loss)


def _replay_proposal(
    ledger: SearchLedger, trial_id: str, record: Mapping[str, Any], proposer: Proposer | None
) -> None:
    recorded = record.get("config")
    again: FlatConfig | None = None
    if record.get("from") == "requeued":
        again = ledger.requeued.pop(0) if ledger.requeued else None
    else:
        ledger.propose_seconds.append(float(record.get("seconds") or 0.0))
        if proposer is not None:
            again = proposer.propose()
    flat: FlatConfig | None
    if proposer is not None or record.get("from") == "requeued":
        flat = again if _same(again, recorded) else _decoded(recorded)
    else:
        flat = _decoded(recorded)  # no proposer to ask: the record says what it gave
    # A config other than the recorded one should not happen (proposers are deterministic
    # given their state). If it does (another library version's numerics), the recorded one is
    # what the trial ran with, so it is the one its end must be observed with; the proposer
    # then holds a pending proposal no trial runs, which costs it at most some accuracy.
    if flat is None:
        if record.get("from") != "requeued":
            ledger.exhausted = True
        return
    ledger.start(trial_id, flat)


def _same(flat: FlatConfig | None, recorded: Any) -> bool:
    encoded = None if flat is None else encode_flat(flat)
    return json.dumps(encoded, default=str) == json.dumps(recorded, default=str)


def _decoded(recorded: Any) -> FlatConfig | None:
    return None if recorded is None else decode_flat(recorded)


def encode_flat(flat: FlatConfig) -> list[list[Any]]:
    """A flat config as JSON-ready pairs ``[[path...], value]`` (numpy values made plain).

    >>> encode_flat({("opt", "lr"): np.float64(0.5), ("n",): 3})
    [[['opt', 'lr'], 0.5], [['n'], 3]]
    """
    return [[list(path), plain(value)] for path, value in flat.items()]


def decode_flat(items: Iterable[Any]) -> FlatConfig:
    """The flat config of :func:`encode_flat`'s pairs (after a JSON round trip).

    >>> decode_flat([[["opt", "lr"], 0.5]])
    {('opt', 'lr'): 0.5}
    """
    return {tuple(path): value for path, value in items}


def plain(value: Any) -> Any:
    """Deep-copy ``value`` into plain Python types (numpy scalars and arrays converted).

    >>> plain({"a": [np.int64(1), np.zeros(2)]})
    {'a': [1, [0.0, 0.0]]}
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    return copy.deepcopy(value)
