"""Tests for raysweep.execution.process: running a trial's program, its reports and its cleanup.

The programs are small Python scripts run with this interpreter; no Ray.
"""

from __future__ import annotations

import math
import os
import stat
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from _procs import alive

import raysweep
from raysweep.errors import ProgramStartError
from raysweep.execution.process import (
    BAD_LINES_KEY,
    ProgramOutcome,
    kill_process_group,
    run_program,
)
from raysweep.program.metrics import TRIAL_ID_ENV

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="process groups are POSIX")

REPO_ROOT = str(Path(raysweep.__file__).resolve().parents[1])

# Shared by the scripts: start a grandchild that sleeps, holding (or not) the output pipe.
SPAWN_SLEEPER = textwrap.dedent(
    """
    import os, subprocess, sys
    def spawn_sleeper(keep_stdout=True):
        out = None if keep_stdout else subprocess.DEVNULL
        return subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(60)"], stdout=out, stderr=out
        ).pid
    """
)


def run_script(
    tmp_path: Path,
    source: str,
    *,
    on_report: Any = None,
    unbuffered: bool = True,
    **kwargs: Any,
) -> tuple[ProgramOutcome, list[dict[str, Any]], str]:
    """Run ``source`` as a program; return the outcome, the reports and the log text."""
    script = tmp_path / "prog.py"
    script.write_text(SPAWN_SLEEPER + textwrap.dedent(source))
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, **{TRIAL_ID_ENV: "trial_0"})
    env.pop("PYTHONUNBUFFERED", None)
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    reports: list[dict[str, Any]] = []
    log_path = tmp_path / "trial" / "program.log"
    outcome = run_program(
        [sys.executable, str(script)],
        cwd=str(tmp_path),
        env=env,
        log_path=str(log_path),
        on_report=on_report or reports.append,
        **kwargs,
    )
    text = log_path.read_bytes().decode("utf-8", errors="replace")
    return outcome, reports, text


