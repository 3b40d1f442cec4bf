"""Tests for raysweep.program.metrics: the @raysweep line protocol and log()."""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from raysweep.errors import RaysweepWarning, ReportLineError
from raysweep.program.metrics import (
    MAX_REPORT_BYTES,
    REPORT_PREFIX,
    TRIAL_ID_ENV,
    format_report_line,
    log,
    parse_report_line,
    reset_stdout,
    set_function_reporter,
)
from raysweep.program.once import reset_warnings


@pytest.fixture(autouse=True)
def _isolated_channel(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Give every test a fresh channel: no hook, no trial id, no warning shown yet."""
    monkeypatch.delenv(TRIAL_ID_ENV, raising=False)
    reset_warnings()
    reset_stdout()
    previous = set_function_reporter(None)
    yield
    set_function_reporter(previous)
    reset_stdout()


# --- parse_report_line ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param(
            '@raysweep {"loss": 0.25, "epoch": 3}\n', {"loss": 0.25, "epoch": 3}, id="lf"
        ),
        pytest.param('@raysweep {"loss": 0.25}\r\n', {"loss": 0.25}, id="crlf"),
        pytest.param("@raysweep {}", {}, id="empty-object"),
        pytest.param('@raysweep   {"a": 1}  ', {"a": 1}, id="json-whitespace"),
        pytest.param('@raysweep {"a": 1, "a": 2}', {"a": 2}, id="duplicate-json-key-last-wins"),
        pytest.param('[rank0]: @raysweep {"acc": 0.9}', {"acc": 0.9}, id="after-tag"),
        pytest.param('  @raysweep {"acc": 0.9}', {"acc": 0.9}, id="indented"),
        pytest.param('epoch 3 done@raysweep {"a": 2}', {"a": 2}, id="glued-to-partial-line"),
        pytest.param(
            '@raysweep {"big": 123456789012345678901234567890}',
            {"big": 123456789012345678901234567890},
            id="bigint",
        ),
    ],
)
def test_parse_report_line_accepts_reports(line: str, expected: dict[str, Any]) -> None:
    assert parse_report_line(line) == expected


def test_parse_report_line_keeps_types_and_flattens_with_slash() -> None:
    result = parse_report_line(
        '@raysweep {"ok": true, "n": 3, "x": 1.0, "s": "hi", "z": null, "val": {"m": {"f1": 2}}}'
    )
    assert result == {"ok": True, "n": 3, "x": 1.0, "s": "hi", "z": None, "val/m/f1": 2}
    assert result is not None
    assert type(result["ok"]) is bool
    assert type(result["n"]) is int
    assert type(result["x"]) is float


def test_parse_report_line_accepts_non_finite_floats() -> None:
    result = parse_report_line('@raysweep {"a": NaN, "b": Infinity, "c": -Infinity}')
    assert result is not None
    assert math.isnan(result["a"])
    assert result["b"] == math.inf
    assert result["c"] == -math.inf


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("", id="empty"),
        pytest.param("epoch 3: loss 0.25", id="plain"),
        pytest.param("@raysweep", id="prefix-without-space"),
        pytest.param("see @raysweep docs", id="mention-mid-line"),
        pytest.param("see @raysweep [1]", id="mid-line-without-object"),
        pytest.param('@raysweeps {"a": 1}', id="other-word"),
    ],
)
def test_parse_report_line_ignores_ordinary_output(line: str) -> None:
    assert parse_report_line(line) is None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        pytest.param("@raysweep loss=0.25", "payload is not JSON", id="not-json"),
        pytest.param("@raysweep ", "payload is not JSON", id="no-payload"),
        pytest.param('@raysweep {"a": 1', "payload is not JSON", id="truncated"),
        pytest.param("@raysweep [1, 2]", "got an array", id="array"),
        pytest.param('@raysweep "loss"', "got a string", id="string"),
        pytest.param("@raysweep 3", "got a number", id="number"),
        pytest.param('@raysweep {"a": [1, 2]}', "metric 'a' is an array", id="list-value"),
        pytest.param('@raysweep {"v": {"x": [1]}}', "metric 'v/x' is an array", id="nested-list"),
        pytest.param('@raysweep {"": 1}', "must not be empty", id="empty-key"),
        pytest.param('@raysweep {"a/b": 1, "a": {"b": 2}}', "'a/b' is given twice", id="twice"),
        pytest.param("@raysweep " + '{"a":' * 40 + "1" + "}" * 40, "nested more", id="deep"),
        pytest.param("@raysweep " + "[" * 100_000, "nested too deeply", id="json-recursion"),
    ],
)
def test_parse_report_line_rejects_bad_payloads(line: str, reason: str) -> None:
    with pytest.raises(ReportLineError) as info:
        parse_report_line(line)
    assert reason in info.value.reason
    assert str(info.value).startswith("invalid @raysweep report line: ")


def test_parse_report_line_rejects_payload_over_the_limit() -> None:
    line = REPORT_PREFIX + '{"x": "' + "a" * MAX_REPORT_BYTES + '"}'
    with pytest.raises(ReportLineError, match="more than the limit of 1000000"):
        parse_report_line(line)


def test_report_line_error_is_a_value_error() -> None:
    assert issubclass(ReportLineError, ValueError)


# --- format_report_line ---------------------------------------------------------------------


def test_format_report_line_round_trips() -> None:
    metrics = {
        "loss": 0.1,
        "n": 7,
        "ok": False,
        "note": 'two\nlines "quoted" \u00e9\u4e2d',
        "none": None,
        "val": {"acc": 0.5},
        "bad": float("nan"),
    }
    line = format_report_line(metrics, step=4)
    assert line.endswith("\n")
    assert line.count("\n") == 1
    assert line.isascii()
    parsed = parse_report_line(line)
    assert parsed is not None
    assert math.isnan(parsed.pop("bad"))
    assert parsed == {
        "loss": 0.1,
        "n": 7,
        "ok": False,
        "note": metrics["note"],
        "none": None,
        "val/acc": 0.5,
        "_step": 4,
    }


# --- log(): validation ------------------------------------------------------------------------


def _capture_hook() -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    set_function_reporter(seen.append)
    return seen


def test_log_accepts_numpy_scalars_and_item_objects() -> None:
    class Tensor:  # a one-element tensor, as torch has it
        def item(self) -> float:
            return 0.75

    seen = _capture_hook()
    log(
        {
            "f32": np.float32(0.5),
            "f64": np.float64(0.25),
            "i64": np.int64(3),
            "b": np.bool_(True),
            "zero_d": np.array(2.0),
            "t": Tensor(),
        }
    )
    assert seen == [{"f32": 0.5, "f64": 0.25, "i64": 3, "b": True, "zero_d": 2.0, "t": 0.75}]
    assert [type(v) for v in seen[0].values()] == [float, float, int, bool, float, float]


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        pytest.param({"x": object()}, "metric 'x' has type object", id="object"),
        pytest.param({"v": {"arr": np.zeros(3)}}, "metric 'v/arr' (ndarray)", id="array"),
        pytest.param({"l": [1, 2]}, "metric 'l' has type list", id="list"),
        pytest.param({1: 0.5}, "metric names must be strings, got int 1", id="int-key"),
        pytest.param({"v": {2: 0.5}}, "got int 2 under 'v'", id="nested-int-key"),
    ],
)
def test_log_rejects_unreportable_values_naming_the_key(
    metrics: dict[Any, Any], message: str
) -> None:
    seen = _capture_hook()
    with pytest.raises(TypeError) as info:
        log(metrics)
    assert message in str(info.value)
    assert seen == []


def test_log_rejects_a_non_mapping() -> None:
    with pytest.raises(TypeError, match="metrics must be a mapping of names to values, got list"):
        log([("loss", 1.0)])  # type: ignore[arg-type]


def test_log_rejects_cyclic_mappings() -> None:
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    with pytest.raises(ValueError, match="nested more than 32 deep"):
        log(cyclic)


@pytest.mark.parametrize(
    ("step", "error", "message"),
    [
        pytest.param(-1, ValueError, "step must be >= 0, got -1", id="negative"),
        pytest.param(1.5, TypeError, "step must be an int, got float", id="float"),
        pytest.param(True, TypeError, "step must be an int, got bool", id="bool"),
    ],
)
def test_log_validates_step(step: Any, error: type[Exception], message: str) -> None:
    _capture_hook()
    with pytest.raises(error, match=message):
        log({"a": 1}, step=step)


def test_log_step_conflicting_with_step_key() -> None:
    _capture_hook()
    with pytest.raises(ValueError, match="either as the `step` argument or as the key '_step'"):
        log({"_step": 1}, step=2)


# --- log(): channels ---------------------------------------------------------------------------


def test_log_calls_the_function_reporter() -> None:
    seen = _capture_hook()
    log({"loss": 0.5, "val": {"acc": 0.9}}, step=1)
    log({"loss": 0.25})
    assert seen == [{"loss": 0.5, "val/acc": 0.9, "_step": 1}, {"loss": 0.25}]


def test_function_reporter_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TRIAL_ID_ENV, "t1")
    seen = _capture_hook()
    log({"a": 1})
    assert seen == [{"a": 1}]


def test_set_function_reporter_returns_the_previous_one() -> None:
    def first(metrics: dict[str, Any]) -> None:
        pass

    assert set_function_reporter(first) is None
    assert set_function_reporter(None) is first


def test_log_propagates_what_the_reporter_raises() -> None:
    # Ray Tune stops a trial by raising SystemExit from tune.report.
    def stop(metrics: dict[str, Any]) -> None:
        raise SystemExit(0)

    set_function_reporter(stop)
    with pytest.raises(SystemExit):
        log({"a": 1})


def test_log_outside_raysweep_warns_once() -> None:
    with pytest.warns(RaysweepWarning, match="outside a raysweep trial") as record:
        log({"loss": 1.0})
    assert record[0].filename == __file__  # stacklevel points at the caller
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        log({"loss": 0.5})  # no second warning


def test_log_outside_raysweep_still_validates() -> None:
    with pytest.raises(TypeError, match="metric 'x'"):
        log({"x": object()})


def test_log_in_a_program_writes_one_line_to_the_original_stdout(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(TRIAL_ID_ENV, "t1")
    log({"loss": float("inf"), "val": {"acc": np.float32(0.5)}}, step=3)
    # A program that points fd 1 elsewhere afterwards does not lose its reports.
    saved_fd1 = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        log({"loss": 0.1})
    finally:
        os.dup2(saved_fd1, 1)
        os.close(saved_fd1)
        os.close(devnull)
    assert capfd.readouterr().out == (
        '@raysweep {"loss":Infinity,"val/acc":0.5,"_step":3}\n@raysweep {"loss":0.1}\n'
    )
