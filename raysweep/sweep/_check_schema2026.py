"""Check what W&B's 2026 schema added: ``scheduler: {engine, source, optimizer, search_space}``,
multi-objective ``metrics:`` and ``method: custom``, with the rules that tie them together
(wandb/sweeps ``config/cfg.py`` and ``schema.json``).

A ``scheduler`` holding W&B Launch keys (``job``, ``num_workers``, ``settings``...) is the older
Launch scheduler job, which only W&B's hosted service runs: :func:`scheduler_form` tells the
two apart by the keys present, and ``_check.py`` refuses the Launch one.
"""

from __future__ import annotations

import ast
import keyword
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from raysweep.sweep._check_sections import check_metric_entry
from raysweep.sweep._issues import IssueCollector, describe, did_you_mean
from raysweep.sweep.model import Engine, Method, Metric, SchedulerSpec

__all__ = [
    "LAUNCH_SCHEDULER_KEYS",
    "SCHEDULER_KEYS",
    "check_metrics",
    "check_scheduler",
    "check_schema_rules",
    "has_search_space",
    "scheduler_form",
]

SCHEDULER_KEYS = ("engine", "source", "optimizer", "search_space")
# What `wandb launch-sweep` reads from `scheduler:` (its scheduler job and where it runs).
LAUNCH_SCHEDULER_KEYS = (
    "job", "image_uri", "docker_image", "resource", "resource_args", "num_workers",
    "settings", "queue",
)
_ENGINES = tuple(e.value for e in Engine)
_WANDB_METHODS = (Method.GRID, Method.RANDOM, Method.BAYES)


def scheduler_form(data: Mapping[str, Any]) -> Literal["none", "launch", "2026"]:
    """Which ``scheduler`` a document has: none, a W&B Launch scheduler job (any Launch key),
    or the 2026 engine form (anything else, so typos get "did you mean" answers).

    >>> scheduler_form({"scheduler": {"engine": "optuna"}})
    '2026'
    >>> scheduler_form({"scheduler": {"job": "x", "num_workers": 2}})
    'launch'
    """
    if "scheduler" not in data:
        return "none"
    value = data["scheduler"]
    if isinstance(value, Mapping) and any(k in value for k in LAUNCH_SCHEDULER_KEYS):
        return "launch"
    return "2026"


def has_search_space(data: Mapping[str, Any]) -> bool:
    """Whether ``scheduler.search_space`` is set, so ``parameters`` may be left out (W&B's
    test: any non-empty value)."""
    value = data.get("scheduler")
    return (scheduler_form(data) == "2026" and isinstance(value, Mapping)
            and bool(value.get("search_space")))


def check_scheduler(
    c: IssueCollector, data: Mapping[str, Any], directory: Path
) -> SchedulerSpec | None:
    """Check a 2026 ``scheduler:``; ``directory`` is where a relative ``source`` is read from
    (the sweep file's folder, else the current one). The file must exist and parse; a hook
    it does not define at its top level is a warning (it may be made at import time)."""
    if scheduler_form(data) != "2026":
        return None
    value = data["scheduler"]
    if not isinstance(value, Mapping):
        c.error("scheduler", f"must be a mapping, got {describe(value)}",
                "Write `scheduler: {engine: optuna}` (with `method: custom`).")
        return None
    n_before = len(c.issues)
    c.unknown_keys(value, SCHEDULER_KEYS, "scheduler", "scheduler")
    engine = _check_engine(c, value)
    names: dict[str, str] = {}
    for key in ("source", "optimizer", "search_space"):
        if value.get(key) is None:
            continue
        text = value[key]
        if not isinstance(text, str) or not text.strip():
            c.error(f"scheduler.{key}", f"must be non-empty text, got {describe(text)}")
            continue
        names[key] = text
    for key in ("optimizer", "search_space"):
        name = names.get(key)
        if name is not None and (not name.isidentifier() or keyword.iskeyword(name)):
            c.error(f"scheduler.{key}", f"must be the name of a Python function, got "
                    f"{name!r}", f"Write the function's name alone, e.g. `{key}: "
                    f"{'build_study' if key == 'optimizer' else 'search_space'}`.")
    hooks = [k for k in ("optimizer", "search_space") if k in value and value[k] is not None]
    source: Path | None = None
    if "source" in names:
        source = _check_source(c, names, directory, hooks)
    elif hooks and value.get("source") is None:
        c.error("scheduler.source",
                f"missing: `{hooks[0]}` names a function, which is read from `source`",
                "Add `source: hooks.py`, the Python file that defines it (relative to the "
                "sweep file's folder).")
    if len(c.issues) > n_before or engine is None:
        return None
    return SchedulerSpec(engine=engine, source=source, optimizer=names.get("optimizer"),
                         search_space=names.get("search_space"))


