"""Check the sections of a sweep file other than ``parameters``: ``metric``,
``early_terminate``, ``command``, ``controller``, ``run_cap`` and raysweep's own ``raysweep:``
options (resources included).

Each check records its problems on the collector and returns the typed value, or None (or the
default) when the section is absent or wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from raysweep.numeric import is_finite_number
from raysweep.sweep._issues import IssueCollector, describe, did_you_mean
from raysweep.sweep.model import (
    EarlyTerminate,
    Goal,
    Metric,
    RaysweepOptions,
    Resources,
    Workdir,
)

__all__ = [
    "ET_KEYS",
    "ET_TYPES",
    "IMPUTE",
    "check_command",
    "check_controller",
    "check_early_terminate",
    "check_metric",
    "check_metric_entry",
    "check_artifacts",
    "check_options",
    "check_resources",
    "check_run_cap",
    "check_workdir",
]

ET_TYPES = ("hyperband", "asha", "median", "promotion")
ET_KEYS = ("type", "min_iter", "max_iter", "s", "eta", "strict", "resume")
ET_RESUME = ("restart", "checkpoint")
IMPUTE = ("latest", "best", "worst")


def check_metric(c: IssueCollector, data: Mapping[str, Any]) -> Metric | None:
    """Check ``metric:``; a goal other than minimize/maximize is refused, not guessed."""
    if "metric" not in data or data["metric"] is None:
        return None
    return check_metric_entry(c, data["metric"], "metric")


def check_metric_entry(c: IssueCollector, m: Any, path: str) -> Metric | None:
    """Check one metric mapping found at ``path`` (``metric``, or ``metrics[i]`` of a
    multi-objective sweep): the rules are the same."""
    if not isinstance(m, Mapping):
        c.error(
            path,
            f"must be a mapping, got {describe(m)}",
            "Write `metric: {name: val_loss, goal: minimize}`."
            if path == "metric" else "Write each metric as `{name: val_loss, goal: minimize}`.",
        )
        return None
    c.unknown_keys(
        m, ("name", "goal", "target", "impute", "impute_while_running"), path, "A metric"
    )
    name = m.get("name")
    if not isinstance(name, str) or not name:
        c.error(
            f"{path}.name",
            "missing" if "name" not in m else f"must be text, got {describe(name)}",
            "Name the metric your program reports, e.g. `name: val_loss`.",
        )
    goal = Goal.MINIMIZE
    if "goal" in m:
        try:
            goal = Goal(m["goal"])
        except ValueError:
            raw = m["goal"]
            hint = did_you_mean(str(raw), ["minimize", "maximize"])
            hint = (hint + " " if hint else "") + (
                "W&B silently treats any other goal as minimize; raysweep refuses it so a "
                "typo does not flip your sweep."
            )
            c.error(f"{path}.goal", f"must be minimize or maximize, got {describe(raw)}",
                    hint)
    target = None
    if m.get("target") is not None:
        target = c.number(m, "target", f"{path}.target")
    impute = m.get("impute", "worst")
    if impute not in IMPUTE:
        c.error(f"{path}.impute", f"must be one of latest, best, worst; got "
                f"{describe(impute)}")
    iwr = m.get("impute_while_running", False)
    if iwr is not False and iwr not in IMPUTE:
        c.error(f"{path}.impute_while_running",
                f"must be one of latest, best, worst or false; got {describe(iwr)}")
    if not isinstance(name, str) or not name:
        return None
    return Metric(name=name, goal=goal, target=target, impute=str(impute),
                  impute_while_running=iwr)


def check_early_terminate(
    c: IssueCollector, data: Mapping[str, Any], metric: Metric | None, *,
    needs_metric: bool = True,
) -> EarlyTerminate | None:
    """Check ``early_terminate:``, including that its bands exist and (unless
    ``needs_metric`` is False: another rule refuses it already) a metric is set."""
    if "early_terminate" not in data or data["early_terminate"] is None:
        return None
    et = data["early_terminate"]
    if not isinstance(et, Mapping):
        c.error("early_terminate", f"must be a mapping, got {describe(et)}",
                "Write `early_terminate: {type: hyperband, min_iter: 3}`.")
        return None
    n_before = len(c.issues)
    c.unknown_keys(et, ET_KEYS, "early_terminate", "early_terminate")
    kind = et.get("type")
    if kind not in ET_TYPES:
        c.error("early_terminate.type",
                "missing" if kind is None else f"unknown type {kind!r}",
                (did_you_mean(str(kind), ET_TYPES) if kind is not None else None)
                or "Use `type: hyperband` (W&B), or raysweep's `asha`, `median` or "
                      "`promotion`.")
    values: dict[str, Any] = {}
    for key in ("min_iter", "max_iter", "s"):
        if key in et and et[key] is not None:
            v = c.number(et, key, f"early_terminate.{key}", integer=True)
            if v is not None and v < 1:
                c.error(f"early_terminate.{key}", f"must be at least 1, got {v}")
            elif key != "s" and v is not None and not is_finite_number(v):
                # The band arithmetic is W&B's float arithmetic; s only counts divisions.
                c.error(f"early_terminate.{key}", f"must be finite, got {v}")
            values[key] = v
    eta = et.get("eta", 3)
    if "eta" in et:
        eta = c.number(et, "eta", "early_terminate.eta")
        if eta is not None and not eta > 1:
            c.error("early_terminate.eta", f"must be greater than 1, got {eta!r}",
                    "eta is the factor between bands; 3 is the usual choice.")
        elif eta is not None and not is_finite_number(eta):
            # The schedulers refuse it too: no band follows the first one.
            c.error("early_terminate.eta", f"must be finite, got {eta!r}",
                    "eta is the factor between bands; 3 is the usual choice.")
    strict = et.get("strict", True)
    if not isinstance(strict, bool):
        c.error("early_terminate.strict", f"must be true or false, got "
                f"{describe(strict)}")
    resume = et.get("resume", "restart")
    if resume not in ET_RESUME:
        c.error("early_terminate.resume", f"unknown value {describe(resume)}",
                did_you_mean(str(resume), ET_RESUME)
                or "Use `resume: checkpoint` (paused trials resume from their checkpoints) "
                   "or `resume: restart` (promoted configurations train again; the default).")
    elif "resume" in et and kind in ET_TYPES and kind != "promotion":
        c.error("early_terminate.resume",
                f"only `type: promotion` pauses and resumes trials; `type: {kind}` stops them "
                "for good",
                "Use `type: promotion` with `resume: checkpoint`, or remove `resume`.")
    if len(c.issues) > n_before:
        return None
    min_iter, max_iter, s = values.get("min_iter"), values.get("max_iter"), values.get("s")
    if max_iter is not None and s is None:
        c.error("early_terminate.s", "missing: `max_iter` needs `s` (the number of bands)",
                "Add `s: 2`, or use `min_iter` instead of `max_iter`.")
        return None
    if max_iter is None and min_iter is None:
        c.error("early_terminate", "needs `min_iter`, or `max_iter` with `s`",
                "Example: `early_terminate: {type: hyperband, min_iter: 3}`.")
        return None
    if max_iter is not None and min_iter is not None:
        c.warn("early_terminate.min_iter",
               "ignored: `max_iter` and `s` set the bands (as in W&B)")
    elif min_iter is not None and s is not None:
        c.warn("early_terminate.s", "ignored: `s` only counts with `max_iter` (as in W&B)")
    result = EarlyTerminate(type=str(kind), min_iter=min_iter, max_iter=max_iter, s=s,
                            eta=eta, strict=strict, resume=str(resume))
    if not result.bands:
        c.error("early_terminate",
                "Bands must be an array of length at least 1",
                "Try increasing s, decreasing eta, or increasing min_iter.")
        return None
    if kind == "promotion" and "strict" in et:
        c.warn("early_terminate.strict",
               "ignored by `type: promotion`: configurations are ranked by their value "
               "at each rung")
    if metric is None and needs_metric:
        c.error("early_terminate", "early termination needs a `metric` to compare runs",
                "Add `metric: {name: val_loss, goal: minimize}`.")
    return result


def check_command(c: IssueCollector, data: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """Check ``command:`` is a list of single arguments; macros expand later, per trial."""
    if "command" not in data or data["command"] is None:
        return None
    cmd = data["command"]
    if not isinstance(cmd, list) or not cmd:
        c.error("command", f"must be a non-empty list of arguments, got {describe(cmd)}",
                "Write it as a list: `command: [${env}, ${interpreter}, ${program}, "
                "${args}]`.")
        return None
    for i, item in enumerate(cmd):
        if isinstance(item, (Mapping, list)) or item is None:
            c.error(f"command[{i}]", f"must be a single argument, got {describe(item)}")
    return tuple(cmd)


def check_controller(c: IssueCollector, data: Mapping[str, Any]) -> None:
    """Accept W&B's ``controller`` with a warning: raysweep is always the controller."""
    if "controller" not in data:
        return
    controller = data["controller"]
    if not isinstance(controller, Mapping) or controller.get("type") not in ("local", "cloud"):
        c.error("controller.type" if isinstance(controller, Mapping) else "controller",
                "must be `{type: local}` or `{type: cloud}`",
                "raysweep is its own controller: you can delete `controller`.")
        return
    c.warn("controller", "ignored: raysweep is the controller")


