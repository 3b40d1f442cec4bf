"""The plots W&B users judge a sweep by, as plotly figures.

- :func:`parallel_figure`: parallel coordinates of every parameter (categoricals as labelled
  axes, log-distributed numbers on a log axis) and the metric, one line per trial.
- :func:`importance_figure`: parameter importance (random forest) next to the correlation
  with the metric, as W&B's panel shows both (:mod:`raysweep.analysis.importance`).
- :func:`curves_figure`: the metric against the step for every trial; trials a scheduler
  stopped are marked with an X where they stopped, failed ones with a red X.
- :func:`best_figure`: each trial's value and the best so far against the trial number (the
  order in which trials started); far worse values (a diverged trial) sit at the axis' edge
  instead of squashing it.
- :func:`pareto_figure`: a multi-objective sweep's Pareto front: two objectives against each
  other (the front in colour and joined, dominated trials faded), or parallel coordinates of
  three or more coloured by front membership.

plotly is an optional dependency (``pip install 'raysweep[report]'``); :func:`graph_objects`
says how to install it when it is missing. Functions take a
:class:`~raysweep.analysis.tables.SweepResult` and never import its module, whose methods
call them.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from raysweep.analysis.display import (
    OTHER_COLOR,
    STATUS_COLORS,
    fmt,
    goal_mode,
    metric_name,
    numbers,
    parameters,
    running_best,
    start_order,
    status_rank,
    value_column,
)
from raysweep.analysis.importance import (
    LOG_SPAN,
    is_log_scale,
    is_numeric_values,
    parameter_importance,
)
from raysweep.analysis.pareto import FRONT_STATUSES, meta_objectives
from raysweep.errors import RaysweepError

if TYPE_CHECKING:
    import pandas as pd

    from raysweep.analysis.tables import SweepResult

__all__ = [
    "MAX_CURVE_POINTS",
    "MAX_DRAWN_TRIALS",
    "PLOTLY_HINT",
    "best_figure",
    "curves_figure",
    "graph_objects",
    "importance_figure",
    "importance_table",
    "parallel_figure",
    "pareto_figure",
]

PLOTLY_HINT = "pip install 'raysweep[report]'"
# Curves are thinned to this many points, all trials together, so big sweeps stay drawable.
MAX_CURVE_POINTS = 60_000
MAX_POINTS_PER_TRIAL = 500
MIN_POINTS_PER_TRIAL = 12
MAX_IMPORTANCE_ROWS = 25
# Above this many trials a figure draws this many: the best DRAWN_BEST and an even random
# sample of the rest (seeded: the same sweep gives the same figure). Counts and the best value
# still come from every trial.
MAX_DRAWN_TRIALS = 5_000
DRAWN_BEST = 500
SAMPLE_SEED = 0


def sample_positions(n: int, limit: int | None = MAX_DRAWN_TRIALS) -> np.ndarray:
    """Positions (sorted) of the rows to draw out of ``n`` rows ordered best first: all of
    them up to ``limit``, else the best ``DRAWN_BEST`` (at most half the limit) and a seeded
    random sample of the rest, ``limit`` in all.

    >>> sample_positions(4, 10).tolist()
    [0, 1, 2, 3]
    >>> p = sample_positions(100_000, 5_000); (len(p), p[:3].tolist(), bool(p[-1] > 50_000))
    (5000, [0, 1, 2], True)
    """
    if limit is None or n <= limit:
        return np.arange(n)
    best = min(DRAWN_BEST, limit // 2)
    rng = np.random.default_rng(SAMPLE_SEED)
    rest = best + rng.choice(n - best, size=limit - best, replace=False)
    return np.sort(np.r_[np.arange(best), rest]).astype(np.int64)


def sample_note(shown: int, total: int) -> str:
    """``"N of M trials drawn (...)"`` when a figure left trials out, else ``"M trials"``."""
    if shown >= total:
        return f"{total} trials"
    return (f"{shown:,} of {total:,} trials drawn (the best {min(DRAWN_BEST, shown // 2):,} "
            "and a random sample)")


def graph_objects() -> Any:
    """``plotly.graph_objects``, or a RaysweepError that says how to install it."""
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise RaysweepError(
            f"plots and reports need plotly, which raysweep does not install by default: "
            f"{PLOTLY_HINT}"
        ) from None
    return go


def _empty_figure(title: str, message: str, height: int = 260) -> Any:
    go = graph_objects()
    fig = go.Figure()
    fig.add_annotation(text=html.escape(message), showarrow=False, x=0.5, y=0.5,
                       xref="paper", yref="paper", font={"size": 15, "color": "#666"})
    fig.update_layout(title=title, template="plotly_white", height=height,
                      xaxis={"visible": False}, yaxis={"visible": False})
    return fig


def _title(result: SweepResult, text: str) -> str:
    name = result.meta.get("name") or Path(result.path).name
    return f"{text}<br><sup>{html.escape(str(name))}</sup>"


# -- parallel coordinates -----------------------------------------------------------------------


def _log_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Ticks for a log10 axis holding ``lo`` to ``hi`` (log10 values): decades, or 1-2-5 steps
    for spans under three decades. The first and last ticks are the nice values just outside
    the data, so the axis, drawn from the first tick to the last, has a label at both ends.

    >>> _log_ticks(math.log10(3e-5), math.log10(0.08))[1]
    ['1e-05', '0.0001', '0.001', '0.01', '0.1']
    >>> _log_ticks(math.log10(0.013), math.log10(1.7))[1]
    ['0.01', '0.02', '0.05', '0.1', '0.2', '0.5', '1', '2']
    """
    first, last = math.floor(lo), math.ceil(hi)
    mantissas = (1.0,) if hi - lo >= 3 else (1.0, 2.0, 5.0)
    vals = [e + math.log10(m) for e in range(first, last + 1) for m in mantissas]
    start = max(v for v in vals if v <= lo + 1e-9)
    end = min(v for v in vals if v >= hi - 1e-9)
    vals = [v for v in vals if start <= v <= end]
    return vals, [f"{10**v:.3g}" for v in vals]