def _check_engine(c: IssueCollector, value: Mapping[str, Any]) -> Engine | None:
    if value.get("engine") is None:
        c.error("scheduler.engine", "missing" if "engine" not in value else "has no value",
                "Add `engine: optuna` (with `method: custom`), `engine: ax`, or `engine: "
                "wandb` (with `method: grid`, `random` or `bayes`).")
        return None
    raw = value["engine"]
    if isinstance(raw, str) and raw in _ENGINES:
        return Engine(raw)
    hint = did_you_mean(raw.lower(), _ENGINES) if isinstance(raw, str) else None
    c.error("scheduler.engine", f"must be one of {', '.join(_ENGINES)}; got {describe(raw)}",
            hint or "optuna and ax search with `method: custom`; wandb is W&B's grid, random "
            "and bayes.")
    return None


def _check_source(
    c: IssueCollector, names: Mapping[str, str], directory: Path, hooks: list[str]
) -> Path | None:
    """Resolve ``scheduler.source`` and check the file exists and parses as Python."""
    written = names["source"]
    path = Path(written).expanduser()
    if not path.is_absolute():
        path = directory / path
    path = Path(path.resolve())
    if not hooks:
        c.warn("scheduler.source", "not used: it is read only for `optimizer` or "
               "`search_space`", "Name the function to call, or remove `source`.")
    if path.is_dir():
        c.error("scheduler.source", f"{written!r} is a folder ({path}), not a Python file",
                "Name the .py file that defines the functions.")
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        c.error("scheduler.source", f"{written!r} not found (looked for {path})",
                "A relative `source` is read from the sweep file's folder.")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        c.error("scheduler.source", f"cannot read {path}: {exc}")
        return None
    try:
        tree = ast.parse(text, filename=str(path))
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        c.error("scheduler.source", f"{path} is not valid Python{where}: "
                f"{getattr(exc, 'msg', exc)}", "It is imported to call the functions "
                "named in `scheduler`; fix the file.")
        return None
    defined = _top_level_names(tree)
    for key in hooks:
        name = names.get(key)
        if defined is not None and name is not None and name not in defined:
            close = did_you_mean(name, sorted(defined))
            c.warn(f"scheduler.{key}", f"{path.name} defines no {name!r} at its top "
                   f"level; the sweep fails when it calls it", close or
                   f"Define `def {name}(...)` in {path}.")
    return path


def _top_level_names(tree: ast.Module) -> set[str] | None:
    """The names a module binds at import outside functions and classes, or None when it
    may bind others too (``from x import *``)."""
    names: set[str] = set()
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return None
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            # Definitions made conditionally still count: the file may choose at import.
            for field in ("body", "orelse", "finalbody"):
                todo.extend(getattr(node, field, []))
            for handler in getattr(node, "handlers", []):
                todo.extend(handler.body)
    return names


def check_metrics(c: IssueCollector, data: Mapping[str, Any]) -> tuple[Metric, ...]:
    """Check ``metrics:`` (several objectives): a list of at least two metrics with distinct
    names, each by the rules of ``metric:``."""
    if "metrics" not in data:
        return ()
    value = data["metrics"]
    example = ("Write `metrics: [{name: loss, goal: minimize}, {name: accuracy, goal: "
               "maximize}]`.")
    if not isinstance(value, list):
        c.error("metrics", f"must be a list of metrics, got {describe(value)}", example)
        return ()
    if len(value) < 2:
        c.error("metrics", f"needs at least 2 metrics, got {len(value)}",
                "For one objective write `metric: {name: ..., goal: ...}` instead.")
    n_before = len(c.issues)
    out: list[Metric] = []
    first: dict[str, int] = {}
    for i, entry in enumerate(value):
        metric = check_metric_entry(c, entry, f"metrics[{i}]")
        if metric is None:
            continue
        if metric.name in first:
            c.error(f"metrics[{i}].name", f"{metric.name!r} is already metrics"
                    f"[{first[metric.name]}]", "Each objective is a different metric.")
            continue
        first[metric.name] = i
        out.append(metric)
    return tuple(out) if len(c.issues) == n_before and len(out) >= 2 else ()


