"""The searcher's saved state in a sweep directory: a paced snapshot (``searcher.json``) and a
journal of the events since it (``searcher.jsonl``). Ray-free: the searcher is driven by hand.

A driver killed at any moment leaves the two files as they were after some event (or with a
cut last line); a searcher restored from them must continue exactly as the original did.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from raysweep.search import TuneSearcher, make_searcher, read_saved_searcher

from raysweep.execution.resume import ResumePlan, nothing_left, restore_searcher
from raysweep.files import SEARCHER_FILE, SEARCHER_LOG_FILE, SnapshotPacer
from raysweep.sweep.config import from_dict
from raysweep.sweep.model import SweepConfig

RANDOM_SPACE = {
    "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
    "act": {"values": ["relu", "tanh", None, [1, 2]]},
    "layers": {"min": 1, "max": 4},
}


def config(method: str, unique: bool = False, target: float | None = None) -> SweepConfig:
    metric: dict[str, Any] = {"name": "loss", "goal": "minimize"}
    if target is not None:
        metric["target"] = target
    doc: dict[str, Any] = {"method": method, "metric": metric}
    if method == "grid":
        doc["parameters"] = {"a": {"values": list(range(6))}, "b": {"values": ["x", "y", "z"]}}
    elif method == "bayes":
        doc["parameters"] = {"x": {"min": -2.0, "max": 2.0}, "n": {"min": 1, "max": 5}}
    else:
        doc["parameters"] = RANDOM_SPACE
    if unique:
        doc["raysweep"] = {"unique": True}
    return from_dict(doc)


def never() -> SnapshotPacer:
    """A pacer that lets only the first snapshot through: everything else is in the journal."""
    return SnapshotPacer(share=1e-12)


def always() -> SnapshotPacer:
    return SnapshotPacer(share=1e12)


def loss_of(suggestion: Any) -> float:
    """A deterministic loss for a suggested config (the same in every replay)."""
    text = json.dumps(suggestion, sort_keys=True)
    return (sum(map(ord, text)) % 97) / 97


Event = tuple[str, str]


def script(trials: int, concurrent: int) -> list[Event]:
    """Suggest ``trials`` trials, ending the oldest once ``concurrent`` run, then the rest."""
    events: list[Event] = []
    live: list[str] = []
    for i in range(trials):
        events.append(("suggest", f"t{i}"))
        live.append(f"t{i}")
        if len(live) == concurrent:
            events.append(("end", live.pop(0)))
    events += [("end", tid) for tid in live]
    return events


def step(searcher: TuneSearcher, event: Event, configs: dict[str, Any]) -> Any:
    """Apply one event; return what the searcher answered (a suggestion, or None)."""
    kind, trial_id = event
    if kind == "suggest":
        answer = searcher.suggest(trial_id)
        configs[trial_id] = answer
        return answer
    loss = loss_of(configs.get(trial_id))
    searcher.on_trial_result(trial_id, {"loss": loss + 1.0})
    if trial_id.endswith("3"):
        searcher.on_trial_complete(trial_id, None, error=True)  # failed trials are observed too
    else:
        searcher.on_trial_complete(trial_id, {"loss": loss})
    return None


def copy_files(source: Path, target: Path) -> None:
    target.mkdir()
    for name in (SEARCHER_FILE, SEARCHER_LOG_FILE):
        if (source / name).exists():
            shutil.copy(source / name, target / name)


def restored(cfg: SweepConfig, sweep_dir: Path) -> TuneSearcher:
    searcher = make_searcher(cfg, seed=3)
    path = sweep_dir / SEARCHER_FILE
    searcher.load_saved(read_saved_searcher(path, json.loads(path.read_text())))
    return searcher


def comparable(state: dict[str, Any]) -> dict[str, Any]:
    # Running trials' best values are not journaled (a resume runs those trials again).
    return {k: v for k, v in json.loads(json.dumps(state)).items() if k != "best"}


def run_with_kills(
    tmp_path: Path, cfg: SweepConfig, events: list[Event], pacer: SnapshotPacer | None
) -> tuple[list[Any], list[dict[str, Any]], list[dict[str, Any]], list[Path]]:
    """Drive a searcher through ``events``, copying its files after each one."""
    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    searcher = make_searcher(cfg, seed=3)
    searcher.autosave_to(str(sweep_dir / SEARCHER_FILE), pacer=pacer)
    answers, states, configs, kills = [], [], [], []
    copies: dict[str, Any] = {}
    for k, event in enumerate(events):
        answers.append(step(searcher, event, copies))
        states.append(comparable(searcher.get_state()))
        configs.append(dict(copies))
        kills.append(tmp_path / f"kill{k}")
        copy_files(sweep_dir, kills[-1])
    searcher.close()
    return answers, states, configs, kills


def check_every_kill_point(
    cfg: SweepConfig, events: list[Event], run: tuple[Any, ...], stride: int = 1
) -> None:
    answers, states, configs, kills = run
    for k in range(0, len(events), stride):
        again = restored(cfg, kills[k])
        assert comparable(again.get_state()) == states[k], f"state after event {k}"
        # From there on, the restored searcher answers exactly as the original did.
        seen = dict(configs[k])
        later = [step(again, event, seen) for event in events[k + 1:]]
        assert later == answers[k + 1:], f"answers after event {k}"


@pytest.mark.parametrize("pacer", [never, always, SnapshotPacer], ids=["journal", "snapshots",
                                                                         "paced"])
@pytest.mark.parametrize("method, unique", [("random", False), ("random", True), ("grid", False)],
                         ids=["random", "random_unique", "grid"])
def test_a_searcher_restored_after_any_event_continues_exactly(
    tmp_path: Path, method: str, unique: bool, pacer: Any
) -> None:
    cfg = config(method, unique)
    trials = 20 if method == "grid" else 30  # the grid (18) runs out: FINISHED is replayed too
    events = script(trials, concurrent=3)
    run = run_with_kills(tmp_path, cfg, events, pacer())
    assert any(isinstance(a, dict) for a in run[0])
    check_every_kill_point(cfg, events, run)


def test_bayes_restored_after_any_event_continues_exactly(tmp_path: Path) -> None:
    cfg = config("bayes")
    events = script(8, concurrent=2)  # 5 design points, then the model's proposals
    run = run_with_kills(tmp_path, cfg, events, never())
    check_every_kill_point(cfg, events, run, stride=3)
    # Paced as in a sweep (a bayes state is written at nearly every event): still exact.
    (tmp_path / "paced").mkdir()
    paced = run_with_kills(tmp_path / "paced", cfg, events, None)
    assert paced[0] == run[0]
    check_every_kill_point(cfg, events, paced, stride=4)


def test_a_line_cut_by_a_crash_is_skipped_and_the_next_session_appends_after_it(
    tmp_path: Path,
) -> None:
    cfg = config("random")
    events = script(12, concurrent=3)
    answers, states, configs, kills = run_with_kills(tmp_path, cfg, events, never())
    k = 9
    log = kills[k] / SEARCHER_LOG_FILE
    with open(log, "a", encoding="utf-8") as f:
        f.write('{"event": "end", "trial": "t')  # killed in the middle of the next record
    again = restored(cfg, kills[k])
    assert comparable(again.get_state()) == states[k]
    # The next session saves to the same files and its first record is not lost.
    again.autosave_to(str(kills[k] / SEARCHER_FILE), pacer=never())
    seen = dict(configs[k])
    assert [step(again, e, seen) for e in events[k + 1:]] == answers[k + 1:]
    assert all(line.endswith("}") for line in log.read_text().splitlines())
    final = comparable(restored(cfg, kills[k]).get_state())
    assert final == comparable(again.get_state())
    assert final["proposer"] == states[-1]["proposer"]


@pytest.mark.parametrize("method", ["random", "grid"])
def test_the_snapshot_stays_the_same_size_while_the_journal_grows_linearly(
    tmp_path: Path, method: str
) -> None:
    cfg = config(method)
    if method == "grid":
        cfg = from_dict({"method": "grid", "metric": {"name": "loss"},
                         "parameters": {"a": {"values": list(range(100))},
                                        "b": {"values": list(range(100))}}})
    searcher = make_searcher(cfg, seed=3)
    searcher.autosave_to(str(tmp_path / SEARCHER_FILE), pacer=always())
    snapshot, log = tmp_path / SEARCHER_FILE, tmp_path / SEARCHER_LOG_FILE
    sizes: dict[int, int] = {}
    logs: dict[int, int] = {}
    seen: dict[str, Any] = {}
    for i in range(700):
        step(searcher, ("suggest", f"t{i:05d}"), seen)
        if i >= 3:
            step(searcher, ("end", f"t{i - 3:05d}"), seen)
        if 100 <= i < 200 or i >= 600:
            text = snapshot.read_text()
            # Less the timing window (a bounded 100 numbers, their digits vary with the load).
            timings = json.dumps(json.loads(text)["propose_seconds"])
            sizes[i] = len(text.encode()) - len(timings)
            logs[i] = log.stat().st_size
    early = [sizes[i] for i in range(100, 200)]
    late = [sizes[i] for i in range(600, 700)]
    # 500 more ended trials (the old format kept ~20 bytes for each), not a byte more in the
    # snapshot (a few bytes of jitter: the digits of the running trials' values and of the
    # random generator's state).
    assert max(late) <= max(early) + 64, (max(early), max(late))
    assert max(late) < 1500
    # The journal is what grows: the same bytes for each trial, early or late.
    per_trial_early = (logs[199] - logs[100]) / 99
    per_trial_late = (logs[699] - logs[600]) / 99
    assert per_trial_late == pytest.approx(per_trial_early, rel=0.05)
    assert 50 < per_trial_late < 400


def test_best_keeps_only_running_trials() -> None:
    searcher = make_searcher(config("random"), seed=1)
    for i in range(50):
        searcher.suggest(f"t{i}")
        searcher.on_trial_result(f"t{i}", {"loss": float(i)})
    for i in range(48):
        searcher.on_trial_complete(f"t{i}", {"loss": float(i)})
    assert searcher.trial_scores == {"t48": 48.0, "t49": 49.0}
    assert searcher.get_state()["best"] == {"t48": 48.0, "t49": 49.0}


def test_a_snapshot_is_written_when_saving_starts_and_when_the_sweep_ends(tmp_path: Path) -> None:
    cfg = config("random")
    searcher = make_searcher(cfg, seed=3)
    path = tmp_path / SEARCHER_FILE
    searcher.autosave_to(str(path), pacer=never())
    assert json.loads(path.read_text())["log_offset"] == 0
    seen: dict[str, Any] = {}
    for event in script(5, concurrent=2):
        step(searcher, event, seen)
    assert json.loads(path.read_text())["live"] == []  # the first snapshot
    assert json.loads(path.read_text())["proposer"] != searcher.get_state()["proposer"]
    searcher.save(str(tmp_path / "tune-checkpoint"))  # Tune's experiment snapshot: also ours
    assert json.loads(path.read_text())["proposer"] == searcher.get_state()["proposer"]
    step(searcher, ("suggest", "late"), seen)
    searcher.close()
    state = json.loads(path.read_text())
    assert state["log_offset"] == (tmp_path / SEARCHER_LOG_FILE).stat().st_size
    assert comparable(state) == comparable(searcher.get_state() | {"log_offset": 0}) | {
        "log_offset": state["log_offset"]}
    assert read_saved_searcher(path, state).records == []


def _plan() -> ResumePlan:
    return ResumePlan(ended=0, dropped_ids=set(), dropped_configs={})


def test_nothing_left_sees_the_journal_not_only_the_snapshot(tmp_path: Path) -> None:
    cfg = config("random", target=0.5)
    searcher = make_searcher(cfg, seed=3)
    searcher.autosave_to(str(tmp_path / SEARCHER_FILE), pacer=never())
    searcher.suggest("t0")
    # The snapshot has no live trial; the journal has t0 running: it runs again on resume.
    assert json.loads((tmp_path / SEARCHER_FILE).read_text())["live"] == []
    assert nothing_left(tmp_path, cfg, _plan(), cap=0) is None
    searcher.on_trial_complete("t0", {"loss": 0.1})  # reaches the target, in the journal only
    assert not json.loads((tmp_path / SEARCHER_FILE).read_text())["target_reached"]
    assert nothing_left(tmp_path, cfg, _plan(), cap=0) == "a trial reached the metric's target"


def test_restore_searcher_replays_the_journal_then_runs_the_live_trials_again(
    tmp_path: Path,
) -> None:
    cfg = config("random")
    original = make_searcher(cfg, seed=3)
    original.autosave_to(str(tmp_path / SEARCHER_FILE), pacer=never())
    first = [original.suggest(f"t{i}") for i in range(4)]
    original.on_trial_complete("t1", {"loss": 0.3})
    again = make_searcher(cfg, seed=3)
    restore_searcher(again, None, tmp_path, cfg, _plan())
    # t0, t2, t3 were running: they run first, then the proposals continue where they were.
    assert [again.suggest(f"n{i}") for i in range(3)] == [first[0], first[2], first[3]]
    assert again.suggest("n3") == original.suggest("t4")


def test_an_old_snapshot_without_a_journal_still_resumes(tmp_path: Path) -> None:
    cfg = config("random")
    original = make_searcher(cfg, seed=3)
    first = []
    for i in range(3):
        first.append(original.suggest(f"t{i}"))
        original.on_trial_result(f"t{i}", {"loss": 1.0})
    original.on_trial_complete("t0", {"loss": 1.0})
    old = original.get_state()
    # As the previous version wrote it: format /1, no offset, no `exhausted`, every trial's best.
    old.update(format="raysweep.search.TuneSearcher/1", best={"t0": 1.0, "t1": 1.0, "t2": 1.0})
    del old["exhausted"]
    (tmp_path / SEARCHER_FILE).write_text(json.dumps(old))
    assert nothing_left(tmp_path, cfg, _plan(), cap=0) is None  # t1, t2 run again
    again = make_searcher(cfg, seed=3)
    restore_searcher(again, None, tmp_path, cfg, _plan())
    assert again.trial_scores == {}
    assert [again.suggest(f"n{i}") for i in range(3)] == [first[1], first[2],
                                                          original.suggest("t3")]
    # Saving again writes the new format, with the journal after it.
    again.autosave_to(str(tmp_path / SEARCHER_FILE))
    again.suggest("n3")
    again.close()
    assert json.loads((tmp_path / SEARCHER_FILE).read_text())["format"].endswith("/2")
    assert comparable(restored(cfg, tmp_path).get_state()) == comparable(again.get_state())


def test_a_used_up_proposer_is_not_asked_again_and_stays_used_up_after_a_restore(
    tmp_path: Path,
) -> None:
    cfg = config("grid")
    searcher = make_searcher(cfg)
    searcher.autosave_to(str(tmp_path / SEARCHER_FILE), pacer=never())
    answers = [searcher.suggest(f"t{i}") for i in range(19)]
    assert answers[-1] == "FINISHED" and all(isinstance(a, dict) for a in answers[:-1])
    again = restored(cfg, tmp_path)
    assert again.get_state()["exhausted"]
    assert again.suggest("n") == "FINISHED"


class _Observer:
    """A proposer that notes what it observes (one fixed config per proposal)."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def propose(self) -> dict[tuple[str, ...], Any]:
        return {("x",): 1}

    def observe(self, config: Any, loss: Any) -> None:
        self.seen.append(loss)


def test_a_replayed_end_of_several_objectives_observes_their_losses() -> None:
    from raysweep.search._journal import SearchLedger, replay

    proposer = _Observer()
    records = [
        {"event": "propose", "trial": "a", "from": "proposer", "config": [[["x"], 1]]},
        {"event": "propose", "trial": "b", "from": "proposer", "config": [[["x"], 1]]},
        {"event": "propose", "trial": "c", "from": "proposer", "config": [[["x"], 1]]},
        # As a multi-objective sweep writes its ends: `loss` null, the values in `losses`.
        {"event": "end", "trial": "a", "loss": None, "error": False, "target": False,
         "losses": [0.5, -2]},
        {"event": "end", "trial": "b", "loss": None, "error": True, "target": False,
         "losses": None},
        {"event": "end", "trial": "c", "loss": 0.25, "error": False, "target": False},
    ]
    replay(SearchLedger(), records, proposer)  # type: ignore[arg-type]
    assert proposer.seen == [(0.5, -2.0), None, 0.25]
