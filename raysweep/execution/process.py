"""Run one trial's program as a child process and stream its reports (POSIX only).

The program runs as W&B's agent runs it: in its own process group (session), with stdin
closed and stderr merged into stdout. Every byte it prints is appended to a log file as it
arrives; lines that follow the ``@raysweep`` protocol (:mod:`raysweep.program.metrics`) are handed
to a callback. A line that carries the prefix but is not a valid report is counted, and the
first one is explained in the log (one ``[raysweep]`` line). Whatever way the run ends, the
whole process group is killed afterwards, so no grandchild (a data loader worker, a daemon,
a ``sleep``) outlives its trial.

This module imports neither Ray nor anything outside the standard library.
"""

from __future__ import annotations

import collections
import errno
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from raysweep.errors import ProgramStartError, ReportLineError
from raysweep.program.metrics import (
    MAX_REPORT_BYTES,
    REPORT_PREFIX,
    parse_report_line,
)

__all__ = ["BAD_LINES_KEY", "ProgramOutcome", "kill_process_group", "run_program"]

BAD_LINES_KEY = "raysweep_bad_lines"
"""Result key with a program trial's count of invalid report lines so far (the program trial
adds it to its reports once there is one; the recorder reads it)."""

# Bytes kept of one line for parsing; the log file still receives the whole line. The slack
# over the report limit leaves room for a launcher's tag in front of the prefix.
_MAX_LINE_BYTES = MAX_REPORT_BYTES + 64 * 1024
_READ_BYTES = 64 * 1024
# How often the reading loop looks at stop_event and at the program's exit status, in seconds.
_POLL_S = 0.1
# After the program exits, its own output is already in the pipe; a grandchild that inherited
# stdout may keep writing, so reading stops once the pipe is idle or after this many seconds.
_DRAIN_AFTER_EXIT_S = 1.0
_TAIL_LINES = 50
_TAIL_CHARS = 4096
_PREFIX_BYTES = REPORT_PREFIX.encode("ascii")


@dataclass(frozen=True)
class ProgramOutcome:
    """How a program run by :func:`run_program` ended.

    Args:
        returncode: Exit status; negative ``-N`` when signal ``N`` ended the program.
        n_reports: Valid report lines passed to ``on_report``.
        log_tail: The last lines of output (at most 50 lines and about 4 KB), for error
            messages; carriage-return progress bars show only their last state.
        killed: True when raysweep ended the program because ``stop_event`` was set.
        bad_report_lines: Lines with the report prefix that could not be parsed.
        first_bad_report: Why the first of those lines was rejected, or ``None``.
    """

    returncode: int
    n_reports: int
    log_tail: str
    killed: bool
    bad_report_lines: int
    first_bad_report: str | None = None