def _axis(name: str, values: list[Any]) -> dict[str, Any] | None:
    """One parcoords dimension for a parameter, or None if it has a single value."""
    label = html.escape(name if len(name) <= 28 else name[:27] + "…")
    if is_numeric_values(values) and not any(isinstance(v, (bool, np.bool_)) for v in values):
        x = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
        finite = x[np.isfinite(x)]
        if np.unique(finite).size < 2:
            return None
        if is_log_scale(x):
            lx = np.log10(x)
            tickvals, ticktext = _log_ticks(float(np.nanmin(lx)), float(np.nanmax(lx)))
            return {"label": f"{label} (log)", "values": lx,
                    "range": [tickvals[0], tickvals[-1]],
                    "tickvals": tickvals, "ticktext": ticktext}
        return {"label": label, "values": x}
    labels = [str(v) for v in values]
    levels = sorted(set(labels), key=lambda s: (s == "None", s))
    if len(levels) < 2:
        return None
    code = {lv: i for i, lv in enumerate(levels)}
    step = max(1, math.ceil(len(levels) / 25))  # at most ~25 labels on an axis
    shown = levels[::step]
    return {
        "label": label,
        "values": np.array([code[s] for s in labels], dtype=float),
        "range": [0, len(levels) - 1],
        "tickvals": [code[s] for s in shown],
        "ticktext": [html.escape(s if len(s) <= 18 else s[:17] + "…") for s in shown],
    }


