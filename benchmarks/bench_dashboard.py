"""How fast ``raysweep dashboard`` answers for a big sweep, and how much memory its server holds.

Writes a synthetic sweep folder of ``--trials`` trials with ``--steps`` reports each, in the
format the recorder writes (``raysweep.json``, ``trials.jsonl``, ``history.jsonl``), starts
``raysweep dashboard`` on it in a child process (so its memory is its own), and measures:

- the first full ``GET /api/sweep/<id>`` (no cursor: every trial and the history, thinned),
- an update poll: 50 reports appended (history lines, and the trials' new entries as the
  recorder appends them), then ``GET /api/sweep/<id>?cursor=...``; median of ``--polls``,
- the server's resident memory after them (``VmRSS``) and its peak (``VmHWM``).

With ``--live SECONDS``, a sweep gaining ``--rate`` reports per second instead: a writer
process appends them (a history line and the trial's new ``trials.jsonl`` entry each, as the
recorder does; ``--concurrent`` trials at a time, each ending after ``--steps`` reports) to
the folder of ``--trials`` trials, while this process polls ``GET /api/sweep/<id>?cursor=``
every second and asks for the parameter figures (``GET /api/sweep/<id>/figures``) as the
sweep page does (when trials ended, at most every 5 s or five times their compute time). It
reports the poll times (median, p95, max), the figures' compute times, the server's memory
and CPU, and whether every report written reached the client (each (trial, step) once).

Usage::

    python benchmarks/bench_dashboard.py --trials 10000 --steps 100
    python benchmarks/bench_dashboard.py --trials 1000 --steps 100 --live 60 --rate 50

Target (issue 21): an update poll of 10,000 trials x 100 steps well under a second.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
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


def _cpu_s(pid: int) -> float:
    """User and system CPU seconds of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _live_report(k: int, concurrent: int, steps: int) -> tuple[int, int]:
    """The (trial number, step) of the ``k``-th report written: ``concurrent`` trials take
    turns, each ending after ``steps`` reports and replaced by the next."""
    slot, turn = k % concurrent, k // concurrent
    return slot + concurrent * (turn // steps), turn % steps


def _live_writer(root: Path, seconds: float, rate: float, concurrent: int, steps: int,
                 written: Any) -> None:
    """Append ``rate`` reports per second for ``seconds`` (on a fixed schedule: a late
    write catches up at once), then leave ``written`` as the number appended."""
    start = time.perf_counter()
    k = 0
    with open(root / "history.jsonl", "a", encoding="utf-8") as hist, \
            open(root / "trials.jsonl", "a", encoding="utf-8") as log:
        while True:
            now = time.perf_counter() - start
            if now >= seconds:
                break
            due = int(now * rate) + 1
            while k < due:
                i, step = _live_report(k, concurrent, steps)
                tid = f"live{i:05d}"
                hist.write(json.dumps({"trial_id": tid, "step": step, "time_s": now,
                                       "val_loss": 1.0 / (i + 2) + 1.0 / (step + 1),
                                       "acc": step / steps}) + "\n")
                hist.flush()
                entry = _entry(i, step + 1, "finished" if step == steps - 1 else "running",
                               1.0 / (i + 2) + 1.0 / (step + 1))
                entry["trial_id"], entry["dir"] = tid, f"trial_{tid}"
                log.write(json.dumps(entry) + "\n")
                log.flush()
                k += 1
            time.sleep(max(0.0, (k / rate) - (time.perf_counter() - start)))
    written.value = k


def live(base: str, pid: int, root: Path, cursor: str, args: argparse.Namespace) -> None:
    """Poll the sweep every second from ``cursor`` on while a writer process adds
    ``args.rate`` reports per second."""
    seen: dict[tuple[str, int], int] = {}
    statuses: dict[str, str] = {}
    polls: list[float] = []
    computed: list[float] = []  # the server's compute time of each figures request it computed
    figure_waits: list[float] = []  # the client's wait for each figures request
    figures: dict[str, Any] = {"asked": 0.0, "ended": -1, "every": 5.0}

    def ask_figures() -> None:
        t0 = time.perf_counter()
        body = json.loads(_get(f"{base}/api/sweep/big/figures"))
        figure_waits.append(time.perf_counter() - t0)
        figures["ended"] = body["ended"]
        if not body["cached"]:
            computed.append(body["seconds"])
        figures["every"] = max(5.0, 5 * body["seconds"])

    asking = threading.Thread()
    rss_max = 0.0
    written = multiprocessing.get_context("fork").Value("q", -1)
    writer = multiprocessing.get_context("fork").Process(
        target=_live_writer, args=(root, args.live, args.rate, args.concurrent, args.steps,
                                   written))
    cpu0, wall0 = _cpu_s(pid), time.perf_counter()
    writer.start()
    last = False
    while True:
        if not writer.is_alive():
            last = True  # one more poll reads what the writer wrote last
        tick = time.perf_counter()
        t0 = time.perf_counter()
        update = json.loads(_get(f"{base}/api/sweep/big?cursor={cursor}"))
        polls.append(time.perf_counter() - t0)
        assert not update["reset"], "the server read the sweep again from the start"
        cursor = update["cursor"]
        for row in update["history"]:
            if str(row["trial_id"]).startswith("live"):
                key = (row["trial_id"], row["step"])
                seen[key] = seen.get(key, 0) + 1
        for entry in update["trials"]:
            statuses[entry["trial_id"]] = entry["status"]
        ended = sum(n for k, n in update["counts"].items() if k in ("finished", "stopped",
                                                                       "failed"))
        now = time.perf_counter()
        if (not args.no_figures and not asking.is_alive() and ended != figures["ended"]
                and now - figures["asked"] >= figures["every"]):
            # In a thread, as the page's request runs beside its polls.
            figures["asked"] = now
            asking = threading.Thread(target=ask_figures)
            asking.start()
        rss_max = max(rss_max, _rss(pid)[0])
        if last:
            break
        time.sleep(max(0.0, 1.0 - (time.perf_counter() - tick)))
    writer.join()
    if asking.is_alive():
        asking.join()
    cpu = (_cpu_s(pid) - cpu0) / (time.perf_counter() - wall0)
    n = written.value
    expected = {(f"live{i:05d}", s) for i, s in
                (_live_report(k, args.concurrent, args.steps) for k in range(n))}
    lost = expected - set(seen)
    twice = [key for key, count in seen.items() if count > 1]
    extra = set(seen) - expected
    ordered = sorted(polls)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    rss, peak = _rss(pid)
    print(f"live: {n:,} reports written in {args.live:.0f} s ({n / args.live:.1f}/s, "
          f"{args.concurrent} trials at a time, {args.steps} steps each); "
          f"{len(polls)} polls")
    print(f"poll time: median {statistics.median(polls) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms,"
          f" max {max(polls) * 1000:.1f} ms")
    if figure_waits:
        print(f"figures: {len(figure_waits)} requests, {len(computed)} computed: "
              f"{', '.join(f'{x:.2f}' for x in computed)} s; the client waited at most "
              f"{max(figure_waits):.2f} s")
    print(f"server: RSS max {rss_max:.0f} MiB during the run ({rss:.0f} MiB at its end, "
          f"peak {peak:.0f} MiB); CPU {cpu * 100:.0f}% of one core on average")
    print(f"reports the client received: {len(seen):,} of {n:,} written; lost {len(lost)}, "
          f"received twice {len(twice)}, unknown {len(extra)}; trials seen "
          f"{len(statuses):,}, ended {sum(v == 'finished' for v in statuses.values()):,}")
    if lost or twice or extra:
        raise SystemExit("the client's rows differ from the rows written")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--polls", type=int, default=20)
    parser.add_argument("--reports", type=int, default=50, help="reports appended per poll")
    parser.add_argument("--live", type=float, default=None, metavar="SECONDS",
                        help="a sweep gaining --rate reports per second for SECONDS instead")
    parser.add_argument("--rate", type=float, default=50.0, help="reports per second (--live)")
    parser.add_argument("--concurrent", type=int, default=8,
                        help="trials running at once (--live)")
    parser.add_argument("--no-figures", action="store_true",
                        help="do not ask for the parameter figures (--live)")
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
            if args.live is not None:
                live(base, proc.pid, root, cursor, args)
                return
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
