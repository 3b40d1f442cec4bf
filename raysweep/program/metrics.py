"""Send metrics from a trial to raysweep: the ``@raysweep`` line protocol and :func:`log`.

A trial reports metrics in steps. Each report is one step: schedulers such as hyperband count
reports (Ray Tune's ``training_iteration``), and the sweep's ``metric.name`` is looked up in
them. There are two ways to report.

**From Python**, call :func:`log`::

    from raysweep.program.metrics import log

    for epoch in range(10):
        ...
        log({"loss": loss, "epoch": epoch})

:func:`log` picks its channel when it is called:

1. Inside a function trial (``raysweep.run(sweep, function=train)``) it hands the metrics to
   Ray Tune directly.
2. Inside a program that raysweep started (the environment variable ``RAYSWEEP_TRIAL_ID`` is
   set) it writes one protocol line to the program's original standard output.
3. Anywhere else it warns once (:class:`RaysweepWarning`) that the metrics go nowhere and
   returns, so the same script still runs on its own.

**From any language**, print one line per report to standard output::

    @raysweep {"loss": 0.25, "epoch": 3}

The rules of the line protocol:

- A line is the prefix ``@raysweep`` and one space, then a JSON object, then a newline
  (``\\n`` or ``\\r\\n``). Write the whole line at once and flush standard output after it.
- Keys are metric names. Values are numbers, ``true``/``false``, strings or ``null``. The
  non-standard JSON tokens ``NaN``, ``Infinity`` and ``-Infinity`` are accepted (Python's
  :mod:`json` writes them) and become floats; a trial whose metric is NaN counts as failed
  for the search. Integers stay integers and booleans stay booleans.
- Nested objects are flattened with ``/``: ``{"val": {"loss": 0.3}}`` reports the metric
  ``val/loss``, so the sweep file says ``metric: {name: val/loss}``. A key that appears twice
  after flattening makes the line invalid. Arrays are not metrics and make the line invalid.
- ``{}`` is a valid report: a step without metrics.
- The key ``_step`` is an ordinary metric; :func:`log` uses it to store its ``step`` argument.
- The payload may be at most :data:`MAX_REPORT_BYTES` (1 MB).
- The prefix normally starts the line. A report that follows other text on the same line is
  also found, as long as the prefix is followed by ``{``: this keeps reports that land after
  output without a trailing newline, or behind a launcher's ``[rank0]:`` tag.
- Every line, reports included, also goes to the trial's ``program.log``. A line that starts
  with the prefix but is not a valid report is logged, counted and otherwise skipped: the
  trial goes on.

Example in a shell script::

    echo "@raysweep {\\"loss\\": $LOSS}"

Besides the standard library this module imports only raysweep's errors and once-only warnings,
so ``import raysweep`` in a trial's program stays cheap.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

from raysweep.errors import ReportLineError
from raysweep.numeric import is_integer
from raysweep.program.once import warn_once

__all__ = [
    "MAX_REPORT_BYTES",
    "REPORT_PREFIX",
    "TRIAL_ID_ENV",
    "format_report_line",
    "log",
    "parse_report_line",
    "report_value",
    "reset_stdout",
    "set_function_reporter",
]

REPORT_PREFIX = "@raysweep "
"""What starts a report line on a program's standard output."""

TRIAL_ID_ENV = "RAYSWEEP_TRIAL_ID"
"""Environment variable that raysweep sets for every program it starts."""

MAX_REPORT_BYTES = 1_000_000
"""Longest accepted JSON payload of one report line (characters after the prefix)."""

# Deeper nesting than this is surely a bug (or a cyclic mapping); it also keeps the
# flattening recursion far from Python's recursion limit.
_MAX_DEPTH = 32

# A report is the prefix at the start of the line, or anywhere on the line when a JSON object
# follows; the second form recovers reports glued to output that lacked a newline.
_PREFIX_AT_START = re.compile(re.escape(REPORT_PREFIX))
_PREFIX_BEFORE_OBJECT = re.compile(re.escape(REPORT_PREFIX) + r"(?=\s*\{)")