def run_program(
    argv: list[str],
    *,
    cwd: str,
    env: Mapping[str, str],
    log_path: str,
    on_report: Callable[[dict[str, Any]], object],
    stop_event: threading.Event | None = None,
    term_grace_s: float = 5.0,
    on_exit_before_stop: Callable[[], object] | None = None,
) -> ProgramOutcome:
    """Run ``argv`` to completion, logging its output and forwarding its reports.

    Blocks until the program exits or ``stop_event`` is set. Afterwards the program's whole
    process group is terminated (SIGTERM, then SIGKILL after ``term_grace_s``), also after a
    normal exit, to end grandchildren left behind.

    Args:
        argv: The command; ``argv[0]`` is looked up on ``env``'s ``PATH``. Never run through a
            shell.
        cwd: Working directory of the program.
        env: The program's complete environment. Set ``PYTHONUNBUFFERED=1`` in it for Python
            programs, or their prints reach the log late (reports do not depend on it).
        log_path: File that receives all output, reports included, appended as it arrives (a
            retried trial keeps the earlier attempt's output). Missing folders are created.
        on_report: Called in this thread with each valid report's flat metrics, in order
            (after an invalid report line, with the count of those so far under
            :data:`BAD_LINES_KEY`). If
            it raises (Ray Tune raises ``SystemExit`` when a scheduler stops the trial), the
            program is killed and the exception propagates.
        stop_event: When set, the program is killed and the outcome has ``killed=True``.
        term_grace_s: Seconds between SIGTERM and SIGKILL.
        on_exit_before_stop: Called when a stop (``stop_event``, or ``on_report`` raising)
            reached a program that had already exited with status 0 and had no report left
            unforwarded: the program was complete, the stop came at its last report.

    Returns:
        The outcome. A non-zero exit status is not an error here; the caller decides.

    Raises:
        ProgramStartError: The program or the working directory cannot be found or run.
        BaseException: Whatever ``on_report`` raised, after the program is gone.
    """
    if not argv:
        raise ProgramStartError("", cwd, "the command is empty", "Give at least a program")
    log_dir = os.path.dirname(os.path.abspath(log_path))
    os.makedirs(log_dir, exist_ok=True)
    # Unbuffered: each chunk is one write, visible at once to `tail -f`.
    with open(log_path, "ab", buffering=0) as log_file:
        proc = _start(argv, cwd, env)
        pump = _OutputPump(proc.stdout, log_file, on_report)
        killed = False
        stopped = False
        exit_at_stop: int | None = None
        try:
            exited_at: float | None = None
            while True:
                if stop_event is not None and stop_event.is_set():
                    exit_at_stop = proc.poll()
                    killed = exit_at_stop is None
                    stopped = True
                    break
                if not pump.pump(_POLL_S):
                    break  # end of output: every writer has closed stdout
                if exited_at is None and proc.poll() is not None:
                    exited_at = time.monotonic()
                if exited_at is not None and (
                    pump.idle or time.monotonic() - exited_at > _DRAIN_AFTER_EXIT_S
                ):
                    break
            pump.finish_line()
        except BaseException:
            stopped = True
            exit_at_stop = proc.poll()
            raise
        finally:
            # Reports printed while the program shuts down are logged but not forwarded: the
            # caller asked to stop, or on_report already failed.
            pump.forward = False
            kill_process_group(proc.pid, term_grace_s, leader=proc, wait=pump.pump)
            pump.drain_after_kill()
            pump.close()
            if (stopped and exit_at_stop == 0 and pump.unforwarded == 0
                    and on_exit_before_stop is not None):
                on_exit_before_stop()
        returncode = proc.wait()
    return ProgramOutcome(
        returncode=returncode,
        n_reports=pump.n_reports,
        log_tail=pump.tail(),
        killed=killed,
        bad_report_lines=pump.bad_lines,
        first_bad_report=pump.first_bad,
    )


def kill_process_group(
    pgid: int,
    grace_s: float = 5.0,
    *,
    leader: subprocess.Popen[Any] | None = None,
    wait: Callable[[float], object] | None = None,
) -> bool:
    """Terminate process group ``pgid``: SIGTERM, then SIGKILL to what is left after the grace.

    Safe to call when the group is already gone, and from a Ctrl-C handler.

    Args:
        pgid: The process group id; for a program started with ``start_new_session=True`` it
            is the program's pid.
        grace_s: Seconds the group gets to exit after SIGTERM.
        leader: The group leader's ``Popen``, if this process started it; it is reaped while
            waiting, so its zombie does not keep the group alive.
        wait: Called with a number of seconds to pass time while waiting (default
            :func:`time.sleep`); :func:`run_program` keeps reading output meanwhile, so a
            program that prints while shutting down does not block on a full pipe.

    Returns:
        True if a signal was sent, False if the group no longer existed.
    """
    pause = wait if wait is not None else time.sleep
    if leader is not None:
        leader.poll()
    if not _signal_group(pgid, signal.SIGTERM):
        return False
    deadline = time.monotonic() + grace_s
    while True:
        if leader is not None:
            leader.poll()
        if not _group_alive(pgid):
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            break
        pause(min(0.05, left))
    _signal_group(pgid, signal.SIGKILL)
    if leader is not None:
        try:
            leader.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            pass  # unkillable (stuck in the kernel); nothing more a signal can do
    return True


