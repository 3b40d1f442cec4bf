"""Load a W&B sweep configuration into a typed, immutable :class:`SweepConfig`.

The schema is W&B's (``docs/wandb-sweeps-spec.md`` §a) plus one optional raysweep section::

    raysweep:
      resources: {cpu: 2, gpu: 0.5}   # per trial; any other key is a custom Ray resource
      max_concurrent_trials: 4
      max_failures: 1                 # retries per trial
      seed: 0                         # makes random and bayes reproducible
      storage: ./raysweep_results     # where sweep directories go
      unique: true                    # random search: never repeat a configuration

Every problem is collected and raised at once as :class:`~raysweep.errors.SweepConfigError`,
each with its key path, the bad value and a hint. Where W&B silently does something else than
the file says (``goal: maximise`` becomes *minimize*), raysweep refuses the file. Configurations
that only W&B's hosted service can run raise :class:`~raysweep.errors.UnsupportedSweepError`.

Why not JSON Schema or pydantic: the rules that matter most compare values inside one document
(min < max, probabilities sum to 1, grid needs enumerable parameters), and hand-written checks
give one clear message per mistake instead of one per schema branch; it also keeps
``raysweep validate`` fast to start.
"""

from __future__ import annotations

import copy
import difflib
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from raysweep.errors import Issue, SweepConfigError, UnsupportedSweepError
from raysweep.sweep import space as sp
from raysweep.sweep.yamlfile import load_yaml

__all__ = [
    "EarlyTerminate",
    "Goal",
    "Method",
    "Metric",
    "RaysweepOptions",
    "Resources",
    "SweepConfig",
    "load",
    "loads",
    "from_dict",
]


class Method(str, Enum):
    """Search methods raysweep runs."""

    GRID = "grid"
    RANDOM = "random"
    BAYES = "bayes"

    def __str__(self) -> str:
        return self.value


class Goal(str, Enum):
    """Direction of optimisation of the metric."""

    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"

    def __str__(self) -> str:
        return self.value

    @property
    def mode(self) -> str:
        """Ray Tune's word for the goal (``min`` / ``max``)."""
        return "min" if self is Goal.MINIMIZE else "max"


@dataclass(frozen=True)
class Metric:
    """The metric a sweep optimises (``metric:``)."""

    name: str
    goal: Goal = Goal.MINIMIZE
    target: float | None = None
    impute: str = "worst"
    impute_while_running: str | bool = False

    @property
    def mode(self) -> str:
        return self.goal.mode


@dataclass(frozen=True)
class EarlyTerminate:
    """``early_terminate:``. ``type`` is W&B's ``hyperband`` or a raysweep extension
    (``asha``, ``median``, ``promotion``)."""

    type: str
    min_iter: int | None = None
    max_iter: int | None = None
    s: int | None = None
    eta: float = 3
    strict: bool = True

    @property
    def bands(self) -> tuple[int, ...]:
        """W&B's hyperband bands: when (in metric reports) runs are judged."""
        return hyperband_bands(self.eta, self.min_iter, self.max_iter, self.s)


@dataclass(frozen=True)
class Resources:
    """Resources one trial asks Ray for."""

    cpu: float = 1.0
    gpu: float = 0.0
    custom: tuple[tuple[str, float], ...] = ()

    def as_ray(self) -> dict[str, float]:
        """Ray's resource dict (``{"CPU": 1, "GPU": 0.5, "my_res": 1}``)."""
        out = {"CPU": self.cpu, "GPU": self.gpu}
        out.update(dict(self.custom))
        return out


@dataclass(frozen=True)
class RaysweepOptions:
    """The optional ``raysweep:`` section."""

    resources: Resources = field(default_factory=Resources)
    max_concurrent_trials: int | None = None
    max_failures: int = 0
    seed: int | None = None
    storage: str | None = None
    unique: bool = False


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep. Immutable; build it with :func:`load`, :func:`loads` or
    :func:`from_dict`.

    Attributes:
        method: The search algorithm.
        parameters: The flattened search space.
        metric: The metric, or None (grid and random need none).
        early_terminate: Early-stopping settings, or None.
        command: The ``command`` list as written (macros unexpanded), or None for W&B's default.
        program: The ``program`` key.
        run_cap: Maximum number of trials, or None.
        options: The ``raysweep:`` section.
        warnings: Problems that do not stop the sweep (deprecated forms, ignored keys).
        path: The file the config came from, or None. Programs run from its directory.
        raw: The document as loaded, for display and for the copy kept with the results.
            Treat it as read-only.
    """

    method: Method
    parameters: sp.SearchSpace
    metric: Metric | None = None
    early_terminate: EarlyTerminate | None = None
    command: tuple[Any, ...] | None = None
    program: str | None = None
    run_cap: int | None = None
    name: str | None = None
    description: str | None = None
    project: str | None = None
    entity: str | None = None
    options: RaysweepOptions = field(default_factory=RaysweepOptions)
    warnings: tuple[Issue, ...] = ()
    path: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def __hash__(self) -> int:
        # Equal configs have equal hashes; the fields hashed are always hashable, unlike the
        # raw document or parameter values that are lists or dicts.
        return hash((self.method, self.path, self.name, self.program, self.run_cap))

    @property
    def directory(self) -> Path:
        """Directory programs run from: the sweep file's, else the current one."""
        return self.path.parent if self.path is not None else Path.cwd()


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def load(source: str | os.PathLike[str] | Mapping[str, Any] | SweepConfig) -> SweepConfig:
    """Load a sweep from a YAML file path, a dict, or return a :class:`SweepConfig` as is.

    Raises:
        SweepConfigError: with every problem found.
        UnsupportedSweepError: for configurations only W&B's service can run.
    """
    if isinstance(source, SweepConfig):
        return source
    if isinstance(source, Mapping):
        return from_dict(source)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            "a sweep is a YAML file path, a dict or a SweepConfig, got "
            f"{type(source).__name__} {source!r}"
        )
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SweepConfigError(
            [Issue("", f"file not found: {path}", "Check the path.")], str(path)
        ) from None
    except IsADirectoryError:
        raise SweepConfigError(
            [Issue("", f"{path} is a directory, not a sweep file")], str(path)
        ) from None
    except UnicodeDecodeError:
        raise SweepConfigError(
            [Issue("", "the file is not UTF-8 text", "Is this a YAML file?")], str(path)
        ) from None
    except OSError as exc:
        raise SweepConfigError([Issue("", f"cannot read the file: {exc}")], str(path)) from None
    return loads(text, path=path)