def check_run_cap(c: IssueCollector, data: Mapping[str, Any]) -> int | None:
    """Check ``run_cap``, the maximum number of trials (a positive integer)."""
    if data.get("run_cap") is None:
        return None
    v = c.number(data, "run_cap", "run_cap", integer=True)
    if v is not None and v <= 0:
        c.error("run_cap", f"must be greater than 0, got {v}")
        return None
    return None if v is None else int(v)


def check_options(
    c: IssueCollector, data: Mapping[str, Any], directory: Path | None = None
) -> RaysweepOptions:
    """Check raysweep's own ``raysweep:`` section; defaults when absent or wrong.

    ``directory`` is the sweep file's folder (relative artifact paths are read from it; the
    current folder when None).
    """
    opts = data.get("raysweep")
    if opts is None:
        return RaysweepOptions()
    if not isinstance(opts, Mapping):
        c.error("raysweep", f"must be a mapping, got {describe(opts)}")
        return RaysweepOptions()
    keys = ("resources", "max_concurrent_trials", "max_failures", "seed", "storage", "unique",
            "workdir", "artifacts")
    c.unknown_keys(opts, keys, "raysweep", "The raysweep section")
    out: dict[str, Any] = {}
    if opts.get("resources") is not None:
        out["resources"] = check_resources(c, opts["resources"])
    if opts.get("max_concurrent_trials") is not None:
        v = c.number(opts, "max_concurrent_trials", "raysweep.max_concurrent_trials",
                     integer=True)
        if v is not None and v < 1:
            c.error("raysweep.max_concurrent_trials", f"must be at least 1, got {v}")
        out["max_concurrent_trials"] = v
    if opts.get("max_failures") is not None:
        v = c.number(opts, "max_failures", "raysweep.max_failures", integer=True)
        if v is not None and v < -1:
            c.error("raysweep.max_failures",
                    f"must be -1 (retry forever) or at least 0, got {v}")
        out["max_failures"] = v
    if opts.get("seed") is not None:
        v = c.number(opts, "seed", "raysweep.seed", integer=True)
        if v is not None and v < 0:
            c.error("raysweep.seed", f"must not be negative, got {v}")
        out["seed"] = v
    if opts.get("storage") is not None:
        out["storage"] = c.optional_str(opts, "storage", "raysweep.storage")
    if "unique" in opts:
        if not isinstance(opts["unique"], bool):
            c.error("raysweep.unique", f"must be true or false, got "
                    f"{describe(opts['unique'])}")
        else:
            out["unique"] = opts["unique"]
    if opts.get("workdir") is not None:
        workdir = check_workdir(c, opts["workdir"])
        if workdir is not None:
            out["workdir"] = workdir
    if opts.get("artifacts") is not None:
        out["artifacts"] = check_artifacts(c, opts["artifacts"], directory)
    if c.issues:
        return RaysweepOptions()
    return RaysweepOptions(**out)