Reporter = Callable[[dict[str, Any]], object]


def _bad_line(reason: str) -> ReportLineError:
    return ReportLineError(reason, tag=REPORT_PREFIX.strip())


def parse_report_line(line: str) -> dict[str, Any] | None:
    """Parse one line of a program's output.

    Args:
        line: One line, with or without its trailing ``\\n`` or ``\\r\\n``.

    Returns:
        The reported metrics, flattened to ``/``-joined keys, or ``None`` when the line is
        ordinary output.

    Raises:
        ReportLineError: The line carries the ``@raysweep`` prefix but its payload is not a
            JSON object of scalar values (or is longer than :data:`MAX_REPORT_BYTES`).

    >>> parse_report_line('@raysweep {"loss": 0.25, "epoch": 3}\\r\\n')
    {'loss': 0.25, 'epoch': 3}
    >>> parse_report_line('@raysweep {"val": {"loss": NaN}, "done": true}')
    {'val/loss': nan, 'done': True}
    >>> parse_report_line("epoch 3: loss 0.25") is None
    True
    >>> parse_report_line('[rank0]: @raysweep {"acc": 0.9}')
    {'acc': 0.9}
    >>> parse_report_line("@raysweep loss=0.25")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    raysweep.errors.ReportLineError: invalid @raysweep report line: payload ...
    """
    line = line.rstrip("\r\n")
    match = _PREFIX_AT_START.match(line) or _PREFIX_BEFORE_OBJECT.search(line)
    if match is None:
        return None
    payload = line[match.end() :]
    if len(payload) > MAX_REPORT_BYTES:
        raise _bad_line(
            f"payload is {len(payload)} characters long, more than the limit of {MAX_REPORT_BYTES}"
        )
    try:
        data = json.loads(payload)
    except json.JSONDecodeError as exc:
        raise _bad_line(f"payload is not JSON ({exc})") from None
    except RecursionError:
        raise _bad_line("payload is nested too deeply") from None
    if not isinstance(data, dict):
        raise _bad_line(
            f'payload must be a JSON object like {{"loss": 0.25}}, got {_json_type_name(data)}'
        )
    try:
        return _flatten(data)
    except (TypeError, ValueError) as exc:
        raise _bad_line(str(exc)) from None


def format_report_line(metrics: Mapping[str, Any], *, step: int | None = None) -> str:
    """Return the protocol line, newline included, that reports ``metrics``.

    Args:
        metrics: Metric names to values, validated and flattened as :func:`log` does.
        step: Optional step number, stored as the metric ``_step``.

    Returns:
        ``@raysweep {...}\\n``, pure ASCII, with no other newline in it.

    Raises:
        TypeError: A key is not a string, or a value cannot be reported.
        ValueError: A key is empty or given twice, or ``step`` is negative.

    >>> format_report_line({"loss": 0.5, "val": {"acc": float("inf")}}, step=2)
    '@raysweep {"loss":0.5,"val/acc":Infinity,"_step":2}\\n'
    """
    flat = _prepare(metrics, step)
    # ensure_ascii keeps the line independent of the locale; json escapes newlines in strings,
    # so the report stays on one line.
    body = json.dumps(flat, ensure_ascii=True, allow_nan=True, separators=(",", ":"))
    return f"{REPORT_PREFIX}{body}\n"


def set_function_reporter(reporter: Reporter | None) -> Reporter | None:
    """Route :func:`log` calls in this process to ``reporter`` (``None`` removes the route).

    raysweep calls this when a function trial starts, with a callable that forwards to
    ``ray.tune.report``, and restores the previous value when the trial ends. Exceptions the
    reporter raises (Ray raises ``SystemExit`` when a scheduler stops the trial) propagate
    out of :func:`log`.

    Args:
        reporter: Called with one flat ``dict`` per :func:`log` call.

    Returns:
        The reporter that was installed before.
    """
    global _function_reporter
    previous = _function_reporter
    _function_reporter = reporter
    return previous