def loads(text: str, *, path: str | os.PathLike[str] | None = None) -> SweepConfig:
    """Load a sweep from YAML text. ``path`` names the file in messages and sets
    :attr:`SweepConfig.directory`."""
    source = str(path) if path is not None else None
    doc = load_yaml(text)
    if doc.issues and doc.data is None:
        raise SweepConfigError(doc.issues, source)
    return _build(doc.data, path=path, lines=doc.lines, early_issues=doc.issues)


def from_dict(
    data: Mapping[str, Any], *, path: str | os.PathLike[str] | None = None
) -> SweepConfig:
    """Validate a sweep given as a dict (as ``wandb.sweep(dict)`` takes it)."""
    return _build(data, path=path, lines={}, early_issues=[])


def _build(
    data: Any,
    *,
    path: str | os.PathLike[str] | None,
    lines: dict[str, int],
    early_issues: list[Issue],
) -> SweepConfig:
    checker = _Checker(lines)
    checker.issues.extend(early_issues)
    cfg = checker.check(data, Path(path) if path is not None else None)
    source = str(path) if path is not None else None
    errors = checker.issues
    if errors:
        cls = UnsupportedSweepError if checker.unsupported else SweepConfigError
        raise cls(errors, source)
    assert cfg is not None  # internal invariant: no issues means the checker built a config
    return cfg


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------

TOP_KEYS = (
    "method",
    "parameters",
    "metric",
    "early_terminate",
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
# Keys W&B accepts but only its hosted service can act on.
LAUNCH_KEYS = ("scheduler", "metrics")
PARAM_KEYS = (
    "distribution",
    "value",
    "values",
    "probabilities",
    "min",
    "max",
    "q",
    "mu",
    "sigma",
    "a",
    "b",
    "parameters",
)
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-/]*$")

D = sp.Distribution
# Keys each distribution takes: (required, optional with defaults).
_DIST_KEYS: dict[sp.Distribution, tuple[tuple[str, ...], dict[str, Any]]] = {
    D.CONSTANT: (("value",), {}),
    D.CATEGORICAL: (("values",), {}),
    D.CATEGORICAL_W_PROBABILITIES: (("values", "probabilities"), {}),
    D.INT_UNIFORM: (("min", "max"), {}),
    D.UNIFORM: (("min", "max"), {}),
    D.Q_UNIFORM: (("min", "max"), {"q": 1.0}),
    D.LOG_UNIFORM: (("min", "max"), {}),
    D.LOG_UNIFORM_VALUES: (("min", "max"), {}),
    D.Q_LOG_UNIFORM: (("min", "max"), {"q": 1.0}),
    D.Q_LOG_UNIFORM_VALUES: (("min", "max"), {"q": 1.0}),
    D.INV_LOG_UNIFORM: (("min", "max"), {}),
    D.INV_LOG_UNIFORM_VALUES: (("min", "max"), {}),
    D.NORMAL: ((), {"mu": 0.0, "sigma": 1.0}),
    D.Q_NORMAL: ((), {"mu": 0.0, "sigma": 1.0, "q": 1.0}),
    D.LOG_NORMAL: ((), {"mu": 0.0, "sigma": 1.0}),
    D.Q_LOG_NORMAL: ((), {"mu": 0.0, "sigma": 1.0, "q": 1.0}),
    D.BETA: ((), {"a": 1.0, "b": 1.0}),
    D.Q_BETA: ((), {"a": 1.0, "b": 1.0, "q": 1.0}),
}
_V1_LOG = {
    D.LOG_UNIFORM: D.LOG_UNIFORM_VALUES,
    D.Q_LOG_UNIFORM: D.Q_LOG_UNIFORM_VALUES,
    D.INV_LOG_UNIFORM: D.INV_LOG_UNIFORM_VALUES,
}
_POSITIVE_BOUNDS = {
    D.LOG_UNIFORM_VALUES,
    D.Q_LOG_UNIFORM_VALUES,
    D.INV_LOG_UNIFORM_VALUES,
}
_GRID_OK = {D.CONSTANT, D.CATEGORICAL, D.INT_UNIFORM, D.Q_UNIFORM}
ET_TYPES = ("hyperband", "asha", "median", "promotion")
ET_KEYS = ("type", "min_iter", "max_iter", "s", "eta", "strict")
IMPUTE = ("latest", "best", "worst")