def parallel_figure(
    result: SweepResult, metric: str | None = None, max_trials: int | None = MAX_DRAWN_TRIALS
) -> Any:
    """Parallel coordinates of the parameters and the metric, one line per trial.

    Lines are coloured by the metric (brightest = best). Trials without a metric value yet
    (failed, pending) are left out; parameters with one value are listed in the subtitle.

    Args:
        result: The sweep.
        metric: Metric to show [default: the sweep's metric].
        max_trials: Above this many trials with a value, draw this many (the best and a
            seeded random sample, see :func:`sample_positions`); None draws every one.

    Returns:
        A ``plotly.graph_objects.Figure``.
    """
    go = graph_objects()
    metric = metric_name(result, metric)
    col, label = value_column(result, metric)
    title = _title(result, "Parallel coordinates")
    trials = result.trials
    if col is not None:
        y = numbers(trials[col]) if len(trials) else np.zeros(0)
        keep = np.isfinite(y)
        trials, y = trials.loc[keep], y[keep]
    else:
        y = np.arange(1, len(trials) + 1, dtype=float)
    if trials.empty:
        return _empty_figure(title, "No trial has a metric value yet.")
    valued = len(trials)
    pick = sample_positions(valued, max_trials)
    if len(pick) < valued:
        trials, y = trials.iloc[pick], y[pick]
    dims = []
    constant = []
    for name in parameters(result):
        values = list(trials[name])
        dim = _axis(name, values)
        if dim is None:
            constant.append(f"{name}={fmt(values[0])}")
        else:
            dims.append(dim)
    mode = goal_mode(result, metric)
    if col is not None:
        dims.append({"label": html.escape(label), "values": y})
        line = {"color": y, "colorscale": "Viridis", "reversescale": mode == "min",
                "showscale": True, "colorbar": {"title": {"text": html.escape(label)},
                                                "thickness": 14}}
    else:
        line = {"color": y, "colorscale": "Viridis", "showscale": True,
                "colorbar": {"title": {"text": "trial #"}, "thickness": 14}}
    left = len(result.trials) - valued
    notes = [sample_note(len(trials), valued)]
    if left:
        notes.append(f"{left} without a value left out")
    if constant:
        notes.append("constant: " + ", ".join(constant[:6]) + (" …" if len(constant) > 6 else ""))
    fig = go.Figure(go.Parcoords(dimensions=dims, line=line, labelangle=0,
                                 labelfont={"size": 12}, tickfont={"size": 10}))
    fig.update_layout(
        title={"text": f"Parallel coordinates<br><sup>{html.escape('; '.join(notes))}</sup>",
               "y": 0.97, "yanchor": "top"},
        template="plotly_white", height=500, margin={"l": 70, "r": 40, "t": 140, "b": 30},
    )
    return fig


# -- importance ---------------------------------------------------------------------------------


def importance_table(
    result: SweepResult, metric: str | None = None, max_trials: int | None = None
) -> pd.DataFrame:
    """Importance and correlation of each parameter with the metric (see
    :func:`raysweep.analysis.importance.parameter_importance`), over every trial with a
    value, or over ``max_trials`` of them (the best and a seeded random sample)."""
    col, _ = value_column(result, metric_name(result, metric))
    trials = result.trials
    if max_trials is not None and col is not None and len(trials) > max_trials:
        valued = trials.loc[np.isfinite(numbers(trials[col]))]
        trials = valued.iloc[sample_positions(len(valued), max_trials)]
    # Without a value column parameter_importance gives its empty table, as for no trials.
    return parameter_importance(trials, parameters(result), col)


def importance_figure(
    result: SweepResult, metric: str | None = None, max_trials: int | None = MAX_DRAWN_TRIALS
) -> Any:
    """Parameter importance (random forest) and correlation with the metric, side by side.

    Categorical parameters show one row per value (``optimizer=adam``), as in W&B; parameters
    on a log scale are correlated as ``log10``. Above ``max_trials`` trials with a value, both
    are measured on that many (the best and a seeded random sample); None uses every one.

    Returns:
        A ``plotly.graph_objects.Figure``.
    """
    go = graph_objects()
    from plotly.subplots import make_subplots

    metric = metric_name(result, metric)
    col, label = value_column(result, metric)
    title = "Parameter importance"
    table = importance_table(result, metric, max_trials)
    if col is None:
        return _empty_figure(title, "The sweep has no metric.")
    if table.empty:
        return _empty_figure(title, "Not enough trials with a metric value, or no parameter "
                                    "takes more than one value.")
    table = table.head(MAX_IMPORTANCE_ROWS)
    n = int(table["n"].iloc[0])
    names = [html.escape(f) for f in table["feature"]]
    corr = table["correlation"].to_numpy(dtype=float)
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=("importance", "correlation"))
    fig.add_trace(go.Bar(x=table["importance"], y=names, orientation="h",
                         marker_color="#3b6fb6", name="importance",
                         hovertemplate="%{y}: importance %{x:.3f}<extra></extra>"), 1, 1)
    fig.add_trace(go.Bar(x=np.nan_to_num(corr), y=names, orientation="h",
                         marker_color=["#3a9a4a" if c >= 0 else "#c8372d"
                                       for c in np.nan_to_num(corr)],
                         name="correlation", customdata=corr,
                         hovertemplate="%{y}: r = %{customdata:.3f}<extra></extra>"), 1, 2)
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(range=[0, max(0.05, float(table["importance"].max()) * 1.05)], row=1, col=1)
    fig.update_xaxes(range=[-1, 1], zeroline=True, zerolinecolor="#888", row=1, col=2)
    valued = int(np.isfinite(numbers(result.trials[col])).sum()) if col in result.trials else n
    over = f"{n} trials" if n >= valued else (
        f"{n:,} of {valued:,} trials (the best and a random sample)")
    sub = (f"random forest of {label} over {over} (importances sum to 1); "
           f"Pearson correlation with {label}")
    fig.update_layout(
        title={"text": f"{title}<br><sup>{html.escape(sub)}</sup>"},
        template="plotly_white", showlegend=False,
        height=max(420, 120 + 26 * len(table)), margin={"l": 10, "r": 30, "t": 100, "b": 40},
    )
    return fig