def _written_engine(data: Mapping[str, Any]) -> Engine | None:
    """The 2026 ``scheduler.engine`` as written, for the rules between sections even when
    another key of ``scheduler`` is wrong (its own check reports that)."""
    scheduler = data.get("scheduler")
    if scheduler_form(data) != "2026" or not isinstance(scheduler, Mapping):
        return None
    value = scheduler.get("engine")
    return Engine(value) if value in _ENGINES else None


def check_schema_rules(
    c: IssueCollector,
    data: Mapping[str, Any],
    method: Method | None,
) -> None:
    """The rules between sections (W&B's ``cfg.py``): what each engine needs of ``method``,
    ``scheduler`` without ``early_terminate`` or a local ``controller``, ``metrics`` only alone
    and with ``method: custom``, and ``method: custom`` only with an engine raysweep drives.

    The engine is ``scheduler.engine`` as written (None when absent or wrong: its own check
    reports that).
    """
    engine = _written_engine(data)
    form = scheduler_form(data)
    if form == "2026":
        if "early_terminate" in data:
            c.error("early_terminate", "cannot be used together with `scheduler`: the "
                    "engine decides which runs stop",
                    "With engine: optuna, return a study with a pruner from `optimizer`; "
                    "with engine: wandb, remove `scheduler` to keep `early_terminate`."
                    if engine is not Engine.WANDB else
                    "Remove `scheduler` (engine: wandb is the default) to keep "
                    "`early_terminate`.")
        controller = data.get("controller")
        if isinstance(controller, Mapping) and controller.get("type") == "local":
            c.error("controller", "`controller: {type: local}` cannot be used together "
                    "with `scheduler`", "Remove `controller`: raysweep is the controller.")
        if engine is Engine.WANDB and method is Method.CUSTOM:
            c.error("method", "`scheduler.engine: wandb` runs `method: grid`, `random` or "
                    "`bayes`, got `method: custom`",
                    "Use `engine: optuna` for a custom search, or a method of W&B's.")
        elif engine in (Engine.OPTUNA, Engine.AX) and method in _WANDB_METHODS:
            c.error("method", f"`scheduler.engine: {engine}` needs `method: custom`, got "
                    f"`method: {method}`", f"Write `method: custom`: {engine} proposes the "
                    f"runs, not raysweep's {method} search.")
    if (engine in (Engine.OPTUNA, Engine.AX) and method is Method.CUSTOM
            and data.get("metric") is None and "metrics" not in data):
        c.error("metric", f"`scheduler.engine: {engine}` needs the metric to optimise",
                "Add `metric: {name: val_loss, goal: minimize}`, or `metrics: [...]` for "
                "several objectives.")
    if "metric" in data and "metrics" in data:
        c.error("metrics", "cannot be used together with `metric`",
                "Keep `metric` for one objective, or `metrics` (and remove `metric`) for "
                "several.")
    elif "metrics" in data and method is not None and method is not Method.CUSTOM:
        c.error("metrics", f"several objectives need `method: custom` (with `scheduler: "
                f"{{engine: optuna}}`), got `method: {method}`",
                "raysweep's grid, random and bayes optimise one metric: keep one under "
                "`metric:`, or write `method: custom` with `scheduler: {engine: optuna}`.")
    if method is Method.CUSTOM and form == "none":
        c.refuse("method", "`method: custom` without a `scheduler` hands the search to a "
                 "W&B Launch scheduler job, which raysweep does not support: raysweep runs "
                 "a custom search with `scheduler: {engine: optuna}`",
                 "Add `scheduler: {engine: optuna}` (optionally `source`, `optimizer`, "
                 "`search_space`), or use `method: grid`, `random` or `bayes`.")