# W&B computes this many bands from min_iter.
HYPERBAND_MIN_ITER_BANDS = 100


def hyperband_bands(
    eta: float, min_iter: int | None, max_iter: int | None, s: int | None
) -> tuple[int, ...]:
    """W&B's hyperband bands (``hyperband_stopping.py``), with W&B's float arithmetic.

    ``max_iter`` with ``s`` takes precedence: divide by ``eta`` ``s`` times, stop once the
    value drops below 1, keep ``int(value)``, sorted. Otherwise ``min_iter`` multiplied by
    ``eta`` 99 times, keeping ``int`` of each value: repeated multiplication, not
    ``min_iter * eta**k``, since the two round differently (``eta: 1.2`` from 750 gives 1296,
    not 1295). The one home of this arithmetic: the scheduler uses it too.

    >>> hyperband_bands(3, None, 27, 2)
    (3, 9)
    >>> hyperband_bands(3, 3, None, None)[:4]
    (3, 9, 27, 81)
    >>> hyperband_bands(1.5, 30, None, None)[:4]
    (30, 45, 67, 101)
    >>> hyperband_bands(1.2, 750, None, None)[:5]
    (750, 900, 1080, 1296, 1555)
    """
    if max_iter is not None and s is not None:
        bands = []
        value = float(max_iter)
        for _ in range(s):
            value /= eta
            if value < 1:
                break
            bands.append(int(value))
        return tuple(sorted(bands))
    if min_iter is not None:
        out = []
        current: float = min_iter  # stays an exact int while eta is an int, as in W&B
        for _ in range(HYPERBAND_MIN_ITER_BANDS):
            if not math.isfinite(current):
                break
            out.append(int(current))
            current *= eta
        return tuple(out)
    return ()


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _describe(v: Any) -> str:
    if isinstance(v, str):
        return f"the string {v!r}"
    if isinstance(v, bool):
        return f"the boolean {v}"
    if v is None:
        return "nothing (null)"
    if isinstance(v, Mapping):
        return "a mapping" if v else "an empty mapping"
    if isinstance(v, list):
        return "a list" if v else "an empty list"
    return repr(v)


def _did_you_mean(word: str, options: tuple[str, ...] | list[str]) -> str | None:
    match = difflib.get_close_matches(word, list(options), n=1, cutoff=0.75)
    return f"Did you mean {match[0]!r}?" if match else None


def resource_issues(res: Any) -> list[Issue]:
    """Problems of a per-trial resource request given outside the sweep file (the Python
    API's ``resources=``), by the rules of ``raysweep.resources``."""
    checker = _Checker({})
    checker.check_resources(res)
    return checker.issues


