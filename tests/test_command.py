"""Tests for raysweep.sweep.command: W&B command macros -> argv lists."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from _shared import CORPUS as _CORPUS

from raysweep.errors import RaysweepError, SweepConfigError
from raysweep.sweep.command import (
    DEFAULT_COMMAND,
    MACROS,
    build_argv,
    display_command,
    unknown_macros,
)

CORPUS = _CORPUS / "valid"

# The parameter set of the spec's table (wandb tests/system_tests/test_sweep/test_wandb_agent.py).
SPEC_PARAMS = {"a": True, "b": False, "c": 1, "d": None}


def argv_of(command: list[object] | None, params: dict[str, Any] | None = None, **kw: Any):
    kw.setdefault("program", "train.py")
    kw.setdefault("interpreter", "python")
    kw.setdefault("environ", {})
    return build_argv(command, params=SPEC_PARAMS if params is None else params, **kw)


# --- every macro, with the spec's exact examples ---------------------------------------------


@pytest.mark.parametrize(
    ("macro", "expected"),
    [
        pytest.param("${args}", ["--a=True", "--b=False", "--c=1", "--d=None"], id="args"),
        pytest.param(
            "${args_no_equals}",
            ["--a", "True", "--b", "False", "--c", "1", "--d", "None"],
            id="args_no_equals",
        ),
        pytest.param(
            "${args_no_hyphens}", ["a=True", "b=False", "c=1", "d=None"], id="args_no_hyphens"
        ),
        pytest.param(
            "${args_no_boolean_flags}", ["--a", "--c=1", "--d=None"], id="args_no_boolean_flags"
        ),
        pytest.param(
            "${args_json}", ['{"a": true, "b": false, "c": 1, "d": null}'], id="args_json"
        ),
        pytest.param(
            "${args_append_hydra}",
            ["+a=True", "+b=False", "+c=1", "+d=None"],
            id="args_append_hydra",
        ),
        pytest.param(
            "${args_override_hydra}",
            ["++a=True", "++b=False", "++c=1", "++d=None"],
            id="args_override_hydra",
        ),
        pytest.param("${args_json_file}", ["/tmp/run/config.json"], id="args_json_file"),
        pytest.param("${env}", ["/usr/bin/env"], id="env"),
        pytest.param("${interpreter}", ["python"], id="interpreter"),
        pytest.param("${program}", ["train.py"], id="program"),
        pytest.param("${nope}", [], id="unknown_whole_token_vanishes"),
        pytest.param("${}", [], id="empty_macro_vanishes"),
        pytest.param("${envvar:lower}", [], id="envvar_lowercase_is_unknown"),
    ],
)
def test_macro_expands_like_wandb(macro: str, expected: list[str]) -> None:
    argv = argv_of(["x", macro, "y"], args_json_file="/tmp/run/config.json")
    assert argv == ["x", *expected, "y"]


def test_every_builtin_macro_is_tested() -> None:
    assert MACROS == {
        "env",
        "interpreter",
        "program",
        "args",
        "args_no_equals",
        "args_no_hyphens",
        "args_no_boolean_flags",
        "args_json",
        "args_json_file",
        "args_append_hydra",
        "args_override_hydra",
    }


def test_default_command() -> None:
    assert DEFAULT_COMMAND == ("${env}", "${interpreter}", "${program}", "${args}")
    expected = ["/usr/bin/env", "python", "train.py", "--lr=0.01"]
    assert argv_of(None, {"lr": 0.01}) == expected
    assert argv_of([], {"lr": 0.01}) == expected


def test_env_omitted_when_env_cmd_is_none() -> None:
    assert argv_of(None, {"lr": 0.01}, env_cmd=None) == ["python", "train.py", "--lr=0.01"]


def test_interpreter_is_one_item_never_split() -> None:
    argv = argv_of(["${interpreter}", "${program}"], {}, interpreter="/opt/my python/bin/python")
    assert argv == ["/opt/my python/bin/python", "train.py"]


def test_program_needed_but_missing_raises_config_error() -> None:
    with pytest.raises(SweepConfigError) as info:
        argv_of(None, {"lr": 0.01}, program=None)
    (issue,) = info.value.issues
    assert issue.path == "program"
    assert "${program}" in issue.message
    assert issue.hint is not None and "program:" in issue.hint


def test_program_not_used_is_fine() -> None:
    assert argv_of(["python", "-m", "pkg.main", "${args}"], {"x": 1}, program=None) == [
        "python",
        "-m",
        "pkg.main",
        "--x=1",
    ]


def test_program_given_but_not_used_is_ignored() -> None:
    assert argv_of(["echo", "hi"], {}, program="train.py") == ["echo", "hi"]


def test_args_json_file_without_path_raises() -> None:
    with pytest.raises(ValueError, match="args_json_file"):
        argv_of(["${args_json_file}"])


def test_command_given_as_string_is_refused() -> None:
    with pytest.raises(SweepConfigError) as info:
        argv_of("python train.py ${args}")  # type: ignore[arg-type]
    assert info.value.issues[0].path == "command"


def test_no_args_macro_means_no_args() -> None:
    assert argv_of(["${env}", "${interpreter}", "${program}"], {"lr": 0.1}) == [
        "/usr/bin/env",
        "python",
        "train.py",
    ]


def test_macro_used_twice_expands_twice() -> None:
    assert argv_of(["${args}", "--", "${args}"], {"x": 1}) == ["--x=1", "--", "--x=1"]


def test_empty_params() -> None:
    assert argv_of(["p", "${args}", "${args_json}"], {}) == ["p", "{}"]


# --- value formatting -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "arg"),
    [
        pytest.param(1e-05, "--v=1e-05", id="small_float"),
        pytest.param(0.1, "--v=0.1", id="float"),
        pytest.param(1.0, "--v=1.0", id="whole_float"),
        pytest.param(3, "--v=3", id="int"),
        pytest.param("adam", "--v=adam", id="str"),
        pytest.param(None, "--v=None", id="none"),
        pytest.param(True, "--v=True", id="bool"),
        pytest.param([1, 2], "--v=[1, 2]", id="list"),
        pytest.param({"lr": 0.001}, "--v={'lr': 0.001}", id="nested_dict"),
        pytest.param("1e-5", "--v=1e-5", id="sci_notation_string"),
    ],
)
def test_values_format_with_python_str(value: object, arg: str) -> None:
    assert argv_of(["${args}"], {"v": value}) == [arg]


def test_args_no_equals_keeps_flag_and_value_apart() -> None:
    assert argv_of(["${args_no_equals}"], {"name": "a b", "opt": {"lr": 1}}) == [
        "--name",
        "a b",
        "--opt",
        "{'lr': 1}",
    ]


def test_nested_params_in_json_macro() -> None:
    params = {"opt": {"lr": 0.001, "betas": [0.9, 0.99]}, "seed": 1}
    (item,) = argv_of(["${args_json}"], params)
    assert item == '{"opt": {"lr": 0.001, "betas": [0.9, 0.99]}, "seed": 1}'
    assert json.loads(item) == params


def test_param_order_is_kept() -> None:
    assert argv_of(["${args_no_hyphens}"], {"z": 1, "a": 2, "m": 3}) == ["z=1", "a=2", "m=3"]


# --- ${envvar:NAME} ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "environ", "expected"),
    [
        pytest.param("${envvar:DATA}", {"DATA": "/data"}, ["/data"], id="set"),
        pytest.param("${envvar:DATA}", {"DATA": ""}, [""], id="set_empty_is_one_empty_item"),
        pytest.param("${envvar:DATA}", {"DATA": "a b"}, ["a b"], id="value_with_space"),
        pytest.param(
            "--root=${envvar:DATA}/x", {"DATA": "/data"}, ["--root=/data/x"], id="embedded"
        ),
        pytest.param(
            "${envvar:A}:${envvar:B_2}", {"A": "1", "B_2": "2"}, ["1:2"], id="two_in_one_token"
        ),
        pytest.param("${envvar:}", {"": "empty"}, ["empty"], id="empty_name"),
        pytest.param("x${envvar:lower}", {"lower": "v"}, ["x${envvar:lower}"], id="lower_kept"),
        pytest.param(
            "${envvar:X}", {"X": "${args}"}, ["${args}"], id="value_is_not_expanded_again"
        ),
    ],
)
def test_envvar(token: str, environ: dict[str, str], expected: list[str]) -> None:
    assert argv_of(["${args}", token], {"p": 1}, environ=environ) == ["--p=1", *expected]


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("${envvar:DATA}", id="whole_item"),
        pytest.param("--root=${envvar:DATA}/x", id="inside_an_item"),
    ],
)
def test_an_unset_envvar_is_an_error_naming_the_variable_and_the_node(token: str) -> None:
    # W&B would pass the literal text DATA: a forgotten export becomes a wrong argument.
    with pytest.raises(RaysweepError) as info:
        argv_of(["${args}", token], {"p": 1}, environ={"OTHER": "x"}, node="gpu-7")
    assert str(info.value) == (
        "command: ${envvar:DATA}: environment variable DATA is not set on node gpu-7; set it "
        "where the trials start (the Ray workers' environment) or remove the macro"
    )
    assert "\n" not in str(info.value)


def test_an_unset_envvar_without_a_node_says_only_that_it_is_not_set() -> None:
    with pytest.raises(RaysweepError, match=r"^command: \$\{envvar:DATA\}: environment "
                       r"variable DATA is not set; set it"):
        argv_of(["${envvar:DATA}"], {}, environ={})


def test_envvar_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAYSWEEP_TEST_DIR", "/somewhere")
    argv = build_argv(
        ["--dir=${envvar:RAYSWEEP_TEST_DIR}"], program=None, params={}, interpreter="python"
    )
    assert argv == ["--dir=/somewhere"]


# --- custom ${parameter} macros ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        pytest.param("--batch_size=${batch_size}", ["--batch_size=32"], id="embedded"),
        pytest.param("${batch_size}", ["32"], id="whole_token"),
        pytest.param("${lr}", ["1e-05"], id="whole_token_float"),
        pytest.param("${opt}", ["{'lr': 0.1}"], id="whole_token_nested"),
        pytest.param("bs${batch_size}-lr${lr}", ["bs32-lr1e-05"], id="two_embedded"),
        pytest.param("--x=${unknown}", ["--x=${unknown}"], id="embedded_unknown_kept"),
        pytest.param("--p=${program}", ["--p=${program}"], id="embedded_builtin_kept"),
        pytest.param("--a=${args}", ["--a=${args}"], id="embedded_args_kept"),
        pytest.param("${batch_size", ["${batch_size"], id="unterminated_kept"),
        pytest.param("$batch_size", ["$batch_size"], id="no_braces_kept"),
    ],
)
def test_param_macros(token: str, expected: list[str]) -> None:
    params = {"batch_size": 32, "lr": 1e-05, "opt": {"lr": 0.1}}
    assert argv_of(["run", token], params) == ["run", *expected]


def test_builtin_macro_wins_over_parameter_of_same_name() -> None:
    params = {"env": "mine", "args": 5}
    assert argv_of(["${env}", "--e=${env}", "${args}"], params) == [
        "/usr/bin/env",
        "--e=mine",
        "--env=mine",
        "--args=5",
    ]


# --- unknown_macros ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "params", "expected"),
    [
        pytest.param(None, {}, [], id="default_command"),
        pytest.param(list(DEFAULT_COMMAND), [], [], id="builtins_only"),
        pytest.param(["${foo}", "${foo}", "--x=${bar}"], [], ["foo", "bar"], id="dedup_ordered"),
        pytest.param(["--bs=${bs}", "${lr}"], {"bs": 1, "lr": 2}, [], id="params_known"),
        pytest.param(["--bs=${bs}"], ["bs"], [], id="param_names_iterable"),
        pytest.param(["${envvar:HOME}", "x${envvar:A_1}"], [], [], id="envvar_known"),
        pytest.param(["${envvar:home}"], [], ["envvar:home"], id="envvar_lowercase"),
        pytest.param(["--p=${program}"], [], ["program"], id="embedded_builtin_is_literal"),
        pytest.param(["run", 1.5, None], [], [], id="non_strings"),
    ],
)
def test_unknown_macros(command: list[object] | None, params: Any, expected: list[str]) -> None:
    assert unknown_macros(command, params) == expected


def test_unknown_macros_match_what_build_argv_leaves_alone() -> None:
    command = ["${a}", "--b=${b}", "${lr}", "${envvar:X}", "--p=${program}"]
    argv = argv_of(command, {"lr": 0.1}, environ={"X": "x"})
    assert argv == ["--b=${b}", "0.1", "x", "--p=${program}"]
    assert unknown_macros(command, {"lr": 0.1}) == ["a", "b", "program"]


# --- non-string items and whitespace ---------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        pytest.param(1.99999, "1.99999", id="float"),
        pytest.param(3, "3", id="int"),
        pytest.param(True, "True", id="bool"),
        pytest.param(None, "None", id="none"),
        pytest.param(1e-05, "1e-05", id="small_float"),
    ],
)
def test_non_string_items_become_str(item: object, expected: str) -> None:
    assert argv_of(["python", "--float", item], {}) == ["python", "--float", expected]


@pytest.mark.parametrize(
    "item",
    [
        pytest.param("hello world", id="space"),
        pytest.param("--a=1 --b=2\n--c=3", id="folded_flags"),
        pytest.param("  padded  ", id="padding"),
        pytest.param(" ${args}", id="macro_with_leading_space_is_literal"),
        pytest.param("", id="empty"),
    ],
)
def test_items_are_never_split_or_stripped(item: str) -> None:
    assert argv_of(["echo", item], {"x": 1}) == ["echo", item]


# --- hostile values reach argv unchanged -------------------------------------------------------

HOSTILE = [
    pytest.param("a b", id="space"),
    pytest.param('it\'s "quoted"', id="quotes"),
    pytest.param("x; rm -rf /tmp/raysweep-should-not-exist", id="semicolon"),
    pytest.param("$(touch /tmp/raysweep-pwned)", id="command_substitution"),
    pytest.param("`id`", id="backticks"),
    pytest.param("line1\nline2", id="newline"),
    pytest.param("$HOME ${HOME} *.py ~ | & > < \\", id="shell_metachars"),
    pytest.param("ünïcødé ✓", id="unicode"),
    pytest.param("--flag=--other", id="flag_like"),
]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize(
    "macro",
    ["${args}", "${args_no_hyphens}", "${args_no_equals}", "${args_no_boolean_flags}", "${v}"],
)
def test_hostile_values_stay_single_items(value: str, macro: str) -> None:
    argv = argv_of([macro], {"v": value})
    expected = {
        "${args}": [f"--v={value}"],
        "${args_no_hyphens}": [f"v={value}"],
        "${args_no_equals}": ["--v", value],
        "${args_no_boolean_flags}": [f"--v={value}"],
        "${v}": [value],
    }[macro]
    assert argv == expected


def test_hostile_values_reach_a_real_process_unchanged(tmp_path: Path) -> None:
    values = [p.values[0] for p in HOSTILE]
    params = {f"k{i}": v for i, v in enumerate(values)}
    argv = build_argv(
        [
            "${interpreter}",
            "-c",
            "import sys,json; print(json.dumps(sys.argv[1:]))",
            "${args}",
            "${args_no_equals}",
            "${args_json}",
            "--env=${envvar:EVIL}",
        ],
        program=None,
        params=params,
        interpreter=sys.executable,
        environ={"EVIL": "$(touch pwned); `touch pwned2`"},
    )
    out = subprocess.run(argv, capture_output=True, check=True, cwd=tmp_path, shell=False)
    echoed = json.loads(out.stdout.decode("utf-8"))
    assert [a.encode() for a in echoed] == [a.encode() for a in argv[3:]]
    assert len(argv[3:]) == 2 * len(values) + len(values) + 2
    assert list(tmp_path.iterdir()) == []
    assert not Path("/tmp/raysweep-pwned").exists()


def test_display_command_quotes_for_display() -> None:
    argv = ["python", "t.py", "--n=a b", "--x=$(id)", "--q=it's"]
    line = display_command(argv)
    assert line == "python t.py '--n=a b' '--x=$(id)' '--q=it'\"'\"'s'"
    assert shlex.split(line) == argv


# --- the corpus ------------------------------------------------------------------------------


def _first_value(spec: Any) -> Any:
    """Pick one value for a parameter spec: value, first of values, min, or nested."""
    if not isinstance(spec, dict):
        return spec
    if "parameters" in spec:
        return {k: _first_value(v) for k, v in (spec["parameters"] or {}).items()}
    if "value" in spec:
        return spec["value"]
    if "values" in spec:
        return spec["values"][0]
    if "min" in spec:
        return spec["min"]
    return None


def _corpus_params(cfg: dict[str, Any]) -> dict[str, Any]:
    return {k: _first_value(v) for k, v in (cfg.get("parameters") or {}).items()}


def _load(name: str) -> dict[str, Any]:
    return yaml.safe_load((CORPUS / name).read_text())


def _corpus_files_with_command() -> list[Any]:
    files = sorted(CORPUS.glob("*.yaml")) if CORPUS.is_dir() else []
    found = []
    for path in files:
        cfg = yaml.safe_load(path.read_text())
        if isinstance(cfg, dict) and "command" in cfg:
            found.append(pytest.param(path.name, id=path.stem[:3]))
    return found or [pytest.param(None, marks=pytest.mark.skip(reason="corpus not present"))]


CORPUS_FILES = _corpus_files_with_command()


def test_corpus_has_command_files() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus not present")
    assert len(CORPUS_FILES) >= 30


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_command_builds(name: str) -> None:
    cfg = _load(name)
    command = cfg["command"]
    program = cfg.get("program")
    params = _corpus_params(cfg)
    uses_program = "${program}" in [str(c) for c in command]
    kwargs: dict[str, Any] = dict(
        program=program,
        params=params,
        interpreter="python",
        args_json_file="/tmp/raysweep/config.json",
        environ={},
    )
    if uses_program and program is None:
        with pytest.raises(SweepConfigError):
            build_argv(command, **kwargs)
        return
    argv = build_argv(command, **kwargs)
    assert isinstance(argv, list)
    assert all(isinstance(a, str) for a in argv)
    assert argv
    if uses_program:
        assert program in argv
    # Literal items of the command survive as they are, unsplit.
    for item in command:
        if "${" not in str(item):
            assert str(item) in argv


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param(
            "008_wbex_hydra_bayes_args_no_hyphens.yaml",
            [
                "/usr/bin/env",
                "python",
                "main.py",
                "optimizer.config.learning_rate=1e-05",
                "experiment=expt001",
                "optimizer=sgd",
            ],
            id="008_hydra_no_hyphens",
        ),
        pytest.param(
            "084_wbcli_t_launch_macro_args_json.yaml",
            ["python", "train.py", "--float", "1.99999", '{"foo-1": 1, "bool_2": true}'],
            id="084_float_item_args_json",
        ),
        pytest.param(
            "085_wbcli_t_launch_macro_append_hydra.yaml",
            ["python", "train.py", "+foo-1=1", "+bool_2=True"],
            id="085_append_hydra",
        ),
        pytest.param(
            "153_wbdocs_custom_param_macros.yaml",
            [
                "/usr/bin/env",
                "python",
                "run.py",
                "--batch_size=${batch_size}",
                "--optimizer=${optimizer}",
                "--test=True",
            ],
            id="153_custom_macros_not_parameters",
        ),
        pytest.param(
            "082_wbcli_t_bayes_command_echo.yaml", ["echo", "hello world"], id="082_echo"
        ),
    ],
)
def test_corpus_exact_argv(name: str, expected: list[str]) -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus not present")
    cfg = _load(name)
    argv = build_argv(
        cfg["command"],
        program=cfg.get("program"),
        params=_corpus_params(cfg),
        interpreter="python",
        environ={},
    )
    assert argv == expected


def test_corpus_151_no_boolean_flags_drops_false() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus not present")
    cfg = _load("151_ldct_bayes_args_no_boolean_flags.yaml")
    argv = build_argv(
        cfg["command"], program=cfg["program"], params=_corpus_params(cfg), interpreter="python"
    )
    assert argv[:3] == ["ldctbench-train", "--adam_b1=0.9", "--adam_b2=0.999"]
    assert "--dryrun" not in argv and not any(a.startswith("--dryrun") for a in argv)
    assert "--lr=1e-05" in argv  # PyYAML reads `1e-05` as a string; str() keeps it


def test_corpus_110_folded_flags_stay_one_item() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus not present")
    cfg = _load("110_controllableir_grid_folded_arg.yaml")
    argv = build_argv(
        cfg["command"], program=cfg["program"], params=_corpus_params(cfg), interpreter="python"
    )
    assert argv[:4] == [
        "/usr/bin/env",
        "/home/mohameys/miniconda3/envs/neural/bin/python",
        "main_ppo.py",
        "--ir_beta=0.001",
    ]
    assert len(argv) == 5
    assert argv[4].startswith("--env_name=GDY-Clusters-Semi-Sparse-v0 --env_alias=")
    assert argv[4].endswith("--recurrent")


def test_corpus_153_reports_its_custom_macros() -> None:
    if not CORPUS.is_dir():
        pytest.skip("corpus not present")
    cfg = _load("153_wbdocs_custom_param_macros.yaml")
    assert unknown_macros(cfg["command"], cfg["parameters"]) == ["batch_size", "optimizer"]
    with_params = {"learning_rate": 0.01, "batch_size": 64, "optimizer": "adam"}
    argv = build_argv(cfg["command"], program="run.py", params=with_params, interpreter="python")
    assert argv[3:5] == ["--batch_size=64", "--optimizer=adam"]