# -- curves -------------------------------------------------------------------------------------


def _thin(n: int, k: int) -> np.ndarray:
    """Indices of at most ``k`` of ``n`` points, evenly spaced, first and last kept."""
    if n <= k:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, k).round().astype(np.int64))


def _why(info: pd.DataFrame | None, tid: str, column: str) -> str:
    """The last line of a trial's stop reason or error (for hover text), or ""."""
    if info is None or tid not in info.index or column not in info:
        return ""
    raw = info.at[tid, column]
    if raw is None or (isinstance(raw, float) and math.isnan(raw)) or not str(raw).strip():
        return ""
    return str(raw).strip().splitlines()[-1][:160]


def _log_axis(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    return bool(finite.size and finite.min() > 0 and finite.max() / finite.min() >= LOG_SPAN)


def _drawn_ids(result: SweepResult, ids: np.ndarray, max_trials: int | None) -> np.ndarray:
    """Which of the trial ids ``ids`` (unique) to draw: all up to ``max_trials``, else that
    many, the best (table order) and a seeded random sample."""
    if max_trials is None or len(ids) <= max_trials:
        return ids
    present = set(ids.tolist())
    ranked = [t for t in result.trials["trial_id"].tolist() if t in present]
    known = set(ranked)
    ranked += sorted(t for t in present if t not in known)
    picked: np.ndarray = np.array(ranked, dtype=object)[sample_positions(len(ranked), max_trials)]
    return picked


def resumed_chains(result: SweepResult) -> dict[str, str]:
    """For a sweep whose paused trials resumed from checkpoints (``resume: checkpoint``):
    each trial's chain, the first trial of the run of trials that continue one another
    (a configuration trained again from the start begins a new chain); else empty."""
    trials = result.trials
    if "resumed_from_step" not in trials or "rerun_of" not in trials or trials.empty:
        return {}
    by_id = trials.set_index("trial_id")
    chains: dict[str, str] = {}
    current: dict[str, str] = {}  # lineage -> the chain it continues now
    for tid in result.trial_order:
        if tid not in by_id.index:
            continue
        lineage, start = by_id.at[tid, "rerun_of"], by_id.at[tid, "resumed_from_step"]
        if not isinstance(lineage, str):
            current[tid] = chains[tid] = tid
        elif start == start and start > 0 and lineage in current:  # not NaN: resumed
            chains[tid] = current[lineage]
        else:
            current[lineage] = chains[tid] = tid
    return chains


def curves_figure(
    result: SweepResult, metric: str | None = None, max_points: int = MAX_CURVE_POINTS,
    max_trials: int | None = MAX_DRAWN_TRIALS,
) -> Any:
    """The metric against the step for every trial, coloured by status; a configuration
    resumed from checkpoints is one curve across its trials (:func:`resumed_chains`).

    Trials a scheduler stopped get an X at their last step (hover shows why), failed ones a
    red X; the best trial is drawn on top in black. Curves are thinned to at most
    ``max_points`` points in all (evenly spaced steps, first and last kept). Above
    ``max_trials`` trials, that many are drawn (the best and a seeded random sample); None
    draws every one.

    Returns:
        A ``plotly.graph_objects.Figure``.
    """
    go = graph_objects()
    metric = metric_name(result, metric)
    title = f"{metric} per step" if metric else "Metric per step"
    hist = result.history
    if metric is None or metric not in hist or hist.empty:
        return _empty_figure(title, "No metric reported yet.")
    frame = hist[["trial_id", "step", metric]].copy()
    frame[metric] = numbers(frame[metric])
    frame["step"] = numbers(frame["step"])
    frame = frame.dropna(subset=[metric, "step"])
    if frame.empty:
        return _empty_figure(title, "No metric reported yet.")
    all_ids = frame["trial_id"].unique()
    drawn = _drawn_ids(result, all_ids, max_trials)
    if len(drawn) < len(all_ids):
        frame = frame.loc[frame["trial_id"].isin(set(drawn.tolist()))]
    # A configuration resumed from checkpoints is one curve across its trials.
    chains = resumed_chains(result)
    frame["curve"] = frame["trial_id"].map(chains).fillna(frame["trial_id"]) if chains else (
        frame["trial_id"])
    frame = frame.sort_values(["curve", "step"], kind="stable")
    ids = frame["curve"].to_numpy()
    trial_ids = frame["trial_id"].to_numpy()
    steps = frame["step"].to_numpy(dtype=float)
    values = frame[metric].to_numpy(dtype=float)
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    ends = np.r_[starts[1:], len(ids)]
    n_trials = len(starts)
    per_trial = int(np.clip(max_points // max(n_trials, 1), MIN_POINTS_PER_TRIAL,
                            MAX_POINTS_PER_TRIAL))
    info = result.trials.set_index("trial_id") if len(result.trials) else None
    best = result.best
    best_id = best["trial_id"] if best else None
    groups: dict[str, tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]] = {}
    marks: dict[str, list[tuple[float, float, str]]] = {"stopped": [], "failed": []}
    best_curve: tuple[np.ndarray, np.ndarray] | None = None
    gap = np.array([np.nan])
    for s, e in zip(starts, ends, strict=True):
        tid = trial_ids[e - 1]  # a chain's status is its last trial's
        status = "running"
        if info is not None and tid in info.index:
            status = str(info.at[tid, "status"])
        sel = s + _thin(e - s, per_trial)
        xs, ys = steps[sel], values[sel]
        if best_id in trial_ids[s:e]:
            best_curve = (steps[s:e], values[s:e])
        g = groups.setdefault(status, ([], [], []))
        g[0].extend((xs, gap))
        g[1].extend((ys, gap))
        g[2].extend((trial_ids[sel], np.array([tid], dtype=object)))
        if status in marks:
            why = _why(info, tid, "stop_reason" if status == "stopped" else "error")
            text = f"{tid}: {html.escape(why)}" if why else str(tid)
            marks[status].append((steps[e - 1], values[e - 1], text))
    n_lines = n_trials
    opacity = float(np.clip(2.2 / math.sqrt(n_lines), 0.18, 0.85))
    fig = go.Figure()
    for status in sorted(groups, key=status_rank):
        xs_l, ys_l, tx_l = groups[status]
        count = len(tx_l)
        fig.add_trace(go.Scattergl(
            x=np.concatenate(xs_l).astype(np.float32), y=np.concatenate(ys_l).astype(np.float32),
            text=np.concatenate(tx_l), mode="lines", name=f"{status} ({count})",
            line={"color": STATUS_COLORS.get(status, OTHER_COLOR), "width": 1.2},
            opacity=opacity, connectgaps=False,
            hovertemplate=f"%{{text}}<br>step %{{x}}<br>{html.escape(metric)} %{{y:.4g}}"
                          f"<extra>{status}</extra>",
        ))
    symbols = {"stopped": ("x", STATUS_COLORS["stopped"], "stopped early (X)"),
               "failed": ("x", STATUS_COLORS["failed"], "failed (X)")}
    for status, points in marks.items():
        if not points:
            continue
        symbol, color, name = symbols[status]
        fig.add_trace(go.Scattergl(
            x=[p[0] for p in points], y=[p[1] for p in points], text=[p[2] for p in points],
            mode="markers", name=name,
            marker={"symbol": symbol, "size": 9, "color": color,
                    "line": {"width": 1.5, "color": color}},
            hovertemplate="%{text}<br>step %{x}<br>%{y:.4g}<extra></extra>",
        ))
    if best_curve is not None:
        bx, by = best_curve
        k = _thin(len(bx), MAX_POINTS_PER_TRIAL)
        fig.add_trace(go.Scattergl(
            x=bx[k], y=by[k], mode="lines", name=f"best: {best_id}",
            line={"color": "#111", "width": 2.6},
            hovertemplate=f"best {best_id}<br>step %{{x}}<br>%{{y:.4g}}<extra></extra>",
        ))
    thinned = "" if per_trial >= int(np.max(ends - starts)) else (
        f"; at most {per_trial} points per curve shown")
    fig.update_layout(
        title={"text": f"{html.escape(title)}<br>"
                       f"<sup>{sample_note(len(set(trial_ids)), len(all_ids))}{thinned}</sup>"},
        template="plotly_white", height=480, hovermode="closest",
        xaxis={"title": {"text": "step"}},
        yaxis={"title": {"text": html.escape(metric)},
               "type": "log" if _log_axis(values) else "linear"},
        legend={"orientation": "h", "y": -0.18},
        margin={"l": 70, "r": 30, "t": 90, "b": 60},
    )
    return fig