def check_artifacts(
    c: IssueCollector, value: Any, directory: Path | None = None
) -> tuple[tuple[str, str], ...]:
    """Check ``raysweep.artifacts``: W&B artifact names mapped to local paths.

    A path that does not exist here is a warning, not an error: on a cluster it may exist only
    on the nodes that run trials (a trial that uses it there fails, naming the path).
    """
    example = ('Map each name as the script passes it to use_artifact, e.g. '
               '`artifacts: {"mnist:latest": ./data}`.')
    if not isinstance(value, Mapping):
        c.error("raysweep.artifacts", f"must be a mapping of artifact names to paths, got "
                f"{describe(value)}", example)
        return ()
    out = []
    base = directory if directory is not None else Path.cwd()
    for name, path in value.items():
        where = f"raysweep.artifacts.{name}"
        if not isinstance(name, str) or not name.strip():
            c.error(where, f"an artifact name must be non-empty text, got {describe(name)}",
                    example)
            continue
        if not isinstance(path, str) or not path.strip():
            c.error(where, f"must be a path (a file or a folder), got {describe(path)}",
                    example)
            continue
        full = base / Path(path).expanduser()
        if not full.exists():
            c.warn(where, f"{path!r} does not exist here ({full}); a trial that uses "
                   f"artifact {name!r} fails unless the path exists on its node",
                   "Relative paths are read from the sweep file's folder.")
        out.append((name, path))
    return tuple(out)


