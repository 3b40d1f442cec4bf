"""Tests of raysweep.sweep.config: validation into SweepConfig, with exact rendered messages."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest

from raysweep.errors import Issue, SweepConfigError, UnsupportedSweepError
from raysweep.sweep import config
from raysweep.sweep import space as sp
from raysweep.sweep.model import (
    EarlyTerminate,
    Goal,
    Method,
    Metric,
    Resources,
    SweepConfig,
    Workdir,
)

PARAMS = {"x": {"values": [1, 2]}}
METRIC = {"name": "loss"}


def cfg(**keys: Any) -> dict[str, Any]:
    """A valid random sweep, with keys added or replaced."""
    out: dict[str, Any] = {"method": "random", "parameters": PARAMS}
    out.update(keys)
    return out


def params(**specs: Any) -> dict[str, Any]:
    return cfg(parameters=specs)


def issues_of(source: Any) -> list[str]:
    with pytest.raises(SweepConfigError) as info:
        config.load(source)
    return [issue.render() for issue in info.value.issues]


# --- one mistake, one exact message --------------------------------------------------------------

BAD = [
    pytest.param(
        cfg(paramters={}),
        "paramters: unknown key 'paramters'. Did you mean 'parameters'?",
        id="unknown_top_level_key_did_you_mean",
    ),
    pytest.param(
        cfg(settings={"x": 1}),
        "settings: unknown key 'settings'. A sweep config takes: method, parameters, metric, "
        "metrics, early_terminate, scheduler, command, program, name, description, project, "
        "entity, controller, run_cap, job, image_uri, kind, apiVersion, raysweep.",
        id="unknown_top_level_key_lists_keys",
    ),
    pytest.param(
        params(x={"vaules": [1, 2]}),
        "parameters.x.vaules: unknown key 'vaules' in a parameter definition. "
        "Did you mean 'values'?",
        id="unknown_param_key_did_you_mean",
    ),
    pytest.param(
        params(x={"values": [1], "n_layers": {"min": 1, "max": 3}}),
        "parameters.x.n_layers: unknown key 'n_layers' in a parameter definition. 'n_layers' "
        "looks like a parameter definition: check its indentation (it is inside 'x'), or put it "
        "under `parameters:`.",
        id="misindented_parameter",
    ),
    pytest.param(
        cfg(metric={"name": "acc", "goal": "maximise"}),
        "metric.goal: must be minimize or maximize, got the string 'maximise'. Did you mean "
        "'maximize'? W&B silently treats any other goal as minimize; raysweep refuses it so a "
        "typo does not flip your sweep.",
        id="goal_maximise_refused",
    ),
    pytest.param(
        cfg(metric={"name": "acc", "goal": "max"}),
        "metric.goal: must be minimize or maximize, got the string 'max'. W&B silently treats "
        "any other goal as minimize; raysweep refuses it so a typo does not flip your sweep.",
        id="goal_max_refused",
    ),
    pytest.param(
        cfg(metric={"goal": "minimize"}),
        "metric.name: missing. Name the metric your program reports, e.g. `name: val_loss`.",
        id="metric_without_name",
    ),
    pytest.param(
        cfg(metric="loss"),
        "metric: must be a mapping, got the string 'loss'. Write `metric: {name: val_loss, "
        "goal: minimize}`.",
        id="metric_string",
    ),
    pytest.param(
        params(lr={"distribution": "log_uniform_values", "min": 0, "max": 0.1}),
        "parameters.lr.min: log_uniform_values needs positive bounds, got min=0. log_uniform "
        "takes natural-log exponents if that is what you meant.",
        id="log_uniform_values_min_zero",
    ),
    pytest.param(
        params(lr={"distribution": "inv_log_uniform_values", "min": -1.0, "max": 0.1}),
        "parameters.lr.min: inv_log_uniform_values needs positive bounds, got min=-1.0. "
        "inv_log_uniform takes natural-log exponents if that is what you meant.",
        id="inv_log_uniform_values_negative_min",
    ),
    pytest.param(
        params(lr={"distribution": "log_uniform_values", "min": 2, "max": 1}),
        "parameters.lr.max: `min < max` must hold, but got min=2, max=1. Swap them.",
        id="log_uniform_values_reversed",
    ),
    pytest.param(
        params(lr={"min": 0.1, "max": 0.1}),
        "parameters.lr.max: `min < max` must hold, but got min=0.1, max=0.1",
        id="min_equals_max",
    ),
    pytest.param(
        params(opt={"parameters": {"adam": {"parameters": {"lr": {"min": 0.1, "max": 0.01}}}}}),
        "parameters.opt.parameters.adam.parameters.lr.max: `min < max` must hold, but got "
        "min=0.1, max=0.01. Swap them.",
        id="min_greater_than_max_nested_deep",
    ),
    pytest.param(
        params(x={"values": [1, 2, 3], "probabilities": [0.1, 0.2, 0.3]}),
        "parameters.x.probabilities: must sum to 1, but [0.1, 0.2, 0.3] sums to 0.6",
        id="probabilities_do_not_sum_to_1",
    ),
    pytest.param(
        params(x={"values": [1, 2, 3], "probabilities": [0.5, 0.5]}),
        "parameters.x.probabilities: has 2 entries but values has 3. Give one probability per "
        "value.",
        id="probabilities_length",
    ),
    pytest.param(
        params(x={"values": [1, 2], "probabilities": [1.5, -0.5]}),
        "parameters.x.probabilities: must not be negative, got [1.5, -0.5]",
        id="negative_probability",
    ),
    pytest.param(
        params(x={"distribution": "categorical", "values": [1, 2], "probabilities": [0.5, 0.5]}),
        "parameters.x.probabilities: `distribution: categorical` does not take probabilities. "
        "Remove `distribution: categorical`: values with probabilities are "
        "`categorical_w_probabilities`.",
        id="categorical_with_probabilities",
    ),
    pytest.param(
        cfg(method="grid", parameters={"lr": {"min": 0.0, "max": 1.0}}),
        "parameters.lr: grid search cannot enumerate a continuous uniform parameter. Use "
        "`values: [...]`, an int_uniform or q_uniform range, or `method: random` / `bayes`.",
        id="grid_with_uniform",
    ),
    pytest.param(
        cfg(method="grid", parameters={"opt": {"parameters": {"lr": {"distribution": "normal"}}}}),
        "parameters.opt.parameters.lr: grid search cannot enumerate a continuous normal "
        "parameter. Use `values: [...]`, an int_uniform or q_uniform range, or `method: random` "
        "/ `bayes`.",
        id="grid_with_nested_normal",
    ),
    pytest.param(
        cfg(method="grid", parameters={"x": {"values": [1, 2], "probabilities": [0.5, 0.5]}}),
        "parameters.x.probabilities: grid search tries every value, so it cannot use "
        "probabilities. Remove `probabilities`, or use `method: random`.",
        id="grid_with_probabilities",
    ),
    pytest.param(
        cfg(method="bayes"),
        "metric: bayes search needs a metric to model. Add `metric: {name: val_loss, goal: "
        "minimize}`.",
        id="bayes_without_metric",
    ),
    pytest.param(
        cfg(method="bayes", metric=METRIC, parameters={"x": {"value": 1}}),
        "parameters: bayes search needs at least one parameter that is not a constant",
        id="bayes_constants_only",
    ),
    pytest.param(
        cfg(early_terminate={"type": "hyperband", "min_iter": 3}),
        "early_terminate: early termination needs a `metric` to compare runs. Add `metric: "
        "{name: val_loss, goal: minimize}`.",
        id="hyperband_without_metric",
    ),
    pytest.param(
        cfg(metric=METRIC, early_terminate={"type": "hyperband", "max_iter": 27}),
        "early_terminate.s: missing: `max_iter` needs `s` (the number of bands). Add `s: 2`, "
        "or use `min_iter` instead of `max_iter`.",
        id="hyperband_max_iter_without_s",
    ),
    pytest.param(
        cfg(metric=METRIC, early_terminate={"type": "hyperband"}),
        "early_terminate: needs `min_iter`, or `max_iter` with `s`. Example: `early_terminate: "
        "{type: hyperband, min_iter: 3}`.",
        id="hyperband_without_bands",
    ),
    pytest.param(
        cfg(metric=METRIC, early_terminate={"type": "hyperband", "min_iter": 3, "eta": 1}),
        "early_terminate.eta: must be greater than 1, got 1. eta is the factor between bands; "
        "3 is the usual choice.",
        id="eta_1",
    ),
    pytest.param(
        cfg(metric=METRIC, early_terminate={"type": "hyperband", "min_iter": 3, "eta": 0.5}),
        "early_terminate.eta: must be greater than 1, got 0.5. eta is the factor between bands; "
        "3 is the usual choice.",
        id="eta_below_1",
    ),
    pytest.param(
        cfg(metric=METRIC, early_terminate={"type": "hyperband", "min_iter": 3, "etaa": 2}),
        "early_terminate.etaa: unknown key 'etaa'. Did you mean 'eta'?",
        id="early_terminate_unknown_key",
    ),
    pytest.param(
        cfg(metric=METRIC, early_terminate={"type": "hyperbnd", "min_iter": 3}),
        "early_terminate.type: unknown type 'hyperbnd'. Did you mean 'hyperband'?",
        id="early_terminate_type_typo",
    ),
    pytest.param(
        cfg(metric=METRIC, early_terminate={"type": "envelope", "min_iter": 3}),
        "early_terminate.type: unknown type 'envelope'. Use `type: hyperband` (W&B), or "
        "raysweep's `asha`, `median` or `promotion`.",
        id="early_terminate_unknown_type",
    ),
    pytest.param(
        cfg(metric=METRIC, early_terminate={"type": "hyperband", "max_iter": 2, "s": 2}),
        "early_terminate: Bands must be an array of length at least 1. Try increasing s, "
        "decreasing eta, or increasing min_iter.",
        id="hyperband_no_bands",
    ),
    pytest.param(
        cfg(metric=METRIC, early_terminate="hyperband"),
        "early_terminate: must be a mapping, got the string 'hyperband'. Write "
        "`early_terminate: {type: hyperband, min_iter: 3}`.",
        id="early_terminate_string",
    ),
    pytest.param(
        cfg(method="grdi"),
        "method: unknown method 'grdi'. Did you mean 'grid'?",
        id="method_typo",
    ),
    pytest.param(
        {"parameters": PARAMS},
        "method: missing. Add `method: grid`, `random` or `bayes`.",
        id="method_missing",
    ),
    pytest.param(
        cfg(method=None),
        "method: has no value. Write `method: grid`, `random` or `bayes`.",
        id="method_without_value",
    ),
    pytest.param(
        cfg(method=3),
        "method: must be grid, random or bayes, got 3",
        id="method_not_text",
    ),
    pytest.param(
        cfg(method=["grid"]),
        "method: must be grid, random or bayes, got a list",
        id="method_list",
    ),
    pytest.param(
        {"method": "grid"},
        "parameters: missing. Add a `parameters:` section, e.g. `lr: {min: 0.0001, max: 0.1}`.",
        id="parameters_missing",
    ),
    pytest.param(
        cfg(parameters={}),
        "parameters: must be a non-empty mapping of parameter names to definitions, got an "
        "empty mapping. Example: `parameters: {lr: {min: 0.0001, max: 0.1}}`.",
        id="parameters_empty",
    ),
    pytest.param(
        params(x={"values": []}),
        "parameters.x.values: must be a non-empty list, got an empty list. Write `values: [a, "
        "b, c]`.",
        id="values_empty",
    ),
    pytest.param(
        params(x=5),
        "parameters.x: must be a mapping that defines the parameter, got 5. To fix a value "
        "write `x: {value: 5}`; to search write `{values: [...]}` or `{min: ..., max: ...}`.",
        id="parameter_not_a_mapping",
    ),
    pytest.param(
        params(x={"min": 0, "max": 1.5}),
        "parameters.x: ambiguous bounds: min is 0 and max is 1.5, one an integer and one a "
        "float. Write both as floats (e.g. 0.0 and 1.0) for a uniform distribution, or both as "
        "integers for int_uniform.",
        id="mixed_int_float_bounds",
    ),
    pytest.param(
        params(x={"min": "1e-5", "max": 0.1}),
        "parameters.x.min: must be a number, got the string '1e-5'. Remove the quotes so YAML "
        "reads it as a number.",
        id="quoted_number",
    ),
    pytest.param(
        params(x={"distribution": "unifrom", "min": 0.0, "max": 1.0}),
        "parameters.x.distribution: unknown distribution 'unifrom'. Did you mean 'uniform'?",
        id="distribution_typo",
    ),
    pytest.param(
        params(x={"distribution": "normal", "q": 1}),
        "parameters.x.q: normal does not take 'q'. normal takes: mu, sigma.",
        id="key_not_taken_by_distribution",
    ),
    pytest.param(
        params(x={"distribution": "normal", "sigma": -0.1}),
        "parameters.x.sigma: must not be negative, got -0.1",
        id="negative_sigma",
    ),
    pytest.param(
        params(x={"distribution": "q_uniform", "min": 0, "max": 1, "q": 0}),
        "parameters.x.q: must be greater than 0, got 0",
        id="q_zero",
    ),
    pytest.param(
        params(x={"distribution": "beta", "a": 0}),
        "parameters.x.a: must be greater than 0, got 0",
        id="beta_a_zero",
    ),
    pytest.param(
        params(x={"distribution": "int_uniform", "min": 1}),
        "parameters.x.max: missing: int_uniform needs min and max",
        id="missing_max",
    ),
    pytest.param(
        params(x={"distribution": "int_uniform", "min": 0, "max": 1.0}),
        "parameters.x.max: must be an integer, got 1.0. int_uniform takes integer bounds; use "
        "`distribution: uniform` for floats.",
        id="int_uniform_float_bound",
    ),
    pytest.param(
        params(**{"1x": {"values": [1]}}),
        "parameters.1x: invalid parameter name '1x'. Names start with a letter or '_' and "
        "contain letters, digits, '_', '.', '-' or '/'.",
        id="bad_parameter_name",
    ),
    pytest.param(
        params(x={"parameters": {"a": {"value": 1}}, "value": 2}),
        "parameters.x: a nested parameter takes only `parameters`, not value",
        id="nested_with_value",
    ),
    pytest.param(
        params(x={}),
        "parameters.x: cannot tell what kind of parameter this is (it has nothing). Give "
        "`value`, `values`, `min` and `max`, `distribution`, or nested `parameters`.",
        id="empty_parameter",
    ),
    pytest.param(cfg(run_cap=True), "run_cap: must be an integer, got the boolean True",
                 id="run_cap_bool"),
    pytest.param(cfg(run_cap=0), "run_cap: must be greater than 0, got 0", id="run_cap_0"),
    pytest.param(cfg(run_cap=-1), "run_cap: must be greater than 0, got -1", id="run_cap_neg"),
    pytest.param(cfg(run_cap=5.1), "run_cap: must be an integer, got 5.1", id="run_cap_float"),
    pytest.param(
        cfg(run_cap="1"),
        "run_cap: must be a number, got the string '1'. Remove the quotes so YAML reads it as "
        "a number.",
        id="run_cap_string",
    ),
    pytest.param(
        cfg(controller={"type": "invalid"}),
        "controller.type: must be `{type: local}` or `{type: cloud}`. raysweep is its own "
        "controller: you can delete `controller`.",
        id="controller_type",
    ),
    pytest.param(cfg(kind="job"), "kind: must be 'sweep', got the string 'job'", id="kind"),
    pytest.param(
        cfg(command="python train.py"),
        "command: must be a non-empty list of arguments, got the string 'python train.py'. "
        "Write it as a list: `command: [${env}, ${interpreter}, ${program}, ${args}]`.",
        id="command_string",
    ),
    pytest.param(
        cfg(command=["python", ["a"]]),
        "command[1]: must be a single argument, got a list",
        id="command_nested_list",
    ),
    pytest.param(cfg(program=3), "program: must be text, got 3", id="program_not_text"),
    pytest.param(
        cfg(raysweep={"resources": {"gpu": 1.5}}),
        "raysweep.resources.gpu: fractions are only allowed below 1 GPU, got 1.5. Ask for a "
        "whole number of GPUs, or a fraction such as 0.5.",
        id="gpu_fraction_above_1",
    ),
    pytest.param(
        cfg(raysweep={"resources": {"cpu": -1}}),
        "raysweep.resources.cpu: must be a non-negative number, got -1",
        id="negative_cpu",
    ),
    pytest.param(
        cfg(raysweep={"resourcs": {"gpu": 1}}),
        "raysweep.resourcs: unknown key 'resourcs'. Did you mean 'resources'?",
        id="raysweep_unknown_key",
    ),
    pytest.param(
        cfg(raysweep={"max_concurrent_trials": 0}),
        "raysweep.max_concurrent_trials: must be at least 1, got 0",
        id="max_concurrent_trials_0",
    ),
    pytest.param(
        cfg(raysweep={"storage": 3}),
        "raysweep.storage: must be text, got 3",
        id="storage_not_text",
    ),
    pytest.param(
        cfg(raysweep={"unique": "yes"}),
        "raysweep.unique: must be true or false, got the string 'yes'",
        id="unique_not_bool",
    ),
    pytest.param(
        cfg(raysweep={"seed": -1}),
        "raysweep.seed: must not be negative, got -1",
        id="negative_seed",
    ),
    pytest.param(
        cfg(raysweep={"workdir": "trials"}),
        "raysweep.workdir: must be one of shared, trial; got the string 'trials'. Did you mean "
        "'trial'?",
        id="workdir_misspelled",
    ),
    pytest.param(
        cfg(raysweep={"workdir": "cwd"}),
        "raysweep.workdir: must be one of shared, trial; got the string 'cwd'. `trial` runs "
        "each trial in its own folder (trial_<id>/ of the sweep directory); `shared`, the "
        "default, runs every trial in the sweep file's folder.",
        id="workdir_unknown",
    ),
    pytest.param(
        cfg(raysweep={"workdir": True}),
        "raysweep.workdir: must be one of shared, trial; got the boolean True. `trial` runs "
        "each trial in its own folder (trial_<id>/ of the sweep directory); `shared`, the "
        "default, runs every trial in the sweep file's folder.",
        id="workdir_bool",
    ),
    pytest.param(cfg(raysweep=[1]), "raysweep: must be a mapping, got a list", id="raysweep_list"),
    # Infinite values and ints beyond the float range (YAML reads `1` and 400 zeros as an int):
    # refused where a float computation needs them, never a crash.
    pytest.param(
        cfg(metric=METRIC, early_terminate={"type": "hyperband", "min_iter": 3,
                                            "eta": float("inf")}),
        "early_terminate.eta: must be finite, got inf. eta is the factor between bands; "
        "3 is the usual choice.",
        id="eta_inf",
    ),
    pytest.param(
        cfg(metric=METRIC, early_terminate={"type": "hyperband", "max_iter": 10**400, "s": 2}),
        f"early_terminate.max_iter: must be finite, got {10**400}",
        id="max_iter_beyond_floats",
    ),
    pytest.param(
        params(x={"min": 0, "max": 10**400}),
        f"parameters.x.max: must be finite, got {10**400}",
        id="bound_beyond_floats",
    ),
    pytest.param(
        params(x={"values": [1, 2], "probabilities": [10**400, 0]}),
        "parameters.x.probabilities: must be a list of finite numbers",
        id="probability_beyond_floats",
    ),
    pytest.param(
        cfg(raysweep={"resources": {"cpu": 10**400}}),
        f"raysweep.resources.cpu: must be a non-negative number, got {10**400}",
        id="cpu_beyond_floats",
    ),
]


@pytest.mark.parametrize(("source", "expected"), BAD)
def test_bad_config_message(source: dict[str, Any], expected: str) -> None:
    assert issues_of(source) == [expected]


def test_not_a_mapping() -> None:
    with pytest.raises(SweepConfigError) as info:
        config.from_dict([1, 2])  # type: ignore[arg-type]
    assert [i.render() for i in info.value.issues] == [
        "<top level>: a sweep config must be a mapping of keys to values, got a list. "
        "Start with `method: random` and a `parameters:` section."
    ]


def test_all_problems_are_reported_at_once() -> None:
    source = {
        "method": "grdi",
        "metric": {"name": "loss", "goal": "maximise"},
        "parameters": {"x": {"vaules": [1]}},
        "run_cap": 0,
    }
    with pytest.raises(SweepConfigError) as info:
        config.load(source)
    assert info.value.render() == (
        "sweep config: 4 problems\n"
        "  method: unknown method 'grdi'. Did you mean 'grid'?\n"
        "  metric.goal: must be minimize or maximize, got the string 'maximise'. Did you mean "
        "'maximize'? W&B silently treats any other goal as minimize; raysweep refuses it so a "
        "typo does not flip your sweep.\n"
        "  parameters.x.vaules: unknown key 'vaules' in a parameter definition. Did you mean "
        "'values'?\n"
        "  run_cap: must be greater than 0, got 0"
    )
    assert str(info.value) == info.value.render()


def test_issues_are_data() -> None:
    with pytest.raises(SweepConfigError) as info:
        config.load(params(lr={"min": 0.1, "max": 0.01}))
    assert info.value.issues == (
        Issue("parameters.lr.max", "`min < max` must hold, but got min=0.1, max=0.01",
              "Swap them."),
    )


def test_yaml_errors_point_at_the_line() -> None:
    text = (
        "method: random\n"
        "parameters:\n"
        "  opt:\n"
        "    parameters:\n"
        "      lr:\n"
        "        min: 0.1\n"
        "        max: 0.01\n"
        "early_terminate: {type: hyperband, min_iter: 3, etaa: 2}\n"
        "metric: {name: loss}\n"
    )
    with pytest.raises(SweepConfigError) as info:
        config.loads(text, path="sweep.yaml")
    assert info.value.render() == (
        "sweep.yaml: 2 problems\n"
        "  parameters.opt.parameters.lr.max (line 7): `min < max` must hold, but got min=0.1, "
        "max=0.01. Swap them.\n"
        "  early_terminate.etaa (line 8): unknown key 'etaa'. Did you mean 'eta'?"
    )


# --- warnings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dist", "replacement", "values"),
    [
        pytest.param("log_uniform", "log_uniform_values", "0.00674 to 1", id="log_uniform"),
        pytest.param("q_log_uniform", "q_log_uniform_values", "0.00674 to 1", id="q_log_uniform"),
        pytest.param("inv_log_uniform", "inv_log_uniform_values", "1 to 148",
                     id="inv_log_uniform"),
    ],
)
def test_v1_log_distribution_warns(dist: str, replacement: str, values: str) -> None:
    sweep = config.load(params(lr={"distribution": dist, "min": -5, "max": 0}))
    assert [w.render() for w in sweep.warnings] == [
        f"parameters.lr: {dist} is W&B's deprecated form whose min/max are natural-log "
        f"exponents: values run from {values}. {dist} takes exponents; if min and max are the "
        f"values themselves, use {replacement}."
    ]
    spec = sweep.parameters[("lr",)]
    assert spec.distribution == dist


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        pytest.param({"controller": {"type": "local"}},
                     "controller: ignored: raysweep is the controller", id="controller"),
        pytest.param({"job": "x"}, "job: W&B Launch keys are ignored: raysweep runs `program` / "
                     "`command` on Ray", id="job"),
        pytest.param(
            {"metric": METRIC,
             "early_terminate": {"type": "hyperband", "min_iter": 3, "max_iter": 27, "s": 2}},
            "early_terminate.min_iter: ignored: `max_iter` and `s` set the bands (as in W&B)",
            id="min_iter_with_max_iter",
        ),
        pytest.param(
            {"metric": METRIC, "early_terminate": {"type": "hyperband", "min_iter": 3, "s": 2}},
            "early_terminate.s: ignored: `s` only counts with `max_iter` (as in W&B)",
            id="s_without_max_iter",
        ),
    ],
)
def test_ignored_keys_warn(keys: dict[str, Any], expected: str) -> None:
    assert [w.render() for w in config.load(cfg(**keys)).warnings] == [expected]


def test_valid_config_has_no_warnings() -> None:
    assert config.load(cfg()).warnings == ()


# --- command macros that will not expand ---------------------------------------------------------

MACRO_PARAMS = {"lr": {"values": [0.1]}, "batch_size": {"values": [32]},
                "opt": {"parameters": {"beta": {"values": [0.9]}}}}


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        pytest.param("${argz}", "command: `${argz}` is neither a built-in macro nor a parameter: "
                     "it expands to nothing. Did you mean `${args}`?", id="builtin_typo"),
        pytest.param("${batchsize}", "command: `${batchsize}` is neither a built-in macro nor a "
                     "parameter: it expands to nothing. Did you mean `${batch_size}`?",
                     id="whole_item_parameter_typo"),
        pytest.param("--lr=${lrr}", "command: `${lrr}` in `--lr=${lrr}` is not a parameter: the "
                     "program gets it as literal text. Did you mean `${lr}`?",
                     id="parameter_typo_inside_an_item"),
        pytest.param("--p=${program}", "command: `${program}` in `--p=${program}` stays literal "
                     "text: built-in macros expand only as a whole list item. Make `${program}` "
                     "a list item of its own.", id="builtin_inside_an_item"),
        pytest.param("${envvar:data}", "command: `${envvar:data}` is not expanded: an "
                     "environment variable's name must be upper case letters, digits and _. "
                     "Write `${envvar:DATA}`.", id="envvar_lower_case"),
        pytest.param("--d=${DATA_DIR}", "command: `${DATA_DIR}` in `--d=${DATA_DIR}` is not a "
                     "parameter: the program gets it as literal text. For an environment "
                     "variable, write `${envvar:DATA_DIR}`.", id="shell_style_variable"),
        pytest.param("--b=${opt.beta}", "command: `${opt.beta}` in `--b=${opt.beta}` is not a "
                     "parameter: the program gets it as literal text. Only top-level parameters "
                     "expand; `${opt}` gives the whole `opt` mapping.", id="nested_parameter"),
        pytest.param("${quux}", "command: `${quux}` is neither a built-in macro nor a parameter: "
                     "it expands to nothing. Use a built-in macro such as `${args}`, or a "
                     "parameter: batch_size, lr, opt.", id="nothing_close"),
        pytest.param("--q=${quux}", "command: `${quux}` in `--q=${quux}` is not a parameter: the "
                     "program gets it as literal text. The parameters are: batch_size, lr, opt.",
                     id="nothing_close_inside_an_item"),
    ],
)
def test_a_macro_that_will_not_expand_warns(item: str, expected: str) -> None:
    doc = cfg(parameters=MACRO_PARAMS, program="t.py",
              command=["${env}", "${interpreter}", "${program}", item])
    assert [w.render() for w in config.load(doc).warnings] == [expected]


def test_macros_that_expand_do_not_warn() -> None:
    command = ["${env}", "${interpreter}", "${program}", "${args_no_hyphens}", "${lr}",
               "--bs=${batch_size}", "${envvar:HOME}", "--h=${envvar:HOME}", "${args_json_file}"]
    doc = cfg(parameters=MACRO_PARAMS, program="t.py", command=command)
    assert config.load(doc).warnings == ()


def test_a_repeated_macro_warns_once_with_the_line_of_its_first_item() -> None:
    text = (
        "method: random\nprogram: t.py\nparameters: {lr: {values: [0.1]}}\ncommand:\n"
        "  - ${program}\n  - ${argz}\n  - ${argz}\n"
    )
    warnings = config.loads(text, path="sweep.yaml").warnings
    assert [(w.path, w.line, w.hint) for w in warnings] == [
        ("command", 6, "Did you mean `${args}`?")]


# --- launch configs ------------------------------------------------------------------------------


# W&B's 2026 `scheduler: {engine: ...}` and `metrics:` are checked in test_schema_2026.py;
# a Launch scheduler job and `method: custom` without a scheduler stay unsupported.
@pytest.mark.parametrize(
    ("source", "paths"),
    [
        pytest.param(cfg(scheduler={"num_workers": 8}), ["scheduler"], id="scheduler"),
        pytest.param(cfg(method="custom"), ["method"], id="method_custom"),
        pytest.param(
            cfg(method="custom", scheduler={"job": "x"}), ["scheduler", "method"],
            id="method_custom_launch_scheduler",
        ),
        pytest.param(
            {"job": "wandb/job:latest", "scheduler": {"job": "x"}, "parameters": PARAMS},
            ["scheduler", "method"],
            id="launch_sweep_without_method",
        ),
    ],
)
def test_launch_configs_are_unsupported(source: dict[str, Any], paths: list[str]) -> None:
    with pytest.raises(UnsupportedSweepError) as info:
        config.load(source)
    assert [i.path for i in info.value.issues] == paths


def test_unsupported_message_says_why() -> None:
    assert issues_of(cfg(method="custom")) == [
        "method: `method: custom` without a `scheduler` hands the search to a W&B Launch "
        "scheduler job, which raysweep does not support: raysweep runs a custom search with "
        "`scheduler: {engine: optuna}`. Add `scheduler: {engine: optuna}` (optionally "
        "`source`, `optimizer`, `search_space`), or use `method: grid`, `random` or `bayes`."
    ]
    assert issues_of(cfg(scheduler={"job": "x"})) == [
        "scheduler: `scheduler` configures a W&B Launch sweep scheduler job, which raysweep "
        "does not support: only W&B's hosted service runs these; raysweep runs grid, random "
        "and bayes sweeps itself. Remove `scheduler` and put the search space under "
        "`parameters` with `method: grid|random|bayes`, or use W&B's 2026 form `scheduler: "
        "{engine: optuna, source: ..., optimizer: ...}` with `method: custom`."
    ]


def test_unsupported_error_is_a_sweep_config_error() -> None:
    assert issubclass(UnsupportedSweepError, SweepConfigError)
    assert issubclass(SweepConfigError, ValueError)


# --- defaults and inference ----------------------------------------------------------------------


def test_defaults_are_filled() -> None:
    sweep = config.load(
        {
            "method": "bayes",
            "metric": {"name": "loss"},
            "early_terminate": {"type": "hyperband", "min_iter": 3},
            "parameters": {
                "q": {"distribution": "q_uniform", "min": 0, "max": 10},
                "n": {"distribution": "normal"},
                "qn": {"distribution": "q_normal"},
                "ln": {"distribution": "log_normal"},
                "qln": {"distribution": "q_log_normal"},
                "b": {"distribution": "beta"},
                "qb": {"distribution": "q_beta"},
                "qlu": {"distribution": "q_log_uniform_values", "min": 1.0, "max": 10.0},
            },
        }
    )
    assert sweep.metric == Metric(name="loss", goal=Goal.MINIMIZE, target=None, impute="worst",
                                  impute_while_running=False)
    assert sweep.metric.mode == "min"
    assert sweep.early_terminate == EarlyTerminate(type="hyperband", min_iter=3, eta=3,
                                                   strict=True)
    assert sweep.early_terminate.bands[:3] == (3, 9, 27)
    space = sweep.parameters
    assert space[("q",)] == sp.QUniform(min=0, max=10, q=1.0)
    assert type(space[("q",)].q) is float  # type: ignore[attr-defined]
    assert space[("n",)] == sp.Normal(mu=0.0, sigma=1.0)
    assert space[("qn",)] == sp.QNormal(mu=0.0, sigma=1.0, q=1.0)
    assert space[("ln",)] == sp.LogNormal(mu=0.0, sigma=1.0)
    assert space[("qln",)] == sp.QLogNormal(mu=0.0, sigma=1.0, q=1.0)
    assert space[("b",)] == sp.Beta(a=1.0, b=1.0)
    assert space[("qb",)] == sp.QBeta(a=1.0, b=1.0, q=1.0)
    assert space[("qlu",)] == sp.QLogUniformValues(min=1.0, max=10.0, q=1.0)


def test_top_level_defaults() -> None:
    sweep = config.load(cfg())
    assert sweep.method is Method.RANDOM
    assert (sweep.metric, sweep.early_terminate, sweep.command, sweep.run_cap) == (
        None, None, None, None)
    assert sweep.options == config.RaysweepOptions()
    assert sweep.options.resources.as_ray() == {"CPU": 1.0, "GPU": 0.0}
    assert sweep.path is None
    assert sweep.directory == Path.cwd()


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({"min": 1, "max": 10}, sp.IntUniform(min=1, max=10), id="int_bounds"),
        pytest.param({"min": 0.0, "max": 1.0}, sp.Uniform(min=0.0, max=1.0), id="float_bounds"),
        pytest.param({"min": 1e-5, "max": 1e-1}, sp.Uniform(min=1e-5, max=0.1), id="sci_bounds"),
        pytest.param({"values": [1, "a"]}, sp.Categorical((1, "a")), id="values"),
        pytest.param({"values": [1, 2], "probabilities": [0.25, 0.75]},
                     sp.CategoricalWithProbabilities((1, 2), (0.25, 0.75)),
                     id="values_with_probabilities"),
        pytest.param({"value": [1, 2]}, sp.Constant([1, 2]), id="value"),
        pytest.param({"value": None}, sp.Constant(None), id="value_null"),
        pytest.param({"distribution": "uniform", "min": 0, "max": 2}, sp.Uniform(min=0, max=2),
                     id="explicit_uniform_int_bounds"),
        pytest.param({"distribution": "q_uniform", "min": 0, "max": 10, "q": 2},
                     sp.QUniform(min=0, max=10, q=2), id="q_int"),
    ],
)
def test_inference(spec: dict[str, Any], expected: sp.ParamSpec) -> None:
    got = config.load(params(x=spec)).parameters[("x",)]
    assert got == expected
    assert type(got) is type(expected)


def test_probabilities_are_floats() -> None:
    got = config.load(params(x={"values": ["a", "b"], "probabilities": [0, 1]}))
    assert got.parameters[("x",)].probabilities == (0.0, 1.0)  # type: ignore[attr-defined]


def test_nested_parameters_give_paths() -> None:
    sweep = config.load(
        params(
            seed={"value": 0},
            opt={
                "parameters": {
                    "lr": {"min": 0.0, "max": 1.0},
                    "adam": {"parameters": {"beta": {"values": [0.9, 0.99]}}},
                }
            },
        )
    )
    assert sweep.parameters.paths == (("opt", "adam", "beta"), ("opt", "lr"), ("seed",))
    assert sweep.parameters[("opt", "adam", "beta")] == sp.Categorical((0.9, 0.99))


def test_dotted_names_are_not_nested() -> None:
    sweep = config.load(params(**{"optimizer.lr": {"values": [1]}, "a-b/c": {"value": 2}}))
    assert sweep.parameters.paths == (("a-b/c",), ("optimizer.lr",))


# --- the config object ---------------------------------------------------------------------------


def test_sweep_config_is_frozen() -> None:
    sweep = config.load(cfg(metric=METRIC))
    with pytest.raises(dataclasses.FrozenInstanceError):
        sweep.method = Method.GRID  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        sweep.metric.name = "other"  # type: ignore[misc, union-attr]
    with pytest.raises(dataclasses.FrozenInstanceError):
        sweep.parameters[("x",)].values = ()  # type: ignore[misc, attr-defined]


def test_load_does_not_keep_a_reference_to_the_input() -> None:
    source = cfg()
    sweep = config.load(source)
    source["method"] = "grid"
    assert sweep.raw["method"] == "random"


def test_load_dict_and_identity() -> None:
    sweep = config.load(cfg())
    assert isinstance(sweep, SweepConfig)
    assert config.load(sweep) is sweep
    assert config.from_dict(cfg()) == sweep


def test_load_path_sets_path_and_directory(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "sweep.yaml"
    path.write_text("method: grid\nparameters:\n  x: {values: [1, 2]}\n")
    monkeypatch.chdir(tmp_path)
    for source in (path, str(path), Path("sub/sweep.yaml"), "sub/sweep.yaml"):
        sweep = config.load(source)
        assert sweep.path == path.resolve()
        assert sweep.path.is_absolute()
        assert sweep.directory == path.parent.resolve()


def test_loads_with_path() -> None:
    sweep = config.loads("method: grid\nparameters: {x: {values: [1]}}\n", path="a/b.yaml")
    assert sweep.path == Path("a/b.yaml").resolve()
    assert sweep.directory == Path("a").resolve()


def test_file_not_found(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    with pytest.raises(SweepConfigError) as info:
        config.load(path)
    assert info.value.render() == (
        f"{path}: 1 problem\n  <top level>: file not found: {path}. Check the path."
    )


def test_directory_is_not_a_sweep_file(tmp_path: Path) -> None:
    with pytest.raises(SweepConfigError) as info:
        config.load(tmp_path)
    assert [i.message for i in info.value.issues] == [
        f"{tmp_path} is a directory, not a sweep file"
    ]


def test_load_accepts_os_pathlike(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text("method: random\nparameters:\n  lr: {min: 1e-5, max: 1e-1}\n")

    class P(os.PathLike[str]):
        def __fspath__(self) -> str:
            return str(path)

    assert config.load(P()).parameters[("lr",)] == sp.Uniform(min=1e-5, max=0.1)


# --- raysweep section ----------------------------------------------------------------------------


def test_raysweep_section() -> None:
    sweep = config.load(
        cfg(
            raysweep={
                "resources": {"cpu": 2, "gpu": 0.5, "accelerator_type:A100": 1},
                "max_concurrent_trials": 4,
                "max_failures": -1,
                "seed": 0,
                "storage": "./results",
                "unique": True,
                "workdir": "trial",
            }
        )
    )
    opts = sweep.options
    assert opts.resources == Resources(cpu=2.0, gpu=0.5, custom=(("accelerator_type:A100", 1.0),))
    assert opts.resources.as_ray() == {"CPU": 2.0, "GPU": 0.5, "accelerator_type:A100": 1.0}
    assert (opts.max_concurrent_trials, opts.max_failures, opts.seed) == (4, -1, 0)
    assert (opts.storage, opts.unique, opts.workdir) == ("./results", True, Workdir.TRIAL)


def test_workdir_defaults_to_shared() -> None:
    assert config.load(cfg()).options.workdir is Workdir.SHARED
    assert config.load(cfg(raysweep={"workdir": "shared"})).options.workdir is Workdir.SHARED


@pytest.mark.parametrize("gpu", [0, 0.25, 1, 2, 2.0])
def test_valid_gpu_amounts(gpu: float) -> None:
    assert config.load(cfg(raysweep={"resources": {"gpu": gpu}})).options.resources.gpu == gpu


def test_hyperband_settings() -> None:
    sweep = config.load(
        cfg(metric={"name": "acc", "goal": "maximize"},
            early_terminate={"type": "hyperband", "max_iter": 27, "s": 2, "eta": 3,
                             "strict": False})
    )
    assert sweep.metric is not None and sweep.metric.mode == "max"
    assert sweep.early_terminate == EarlyTerminate(type="hyperband", max_iter=27, s=2, eta=3,
                                                   strict=False)
    assert sweep.early_terminate.bands == (3, 9)


def test_a_config_is_hashable_and_independent_of_the_callers_document() -> None:
    doc = {
        "method": "grid",
        "parameters": {"x": {"values": [1, 2]}, "opt": {"values": [{"lr": 1}, {"lr": 2}]}},
        "command": ["${env}", "python", "${program}"],
    }
    cfg = config.from_dict(doc)
    again = config.from_dict(doc)
    assert cfg == again and hash(cfg) == hash(again)
    assert len({cfg, again}) == 1
    doc["parameters"]["x"]["values"].append(3)  # type: ignore[index]
    assert cfg.raw["parameters"]["x"]["values"] == [1, 2]


def test_bands_stop_where_a_float_cannot_hold_the_next_one() -> None:
    # An integer eta keeps W&B's exact int arithmetic until the value leaves the float range.
    bands = config.hyperband_bands(10**30, 30, None, None)
    assert bands[:2] == (30, 30 * 10**30)
    assert len(bands) == 11