class _Checker:
    """Walks a raw document, collecting issues and building the typed config."""

    def __init__(self, lines: dict[str, int]) -> None:
        self.lines = lines
        self.issues: list[Issue] = []
        self.warnings: list[Issue] = []
        self.unsupported = False

    # -- helpers -------------------------------------------------------------------------------
    def error(self, path: str, message: str, hint: str | None = None) -> None:
        self.issues.append(Issue(path, message, hint, self.lines.get(path)))

    def warn(self, path: str, message: str, hint: str | None = None) -> None:
        self.warnings.append(Issue(path, message, hint, self.lines.get(path)))

    def refuse(self, path: str, message: str, hint: str | None = None) -> None:
        self.unsupported = True
        self.error(path, message, hint)

    def unknown_keys(
        self, mapping: Mapping[Any, Any], allowed: tuple[str, ...], prefix: str, what: str
    ) -> None:
        for key in mapping:
            if key in allowed:
                continue
            path = f"{prefix}.{key}" if prefix else str(key)
            hint = _did_you_mean(str(key), allowed)
            if hint is None:
                hint = f"{what} takes: {', '.join(allowed)}."
            self.error(path, f"unknown key {str(key)!r}", hint)

    def number(self, m: Mapping[str, Any], key: str, path: str, *, integer: bool = False) -> Any:
        v = m[key]
        ok = _is_int(v) if integer else _is_number(v)
        if ok:
            return v
        if integer and isinstance(v, float) and _is_number(v):
            self.error(path, f"must be an integer, got {v!r}")
        elif isinstance(v, str) and _looks_numeric(v):
            self.error(
                path,
                f"must be a number, got {_describe(v)}",
                "Remove the quotes so YAML reads it as a number.",
            )
        else:
            kind = "an integer" if integer else "a number"
            self.error(path, f"must be {kind}, got {_describe(v)}")
        return None

    # -- top level -----------------------------------------------------------------------------
    def check(self, data: Any, path: Path | None) -> SweepConfig | None:
        if data is None:
            self.error(
                "", "the file is empty", "A sweep needs at least `method` and `parameters`."
            )
            return None
        if not isinstance(data, Mapping):
            self.error(
                "",
                f"a sweep config must be a mapping of keys to values, got {_describe(data)}",
                "Start with `method: random` and a `parameters:` section.",
            )
            return None
        self.check_launch(data)
        for key in data:
            if not isinstance(key, str):
                self.error(str(key), f"keys must be text, got {key!r}")
        self.unknown_keys(
            {k: v for k, v in data.items() if k not in LAUNCH_KEYS},
            TOP_KEYS,
            "",
            "A sweep config",
        )
        method = self.check_method(data)
        metric = self.check_metric(data)
        parameters = self.check_parameters(data)
        early = self.check_early_terminate(data, metric)
        command = self.check_command(data)
        strings = {k: self.optional_str(data, k) for k in ("program", "name", "description",
                                                          "project", "entity")}
        for key in ("job", "image_uri", "apiVersion"):
            self.optional_str(data, key)
        if "job" in data or "image_uri" in data:
            self.warn(
                "job" if "job" in data else "image_uri",
                "W&B Launch keys are ignored: raysweep runs `program` / `command` on Ray",
            )
        if "kind" in data and data["kind"] != "sweep":
            self.error("kind", f"must be 'sweep', got {_describe(data['kind'])}")
        self.check_controller(data)
        run_cap = self.check_run_cap(data)
        options = self.check_options(data)
        if method is not None and parameters is not None:
            self.check_method_needs(method, metric, parameters, early)
        if self.issues or method is None or parameters is None:
            return None
        return SweepConfig(
            method=method,
            parameters=parameters,
            metric=metric,
            early_terminate=early,
            command=command,
            run_cap=run_cap,
            options=options,
            warnings=tuple(self.warnings),
            path=path.resolve() if path is not None else None,
            # A deep copy: the caller's nested lists and dicts stay theirs.
            raw=copy.deepcopy(dict(data)),
            **strings,
        )

    def check_launch(self, data: Mapping[str, Any]) -> None:
        why = (
            "only W&B's hosted service runs these; raysweep runs grid, random and bayes "
            "sweeps itself"
        )
        if "scheduler" in data:
            self.refuse(
                "scheduler",
                "`scheduler` configures a W&B Launch sweep scheduler job, which raysweep "
                "does not support: " + why,
                "Remove `scheduler` and put the search space under `parameters` with "
                "`method: grid|random|bayes`.",
            )
        if "metrics" in data:
            self.refuse(
                "metrics",
                "`metrics` (several objectives) needs W&B's `method: custom` scheduler, which "
                "raysweep does not support: " + why,
                "Optimise one metric: write `metric: {name: ..., goal: ...}`.",
            )
        if data.get("method") == "custom":
            self.refuse(
                "method",
                "`method: custom` hands the search to a W&B Launch scheduler, which raysweep "
                "does not support: " + why,
                "Use `method: grid`, `random` or `bayes`.",
            )
        if "method" not in data and ("job" in data or "scheduler" in data):
            self.refuse(
                "method",
                "this is a W&B Launch sweep (a `job` or `scheduler` without a top-level "
                "`method`), which raysweep cannot run: " + why,
                "Add `method` and `program` (the script to run) to run it with raysweep.",
            )

    def check_method(self, data: Mapping[str, Any]) -> Method | None:
        if "method" not in data:
            if not self.unsupported:
                self.error("method", "missing", "Add `method: grid`, `random` or `bayes`.")
            return None
        value = data["method"]
        if value == "custom":
            return None
        try:
            return Method(value)
        except ValueError:
            options = [m.value for m in Method]
            hint = _did_you_mean(str(value).lower(), options) or "Use grid, random or bayes."
            self.error("method", f"unknown method {value!r}", hint)
            return None

    def check_metric(self, data: Mapping[str, Any]) -> Metric | None:
        if "metric" not in data or data["metric"] is None:
            return None
        m = data["metric"]
        if not isinstance(m, Mapping):
            self.error(
                "metric",
                f"must be a mapping, got {_describe(m)}",
                "Write `metric: {name: val_loss, goal: minimize}`.",
            )
            return None
        self.unknown_keys(
            m, ("name", "goal", "target", "impute", "impute_while_running"), "metric", "metric"
        )
        name = m.get("name")
        if not isinstance(name, str) or not name:
            self.error(
                "metric.name",
                "missing" if "name" not in m else f"must be text, got {_describe(name)}",
                "Name the metric your program reports, e.g. `name: val_loss`.",
            )
        goal = Goal.MINIMIZE
        if "goal" in m:
            try:
                goal = Goal(m["goal"])
            except ValueError:
                raw = m["goal"]
                hint = _did_you_mean(str(raw), ["minimize", "maximize"])
                hint = (hint + " " if hint else "") + (
                    "W&B silently treats any other goal as minimize; raysweep refuses it so a "
                    "typo does not flip your sweep."
                )
                self.error("metric.goal", f"must be minimize or maximize, got {_describe(raw)}",
                           hint)
        target = None
        if m.get("target") is not None:
            target = self.number(m, "target", "metric.target")
        impute = m.get("impute", "worst")
        if impute not in IMPUTE:
            self.error("metric.impute", f"must be one of latest, best, worst; got "
                       f"{_describe(impute)}")
        iwr = m.get("impute_while_running", False)
        if iwr is not False and iwr not in IMPUTE:
            self.error("metric.impute_while_running",
                       f"must be one of latest, best, worst or false; got {_describe(iwr)}")
        if not isinstance(name, str) or not name:
            return None
        return Metric(name=name, goal=goal, target=target, impute=str(impute),
                      impute_while_running=iwr)

    def check_parameters(self, data: Mapping[str, Any]) -> sp.SearchSpace | None:
        if "parameters" not in data:
            if not self.unsupported:
                self.error("parameters", "missing",
                           "Add a `parameters:` section, e.g. `lr: {min: 0.0001, max: 0.1}`.")
            return None
        params = data["parameters"]
        if not isinstance(params, Mapping) or not params:
            self.error(
                "parameters",
                "must be a non-empty mapping of parameter names to definitions, got "
                + ("an empty mapping" if isinstance(params, Mapping) else _describe(params)),
                "Example: `parameters: {lr: {min: 0.0001, max: 0.1}}`.",
            )
            return None
        flat: dict[sp.ParamPath, sp.ParamSpec] = {}
        self.check_param_dict(params, (), "parameters", flat)
        if self.issues:
            return None
        return sp.SearchSpace.from_flat(flat)

    def check_param_dict(
        self,
        params: Mapping[Any, Any],
        prefix: sp.ParamPath,
        path: str,
        flat: dict[sp.ParamPath, sp.ParamSpec],
    ) -> None:
        for name, spec in params.items():
            ppath = f"{path}.{name}"
            if not isinstance(name, str) or not _NAME_RE.match(name):
                self.error(
                    ppath,
                    f"invalid parameter name {name!r}",
                    "Names start with a letter or '_' and contain letters, digits, '_', '.', "
                    "'-' or '/'.",
                )
                continue
            result = self.check_param(spec, ppath, prefix + (name,), flat)
            if result is not None:
                flat[prefix + (name,)] = result

    def check_param(
        self,
        spec: Any,
        path: str,
        full: sp.ParamPath,
        flat: dict[sp.ParamPath, sp.ParamSpec],
    ) -> sp.ParamSpec | None:
        if not isinstance(spec, Mapping):
            self.error(
                path,
                f"must be a mapping that defines the parameter, got {_describe(spec)}",
                f"To fix a value write `{full[-1]}: {{value: {spec!r}}}`; to search write "
                f"`{{values: [...]}}` or `{{min: ..., max: ...}}`.",
            )
            return None
        unknown = [k for k in spec if k not in PARAM_KEYS]
        if unknown:
            for key in unknown:
                hint = _did_you_mean(str(key), PARAM_KEYS)
                if hint is None and isinstance(spec[key], Mapping) and (
                    set(spec[key]) & {"values", "value", "min", "max", "distribution"}
                ):
                    hint = (
                        f"{key!r} looks like a parameter definition: check its indentation "
                        f"(it is inside {full[-1]!r}), or put it under `parameters:`."
                    )
                self.error(
                    f"{path}.{key}",
                    f"unknown key {str(key)!r} in a parameter definition",
                    hint or f"A parameter takes: {', '.join(PARAM_KEYS)}.",
                )
            return None
        if "parameters" in spec:
            others = [k for k in spec if k != "parameters"]
            if others:
                self.error(path, f"a nested parameter takes only `parameters`, not "
                           f"{', '.join(others)}")
                return None
            inner = spec["parameters"]
            if not isinstance(inner, Mapping) or not inner:
                self.error(f"{path}.parameters", "must be a non-empty mapping of parameters")
                return None
            self.check_param_dict(inner, full, f"{path}.parameters", flat)
            return None
        dist = self.infer_distribution(spec, path)
        if dist is None:
            return None
        required, defaults = _DIST_KEYS[dist]
        allowed = set(required) | set(defaults) | {"distribution"}
        bad = [k for k in spec if k not in allowed]
        missing = [k for k in required if k not in spec]
        for key in bad:
            if dist is D.CATEGORICAL and key == "probabilities":
                self.error(f"{path}.probabilities",
                           "`distribution: categorical` does not take probabilities",
                           "Remove `distribution: categorical`: values with probabilities are "
                           "`categorical_w_probabilities`.")
            else:
                self.error(f"{path}.{key}", f"{dist} does not take {key!r}",
                           f"{dist} takes: {', '.join(sorted(allowed - {'distribution'}))}.")
        for key in missing:
            self.error(f"{path}.{key}", f"missing: {dist} needs {' and '.join(required)}")
        if bad or missing:
            return None
        args = {**defaults, **{k: v for k, v in spec.items() if k != "distribution"}}
        return self.build_spec(dist, args, path, full)

    def infer_distribution(self, spec: Mapping[str, Any], path: str) -> sp.Distribution | None:
        if "distribution" in spec:
            raw = spec["distribution"]
            try:
                return sp.Distribution(raw)
            except ValueError:
                names = [d.value for d in sp.Distribution]
                self.error(f"{path}.distribution", f"unknown distribution {raw!r}",
                           _did_you_mean(str(raw), names)
                           or f"Known distributions: {', '.join(names)}.")
                return None
        if "values" in spec:
            return D.CATEGORICAL_W_PROBABILITIES if "probabilities" in spec else D.CATEGORICAL
        if "value" in spec:
            return D.CONSTANT
        if "min" in spec and "max" in spec:
            lo, hi = spec["min"], spec["max"]
            if _is_int(lo) and _is_int(hi):
                return D.INT_UNIFORM
            if _is_number(lo) and _is_number(hi):
                if _is_int(lo) != _is_int(hi):
                    self.error(
                        path,
                        f"ambiguous bounds: min is {lo!r} and max is {hi!r}, one an integer "
                        "and one a float",
                        "Write both as floats (e.g. 0.0 and 1.0) for a uniform distribution, "
                        "or both as integers for int_uniform.",
                    )
                    return None
                return D.UNIFORM
            for key in ("min", "max"):
                self.number(spec, key, f"{path}.{key}")
            return None
        keys = ", ".join(str(k) for k in spec) or "nothing"
        self.error(
            path,
            f"cannot tell what kind of parameter this is (it has {keys})",
            "Give `value`, `values`, `min` and `max`, `distribution`, or nested `parameters`.",
        )
        return None

    def build_spec(
        self, dist: sp.Distribution, args: dict[str, Any], path: str, full: sp.ParamPath
    ) -> sp.ParamSpec | None:
        n_before = len(self.issues)
        if dist is D.CONSTANT:
            return sp.Constant(args["value"])
        if dist in (D.CATEGORICAL, D.CATEGORICAL_W_PROBABILITIES):
            values = args["values"]
            if not isinstance(values, list) or not values:
                self.error(f"{path}.values", f"must be a non-empty list, got {_describe(values)}",
                           "Write `values: [a, b, c]`.")
                return None
            if dist is D.CATEGORICAL:
                return sp.Categorical(tuple(values))
            probs = args["probabilities"]
            if not isinstance(probs, list) or not all(_is_number(p) for p in probs):
                self.error(f"{path}.probabilities", "must be a list of numbers")
                return None
            if len(probs) != len(values):
                self.error(f"{path}.probabilities",
                           f"has {len(probs)} entries but values has {len(values)}",
                           "Give one probability per value.")
            if any(p < 0 for p in probs):
                self.error(f"{path}.probabilities", f"must not be negative, got {probs}")
            elif not math.isclose(sum(probs), 1.0, rel_tol=1e-6, abs_tol=1e-9):
                self.error(f"{path}.probabilities",
                           f"must sum to 1, but {probs} sums to {sum(probs):g}")
            if len(self.issues) > n_before:
                return None
            return sp.CategoricalWithProbabilities(tuple(values), tuple(float(p) for p in probs))
        integer = dist is D.INT_UNIFORM
        for key in args:
            if key in ("min", "max", "q", "mu", "sigma", "a", "b"):
                self.number(args, key, f"{path}.{key}", integer=integer and key in ("min", "max"))
        if len(self.issues) > n_before:
            if integer and any(isinstance(args[k], float) for k in ("min", "max")):
                self.issues[-1] = Issue(
                    self.issues[-1].path, self.issues[-1].message,
                    "int_uniform takes integer bounds; use `distribution: uniform` for floats.",
                    self.issues[-1].line)
            return None
        for key in ("min", "max", "mu", "sigma", "a", "b", "q"):
            if key in args and not math.isfinite(args[key]):
                self.error(f"{path}.{key}", f"must be finite, got {args[key]!r}")
        if "q" in args and args["q"] <= 0:
            self.error(f"{path}.q", f"must be greater than 0, got {args['q']!r}")
        if "sigma" in args and args["sigma"] < 0:
            self.error(f"{path}.sigma", f"must not be negative, got {args['sigma']!r}")
        for key in ("a", "b"):
            if key in args and args[key] <= 0:
                self.error(f"{path}.{key}", f"must be greater than 0, got {args[key]!r}")
        if "min" in args and "max" in args:
            lo, hi = args["min"], args["max"]
            if not lo < hi:
                self.error(f"{path}.max",
                           f"`min < max` must hold, but got min={lo!r}, max={hi!r}",
                           "Swap them." if lo > hi else None)
            elif dist in _POSITIVE_BOUNDS and lo <= 0:
                self.error(
                    f"{path}.min",
                    f"{dist} needs positive bounds, got min={lo!r}",
                    f"{_V1_NAME[dist]} takes natural-log exponents if that is what you meant.",
                )
        if len(self.issues) > n_before:
            return None
        if dist in _V1_LOG:
            lo, hi = args["min"], args["max"]
            self.warn(
                path,
                f"{dist} is W&B's deprecated form whose min/max are natural-log exponents: "
                f"values run from {_v1_range(dist, lo, hi)}",
                f"{dist} takes exponents; if min and max are the values themselves, use "
                f"{_V1_LOG[dist]}.",
            )
        cls = sp.SPEC_CLASSES[dist]
        return cls(**args)

    def check_early_terminate(
        self, data: Mapping[str, Any], metric: Metric | None
    ) -> EarlyTerminate | None:
        if "early_terminate" not in data or data["early_terminate"] is None:
            return None
        et = data["early_terminate"]
        if not isinstance(et, Mapping):
            self.error("early_terminate", f"must be a mapping, got {_describe(et)}",
                       "Write `early_terminate: {type: hyperband, min_iter: 3}`.")
            return None
        n_before = len(self.issues)
        self.unknown_keys(et, ET_KEYS, "early_terminate", "early_terminate")
        kind = et.get("type")
        if kind not in ET_TYPES:
            self.error("early_terminate.type",
                       "missing" if kind is None else f"unknown type {kind!r}",
                       (_did_you_mean(str(kind), ET_TYPES) if kind is not None else None)
                       or "Use `type: hyperband` (W&B), or raysweep's `asha`, `median` or "
                          "`promotion`.")
        values: dict[str, Any] = {}
        for key in ("min_iter", "max_iter", "s"):
            if key in et and et[key] is not None:
                v = self.number(et, key, f"early_terminate.{key}", integer=True)
                if v is not None and v < 1:
                    self.error(f"early_terminate.{key}", f"must be at least 1, got {v}")
                values[key] = v
        eta = et.get("eta", 3)
        if "eta" in et:
            eta = self.number(et, "eta", "early_terminate.eta")
            if eta is not None and not eta > 1:
                self.error("early_terminate.eta", f"must be greater than 1, got {eta!r}",
                           "eta is the factor between bands; 3 is the usual choice.")
        strict = et.get("strict", True)
        if not isinstance(strict, bool):
            self.error("early_terminate.strict", f"must be true or false, got "
                       f"{_describe(strict)}")
        if len(self.issues) > n_before:
            return None
        min_iter, max_iter, s = values.get("min_iter"), values.get("max_iter"), values.get("s")
        if max_iter is not None and s is None:
            self.error("early_terminate.s", "missing: `max_iter` needs `s` (the number of bands)",
                       "Add `s: 2`, or use `min_iter` instead of `max_iter`.")
            return None
        if max_iter is None and min_iter is None:
            self.error("early_terminate", "needs `min_iter`, or `max_iter` with `s`",
                       "Example: `early_terminate: {type: hyperband, min_iter: 3}`.")
            return None
        if max_iter is not None and min_iter is not None:
            self.warn("early_terminate.min_iter",
                      "ignored: `max_iter` and `s` set the bands (as in W&B)")
        elif min_iter is not None and s is not None:
            self.warn("early_terminate.s", "ignored: `s` only counts with `max_iter` (as in W&B)")
        result = EarlyTerminate(type=str(kind), min_iter=min_iter, max_iter=max_iter, s=s,
                                eta=eta, strict=strict)
        if not result.bands:
            self.error("early_terminate",
                       "Bands must be an array of length at least 1",
                       "Try increasing s, decreasing eta, or increasing min_iter.")
            return None
        if kind == "promotion" and "strict" in et:
            self.warn("early_terminate.strict",
                      "ignored by `type: promotion`: configurations are ranked by their value "
                      "at each rung")
        if metric is None:
            self.error("early_terminate", "early termination needs a `metric` to compare runs",
                       "Add `metric: {name: val_loss, goal: minimize}`.")
        return result

    def check_command(self, data: Mapping[str, Any]) -> tuple[Any, ...] | None:
        if "command" not in data or data["command"] is None:
            return None
        cmd = data["command"]
        if not isinstance(cmd, list) or not cmd:
            self.error("command", f"must be a non-empty list of arguments, got {_describe(cmd)}",
                       "Write it as a list: `command: [${env}, ${interpreter}, ${program}, "
                       "${args}]`.")
            return None
        for i, item in enumerate(cmd):
            if isinstance(item, (Mapping, list)) or item is None:
                self.error(f"command[{i}]", f"must be a single argument, got {_describe(item)}")
        return tuple(cmd)

    def optional_str(
        self, data: Mapping[str, Any], key: str, path: str | None = None
    ) -> str | None:
        v = data.get(key)
        if v is None:
            return None
        if not isinstance(v, str):
            self.error(path or key, f"must be text, got {_describe(v)}")
            return None
        return v

    def check_controller(self, data: Mapping[str, Any]) -> None:
        if "controller" not in data:
            return
        c = data["controller"]
        if not isinstance(c, Mapping) or c.get("type") not in ("local", "cloud"):
            self.error("controller.type" if isinstance(c, Mapping) else "controller",
                       "must be `{type: local}` or `{type: cloud}`",
                       "raysweep is its own controller: you can delete `controller`.")
            return
        self.warn("controller", "ignored: raysweep is the controller")

    def check_run_cap(self, data: Mapping[str, Any]) -> int | None:
        if data.get("run_cap") is None:
            return None
        v = self.number(data, "run_cap", "run_cap", integer=True)
        if v is not None and v <= 0:
            self.error("run_cap", f"must be greater than 0, got {v}")
            return None
        return None if v is None else int(v)

    def check_options(self, data: Mapping[str, Any]) -> RaysweepOptions:
        opts = data.get("raysweep")
        if opts is None:
            return RaysweepOptions()
        if not isinstance(opts, Mapping):
            self.error("raysweep", f"must be a mapping, got {_describe(opts)}")
            return RaysweepOptions()
        keys = ("resources", "max_concurrent_trials", "max_failures", "seed", "storage", "unique")
        self.unknown_keys(opts, keys, "raysweep", "The raysweep section")
        out: dict[str, Any] = {}
        if opts.get("resources") is not None:
            out["resources"] = self.check_resources(opts["resources"])
        if opts.get("max_concurrent_trials") is not None:
            v = self.number(opts, "max_concurrent_trials", "raysweep.max_concurrent_trials",
                            integer=True)
            if v is not None and v < 1:
                self.error("raysweep.max_concurrent_trials", f"must be at least 1, got {v}")
            out["max_concurrent_trials"] = v
        if opts.get("max_failures") is not None:
            v = self.number(opts, "max_failures", "raysweep.max_failures", integer=True)
            if v is not None and v < -1:
                self.error("raysweep.max_failures",
                           f"must be -1 (retry forever) or at least 0, got {v}")
            out["max_failures"] = v
        if opts.get("seed") is not None:
            v = self.number(opts, "seed", "raysweep.seed", integer=True)
            if v is not None and v < 0:
                self.error("raysweep.seed", f"must not be negative, got {v}")
            out["seed"] = v
        if opts.get("storage") is not None:
            out["storage"] = self.optional_str(opts, "storage", "raysweep.storage")
        if "unique" in opts:
            if not isinstance(opts["unique"], bool):
                self.error("raysweep.unique", f"must be true or false, got "
                           f"{_describe(opts['unique'])}")
            else:
                out["unique"] = opts["unique"]
        if self.issues:
            return RaysweepOptions()
        return RaysweepOptions(**out)

    def check_resources(self, res: Any) -> Resources:
        if not isinstance(res, Mapping):
            self.error("raysweep.resources", f"must be a mapping like {{cpu: 1, gpu: 1}}, got "
                       f"{_describe(res)}")
            return Resources()
        values: dict[str, float] = {}
        for key, amount in res.items():
            path = f"raysweep.resources.{key}"
            if not _is_number(amount) or not math.isfinite(amount) or amount < 0:
                self.error(path, f"must be a non-negative number, got {_describe(amount)}")
                continue
            values[str(key)] = float(amount)
        lowered = {k.lower(): v for k, v in values.items()}
        cpu = lowered.pop("cpu", 1.0)
        gpu = lowered.pop("gpu", 0.0)
        if gpu > 1 and not float(gpu).is_integer():
            self.error("raysweep.resources.gpu",
                       f"fractions are only allowed below 1 GPU, got {gpu:g}",
                       "Ask for a whole number of GPUs, or a fraction such as 0.5.")
        custom = tuple((k, v) for k, v in values.items() if k.lower() not in ("cpu", "gpu"))
        return Resources(cpu=cpu, gpu=gpu, custom=custom)

    def check_method_needs(
        self,
        method: Method,
        metric: Metric | None,
        space: sp.SearchSpace,
        early: EarlyTerminate | None,
    ) -> None:
        if method is Method.GRID:
            for path, spec in space:
                if spec.distribution not in _GRID_OK:
                    name = "parameters." + ".parameters.".join(path)
                    if spec.distribution is D.CATEGORICAL_W_PROBABILITIES:
                        self.error(f"{name}.probabilities",
                                   "grid search tries every value, so it cannot use "
                                   "probabilities", "Remove `probabilities`, or use "
                                   "`method: random`.")
                    else:
                        self.error(
                            name,
                            f"grid search cannot enumerate a continuous {spec.distribution} "
                            "parameter",
                            "Use `values: [...]`, an int_uniform or q_uniform range, or "
                            "`method: random` / `bayes`.",
                        )
        if method is Method.GRID and not self.issues:
            self.check_grid_size(space)
        if method is Method.BAYES:
            if metric is None:
                self.error("metric", "bayes search needs a metric to model",
                           "Add `metric: {name: val_loss, goal: minimize}`.")
            if not space.searchable:
                self.error("parameters", "bayes search needs at least one parameter that is "
                           "not a constant")


    def check_grid_size(self, space: sp.SearchSpace) -> None:
        """Refuse grids too large to enumerate (a tiny q or a huge int range)."""
        total = 1
        for path, spec in space.searchable:
            n = spec.grid_count()
            name = "parameters." + ".parameters.".join(path)
            if n is None or n > MAX_GRID:
                self.error(name, f"grid search would enumerate {n:.3g} values of this "
                           f"parameter (limit {MAX_GRID:,})", "Use a larger q, a smaller range, "
                           "or `method: random`.")
                return
            total *= int(n)  # n <= MAX_GRID here, a whole number
        if total > MAX_GRID:
            self.error("parameters", f"grid search would run {total:,} combinations "
                       f"(limit {MAX_GRID:,})", "Use fewer values, or `method: random` with "
                       "`run_cap`.")


# A grid this large is a mistake, not a plan: enumerating it would exhaust memory.
MAX_GRID = 10_000_000

_V1_NAME = {
    D.LOG_UNIFORM_VALUES: "log_uniform",
    D.Q_LOG_UNIFORM_VALUES: "q_log_uniform",
    D.INV_LOG_UNIFORM_VALUES: "inv_log_uniform",
}


def _v1_range(dist: sp.Distribution, lo: float, hi: float) -> str:
    def fmt(x: float) -> str:
        try:
            return f"{x:.3g}"
        except OverflowError:  # pragma: no cover - formatting of inf never overflows
            return str(x)

    try:
        if dist is D.INV_LOG_UNIFORM:
            a, b = math.exp(-hi), math.exp(-lo)
        else:
            a, b = math.exp(lo), math.exp(hi)
    except OverflowError:
        return f"exp({lo:g}) to exp({hi:g})"
    return f"{fmt(a)} to {fmt(b)}"


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