def group_alive(pgid: int) -> bool:
    """Whether any non-zombie process is in group ``pgid``."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    if not os.path.isdir("/proc"):
        return True
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.getpgid(int(name)) == pgid and alive(int(name)):
                    return True
            except ProcessLookupError:
                continue
    return False


def wait_until_gone(check: Any, *args: Any, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not check(*args):
            return True
        time.sleep(0.05)
    return not check(*args)


# --- reports and logging ---------------------------------------------------------------------


def test_reports_arrive_in_order_and_everything_is_logged(tmp_path: Path) -> None:
    outcome, reports, text = run_script(
        tmp_path,
        """
        print("starting")
        print('@raysweep {"loss": 1.0, "epoch": 0}')
        print("between")
        print('@raysweep {"loss": 0.5, "epoch": 1, "val": {"acc": 0.9}}')
        print("done", file=sys.stderr)
        """,
    )
    assert reports == [{"loss": 1.0, "epoch": 0}, {"loss": 0.5, "epoch": 1, "val/acc": 0.9}]
    assert outcome == ProgramOutcome(
        returncode=0,
        n_reports=2,
        log_tail=text.rstrip("\n"),
        killed=False,
        bad_report_lines=0,
    )
    assert text == (
        "starting\n"
        '@raysweep {"loss": 1.0, "epoch": 0}\n'
        "between\n"
        '@raysweep {"loss": 0.5, "epoch": 1, "val": {"acc": 0.9}}\n'
        "done\n"
    )


def test_log_file_is_appended_to(tmp_path: Path) -> None:
    run_script(tmp_path, "print('first')")
    _, _, text = run_script(tmp_path, "print('second')")
    assert text == "first\nsecond\n"


def test_nonzero_exit_is_returned_with_the_log_tail(tmp_path: Path) -> None:
    outcome, reports, text = run_script(
        tmp_path,
        """
        for i in range(200):
            print(f"line {i}")
        print('@raysweep {"loss": 0.1}')
        raise RuntimeError("boom")
        """,
    )
    assert outcome.returncode == 1
    assert reports == [{"loss": 0.1}]
    assert "line 0\n" in text
    assert text.rstrip("\n").endswith("RuntimeError: boom")
    tail = outcome.log_tail.splitlines()
    assert len(tail) == 50
    assert tail[-1] == "RuntimeError: boom"
    assert outcome.log_tail == "\n".join(text.rstrip("\n").splitlines()[-50:])


def test_log_tail_is_capped_at_4_kb_and_shows_progress_bars_as_redrawn(tmp_path: Path) -> None:
    outcome, _, _ = run_script(
        tmp_path,
        r"""
        for i in range(30):
            print("x" * 300)
        for pct in range(0, 101, 10):
            print(f"\r{pct}%", end="")
        print()
        """,
    )
    assert len(outcome.log_tail) <= 4096
    assert outcome.log_tail.endswith("x" * 300 + "\n100%")


def test_a_silent_program_that_exits_zero_is_fine(tmp_path: Path) -> None:
    outcome, reports, text = run_script(tmp_path, "pass")
    assert (outcome.returncode, outcome.n_reports, outcome.log_tail, reports, text) == (
        0,
        0,
        "",
        [],
        "",
    )


def test_bad_report_lines_are_counted_and_skipped(tmp_path: Path) -> None:
    outcome, reports, text = run_script(
        tmp_path,
        r"""
        out = sys.stdout.buffer
        out.write(b"@raysweep not json\n")
        out.write(b"@raysweep [1, 2]\n")
        out.write(b'@raysweep {"a": [1]}\n')
        out.write(b'@raysweep {"x": "' + b"a" * 5_000_000 + b'"}\n')  # over the limit
        out.write(b"b" * 5_000_000 + b"\n")  # long, but not a report
        out.write(b"\xff\xfe not utf-8\n")
        out.write(b'@raysweep {"nan": NaN, "inf": Infinity, "ninf": -Infinity}\r\n')
        out.write(b'@raysweep {"last": true}')  # no newline at the end
        """,
    )
    assert outcome.returncode == 0
    assert outcome.bad_report_lines == 4
    assert outcome.first_bad_report is not None
    assert outcome.first_bad_report.startswith("payload is not JSON")
    assert len(reports) == 2
    assert math.isnan(reports[0]["nan"])
    assert reports[0]["inf"] == math.inf and reports[0]["ninf"] == -math.inf
    # Reports after invalid lines carry the count so far, for the results' bad_lines column.
    assert reports[0][BAD_LINES_KEY] == 4
    assert reports[1] == {"last": True, BAD_LINES_KEY: 4}
    assert len(text) > 10_000_000  # the log keeps every byte
    assert text.endswith('@raysweep {"last": true}')
    # One warning, on a line of its own, right after the first invalid line's line.
    assert text.count("[raysweep] warning") == 1
    assert "@raysweep not json\n[raysweep] warning: an @raysweep line above is not a valid " \
        "report and was skipped (payload is not JSON" in text


def test_the_warning_never_splits_a_line_of_the_program(tmp_path: Path) -> None:
    # The bad line and the start of the next line arrive in one write: the warning goes
    # right after the bad line, and the next line, finished by a later write, stays whole.
    outcome, reports, text = run_script(
        tmp_path,
        r"""
        import time
        out = sys.stdout.buffer
        out.write(b"@raysweep {loss: 1}\nepoch 1 ")
        out.flush()
        time.sleep(0.3)
        out.write(b"done\n@raysweep {\"loss\": 1}\n@raysweep nope\nlast words")
        """,
    )
    assert outcome.bad_report_lines == 2
    assert reports == [{"loss": 1, BAD_LINES_KEY: 1}]
    lines = text.split("\n")
    assert lines[0] == "@raysweep {loss: 1}"
    assert lines[1].startswith("[raysweep] warning")
    assert lines[2:] == ["epoch 1 done", '@raysweep {"loss": 1}', "@raysweep nope", "last words"]
    assert text.count("[raysweep] warning") == 1


def test_a_program_whose_only_bad_line_ends_mid_output_gets_the_warning_on_its_own_line(
    tmp_path: Path,
) -> None:
    outcome, reports, text = run_script(
        tmp_path,
        r"""
        sys.stdout.buffer.write(b"@raysweep [1]\npartial")
        """,
    )
    assert outcome.bad_report_lines == 1 and reports == []
    lines = text.split("\n")
    assert lines[0] == "@raysweep [1]"
    assert lines[1].startswith("[raysweep] warning") and lines[2:] == ["partial"]


def test_a_huge_line_without_newline_at_the_end(tmp_path: Path) -> None:
    outcome, reports, text = run_script(
        tmp_path,
        """
        print('@raysweep {"ok": 1}')
        sys.stdout.write('@raysweep {"x": "' + "a" * 5_000_000)
        """,
    )
    assert (outcome.returncode, reports, outcome.bad_report_lines) == (0, [{"ok": 1}], 1)
    assert len(outcome.log_tail) <= 4096
    assert len(text) > 5_000_000


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_log_from_a_program_survives_heavy_printing(tmp_path: Path, unbuffered: bool) -> None:
    # print(..., end="") without a flush leaves a partial line that log() may land after;
    # buffered, the partial line sits in Python's buffer; unbuffered, it is already out.
    outcome, reports, text = run_script(
        tmp_path,
        """
        from raysweep.program.metrics import log
        for i in range(300):
            print("noise " * (i % 17), end="")
            if i % 3 == 0:
                print("x" * 5000)
            log({"i": i, "half": i / 2, "nested": {"sq": i * i}}, step=i)
            print(f"progress {i}", end="\\r" if i % 5 else "")
        print("end")
        """,
        unbuffered=unbuffered,
    )
    assert outcome.returncode == 0, outcome.log_tail
    assert outcome.bad_report_lines == 0
    assert reports == [{"i": i, "half": i / 2, "nested/sq": i * i, "_step": i} for i in range(300)]
    assert text.count("@raysweep ") == 300


def test_log_writes_to_the_original_stdout_even_if_fd_1_is_redirected(tmp_path: Path) -> None:
    _, reports, _ = run_script(
        tmp_path,
        """
        from raysweep.program.metrics import log
        log({"a": 1})
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)  # a library silencing output
        print("hidden", flush=True)
        log({"a": 2})
        """,
    )
    assert reports == [{"a": 1}, {"a": 2}]


# --- stopping and cleanup ----------------------------------------------------------------------


def test_on_report_raising_kills_the_whole_group_and_propagates(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    def stop_on_second(metrics: dict[str, Any]) -> None:
        seen.append(metrics)
        if len(seen) == 2:
            raise SystemExit(0)  # what ray.tune.report does on STOP

    started = time.monotonic()
    with pytest.raises(SystemExit):
        run_script(
            tmp_path,
            """
            import json, time
            child = spawn_sleeper()
            print("@raysweep " + json.dumps({"pgid": os.getpgrp(), "child": child}), flush=True)
            while True:
                print('@raysweep {"loss": 1}', flush=True)
                time.sleep(0.05)
            """,
            on_report=stop_on_second,
        )
    assert time.monotonic() - started < 5
    pgid, child = seen[0]["pgid"], seen[0]["child"]
    assert pgid != os.getpgrp()  # the program had its own group
    assert wait_until_gone(group_alive, pgid)
    assert not alive(child)
    assert seen[1] == {"loss": 1}


def test_a_stop_at_the_last_report_of_a_program_that_already_ended_is_told(
    tmp_path: Path,
) -> None:
    # The scheduler takes a moment to answer the last report; the program exits meanwhile.
    told: list[str] = []

    def slow_stop(metrics: dict[str, Any]) -> None:
        if metrics.get("last"):
            time.sleep(0.5)
            raise SystemExit(0)  # what ray.tune.report does on STOP

    with pytest.raises(SystemExit):
        run_script(tmp_path, """
            print('@raysweep {"loss": 1}')
            print('@raysweep {"loss": 0.5, "last": true}')
            """, on_report=slow_stop, on_exit_before_stop=lambda: told.append("ended"))
    assert told == ["ended"]


def test_a_stop_that_cuts_a_program_short_is_not_told_as_ended(tmp_path: Path) -> None:
    told: list[str] = []

    def stop_first(metrics: dict[str, Any]) -> None:
        time.sleep(0.5)  # the program has exited by now, but its second report was not taken
        raise SystemExit(0)

    with pytest.raises(SystemExit):
        _, _, text = run_script(tmp_path, """
            print('@raysweep {"loss": 1}')
            print('@raysweep {"loss": 0.5}')
            """, on_report=stop_first, on_exit_before_stop=lambda: told.append("ended"))
    assert told == []
    log = (tmp_path / "trial" / "program.log").read_text(encoding="utf-8")
    assert '@raysweep {"loss": 0.5}' in log  # what was read after the stop is still logged


def test_stop_event_terminates_with_sigterm(tmp_path: Path) -> None:
    stop = threading.Event()

    def stop_on_first(metrics: dict[str, Any]) -> None:
        stop.set()

    outcome, _, text = run_script(
        tmp_path,
        """
        import signal, time
        def bye(signum, frame):
            print("got SIGTERM, saving", flush=True)
            print('@raysweep {"after_stop": 1}', flush=True)
            sys.exit(0)
        signal.signal(signal.SIGTERM, bye)
        print('@raysweep {"loss": 1}', flush=True)
        time.sleep(60)
        """,
        on_report=stop_on_first,
        stop_event=stop,
    )
    assert outcome.killed
    assert outcome.returncode == 0
    # Reports after the stop are logged but not forwarded.
    assert outcome.n_reports == 1
    assert "got SIGTERM, saving\n" in text
    assert '@raysweep {"after_stop": 1}' in text


def test_a_program_ignoring_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    stop = threading.Event()
    seen: list[dict[str, Any]] = []

    def record_and_stop(metrics: dict[str, Any]) -> None:
        seen.append(metrics)
        stop.set()

    started = time.monotonic()
    outcome, _, _ = run_script(
        tmp_path,
        """
        import json, signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("@raysweep " + json.dumps({"pgid": os.getpgrp()}), flush=True)
        while True:
            time.sleep(0.01)
        """,
        on_report=record_and_stop,
        stop_event=stop,
        term_grace_s=0.5,
    )
    elapsed = time.monotonic() - started
    assert outcome.killed
    assert outcome.returncode == -9
    assert 0.5 <= elapsed < 4
    assert wait_until_gone(group_alive, seen[0]["pgid"])


def test_stop_event_set_from_another_thread(tmp_path: Path) -> None:
    stop = threading.Event()
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    try:
        outcome, _, _ = run_script(
            tmp_path, "import time\ntime.sleep(60)\n", stop_event=stop, term_grace_s=1.0
        )
    finally:
        timer.cancel()
    assert outcome.killed
    assert outcome.returncode == -15


@pytest.mark.parametrize("keep_stdout", [True, False], ids=["holds-pipe", "detached-output"])
def test_children_left_behind_by_a_clean_exit_are_killed(
    tmp_path: Path, keep_stdout: bool
) -> None:
    started = time.monotonic()
    outcome, reports, _ = run_script(
        tmp_path,
        f"""
        import json
        child = spawn_sleeper(keep_stdout={keep_stdout})
        print("@raysweep " + json.dumps({{"pgid": os.getpgrp(), "child": child}}))
        """,
    )
    # A grandchild holding stdout would keep the pipe open for 60 s; the run must not wait.
    assert time.monotonic() - started < 5
    assert (outcome.returncode, outcome.killed) == (0, False)
    assert wait_until_gone(alive, reports[0]["child"])
    assert wait_until_gone(group_alive, reports[0]["pgid"])


def test_kill_process_group_of_a_gone_group_returns_false(tmp_path: Path) -> None:
    outcome, reports, _ = run_script(
        tmp_path, "import json\nprint('@raysweep ' + json.dumps({'pgid': os.getpgrp()}))"
    )
    assert outcome.returncode == 0
    assert kill_process_group(reports[0]["pgid"], grace_s=0.1) is False


# --- start errors --------------------------------------------------------------------------------


def _start(tmp_path: Path, argv: list[str], cwd: Path | None = None) -> ProgramStartError:
    with pytest.raises(ProgramStartError) as info:
        run_program(
            argv,
            cwd=str(cwd or tmp_path),
            env={"PATH": os.environ.get("PATH", "")},
            log_path=str(tmp_path / "program.log"),
            on_report=lambda metrics: None,
        )
    return info.value


def test_missing_program_on_path(tmp_path: Path) -> None:
    error = _start(tmp_path, ["no-such-program-xyz", "--lr=0.1"])
    assert str(error).startswith(
        f"cannot start program 'no-such-program-xyz' in {str(tmp_path)!r}: not found on PATH. "
    )
    assert error.hint is not None and "${interpreter}" in error.hint


def test_missing_program_file(tmp_path: Path) -> None:
    error = _start(tmp_path, ["./train.py"])
    assert error.reason == "no such file"
    assert str(tmp_path) in str(error)


def test_program_without_execute_permission(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)  # even root cannot execute a file without any x bit
    error = _start(tmp_path, ["./train.py"])
    assert error.reason == "permission denied"
    assert error.hint is not None and "chmod +x ./train.py" in error.hint


def test_program_without_shebang(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text("print('hi')\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    error = _start(tmp_path, ["./train.py"])
    assert error.reason == "not an executable file (no #! line?)"


def test_missing_working_directory(tmp_path: Path) -> None:
    error = _start(tmp_path, [sys.executable, "-c", "pass"], cwd=tmp_path / "nope")
    assert error.reason == "the working directory does not exist"


def test_empty_command(tmp_path: Path) -> None:
    assert _start(tmp_path, []).reason == "the command is empty"


def test_stdin_is_closed(tmp_path: Path) -> None:
    _, reports, _ = run_script(
        tmp_path,
        "import json\nprint('@raysweep ' + json.dumps({'stdin': sys.stdin.read()}))",
    )
    assert reports == [{"stdin": ""}]