# -- best so far --------------------------------------------------------------------------------

# Tukey's "far out" fence: values this many interquartile ranges beyond the quartiles.
_OUTLIER_FENCE = 3.0


def _far_worse(values: np.ndarray, mode: str) -> np.ndarray:
    """Which values are far worse than the rest (a diverged loss, a broken trial's accuracy).

    Worse than the bad quartile by :data:`_OUTLIER_FENCE` interquartile ranges, measured on
    ``log10`` when every value is positive (losses often span decades). Only the bad side
    counts: a far better value is the best so far, which the plot must show.

    >>> _far_worse(np.array([0.31, 0.3, 0.35, 0.33, 0.32, 0.34, 1e6]), "min").tolist()
    [False, False, False, False, False, False, True]
    >>> _far_worse(np.array([0.9, 0.91, 0.92, 0.93, 0.94, 0.1, np.nan]), "max").tolist()
    [False, False, False, False, False, True, False]
    """
    finite = np.isfinite(values)
    worse = np.zeros(values.shape, dtype=bool)
    if finite.sum() < 5:  # too few values to tell the rest's spread
        return worse
    scaled = np.full(values.shape, np.nan)
    positive = bool(values[finite].min() > 0)
    scaled[finite] = np.log10(values[finite]) if positive else values[finite]
    q1, q3 = np.percentile(scaled[finite], [25, 75])
    spread = q3 - q1
    if spread <= 0:
        return worse
    with np.errstate(invalid="ignore"):
        if mode == "min":
            worse[finite] = scaled[finite] > q3 + _OUTLIER_FENCE * spread
        else:
            worse[finite] = scaled[finite] < q1 - _OUTLIER_FENCE * spread
    return worse