def check_workdir(c: IssueCollector, value: Any) -> Workdir | None:
    """Check ``raysweep.workdir``: where each trial runs (:class:`Workdir`)."""
    allowed = [w.value for w in Workdir]
    if isinstance(value, str) and value in allowed:
        return Workdir(value)
    hint = did_you_mean(value, allowed) if isinstance(value, str) else None
    c.error("raysweep.workdir", f"must be one of {', '.join(allowed)}; got {describe(value)}",
            hint or "`trial` runs each trial in its own folder (trial_<id>/ of the sweep "
            "directory); `shared`, the default, runs every trial in the sweep file's folder.")
    return None


def check_resources(c: IssueCollector, res: Any) -> Resources:
    """Check a per-trial resource request: non-negative amounts, GPU fractions below 1."""
    if not isinstance(res, Mapping):
        c.error("raysweep.resources", f"must be a mapping like {{cpu: 1, gpu: 1}}, got "
                f"{describe(res)}")
        return Resources()
    values: dict[str, float] = {}
    for key, amount in res.items():
        path = f"raysweep.resources.{key}"
        if not is_finite_number(amount) or amount < 0:
            c.error(path, f"must be a non-negative number, got {describe(amount)}")
            continue
        values[str(key)] = float(amount)
    lowered = {k.lower(): v for k, v in values.items()}
    cpu = lowered.pop("cpu", 1.0)
    gpu = lowered.pop("gpu", 0.0)
    if gpu > 1 and not float(gpu).is_integer():
        c.error("raysweep.resources.gpu",
                f"fractions are only allowed below 1 GPU, got {gpu:g}",
                "Ask for a whole number of GPUs, or a fraction such as 0.5.")
    custom = tuple((k, v) for k, v in values.items() if k.lower() not in ("cpu", "gpu"))
    return Resources(cpu=cpu, gpu=gpu, custom=custom)
