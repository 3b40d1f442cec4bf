"""How fast ``raysweep dashboard`` answers for a big sweep, and how much memory its server holds.

Writes a synthetic sweep folder of ``--trials`` trials with ``--steps`` reports each, in the
format the recorder writes (``raysweep.json``, ``trials.jsonl``, ``history.jsonl``), starts
``raysweep dashboard`` on it in a child process (so its memory is its own), and measures:

- the first full ``GET /api/sweep/<id>`` (no cursor: every trial and the history, thinned),
- an update poll: 50 reports appended (history lines, and the trials' new entries as the
  recorder appends them), then ``GET /api/sweep/<id>?cursor=...``; median of ``--polls``,
- the server's resident memory after them (``VmRSS``) and its peak (``VmHWM``).

Usage::

    python benchmarks/bench_dashboard.py --trials 10000 --steps 100

Target (issue 21): an update poll of 10,000 trials x 100 steps well under a second.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

PARAMETERS = ["lr", "batch_size", "optimizer"]


def _entry(i: int, steps: int, status: str, best: float) -> dict[str, Any]:
    return {"trial_id": f"t{i:05d}", "status": status,
            "config": {"lr": 10 ** -random.uniform(1, 5), "batch_size": 32 * (i % 4 + 1),
                       "optimizer": ["adam", "sgd"][i % 2]},
            "steps": steps, "reports": steps, "last": best, "best": best,
            "summary": {"acc": 1 - best}, "bad_lines": 0, "started": 1.7e9 + i,
            "ended": 1.7e9 + i + steps, "node": "10.0.0.1", "gpus": None, "error": None,
            "stop_reason": None, "failures": 0, "retries": 0, "dir": f"trial_t{i:05d}"}


def write_sweep(root: Path, trials: int, steps: int) -> None:
    """The sweep folder, written fast: history lines formatted, not json-dumped one by one."""
    root.mkdir(parents=True)
    meta = {"name": root.name, "method": "random", "metric": "val_loss", "goal": "minimize",
            "mode": "min", "parameters": PARAMETERS, "created": 1.7e9}
    (root / "raysweep.json").write_text(json.dumps(meta), encoding="utf-8")
    with open(root / "trials.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(_entry(i, steps, "finished", 1.0 / (i + 2))) + "\n"
                     for i in range(trials))
    with open(root / "history.jsonl", "w", encoding="utf-8") as f:
        for i in range(trials):
            tid = f"t{i:05d}"
            f.write("".join(
                f'{{"trial_id": "{tid}", "step": {s}, "time_s": {s * 0.5}, '
                f'"val_loss": {1.0 / (i + 2) + 1.0 / (s + 1):.6f}, "acc": {s / steps:.4f}}}\n'
                for s in range(steps)))


def _rss(pid: int) -> tuple[float, float]:
    """Resident and peak resident memory of ``pid``, in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=600) as resp:
        return resp.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--polls", type=int, default=20)
    parser.add_argument("--reports", type=int, default=50, help="reports appended per poll")
    args = parser.parse_args()
    random.seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        storage = Path(tmp) / "results"
        root = storage / "big"
        started = time.perf_counter()
        write_sweep(root, args.trials, args.steps)
        size = (root / "history.jsonl").stat().st_size
        print(f"wrote {args.trials} trials x {args.steps} steps "
              f"({args.trials * args.steps:,} history lines, {size / 2**20:.0f} MiB) in "
              f"{time.perf_counter() - started:.1f} s")
        proc = subprocess.Popen(
            [sys.executable, "-m", "raysweep", "dashboard", str(storage), "--port", "0"],
            stdout=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"})
        try:
            assert proc.stdout is not None
            url = ""
            while not url:
                line = proc.stdout.readline()
                if not line:
                    raise SystemExit("the dashboard did not start")
                url = line.strip() if line.strip().startswith("http://") else ""
            base = url.rstrip("/")
            idle = _rss(proc.pid)[0]
            t0 = time.perf_counter()
            body = _get(f"{base}/api/sweeps")
            print(f"GET /api/sweeps: {time.perf_counter() - t0:.3f} s ({len(body):,} bytes)")
            t0 = time.perf_counter()
            body = _get(f"{base}/api/sweep/big")
            first = time.perf_counter() - t0
            data = json.loads(body)
            print(f"first GET /api/sweep/big: {first:.2f} s ({len(body) / 2**20:.1f} MiB, "
                  f"{len(data['trials']):,} trials, {len(data['history']):,} history rows, "
                  f"thinned={data['thinned']})")
            cursor = data["cursor"]
            del data, body
            times = []
            step = args.steps
            for poll in range(args.polls):
                lines, entries = [], []
                for k in range(args.reports):
                    i = (poll * args.reports + k) % args.trials
                    tid = f"t{i:05d}"
                    lines.append(json.dumps({"trial_id": tid, "step": step, "time_s": 1.0,
                                             "val_loss": 0.01, "acc": 0.99}) + "\n")
                    entries.append(json.dumps(_entry(i, step + 1, "running", 0.01)) + "\n")
                with open(root / "history.jsonl", "a", encoding="utf-8") as f:
                    f.writelines(lines)
                with open(root / "trials.jsonl", "a", encoding="utf-8") as f:
                    f.writelines(entries)
                t0 = time.perf_counter()
                update = json.loads(_get(f"{base}/api/sweep/big?cursor={cursor}"))
                times.append(time.perf_counter() - t0)
                assert len(update["history"]) == args.reports, len(update["history"])
                assert len(update["trials"]) == args.reports, len(update["trials"])
                cursor = update["cursor"]
                step += 1
                time.sleep(0.05)
            rss, peak = _rss(proc.pid)
            print(f"update poll ({args.reports} reports appended): median "
                  f"{statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms "
                  f"over {args.polls} polls")
            print(f"server RSS: {idle:.0f} MiB idle, {rss:.0f} MiB after the polls, "
                  f"peak {peak:.0f} MiB")
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
