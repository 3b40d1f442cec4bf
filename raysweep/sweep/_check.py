"""Check a whole sweep document: its top-level keys, the W&B features only W&B's hosted
service runs, ``method``, then each section (W&B's 2026 ``scheduler`` and ``metrics`` in
``_check_schema2026``), then what the method needs of the others.

Every section is checked even after another one failed, so one run reports every problem.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from raysweep.sweep._check_command import check_macros
from raysweep.sweep._check_parameters import check_method_needs, check_parameters
from raysweep.sweep._check_schema2026 import (
    check_metrics,
    check_scheduler,
    check_schema_rules,
    has_search_space,
    scheduler_form,
)
from raysweep.sweep._check_sections import (
    check_command,
    check_controller,
    check_early_terminate,
    check_metric,
    check_options,
    check_run_cap,
)
from raysweep.sweep._issues import IssueCollector, describe, did_you_mean
from raysweep.sweep.model import Method, SweepConfig
from raysweep.sweep.space import SearchSpace

__all__ = ["LAUNCH_KEYS", "TOP_KEYS", "check_document"]

TOP_KEYS = (
    "method",
    "parameters",
    "metric",
    "metrics",
    "early_terminate",
    "scheduler",
    "command",
    "program",
    "name",
    "description",
    "project",
    "entity",
    "controller",
    "run_cap",
    "job",
    "image_uri",
    "kind",
    "apiVersion",
    "raysweep",
)
# Keys of W&B Launch sweeps; a `scheduler` with Launch keys is refused before the key check.
LAUNCH_KEYS = ("scheduler",)


def check_document(c: IssueCollector, data: Any, path: Path | None) -> SweepConfig | None:
    """Check a loaded document; return the config, or None once ``c`` holds an error."""
    if data is None:
        c.error(
            "", "the file is empty", "A sweep needs at least `method` and `parameters`."
        )
        return None
    if not isinstance(data, Mapping):
        c.error(
            "",
            f"a sweep config must be a mapping of keys to values, got {describe(data)}",
            "Start with `method: random` and a `parameters:` section.",
        )
        return None
    _check_launch(c, data)
    for key in data:
        if not isinstance(key, str):
            c.error(str(key), f"keys must be text, got {key!r}")
    c.unknown_keys(data, TOP_KEYS, "", "A sweep config")
    method = _check_method(c, data)
    metric = check_metric(c, data)
    metrics = check_metrics(c, data)
    parameters: SearchSpace | None
    if has_search_space(data) and data.get("parameters", {}) == {}:
        parameters = SearchSpace(())  # the space is what search_space() suggests, run by run
    else:
        parameters = check_parameters(c, data)
    # With a 2026 `scheduler`, early_terminate is refused for it (check_schema_rules), not
    # for a missing metric.
    early = check_early_terminate(c, data, metric,
                                  needs_metric=scheduler_form(data) != "2026")
    command = check_command(c, data)
    strings: dict[str, Any] = {
        k: c.optional_str(data, k)
        for k in ("program", "name", "description", "project", "entity")
    }
    for key in ("job", "image_uri", "apiVersion"):
        c.optional_str(data, key)
    if "job" in data or "image_uri" in data:
        c.warn(
            "job" if "job" in data else "image_uri",
            "W&B Launch keys are ignored: raysweep runs `program` / `command` on Ray",
        )
    if "kind" in data and data["kind"] != "sweep":
        c.error("kind", f"must be 'sweep', got {describe(data['kind'])}")
    check_controller(c, data)
    run_cap = check_run_cap(c, data)
    directory = path.resolve().parent if path is not None else None
    options = check_options(c, data, directory)
    scheduler = check_scheduler(c, data, directory or Path.cwd())
    check_schema_rules(c, data, method)
    if method is not None and parameters is not None:
        check_method_needs(c, method, metric, parameters, early)
    if parameters is not None:
        check_macros(c, command, parameters)
    if c.issues or method is None or parameters is None:
        return None
    return SweepConfig(
        method=method,
        parameters=parameters,
        metric=metric,
        metrics=metrics,
        scheduler=scheduler,
        early_terminate=early,
        command=command,
        run_cap=run_cap,
        options=options,
        warnings=tuple(c.warnings),
        path=path.resolve() if path is not None else None,
        # A deep copy: the caller's nested lists and dicts stay theirs.
        raw=copy.deepcopy(dict(data)),
        **strings,
    )


def _check_launch(c: IssueCollector, data: Mapping[str, Any]) -> None:
    """Refuse W&B Launch sweeps (a ``job`` without ``method``, a Launch ``scheduler`` job),
    which only W&B's hosted service runs. The 2026 ``scheduler: {engine: ...}`` is checked
    in ``_check_schema2026``."""
    why = (
        "only W&B's hosted service runs these; raysweep runs grid, random and bayes "
        "sweeps itself"
    )
    launch = scheduler_form(data) == "launch"
    if launch:
        c.refuse(
            "scheduler",
            "`scheduler` configures a W&B Launch sweep scheduler job, which raysweep "
            "does not support: " + why,
            "Remove `scheduler` and put the search space under `parameters` with "
            "`method: grid|random|bayes`, or use W&B's 2026 form `scheduler: {engine: "
            "optuna, source: ..., optimizer: ...}` with `method: custom`.",
        )
    if data.get("method") == "custom" and launch:
        c.refuse(
            "method",
            "`method: custom` hands the search to a W&B Launch scheduler, which raysweep "
            "does not support: " + why,
            "Use `method: grid`, `random` or `bayes`.",
        )
    if "method" not in data and ("job" in data or launch):
        c.refuse(
            "method",
            "this is a W&B Launch sweep (a `job` or `scheduler` without a top-level "
            "`method`), which raysweep cannot run: " + why,
            "Add `method` and `program` (the script to run) to run it with raysweep.",
        )


def _check_method(c: IssueCollector, data: Mapping[str, Any]) -> Method | None:
    if "method" not in data:
        if not c.unsupported:
            c.error("method", "missing", "Add `method: grid`, `random` or `bayes`.")
        return None
    value = data["method"]
    if value is None:
        c.error("method", "has no value", "Write `method: grid`, `random` or `bayes`.")
        return None
    if not isinstance(value, str):
        c.error("method", f"must be grid, random or bayes, got {describe(value)}")
        return None
    try:
        return Method(value)
    except ValueError:
        options = [m.value for m in Method]
        hint = did_you_mean(value.lower(), options) or "Use grid, random or bayes."
        c.error("method", f"unknown method {value!r}", hint)
        return None