def _start(argv: list[str], cwd: str, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start the program, turning OS errors into a :class:`ProgramStartError` with a hint."""
    program = argv[0]
    if not os.path.isdir(cwd):
        raise ProgramStartError(
            program, cwd, "the working directory does not exist", "Check the sweep's directory"
        )
    try:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Own session and process group: killpg then reaches every descendant, and a
            # Ctrl-C in the terminal goes to raysweep only, which stops trials in order.
            start_new_session=True,
        )
    except FileNotFoundError:
        if os.sep in program:
            reason = "no such file"
            hint = f"A relative path is resolved against the working directory {cwd!r}"
        else:
            reason = "not found on PATH"
            hint = (
                "Install it, give its full path, or start a script through an interpreter "
                "(command: [${env}, ${interpreter}, ${program}, ${args}])"
            )
        raise ProgramStartError(program, cwd, reason, hint) from None
    except PermissionError:
        raise ProgramStartError(
            program,
            cwd,
            "permission denied",
            f"Make it executable (chmod +x {program}) or start it through an interpreter",
        ) from None
    except OSError as exc:
        if exc.errno == errno.ENOEXEC:
            raise ProgramStartError(
                program,
                cwd,
                "not an executable file (no #! line?)",
                "Add a #! line or start it through an interpreter",
            ) from None
        raise ProgramStartError(program, cwd, exc.strerror or str(exc)) from None


def _signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to the group; False if it no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        # A member changed its user id; the others got the signal.
        return True
    return True


def _group_alive(pgid: int) -> bool:
    """Whether group ``pgid`` has a member that is not a zombie."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # killpg also succeeds for zombies, and orphaned zombies stay forever under an init that
    # does not reap (a container whose PID 1 is not an init). On Linux, look closer.
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return True
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue  # exited meanwhile
        # Fields after the command name, which is in parentheses and may contain anything.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            return True
    return False


def _bad_line_note(reason: str) -> bytes:
    """The one line logged at a program's first invalid report line."""
    return (
        f"[raysweep] warning: an {REPORT_PREFIX.strip()} line above is not a valid report and "
        f"was skipped ({reason}). A report is {REPORT_PREFIX.strip()} followed by a JSON "
        'object, e.g. @raysweep {"loss": 0.25}. Later invalid lines are counted in the '
        "results (bad_lines), not logged again.\n"
    ).encode("utf-8", errors="replace")


class _OutputPump:
    """Reads the program's output: logs it, splits lines, parses reports, keeps a tail."""

    def __init__(
        self,
        stream: Any,
        log_file: Any,
        on_report: Callable[[dict[str, Any]], object],
    ):
        self._stream = stream
        self._fd: int = stream.fileno()
        self._log = log_file
        self._on_report = on_report
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._fd, selectors.EVENT_READ)
        self._eof = False
        self._line = bytearray()  # the current line, capped at _MAX_LINE_BYTES
        self._line_overflow = False
        self._tail: collections.deque[bytes] = collections.deque()
        self._tail_bytes = 0
        self.forward = True
        self.unforwarded = 0  # valid reports read after forwarding stopped
        self._done = 0  # bytes of the current read already parsed
        self._logged = 0  # bytes of the current read already in the log
        self.idle = False  # the last pump() found nothing to read
        self.n_reports = 0
        self.bad_lines = 0
        self.first_bad: str | None = None
        self._at_line_start = True  # whether the log's last byte ends a line
        self._note: bytes | None = None  # the warning to log once the log is at a line start

    def pump(self, timeout: float) -> bool:
        """Read what arrives within ``timeout`` seconds; False at end of output."""
        if self._eof:
            # Still pass the time: kill_process_group uses this as its sleep.
            time.sleep(timeout)
            return False
        if not self._selector.select(timeout):
            self.idle = True
            return True
        self.idle = False
        data = os.read(self._fd, _READ_BYTES)
        if not data:
            self._eof = True
            return False
        self._keep_tail(data)
        self._done = self._logged = 0
        try:
            self._parse(data)
        except BaseException:
            # on_report raised (the trial is being stopped): the rest of this read is still
            # parsed, its reports counted as not forwarded.
            self.forward = False
            self._parse(data)
            raise
        finally:
            self._write_log(data[self._logged :])
        return True

    def _parse(self, data: bytes) -> None:
        """Parse ``data`` line by line from ``_done`` on. The log is written once per read,
        except where a warning about a line must follow that very line."""
        while True:
            newline = data.find(b"\n", self._done)
            if newline < 0:
                self._append(data[self._done :])
                self._done = len(data)
                return
            self._append(data[self._done : newline])
            self._done = newline + 1
            self._end_line()
            if self._note is not None:
                self._write_log(data[self._logged : self._done])
                self._logged = self._done
                self._write_note()

    def finish_line(self) -> None:
        """Handle a last line that had no newline."""
        if self._line or self._line_overflow:
            self._end_line()
        if self._note is not None and not self._at_line_start:
            self._log.write(b"\n")
            self._at_line_start = True
        self._write_note()

    def _write_log(self, data: bytes) -> None:
        if data:
            self._log.write(data)
            self._at_line_start = data.endswith(b"\n")

    def _write_note(self) -> None:
        """Log the pending warning, between lines of the program's output (never inside one)."""
        if self._note is not None and self._at_line_start:
            self._log.write(self._note)
            self._note = None

    def drain_after_kill(self) -> None:
        """Log what the killed group left in the pipe, without waiting for a lost writer."""
        deadline = time.monotonic() + _DRAIN_AFTER_EXIT_S
        while time.monotonic() < deadline and self.pump(0.0) and not self.idle:
            pass
        self.finish_line()

    def close(self) -> None:
        self._selector.close()
        self._stream.close()

    def tail(self) -> str:
        text = b"".join(self._tail).decode("utf-8", errors="replace")
        lines = []
        for line in text.replace("\r\n", "\n").split("\n"):
            # A progress bar redraws with \r; a terminal would show only the last state.
            lines.append(line.rstrip("\r").rsplit("\r", 1)[-1])
        if lines and lines[-1] == "":
            lines.pop()
        kept = "\n".join(lines[-_TAIL_LINES:])
        if len(kept) > _TAIL_CHARS:
            kept = kept[-_TAIL_CHARS:]
            # Start at a line boundary, unless one line fills the whole budget.
            cut = kept.find("\n")
            if 0 <= cut < len(kept) - 1:
                kept = kept[cut + 1 :]
        return kept

    def _keep_tail(self, data: bytes) -> None:
        # Twice the character budget in bytes leaves room for multi-byte characters and \r
        # redraws that tail() removes.
        self._tail.append(data)
        self._tail_bytes += len(data)
        while self._tail_bytes - len(self._tail[0]) >= 2 * _TAIL_CHARS:
            self._tail_bytes -= len(self._tail.popleft())
        if len(self._tail[0]) > 4 * _TAIL_CHARS:
            self._tail[0] = self._tail[0][-2 * _TAIL_CHARS :]
            self._tail_bytes = sum(len(chunk) for chunk in self._tail)

    def _append(self, piece: bytes) -> None:
        room = _MAX_LINE_BYTES - len(self._line)
        if len(piece) > room:
            self._line_overflow = True
            piece = piece[:room]
        self._line += piece

    def _end_line(self) -> None:
        raw = bytes(self._line)
        overflow = self._line_overflow
        self._line.clear()
        self._line_overflow = False
        if _PREFIX_BYTES not in raw:
            return  # ordinary output: skip decoding
        try:
            metrics = parse_report_line(raw.decode("utf-8", errors="replace"))
            if overflow and metrics is not None:
                # Only the head was kept, so what parsed is not what the program printed.
                raise ReportLineError(
                    f"line is longer than {_MAX_LINE_BYTES} bytes", tag=REPORT_PREFIX.strip()
                )
        except ReportLineError as exc:
            self.bad_lines += 1
            if self.first_bad is None:
                self.first_bad = exc.reason
                self._note = _bad_line_note(exc.reason)
            return
        if metrics is not None and not self.forward:
            self.unforwarded += 1
        if metrics is not None and self.forward:
            self.n_reports += 1
            if self.bad_lines:
                metrics[BAD_LINES_KEY] = self.bad_lines
            self._on_report(metrics)
