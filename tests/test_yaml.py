"""Tests of sweep.yamlfile (YAML loading with PyYAML's pitfalls fixed) and its use by load."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from raysweep.errors import SweepConfigError
from raysweep.sweep import config
from raysweep.sweep.yamlfile import load_yaml


def data_of(text: str) -> Any:
    doc = load_yaml(text)
    assert doc.issues == []
    return doc.data


def rendered(text: str) -> list[str]:
    return [issue.render() for issue in load_yaml(text).issues]


# --- numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("1e-5", 1e-5, id="1e-5"),
        pytest.param("3E6", 3e6, id="3E6"),
        pytest.param("-2e+3", -2000.0, id="-2e+3"),
        pytest.param("+1e5", 1e5, id="+1e5"),
        pytest.param("1.5e5", 1.5e5, id="dot_unsigned_exponent"),
        pytest.param("1.e5", 1e5, id="trailing_dot"),
        pytest.param(".5e3", 500.0, id="leading_dot"),
        pytest.param("1.0e-05", 1e-5, id="yaml11_form"),
        pytest.param("2.0e+20", 2e20, id="yaml11_positive_exponent"),
        pytest.param("!!float 1e-5", 1e-5, id="explicit_float_tag"),
        pytest.param("0.1", 0.1, id="plain_float"),
    ],
)
def test_scientific_notation_loads_as_float(text: str, expected: float) -> None:
    value = data_of(f"a: {text}")["a"]
    assert type(value) is float
    assert value == expected


def test_sci_notation_in_flow_lists_and_nested_mappings() -> None:
    data = data_of("p:\n  lr:\n    values: [1e-5, 1e-6, 3e-4]\n  wd: {min: 1e-6, max: 1e-3}\n")
    assert data == {"p": {"lr": {"values": [1e-5, 1e-6, 3e-4]}, "wd": {"min": 1e-6, "max": 1e-3}}}
    assert all(type(v) is float for v in data["p"]["lr"]["values"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param('"1e-5"', "1e-5", id="double_quoted"),
        pytest.param("'3e6'", "3e6", id="single_quoted"),
        pytest.param("!!str 1e-5", "1e-5", id="str_tag"),
        pytest.param("1e", "1e", id="no_exponent_digits"),
        pytest.param("e5", "e5", id="no_mantissa"),
        pytest.param("1e5.0", "1e5.0", id="fraction_in_exponent"),
        pytest.param("v1e5", "v1e5", id="word"),
    ],
)
def test_strings_that_look_like_numbers_stay_strings(text: str, expected: str) -> None:
    assert data_of(f"a: {text}")["a"] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("3", 3, id="int"),
        pytest.param("-52", -52, id="negative_int"),
        pytest.param("true", True, id="bool"),
        pytest.param("null", None, id="null"),
        pytest.param("~", None, id="tilde"),
        pytest.param("", None, id="empty_value"),
    ],
)
def test_other_scalars_are_unchanged(text: str, expected: Any) -> None:
    value = data_of(f"a: {text}")["a"]
    assert value == expected and type(value) is type(expected)


def test_nan_and_inf() -> None:
    data = data_of("a: .nan\nb: .inf\nc: -.inf\nd: .NaN\ne: +.inf\n")
    assert math.isnan(data["a"]) and math.isnan(data["d"])
    assert data["b"] == data["e"] == math.inf and data["c"] == -math.inf


def test_plain_pyyaml_is_not_changed() -> None:
    # The float rule is added to a copy of SafeLoader's resolvers only.
    assert yaml.safe_load("a: 1e-5") == {"a": "1e-5"}


# --- duplicate keys ------------------------------------------------------------------------------


def test_duplicate_top_level_key_names_both_lines() -> None:
    assert rendered("method: grid\nmetric: {name: a}\nmethod: random\n") == [
        "method (line 3): key 'method' appears twice in the same mapping (lines 1 and 3). "
        "PyYAML would silently keep the last one; delete one of them."
    ]


def test_duplicate_nested_key_reports_its_path() -> None:
    text = "parameters:\n  lr:\n    min: 0.1\n    max: 1.0\n    min: 0.2\n"
    assert rendered(text) == [
        "parameters.lr.min (line 5): key 'min' appears twice in the same mapping "
        "(lines 3 and 5). PyYAML would silently keep the last one; delete one of them."
    ]


def test_duplicated_mapping_is_reported_once() -> None:
    # The second `metric` is a duplicate as a whole; its own keys are not reported again.
    text = (
        "metric:\n  name: a\n  goal: maximize\n"
        "metric:\n  name: b\n  name: c\n"
        "metric:\n  name: d\n"
    )
    assert rendered(text) == [
        "metric (line 4): key 'metric' appears twice in the same mapping (lines 1 and 4). "
        "PyYAML would silently keep the last one; delete one of them.",
        "metric (line 7): key 'metric' appears twice in the same mapping (lines 1 and 7). "
        "PyYAML would silently keep the last one; delete one of them.",
    ]


def test_duplicates_in_different_mappings_are_fine() -> None:
    assert data_of("a:\n  x: 1\nb:\n  x: 2\nc: [{x: 1}, {x: 2}]\n")["b"] == {"x": 2}


def test_duplicate_inside_a_list_item() -> None:
    assert [i.path for i in load_yaml("c:\n  - {x: 1, x: 2}\n").issues] == ["c[0].x"]


def test_duplicate_key_refuses_the_config_with_its_line() -> None:
    text = "method: grid\nparameters:\n  x: {values: [1]}\n  x: {values: [2]}\n"
    with pytest.raises(SweepConfigError) as info:
        config.loads(text, path="sweep.yaml")
    assert info.value.render() == (
        "sweep.yaml: 1 problem\n"
        "  parameters.x (line 4): key 'x' appears twice in the same mapping (lines 3 and 4). "
        "PyYAML would silently keep the last one; delete one of them."
    )


# --- line map ------------------------------------------------------------------------------------


def test_lines_map_every_key_path() -> None:
    doc = load_yaml("method: grid\nparameters:\n  opt:\n    parameters:\n      lr:\n"
                    "        values: [1, 2]\ncommand:\n  - python\n  - x.py\n")
    assert doc.lines == {
        "method": 1,
        "parameters": 2,
        "parameters.opt": 3,
        "parameters.opt.parameters": 4,
        "parameters.opt.parameters.lr": 5,
        "parameters.opt.parameters.lr.values": 6,
        "parameters.opt.parameters.lr.values[0]": 6,
        "parameters.opt.parameters.lr.values[1]": 6,
        "command": 7,
        "command[0]": 8,
        "command[1]": 9,
    }


# --- syntax errors -------------------------------------------------------------------------------


def test_tab_indentation_names_the_line_and_suggests_spaces() -> None:
    assert rendered("method: grid\nparameters:\n\tlr: {values: [1]}\n") == [
        "<top level> (line 3): YAML syntax error: found character '\\t' that cannot start any "
        "token. YAML does not allow tabs for indentation: indent with spaces."
    ]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param("a: 1\nb: c: d\n", 2, id="mapping_in_plain_scalar"),
        pytest.param("a: 1\nb: [1, 2\nc: 3\n", 3, id="unclosed_flow_list"),
        pytest.param("a:\n  b: 1\n c: 2\n", 3, id="bad_indentation"),
        pytest.param("a: 1\n---\nb: 2\n", 2, id="two_documents"),
        pytest.param("a: *nothing\n", 1, id="undefined_alias"),
        pytest.param("a: 'open\n", 2, id="unclosed_quote"),
    ],
)
def test_syntax_errors_carry_their_line(text: str, line: int) -> None:
    doc = load_yaml(text)
    assert doc.data is None
    assert len(doc.issues) == 1
    issue = doc.issues[0]
    assert issue.path == "" and issue.line == line
    assert issue.message.startswith("YAML syntax error: ")
    assert issue.hint


def test_python_dict_file_gets_a_hint() -> None:
    assert rendered('sweep_config = {\n    "method": "random",\n}\n') == [
        "<top level> (line 2): YAML syntax error: mapping values are not allowed here. "
        "A ':' appears where YAML does not expect a key; quote the value, or check that this is "
        "a YAML file and not Python or JSON with errors."
    ]


def test_python_tags_are_refused_not_executed() -> None:
    doc = load_yaml("a: !!python/object/apply:os.system ['true']\n")
    assert doc.data is None
    assert "could not determine a constructor" in doc.issues[0].message


def test_syntax_error_raises_sweep_config_error_with_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text("method: grid\nparameters:\n\tx: 1\n")
    with pytest.raises(SweepConfigError) as info:
        config.load(path)
    assert info.value.render().splitlines()[:2] == [
        f"{path}: 1 problem",
        "  <top level> (line 3): YAML syntax error: found character '\\t' that cannot start any "
        "token. YAML does not allow tabs for indentation: indent with spaces.",
    ]


# --- empty documents and unreadable files --------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("\n\n", id="blank_lines"),
        pytest.param("# only a comment\n", id="comment"),
        pytest.param("---\n", id="document_marker"),
    ],
)
def test_empty_document(text: str) -> None:
    doc = load_yaml(text)
    assert (doc.data, doc.issues) == (None, [])
    with pytest.raises(SweepConfigError) as info:
        config.loads(text)
    assert [i.render() for i in info.value.issues] == [
        "<top level>: the file is empty. A sweep needs at least `method` and `parameters`."
    ]


def test_non_utf8_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_bytes("method: grid\nname: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(SweepConfigError) as info:
        config.load(path)
    assert info.value.render() == (
        f"{path}: 1 problem\n  <top level>: the file is not UTF-8 text. Is this a YAML file?"
    )


def test_binary_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_bytes(b"\x00\x01\x02\xff\xfe")
    with pytest.raises(SweepConfigError):
        config.load(path)


def test_top_level_list_is_refused() -> None:
    with pytest.raises(SweepConfigError) as info:
        config.loads("- method: grid\n")
    assert [i.render() for i in info.value.issues] == [
        "<top level>: a sweep config must be a mapping of keys to values, got a list. "
        "Start with `method: random` and a `parameters:` section."
    ]


def test_control_character_is_an_issue_not_a_traceback(tmp_path: Path) -> None:
    assert rendered("method: grid\nname: a\x00b\n") == [
        "<top level> (line 2): YAML syntax error: unacceptable character #x0000: special "
        "characters are not allowed. Remove the control character; check that this is a text "
        "file."
    ]
    path = tmp_path / "sweep.yaml"
    path.write_bytes(b"method: grid\x07\n")
    with pytest.raises(SweepConfigError, match="line 1"):
        config.load(path)