def _value_axis(
    values: np.ndarray, mode: str
) -> tuple[dict[str, Any], float | None, np.ndarray]:
    """The y axis of the best-so-far plot, where far worse values are drawn (or None), and
    which values those are.

    The axis holds every value but the :func:`_far_worse` ones, so a diverged trial does not
    flatten the best-so-far line; it is logarithmic when those values are positive and span
    two decades or more. The far worse values go at the axis' bad edge (the returned height).
    """
    worse = _far_worse(values, mode)
    kept = values[np.isfinite(values) & ~worse]
    if not kept.size:
        return {"type": "linear"}, None, worse
    log = _log_axis(kept)
    if not worse.any():
        return {"type": "log" if log else "linear"}, None, worse
    lo, hi = (math.log10(kept.min()), math.log10(kept.max())) if log else (
        float(kept.min()), float(kept.max()))
    pad = 0.06 * (hi - lo) or 0.06 * abs(hi) or 1.0
    bottom, top = lo - pad, hi + pad
    edge = top - pad / 3 if mode == "min" else bottom + pad / 3
    return ({"type": "log" if log else "linear", "range": [bottom, top]},
            10**edge if log else edge, worse)



def best_figure(
    result: SweepResult, metric: str | None = None, max_trials: int | None = MAX_DRAWN_TRIALS
) -> Any:
    """Each trial's value and the best so far against the trial number (start order).

    Values far worse than the rest are drawn at the axis' edge (their value on hover), so they
    do not flatten the best-so-far line; values spanning decades get a log axis. Above
    ``max_trials`` trials, markers are drawn for that many (the best and a seeded random
    sample; None draws every one); the best-so-far line always follows every trial.

    Returns:
        A ``plotly.graph_objects.Figure``.
    """
    go = graph_objects()
    metric = metric_name(result, metric)
    col, label = value_column(result, metric)
    title = "Best so far"
    if col is None or result.trials.empty:
        return _empty_figure(title, "No metric values yet.")
    numbered = start_order(result)
    trials = result.trials
    x = np.array([numbered[t] for t in trials["trial_id"]], dtype=float)
    y = numbers(trials[col])
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    ids = trials["trial_id"].to_numpy()[order]
    status = trials["status"].astype(str).to_numpy()[order]
    if not np.isfinite(y).any():
        return _empty_figure(title, "No metric values yet.")
    mode = goal_mode(result, metric)
    running = running_best(y, mode)
    drawn = np.ones(len(x), dtype=bool)
    pick = sample_positions(len(x), max_trials)  # positions in the table (best first)
    if len(pick) < len(x):
        drawn[:] = False
        drawn[np.argsort(order, kind="stable")[pick]] = True  # table position -> start order
    fig = go.Figure()
    scatter = go.Scattergl if len(x) > 1000 else go.Scatter
    for st in sorted(set(status), key=status_rank):
        sel = (status == st) & np.isfinite(y) & drawn
        if not sel.any():
            continue
        fig.add_trace(scatter(
            x=x[sel], y=y[sel], text=ids[sel], mode="markers", name=f"{st} ({int(sel.sum())})",
            marker={"color": STATUS_COLORS.get(st, OTHER_COLOR), "size": 7, "opacity": 0.8},
            hovertemplate=f"trial #%{{x}} %{{text}}<br>{html.escape(label)} %{{y:.4g}}"
                          f"<extra>{st}</extra>",
        ))
    yaxis, edge, worse = _value_axis(y, mode)
    worse &= drawn
    sub = f"{label}, goal {mode}imize"
    if not drawn.all():
        sub += f"; {sample_note(int(drawn.sum()), len(x))}"
    if edge is not None and worse.any():
        # Far worse values would squash the axis: shown at its edge, their value on hover.
        arrow = "▲" if mode == "min" else "▼"
        sub += f"; {int(worse.sum())} far worse values shown as {arrow} at the edge"
        fig.add_trace(scatter(
            x=x[worse], y=np.full(int(worse.sum()), edge), customdata=y[worse],
            text=ids[worse], mode="markers", name=f"far worse ({int(worse.sum())})",
            marker={"symbol": "triangle-up" if mode == "min" else "triangle-down",
                    "color": OTHER_COLOR, "size": 9},
            hovertemplate=f"trial #%{{x}} %{{text}}<br>{html.escape(label)} "
                          "%{customdata:.4g} (off the axis)<extra></extra>",
        ))
    # WebGL traces draw above SVG ones: the line must be of the markers' kind to stay on top.
    line = go.Scattergl if scatter is go.Scattergl else go.Scatter
    if not drawn.all():  # the step line needs only the trials that changed the best (and the end)
        finite = np.isfinite(running)
        changed = finite & np.r_[True, running[1:] != running[:-1]]
        changed[-1] = True
        x, running = x[changed], running[changed]
    fig.add_trace(line(
        x=x, y=running, mode="lines", line={"shape": "hv", "color": "#111", "width": 2.4},
        name="best so far", hovertemplate="after %{x} trials: %{y:.4g}<extra></extra>",
    ))
    fig.update_layout(
        title={"text": f"{title}<br><sup>{html.escape(sub)}</sup>"},
        template="plotly_white", height=420, hovermode="closest",
        xaxis={"title": {"text": "trial number (start order)"}},
        yaxis={"title": {"text": html.escape(label)}, **yaxis},
        legend={"orientation": "h", "y": -0.22},
        margin={"l": 70, "r": 30, "t": 90, "b": 60},
    )
    return fig