def log(
    metrics: Mapping[str, Any], *, step: int | None = None, checkpoint: Any = None
) -> None:
    """Report one step of metrics to raysweep.

    Every call is one report, that is one step for the schedulers. See the module docstring
    for where the metrics go.

    Args:
        metrics: Metric names to values. Values may be ``int``, ``float`` (NaN and infinities
            included), ``bool``, ``str``, ``None``, a nested mapping (flattened to
            ``outer/inner`` keys) or any object with an ``.item()`` method that returns one
            of those, such as a NumPy scalar or a one-element tensor.
        step: Optional step number, stored as the metric ``_step``. It is informational:
            schedulers count calls, not this number.
        checkpoint: The trial's state after this step: a picklable object, or the path of
            a file or folder. It is saved before the metrics are reported, and
            :func:`raysweep.restore` returns it in the trial that resumes the
            configuration (``early_terminate: {type: promotion, resume: checkpoint}``; see
            :mod:`raysweep.program.checkpoint`). In other sweeps it is ignored with a warning.

    Raises:
        TypeError: A key is not a string, or a value cannot be reported; the message names
            the key.
        ValueError: A key is empty or given twice after flattening, or ``step`` is negative.
        OSError: Writing to standard output failed, for example because raysweep has already
            stopped the trial and closed the pipe.
    """
    flat = _prepare(metrics, step)
    if checkpoint is not None:
        _save_checkpoint(checkpoint)
    reporter = _function_reporter
    if reporter is not None:
        reporter(flat)
    elif os.environ.get(TRIAL_ID_ENV):
        body = json.dumps(flat, ensure_ascii=True, allow_nan=True, separators=(",", ":"))
        _write_line(f"{REPORT_PREFIX}{body}\n".encode("ascii"))
    else:
        warn_once(
            "log-nowhere",
            f"raysweep.log() was called outside a raysweep trial ({TRIAL_ID_ENV} is not set), "
            "so the metrics go nowhere. This warning is shown once; run the program through "
            "`raysweep run sweep.yaml` to record them.",
        )


def _save_checkpoint(state: Any) -> None:
    from raysweep.program.checkpoint import checkpoint_dir, save

    folder = checkpoint_dir()
    if folder is None:
        warn_once(
            "checkpoint-nowhere",
            "raysweep.log(checkpoint=...) is ignored: this sweep does not resume trials from "
            "checkpoints. Set `early_terminate: {type: promotion, resume: checkpoint}` to "
            "pause trials at their rungs and resume them from their checkpoints.",
        )
        return
    save(state, folder)


def reset_stdout() -> None:
    """Close the duplicate of standard output that reports go to; the next report takes a new one.

    Tests call it to start from a new process's state, so that a report goes to whatever file
    descriptor 1 is during the test.
    """
    global _stdout_fd
    with _write_lock:
        if _stdout_fd is not None:
            fd, _stdout_fd = _stdout_fd, None
            os.close(fd)


_function_reporter: Reporter | None = None
_stdout_fd: int | None = None
_write_lock = threading.Lock()


def _write_line(data: bytes) -> None:
    """Write ``data`` to the original standard output in one piece."""
    global _stdout_fd
    # Flush Python's own buffers first, so the program's earlier prints come before the report
    # in the log; a partial line flushed this way is handled by the parser's mid-line rule.
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            try:
                stream.flush()
            except (AttributeError, OSError, ValueError):
                pass  # a closed, broken or odd replacement stream must not stop the report
    with _write_lock:
        if _stdout_fd is None:
            # A private duplicate keeps reports flowing even if the program later points fd 1
            # elsewhere (for example at /dev/null to silence a library).
            _stdout_fd = os.dup(1)
        view = memoryview(data)
        # One write of at most PIPE_BUF bytes to a pipe is atomic; longer reports loop, and the
        # lock keeps threads of this process from interleaving.
        while view:
            written = os.write(_stdout_fd, view)
            view = view[written:]


