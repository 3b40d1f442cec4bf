"""How fast ``load_results`` (raysweep.analysis.tables) reads a big sweep directory, and its peak
memory.

Writes a synthetic sweep directory (no Ray needed to read it) of ``--trials`` trials with
``--steps`` reports each, in the on-disk format that ``raysweep/execution/recorder.py`` and
``tuner.py`` write (``raysweep.json``, ``trials.jsonl``, ``history.jsonl``), then loads it in
fresh child processes (so that imports and peak memory are measured from a clean start) and
prints the timings and peak resident memory.

The generator is checked against the real recorder: the keys of a history line and of a
``trials.jsonl`` entry must be those that ``SweepRecorder`` writes for the same reports.

Usage::

    python benchmarks/bench_results.py --trials 10000 --steps 100 --repeat 3

Target (issue 4): ``load_results`` of 10,000 trials x 100 steps in under 5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from raysweep.files import TRIALS_LOG_FILE

PARAMETERS = ["lr", "batch_size", "optimizer", "model.layers", "model.dropout"]
METRIC = "val_loss"


def _config(rng: random.Random) -> dict[str, Any]:
    return {
        "lr": 10 ** rng.uniform(-5, -1),
        "batch_size": rng.choice([16, 32, 64, 128]),
        "optimizer": rng.choice(["adam", "sgd", "rmsprop"]),
        "model": {"layers": rng.randint(1, 8), "dropout": rng.uniform(0.0, 0.5)},
    }


def _meta(name: str) -> dict[str, Any]:
    # As raysweep.execution.tuner.write_meta writes it.
    return {
        "name": name,
        "method": "random",
        "metric": METRIC,
        "goal": "minimize",
        "mode": "min",
        "parameters": PARAMETERS,
        "early_terminate": "hyperband",
        "source": None,
        "run_cap": None,
        "created": time.time(),
    }


def _record(tid: str, config: dict[str, Any], steps: int, last: float, best: float,
            started: float, status: str) -> dict[str, Any]:
    # The keys and order of SweepRecorder._record, filled in as a finished trial has them.
    line = _history_line(tid, steps, last)
    return {
        "trial_id": tid,
        "status": status,
        "config": config,
        "steps": steps,
        "reports": steps,
        "last": last,
        "best": best,
        "summary": {k: v for k, v in line.items() if k not in ("trial_id", "step", "time_s")},
        "bad_lines": 0,
        "started": started,
        "ended": started + steps * 0.5,
        "node": "10.0.0.%d" % (int(tid, 16) % 8),
        "gpus": str(int(tid, 16) % 2),
        "error": None,
        "stop_reason": "band 3: 0.41 > 0.39" if status == "stopped" else None,
        "failures": 0,
        "retries": 0,
        "dir": f"trial_{tid}",
    }


def _history_line(tid: str, step: int, loss: float) -> dict[str, Any]:
    # SweepRecorder.on_trial_result: trial_id, step, time_s, then the user's metrics.
    return {
        "trial_id": tid,
        "step": step,
        "time_s": step * 0.5,
        "loss": loss * 1.1,
        METRIC: loss,
        "acc": 1.0 - loss / 2,
        "epoch": step - 1,
    }


def write_sweep(root: Path, trials: int, steps: int, seed: int = 0) -> Path:
    """Write a synthetic sweep directory; every fifth trial is stopped at a third of ``steps``."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "raysweep.json").write_text(json.dumps(_meta(root.name)), encoding="utf-8")
    records = []
    t0 = time.time()
    with open(root / "history.jsonl", "w", encoding="utf-8") as history:
        for i in range(trials):
            tid = f"{i:08x}"
            stopped = i % 5 == 4
            n = max(1, steps // 3) if stopped else steps
            scale = rng.uniform(0.2, 2.0)
            losses = [scale / (1 + 0.1 * s) + rng.uniform(0, 0.01) for s in range(n)]
            lines = [json.dumps(_history_line(tid, s + 1, v)) for s, v in enumerate(losses)]
            history.write("\n".join(lines) + "\n")
            records.append(_record(tid, _config(rng), n, losses[-1], min(losses), t0 + i,
                                   "stopped" if stopped else "finished"))
    with open(root / TRIALS_LOG_FILE, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)
    return root


def check_format_against_recorder() -> None:
    """Fail if the generator's keys differ from what the real SweepRecorder writes."""
    from types import SimpleNamespace

    from raysweep.analysis.tables import read_trials
    from raysweep.execution.recorder import SweepRecorder

    with tempfile.TemporaryDirectory() as tmp:
        recorder = SweepRecorder(Path(tmp), METRIC, "min")
        trial = SimpleNamespace(trial_id="00000000", config={"lr": 0.1}, num_failures=0,
                                error_file=None)
        recorder.on_trial_start(0, [], trial)
        metrics = {k: v for k, v in _history_line("x", 1, 0.5).items()
                   if k not in ("trial_id", "step", "time_s")}
        recorder.on_trial_result(0, [], trial, {**metrics, "training_iteration": 1,
                                                "time_total_s": 0.5, "node_ip": "10.0.0.1"})
        recorder.on_trial_complete(0, [], trial)
        recorder.close()
        line = json.loads((Path(tmp) / "history.jsonl").read_text().splitlines()[0])
        entry = read_trials(Path(tmp))[0]
    ours_line = _history_line("00000000", 1, 0.5)
    ours_entry = _record("00000000", {"lr": 0.1}, 1, 0.5, 0.5, 0.0, "finished")
    if list(line) != list(ours_line):
        raise SystemExit(f"history keys differ: recorder {list(line)}, ours {list(ours_line)}")
    if list(entry) != list(ours_entry):
        raise SystemExit(f"trial keys differ: recorder {list(entry)}, ours {list(ours_entry)}")


def load_once(path: Path) -> dict[str, Any]:
    """Time one ``load_results`` in this (fresh) process; report peak memory."""
    t = time.perf_counter()
    import pandas  # noqa: F401 - imported here so that load_s is the reading alone

    try:
        import pyarrow.json  # noqa: F401
    except ImportError:
        pass
    from raysweep.analysis.tables import load_results

    import_s = time.perf_counter() - t
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    result = load_results(path)
    load_s = time.perf_counter() - t
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    best = result.best
    best_s = time.perf_counter() - t
    return {
        "import_s": import_s,
        "load_s": load_s,
        "best_s": best_s,
        "trials_rows": len(result.trials),
        "history_rows": len(result.history),
        "best_ok": best is not None,
        "rss_before_mb": rss_before / 1024,
        "rss_peak_mb": rss_peak / 1024,
        "trials_mb": result.trials.memory_usage(deep=True).sum() / 2**20,
        "history_mb": result.history.memory_usage(deep=True).sum() / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default=None, help="Where to write the sweep [temp dir].")
    parser.add_argument("--load-only", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_only:
        print(json.dumps(load_once(Path(args.load_only))))
        return

    check_format_against_recorder()
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench_results_"))
    path = base / "synthetic"
    try:
        t = time.perf_counter()
        write_sweep(path, args.trials, args.steps)
        write_s = time.perf_counter() - t
        sizes = {p.name: p.stat().st_size / 2**20 for p in path.iterdir()}
        print(f"wrote {args.trials} trials x {args.steps} steps in {write_s:.1f} s: "
              + ", ".join(f"{k} {v:.1f} MB" for k, v in sorted(sizes.items())))
        runs = []
        for _ in range(args.repeat):
            out = subprocess.run([sys.executable, __file__, "--load-only", str(path)],
                                 check=True, capture_output=True, text=True).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
        for r in runs:
            print(f"load_results {r['load_s']:.2f} s (import {r['import_s']:.2f} s, best "
                  f"{r['best_s'] * 1000:.0f} ms); rows {r['trials_rows']} trials, "
                  f"{r['history_rows']} history; peak RSS {r['rss_peak_mb']:.0f} MB "
                  f"({r['rss_before_mb']:.0f} MB after imports); frames "
                  f"{r['trials_mb']:.0f} + {r['history_mb']:.0f} MB")
        best = min(runs, key=lambda r: r["load_s"])
        median = sorted(r["load_s"] for r in runs)[len(runs) // 2]
        print(f"load_results: best {best['load_s']:.2f} s, median {median:.2f} s "
              f"(target < 5 s); peak RSS {max(r['rss_peak_mb'] for r in runs):.0f} MB")
    finally:
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    main()