# -- Pareto front -------------------------------------------------------------------------------

FRONT_COLOR = "#c8372d"
_DOMINATED_COLOR = "#9aa3b5"


def pareto_figure(result: SweepResult, max_trials: int | None = MAX_DRAWN_TRIALS) -> Any:
    """A multi-objective sweep's Pareto front (the trials table's ``pareto`` column).

    Two objectives: one against the other, each trial a point at its last values; the front
    in colour, joined by the steps that bound what it dominates, the dominated trials faded.
    Three or more: parallel coordinates of the parameters and the objectives, front trials in
    colour (drawn last, on top). Only finished and stopped trials with a value for every
    objective are drawn (the others are not judged).

    Args:
        result: The sweep.
        max_trials: Above this many trials to draw, the front and a seeded random sample of
            the dominated ones, this many in all; None draws every one.

    Returns:
        A ``plotly.graph_objects.Figure``.
    """
    graph_objects()
    title = "Pareto front"
    objectives = meta_objectives(result.meta)
    if len(objectives) < 2:
        return _empty_figure(title, "Not a multi-objective sweep (no `metrics:`).")
    trials = result.trials
    if trials.empty:
        return _empty_figure(title, "No trial has ended yet.")
    values = np.column_stack([numbers(trials[name]) for name, _ in objectives])
    judged = (trials["status"].isin(FRONT_STATUSES).to_numpy()
              & np.isfinite(values).all(axis=1))
    if not judged.any():
        return _empty_figure(title, "No finished trial has a value for every objective yet.")
    front = trials["pareto"].to_numpy(dtype=bool) & judged
    dominated = np.flatnonzero(judged & ~front)
    limit = None if max_trials is None else max(max_trials - int(front.sum()), 0)
    shown = dominated[sample_positions(len(dominated), limit)] if len(dominated) else dominated
    notes = [f"{int(front.sum())} on the front of {int(judged.sum())} trials judged"]
    if len(shown) < len(dominated):
        notes.append(f"{len(shown):,} of {len(dominated):,} dominated trials drawn (a random "
                     "sample)")
    left = len(trials) - int(judged.sum())
    if left:
        notes.append(f"{left} not judged (running, failed, or missing an objective)")
    notes.append("each trial at its last values")
    if len(objectives) > 2:
        notes.append("the front in red, dominated trials in grey")
    if len(objectives) == 2:
        fig = _pareto_scatter(result, objectives, values, np.flatnonzero(front), shown)
    else:
        fig = _pareto_parallel(result, objectives, values, np.flatnonzero(front), shown)
    fig.update_layout(title={"text": f"{title}<br><sup>{html.escape('; '.join(notes))}</sup>"})
    return fig