def _prepare(metrics: Mapping[str, Any], step: int | None) -> dict[str, Any]:
    """Validate and flatten user metrics; add ``step`` as ``_step``."""
    if not isinstance(metrics, Mapping):
        raise TypeError(
            f"metrics must be a mapping of names to values, got {type(metrics).__name__}"
        )
    flat = _flatten(metrics, convert=True)
    if step is not None:
        if not is_integer(step):
            raise TypeError(f"step must be an int, got {type(step).__name__} ({step!r})")
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        if "_step" in flat:
            raise ValueError("pass the step either as the `step` argument or as the key '_step'")
        flat["_step"] = step
    return flat


def _flatten(
    data: Mapping[Any, Any],
    *,
    convert: bool = False,
    prefix: str = "",
    out: dict[str, Any] | None = None,
    depth: int = 0,
) -> dict[str, Any]:
    """Flatten nested mappings to ``a/b`` keys, checking keys and values.

    With ``convert``, values of Python subclasses (``numpy.float64``) become plain builtins
    and objects with ``.item()`` are unwrapped; JSON input never needs it.
    """
    if out is None:
        out = {}
    if depth > _MAX_DEPTH:
        raise ValueError(f"metric {prefix.rstrip('/')!r} is nested more than {_MAX_DEPTH} deep")
    for key, value in data.items():
        if not isinstance(key, str):
            raise TypeError(
                f"metric names must be strings, got {type(key).__name__} {key!r}"
                + (f" under {prefix.rstrip('/')!r}" if prefix else "")
            )
        if not key:
            where = f" under {prefix.rstrip('/')!r}" if prefix else ""
            raise ValueError(f"metric names must not be empty (found ''{where})")
        name = prefix + key
        if isinstance(value, Mapping):
            _flatten(value, convert=convert, prefix=name + "/", out=out, depth=depth + 1)
            continue
        if convert:
            value = _to_builtin(name, value)
        elif not _is_scalar(value):
            raise TypeError(
                f"value of metric {name!r} is {_json_type_name(value)}; "
                "report numbers, booleans, strings or null"
            )
        if name in out:
            raise ValueError(f"metric {name!r} is given twice (once nested, once with '/')")
        out[name] = value
    return out


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _to_builtin(name: str, value: Any) -> Any:
    """Return ``value`` as a builtin scalar or raise a TypeError naming the metric."""
    if value is None or type(value) in (bool, int, float, str):
        return value
    # Subclasses such as numpy.float64 (a float) or IntEnum: json would write them, but a
    # plain builtin keeps the function channel and the line channel identical.
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    item = getattr(value, "item", None)
    if callable(item):
        try:
            unwrapped = item()
        except (TypeError, ValueError) as exc:
            # numpy raises ValueError for arrays with more than one element.
            raise TypeError(
                f"value of metric {name!r} ({type(value).__name__}) has no single scalar "
                f"value: {exc}"
            ) from None
        if _is_scalar(unwrapped):
            return _to_builtin(name, unwrapped)
    raise TypeError(
        f"value of metric {name!r} has type {type(value).__name__} ({_short_repr(value)}), "
        "which cannot be reported; report int, float, bool, str or None, for example "
        "with float(x) or x.item()"
    )


def _short_repr(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_type_name(value: object) -> str:
    """Name a decoded JSON value by its JSON type, for messages."""
    names = {
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        dict: "an object",
        type(None): "null",
    }
    return names.get(type(value), f"a {type(value).__name__}")


def report_value(result: Mapping[str, Any], name: str) -> Any:
    """``name`` in a report as Ray Tune hands it on: a flat key, else a "/"-separated path
    into nested dicts (``"val/loss"``); None if absent.

    >>> report_value({"val": {"loss": 0.5}}, "val/loss"), report_value({"a/b": 1}, "a/b")
    (0.5, 1)
    """
    if name in result:
        return result[name]
    node: Any = result
    for part in name.split("/"):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node