def _objective_label(name: str, mode: str) -> str:
    return html.escape(f"{name} ({'lower' if mode == 'min' else 'higher'} is better)")


def _pareto_scatter(result: SweepResult, objectives: list[tuple[str, str]], values: np.ndarray,
                    front: np.ndarray, dominated: np.ndarray) -> Any:
    go = graph_objects()
    ids = result.trials["trial_id"].astype(str).to_numpy()
    status = result.trials["status"].astype(str).to_numpy()
    (xname, xmode), (yname, ymode) = objectives
    hover = (f"trial %{{text}}<br>{html.escape(xname)} %{{x:.4g}}<br>"
             f"{html.escape(yname)} %{{y:.4g}}<extra>%{{customdata}}</extra>")
    scatter = go.Scattergl if len(front) + len(dominated) > 1000 else go.Scatter
    fig = go.Figure()
    if len(dominated):
        fig.add_trace(scatter(
            x=values[dominated, 0], y=values[dominated, 1], text=ids[dominated],
            customdata=status[dominated], mode="markers", name=f"dominated ({len(dominated)})",
            marker={"color": _DOMINATED_COLOR, "size": 7, "opacity": 0.35},
            hovertemplate=hover,
        ))
    # The staircase bounding what the front dominates: points in the better x first, then
    # across to the next point's x and on to its y.
    step = front[np.argsort(values[front, 0] * (1.0 if xmode == "min" else -1.0),
                            kind="stable")]
    fig.add_trace(scatter(
        x=values[step, 0], y=values[step, 1], text=ids[step], customdata=status[step],
        mode="lines+markers", name=f"Pareto front ({len(front)})",
        line={"shape": "hv", "color": FRONT_COLOR, "width": 1.5},
        marker={"color": FRONT_COLOR, "size": 9, "line": {"color": "#fff", "width": 1}},
        hovertemplate=hover,
    ))
    fig.update_layout(
        template="plotly_white", height=480, hovermode="closest",
        xaxis={"title": {"text": _objective_label(xname, xmode)}},
        yaxis={"title": {"text": _objective_label(yname, ymode)}},
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 70, "r": 30, "t": 90, "b": 60},
    )
    return fig


def _pareto_parallel(result: SweepResult, objectives: list[tuple[str, str]],
                     values: np.ndarray, front: np.ndarray, dominated: np.ndarray) -> Any:
    go = graph_objects()
    rows = np.r_[dominated, front]  # the front last: drawn on top
    trials = result.trials.iloc[rows]
    dims = []
    for name in parameters(result):
        dim = _axis(name, list(trials[name]))
        if dim is not None:
            dims.append(dim)
    for j, (name, mode) in enumerate(objectives):
        dims.append({"label": _objective_label(name, mode), "values": values[rows, j]})
    on_front = np.r_[np.zeros(len(dominated)), np.ones(len(front))]
    line = {"color": on_front, "cmin": 0, "cmax": 1, "showscale": False,
            "colorscale": [[0, _DOMINATED_COLOR], [1, FRONT_COLOR]]}
    fig = go.Figure(go.Parcoords(dimensions=dims, line=line, labelangle=0,
                                 labelfont={"size": 12}, tickfont={"size": 10}))
    fig.update_layout(template="plotly_white", height=500,
                      margin={"l": 70, "r": 40, "t": 140, "b": 30})
    return fig
