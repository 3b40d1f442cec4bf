"""Pictures of a sweep: the plots W&B users judge a sweep by, as plotly figures and as one
self-contained HTML report that opens offline.

- :func:`parallel_figure`: parallel coordinates of every parameter (categoricals as labelled
  axes, log-distributed numbers on a log axis) and the metric, one line per trial.
- :func:`importance_figure`: parameter importance (random forest) next to the correlation
  with the metric, as W&B's panel shows both (:mod:`raysweep.analysis.importance`).
- :func:`curves_figure`: the metric against the step for every trial; trials a scheduler
  stopped are marked with an X where they stopped, failed ones with a red X.
- :func:`best_figure`: each trial's value and the best so far against the trial number (the
  order in which trials started).
- :func:`build_report` / :func:`write_report`: all of them, a summary and a sortable table of
  trials in one HTML file. plotly.js is inlined once (about 4.8 MB), so the file needs no
  network; curves are thinned to at most :data:`MAX_CURVE_POINTS` points in all, so a
  2,000-trial sweep stays under 10 MB.
- :func:`repr_html`: a notebook summary (counts, best trial, best-so-far sparkline, top
  trials) that needs neither plotly nor JavaScript.

plotly is an optional dependency (``pip install 'raysweep[report]'``); only the figures and the
report need it. This module is pure: it builds figures and text, and writes only the file it
is asked to write.
"""

from __future__ import annotations

import html
import json
import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from raysweep.analysis.importance import is_log_scale, is_numeric_values, parameter_importance
from raysweep.analysis.tables import HISTORY_KEYS, reported_names
from raysweep.errors import RaysweepError
from raysweep.files import write_text_atomic

if TYPE_CHECKING:
    import pandas as pd

    from raysweep.analysis.tables import SweepResult

__all__ = [
    "MAX_CURVE_POINTS",
    "PLOTLY_HINT",
    "best_figure",
    "build_report",
    "curves_figure",
    "importance_figure",
    "parallel_figure",
    "repr_html",
    "write_report",
]

PLOTLY_HINT = "pip install 'raysweep[report]'"
MAX_CURVE_POINTS = 60_000  # all trials' curves together
MAX_POINTS_PER_TRIAL = 500
MIN_POINTS_PER_TRIAL = 12
MAX_IMPORTANCE_ROWS = 25
STATUS_COLORS = {
    "finished": "#3b6fb6",
    "stopped": "#e8833a",
    "failed": "#c8372d",
    "running": "#3a9a4a",
    "retrying": "#8e6bbf",
    "interrupted": "#7f7f7f",
    "pending": "#b0b0b0",
}
PLOT_CONFIG = {"displaylogo": False, "responsive": True}
_OTHER_COLOR = "#9a9a9a"


def _go() -> Any:
    """``plotly.graph_objects``, or a RaysweepError that says how to install it."""
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise RaysweepError(
            f"plots and reports need plotly, which raysweep does not install by default: "
            f"{PLOTLY_HINT}"
        ) from None
    return go


# -- what to plot -----------------------------------------------------------------------------


def _mode(result: SweepResult) -> str:
    return "max" if result.meta.get("mode") == "max" else "min"


def _metric_name(result: SweepResult, metric: str | None) -> str | None:
    """The metric to plot: ``metric``, else the sweep's, else the first one reported.

    Raises:
        RaysweepError: ``metric`` was given, trials have reported, and none reported it (a
            typo would otherwise plot an empty figure that says "no metric reported yet").
    """
    history = result.history
    if metric is not None:
        known = [str(c) for c in history.columns if c not in HISTORY_KEYS]
        if len(history) and metric not in known and metric not in result.trials:
            raise RaysweepError(
                f"no metric {metric!r} in the sweep {result.path}; its trials reported: "
                f"{', '.join(reported_names(history)) or 'nothing'}"
            )
        return metric
    if result.metric is not None:
        return result.metric
    for col in history.columns:
        if col not in HISTORY_KEYS and is_numeric_values(history[col].head(50).tolist()):
            return str(col)
    return None


def _value_column(result: SweepResult, metric: str | None) -> tuple[str | None, str]:
    """The trials column that ranks trials for ``metric`` and its label."""
    if metric is None:
        return None, ""
    if f"{metric}_best" in result.trials:
        return f"{metric}_best", f"{metric} (best)"
    if metric in result.trials:
        return metric, metric
    return None, metric


def _numbers(series: pd.Series) -> np.ndarray:
    import pandas as pd

    out: np.ndarray = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float,
                                                                     na_value=np.nan)
    return out


def _parameters(result: SweepResult) -> list[str]:
    names = [p for p in result.meta.get("parameters") or [] if p in result.trials]
    return names


def _start_order(result: SweepResult) -> dict[str, int]:
    """Trial id -> trial number (1-based, in the order trials started)."""
    order = list(result.trial_order) or list(result.trials["trial_id"])
    numbers = {tid: i for i, tid in enumerate(order, 1)}
    for tid in result.trials["trial_id"]:
        numbers.setdefault(tid, len(numbers) + 1)
    return numbers


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    return str(value)


def _empty_figure(title: str, message: str, height: int = 260) -> Any:
    go = _go()
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


def _decade_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Ticks for a log10 axis from ``lo`` to ``hi`` (log10 values): decades, or 1-2-5 steps."""
    first, last = math.floor(lo), math.ceil(hi)
    mantissas = (1.0,) if last - first >= 3 else (1.0, 2.0, 5.0)
    vals = [e + math.log10(m) for e in range(first, last + 1) for m in mantissas]
    vals = [v for v in vals if lo - 1e-9 <= v <= hi + 1e-9]
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
            lo, hi = float(np.nanmin(lx)), float(np.nanmax(lx))
            tickvals, ticktext = _decade_ticks(lo, hi)
            return {"label": f"{label} (log)", "values": lx, "range": [lo, hi],
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


def parallel_figure(result: SweepResult, metric: str | None = None) -> Any:
    """Parallel coordinates of the parameters and the metric, one line per trial.

    Lines are coloured by the metric (brightest = best). Trials without a metric value yet
    (failed, pending) are left out; parameters with one value are listed in the subtitle.

    Args:
        result: The sweep.
        metric: Metric to show [default: the sweep's metric].

    Returns:
        A ``plotly.graph_objects.Figure``.
    """
    go = _go()
    metric = _metric_name(result, metric)
    col, label = _value_column(result, metric)
    title = _title(result, "Parallel coordinates")
    trials = result.trials
    if col is not None:
        y = _numbers(trials[col]) if len(trials) else np.zeros(0)
        keep = np.isfinite(y)
        trials, y = trials.loc[keep], y[keep]
    else:
        y = np.arange(1, len(trials) + 1, dtype=float)
    if trials.empty:
        return _empty_figure(title, "No trial has a metric value yet.")
    dims = []
    constant = []
    for name in _parameters(result):
        values = list(trials[name])
        dim = _axis(name, values)
        if dim is None:
            constant.append(f"{name}={_fmt(values[0])}")
        else:
            dims.append(dim)
    mode = _mode(result)
    if col is not None:
        dims.append({"label": html.escape(label), "values": y})
        line = {"color": y, "colorscale": "Viridis", "reversescale": mode == "min",
                "showscale": True, "colorbar": {"title": {"text": html.escape(label)},
                                                "thickness": 14}}
    else:
        line = {"color": y, "colorscale": "Viridis", "showscale": True,
                "colorbar": {"title": {"text": "trial #"}, "thickness": 14}}
    left = len(result.trials) - len(trials)
    notes = [f"{len(trials)} trials"]
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


def importance_table(result: SweepResult, metric: str | None = None) -> pd.DataFrame:
    """Importance and correlation of each parameter with the metric (see
    :func:`raysweep.analysis.importance.parameter_importance`)."""
    metric = _metric_name(result, metric)
    col, _ = _value_column(result, metric)
    if col is None:
        import pandas as pd

        return pd.DataFrame(columns=["feature", "parameter", "importance", "correlation", "n"])
    return parameter_importance(result.trials, _parameters(result), col)


def importance_figure(result: SweepResult, metric: str | None = None) -> Any:
    """Parameter importance (random forest) and correlation with the metric, side by side.

    Categorical parameters show one row per value (``optimizer=adam``), as in W&B; parameters
    on a log scale are correlated as ``log10``.

    Returns:
        A ``plotly.graph_objects.Figure``.
    """
    go = _go()
    from plotly.subplots import make_subplots

    metric = _metric_name(result, metric)
    col, label = _value_column(result, metric)
    title = "Parameter importance"
    table = importance_table(result, metric)
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
    sub = (f"random forest of {label} over {n} trials (importances sum to 1); "
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
    return bool(finite.size and finite.min() > 0 and finite.max() / finite.min() >= 100)


def curves_figure(
    result: SweepResult, metric: str | None = None, max_points: int = MAX_CURVE_POINTS
) -> Any:
    """The metric against the step for every trial, coloured by status.

    Trials a scheduler stopped get an X at their last step (hover shows why), failed ones a
    red X; the best trial is drawn on top in black. Curves are thinned to at most
    ``max_points`` points in all (evenly spaced steps, first and last kept).

    Returns:
        A ``plotly.graph_objects.Figure``.
    """
    go = _go()
    metric = _metric_name(result, metric)
    title = f"{metric} per step" if metric else "Metric per step"
    hist = result.history
    if metric is None or metric not in hist or hist.empty:
        return _empty_figure(title, "No metric reported yet.")
    frame = hist[["trial_id", "step", metric]].copy()
    frame[metric] = _numbers(frame[metric])
    frame["step"] = _numbers(frame["step"])
    frame = frame.dropna(subset=[metric, "step"])
    if frame.empty:
        return _empty_figure(title, "No metric reported yet.")
    frame = frame.sort_values(["trial_id", "step"], kind="stable")
    ids = frame["trial_id"].to_numpy()
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
        tid = ids[s]
        status = "running"
        if info is not None and tid in info.index:
            status = str(info.at[tid, "status"])
        sel = s + _thin(e - s, per_trial)
        xs, ys = steps[sel], values[sel]
        if tid == best_id:
            best_curve = (steps[s:e], values[s:e])
        g = groups.setdefault(status, ([], [], []))
        g[0].extend((xs, gap))
        g[1].extend((ys, gap))
        g[2].extend((np.full(len(xs) + 1, tid, dtype=object),))
        if status in marks:
            why = _why(info, tid, "stop_reason" if status == "stopped" else "error")
            text = f"{tid}: {html.escape(why)}" if why else str(tid)
            marks[status].append((steps[e - 1], values[e - 1], text))
    n_lines = n_trials
    opacity = float(np.clip(2.2 / math.sqrt(n_lines), 0.18, 0.85))
    fig = go.Figure()
    order = sorted(groups, key=lambda st: list(STATUS_COLORS).index(st)
                   if st in STATUS_COLORS else 99)
    for status in order:
        xs_l, ys_l, tx_l = groups[status]
        count = len(tx_l)
        fig.add_trace(go.Scattergl(
            x=np.concatenate(xs_l).astype(np.float32), y=np.concatenate(ys_l).astype(np.float32),
            text=np.concatenate(tx_l), mode="lines", name=f"{status} ({count})",
            line={"color": STATUS_COLORS.get(status, _OTHER_COLOR), "width": 1.2},
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
        title={"text": f"{html.escape(title)}<br><sup>{n_trials} trials{thinned}</sup>"},
        template="plotly_white", height=480, hovermode="closest",
        xaxis={"title": {"text": "step"}},
        yaxis={"title": {"text": html.escape(metric)},
               "type": "log" if _log_axis(values) else "linear"},
        legend={"orientation": "h", "y": -0.18},
        margin={"l": 70, "r": 30, "t": 90, "b": 60},
    )
    return fig


# -- best so far --------------------------------------------------------------------------------


def best_figure(result: SweepResult, metric: str | None = None) -> Any:
    """Each trial's value and the best so far against the trial number (start order).

    Returns:
        A ``plotly.graph_objects.Figure``.
    """
    go = _go()
    metric = _metric_name(result, metric)
    col, label = _value_column(result, metric)
    title = "Best so far"
    if col is None or result.trials.empty:
        return _empty_figure(title, "No metric values yet.")
    numbers = _start_order(result)
    trials = result.trials
    x = np.array([numbers[t] for t in trials["trial_id"]], dtype=float)
    y = _numbers(trials[col])
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    ids = trials["trial_id"].to_numpy()[order]
    status = trials["status"].astype(str).to_numpy()[order]
    if not np.isfinite(y).any():
        return _empty_figure(title, "No metric values yet.")
    mode = _mode(result)
    fill = np.inf if mode == "min" else -np.inf
    acc = np.minimum if mode == "min" else np.maximum
    running = acc.accumulate(np.where(np.isfinite(y), y, fill))
    running[~np.isfinite(running)] = np.nan
    fig = go.Figure()
    scatter = go.Scattergl if len(x) > 1000 else go.Scatter
    for st in sorted(set(status), key=lambda s: list(STATUS_COLORS).index(s)
                     if s in STATUS_COLORS else 99):
        sel = (status == st) & np.isfinite(y)
        if not sel.any():
            continue
        fig.add_trace(scatter(
            x=x[sel], y=y[sel], text=ids[sel], mode="markers", name=f"{st} ({int(sel.sum())})",
            marker={"color": STATUS_COLORS.get(st, _OTHER_COLOR), "size": 7, "opacity": 0.8},
            hovertemplate=f"trial #%{{x}} %{{text}}<br>{html.escape(label)} %{{y:.4g}}"
                          f"<extra>{st}</extra>",
        ))
    # WebGL traces draw above SVG ones: the line must be of the markers' kind to stay on top.
    line = go.Scattergl if scatter is go.Scattergl else go.Scatter
    fig.add_trace(line(
        x=x, y=running, mode="lines", line={"shape": "hv", "color": "#111", "width": 2.4},
        name="best so far", hovertemplate="after %{x} trials: %{y:.4g}<extra></extra>",
    ))
    fig.update_layout(
        title={"text": f"{title}<br><sup>{html.escape(label)}, goal {mode}imize</sup>"},
        template="plotly_white", height=420, hovermode="closest",
        xaxis={"title": {"text": "trial number (start order)"}},
        yaxis={"title": {"text": html.escape(label)},
               "type": "log" if _log_axis(y) else "linear"},
        legend={"orientation": "h", "y": -0.22},
        margin={"l": 70, "r": 30, "t": 90, "b": 60},
    )
    return fig


# -- HTML ---------------------------------------------------------------------------------------

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
color:#222;background:#f4f5f7}
main{max-width:1400px;margin:0 auto;padding:18px 24px 40px}
h1{font-size:22px;margin:6px 0 4px}h2{font-size:17px;margin:0 0 8px}
.sub{color:#555}.card{background:#fff;border:1px solid #dde;border-radius:8px;
padding:14px 16px;margin:14px 0}
.chip{display:inline-block;border-radius:10px;padding:1px 9px;margin-right:6px;color:#fff;
font-size:12px}
code{background:#f0f1f4;padding:1px 4px;border-radius:4px;font-size:12.5px}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:14px}
@media(max-width:1000px){.grid2{grid-template-columns:1fr}}
.tablewrap{max-height:640px;overflow:auto;border:1px solid #e3e3e8;border-radius:6px}
table.trials{border-collapse:collapse;font-size:12.5px;width:100%}
table.trials th{position:sticky;top:0;background:#eef0f4;cursor:pointer;user-select:none;
text-align:left;padding:5px 8px;border-bottom:1px solid #ccd;white-space:nowrap}
table.trials th:hover{background:#e1e5ee}
table.trials th[data-dir=asc]::after{content:" \\25B2"}
table.trials th[data-dir=desc]::after{content:" \\25BC"}
table.trials td{padding:3px 8px;border-bottom:1px solid #eee;white-space:nowrap;
max-width:360px;overflow:hidden;text-overflow:ellipsis}
table.trials td.num{text-align:right;font-variant-numeric:tabular-nums}
table.trials tr:hover td{background:#f6f8fc}
"""

# Click a header to sort by it (again to reverse); numbers numerically, empty cells last.
_SORT_JS = """
document.querySelectorAll("table.trials").forEach(function (table) {
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.addEventListener("click", function () {
      var asc = th.getAttribute("data-dir") !== "asc";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("data-dir"); });
      th.setAttribute("data-dir", asc ? "asc" : "desc");
      var num = th.getAttribute("data-type") === "num";
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var key = function (row) {
        var td = row.cells[col];
        if (num) { var v = parseFloat(td.getAttribute("data-v")); return isNaN(v) ? null : v; }
        var t = td.textContent; return t === "" ? null : t;
      };
      var keyed = rows.map(function (r) { return [key(r), r]; });
      keyed.sort(function (a, b) {
        if (a[0] === null) { return b[0] === null ? 0 : 1; }
        if (b[0] === null) { return -1; }
        var c = num ? a[0] - b[0] : a[0].localeCompare(b[0], undefined, {numeric: true});
        return asc ? c : -c;
      });
      var frag = document.createDocumentFragment();
      keyed.forEach(function (k) { frag.appendChild(k[1]); });
      body.appendChild(frag);
    });
  });
});
"""


def _table_columns(result: SweepResult) -> list[str]:
    trials = result.trials
    optional = ("node", "gpus", "stop_reason", "error", "runtime_s")
    return [c for c in trials.columns
            if not (c in optional and trials[c].isna().all())]


def trials_table_html(result: SweepResult, limit: int | None = None) -> str:
    """The trials as an HTML table (class ``trials``), best first, with a ``#`` column (start
    order); numeric cells carry ``data-v`` for sorting."""
    import pandas as pd

    trials = result.trials if limit is None else result.trials.head(limit)
    columns = _table_columns(result)
    numbers = _start_order(result)
    numeric = {c: pd.api.types.is_numeric_dtype(trials[c]) and not
               pd.api.types.is_bool_dtype(trials[c]) for c in columns}
    esc = html.escape
    head = ['<th data-type="num">#</th>'] + [
        f'<th{" data-type=num" if numeric[c] else ""}>{esc(str(c))}</th>' for c in columns
    ]
    rows = []
    data = {c: trials[c].tolist() for c in columns}
    for i, tid in enumerate(trials["trial_id"].tolist()):
        cells = [f'<td class="num" data-v="{numbers.get(tid, 0)}">{numbers.get(tid, "")}</td>']
        for c in columns:
            v = data[c][i]
            missing = v is None or (isinstance(v, float) and math.isnan(v))
            if numeric[c]:
                dv = "" if missing else repr(float(v))
                cells.append(f'<td class="num" data-v="{dv}">{esc(_fmt(v))}</td>')
            elif c == "status":
                color = STATUS_COLORS.get(str(v), _OTHER_COLOR)
                cells.append(f'<td><span class="chip" style="background:{color}">'
                             f"{esc(str(v))}</span></td>")
            else:
                text = "" if missing else str(v)
                tip = f' title="{esc(text[-600:])}"' if len(text) > 40 else ""
                if c == "error" and text.strip():  # a traceback: its last line says what
                    text = text.strip().splitlines()[-1]
                cells.append(f"<td{tip}>{esc(text[:120])}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table class="trials"><thead><tr>{"".join(head)}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _counts_html(result: SweepResult) -> str:
    if result.trials.empty:
        return '<span class="sub">no trials yet</span>'
    counts = result.trials["status"].astype(str).value_counts()
    return "".join(
        f'<span class="chip" style="background:{STATUS_COLORS.get(s, _OTHER_COLOR)}">'
        f"{n} {html.escape(s)}</span>" for s, n in counts.items()
    )


def _summary_html(result: SweepResult) -> str:
    meta = result.meta
    esc = html.escape
    bits = [f"method <b>{esc(str(meta.get('method')))}</b>"]
    if result.metric:
        bits.append(f"metric <b>{esc(result.metric)}</b> ({esc(str(meta.get('goal')))})")
    if meta.get("early_terminate"):
        bits.append(f"early termination <b>{esc(str(meta['early_terminate']))}</b>")
    out = [f'<div class="sub">{" · ".join(bits)}</div>', f"<div>{_counts_html(result)}</div>"]
    best = result.best
    if best is not None:
        config = json.dumps(best["config"], default=str)
        out.append(
            f'<div>best <b>{esc(str(result.metric))} = {best["value"]:.6g}</b> '
            f'(trial <code>{esc(str(best["trial_id"]))}</code>, {esc(str(best["status"]))}) '
            f"<code>{esc(config[:400])}</code></div>"
        )
    return "\n".join(out)


def _figure_html(fig: Any, div_id: str) -> str:
    height = fig.layout.height or 450
    return str(fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                           config=PLOT_CONFIG, default_height=f"{height}px"))


def build_report(result: SweepResult, *, refresh_s: float | None = None) -> str:
    """The whole report as one HTML document (plotly.js inlined: it opens offline).

    Args:
        result: The sweep.
        refresh_s: If given, the page reloads itself every ``refresh_s`` seconds (for a
            report rebuilt while the sweep runs).

    Raises:
        RaysweepError: plotly is not installed.
    """
    _go()
    from plotly.offline import get_plotlyjs

    esc = html.escape
    name = str(result.meta.get("name") or Path(result.path).name)
    plots = {
        "parallel": parallel_figure(result),
        "importance": importance_figure(result),
        "curves": curves_figure(result),
        "best": best_figure(result),
    }
    divs = {key: _figure_html(fig, f"plot-{key}") for key, fig in plots.items()}
    refresh = (f'<meta http-equiv="refresh" content="{max(1, round(refresh_s))}">'
               if refresh_s else "")
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    live = f" · refreshes every {max(1, round(refresh_s))} s" if refresh_s else ""
    n = len(result.trials)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{refresh}<title>raysweep: {esc(name)}</title>
<style>{_CSS}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head><body><main>
<h1>{esc(name)}</h1>
<div class="sub"><code>{esc(str(result.path))}</code> · built {stamp}{live}</div>
<section class="card" id="summary">{_summary_html(result)}</section>
<section class="card">{divs["parallel"]}</section>
<div class="grid2">
<section class="card">{divs["importance"]}</section>
<section class="card">{divs["best"]}</section>
</div>
<section class="card">{divs["curves"]}</section>
<section class="card" id="trials"><h2>Trials ({n})</h2>
<div class="sub">Best first; click a column header to sort.</div>
<div class="tablewrap">{trials_table_html(result)}</div></section>
</main>
<script type="text/javascript">{_SORT_JS}</script>
</body></html>
"""


def write_report(
    result: SweepResult, path: str | os.PathLike[str], *, refresh_s: float | None = None
) -> Path:
    """Write :func:`build_report` to ``path`` atomically (readers never see half a file).

    Returns:
        The path written.

    Raises:
        RaysweepError: the file cannot be written there (named, with the reason).
    """
    target = Path(path)
    text = build_report(result, refresh_s=refresh_s)
    try:
        write_text_atomic(target, text)
    except OSError as exc:
        # Not the temporary file's name that the atomic write would show.
        reason = exc.strerror or exc
        raise RaysweepError(f"cannot write the report to {target}: {reason}") from None
    return target


# -- notebook -----------------------------------------------------------------------------------


def _sparkline(x: np.ndarray, y: np.ndarray, width: int = 320,
               height: int = 70) -> str:
    """An inline SVG step line of ``y`` against ``x``."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(ys)
    xs, ys = xs[ok], ys[ok]
    if len(xs) < 2:
        return ""
    x0, x1 = xs.min(), xs.max()
    y0, y1 = ys.min(), ys.max()
    sx = (width - 8) / ((x1 - x0) or 1)
    sy = (height - 8) / ((y1 - y0) or 1)
    px = 4 + (xs - x0) * sx
    py = height - 4 - (ys - y0) * sy
    pts = [f"{px[0]:.1f},{py[0]:.1f}"]
    for i in range(1, len(px)):  # a step line: across at the old value, then up or down
        pts.append(f"{px[i]:.1f},{py[i - 1]:.1f} {px[i]:.1f},{py[i]:.1f}")
    return (f'<svg width="{width}" height="{height}" style="background:#fafafa;'
            f'border:1px solid #eee"><polyline fill="none" stroke="#3b6fb6" stroke-width="2" '
            f'points="{" ".join(pts)}"/></svg>')


_REPR_CSS = (
    ".raysweep-result .chip{display:inline-block;border-radius:10px;padding:0 8px;"
    "margin:2px 6px 2px 0;color:#fff;font-size:12px}.raysweep-result .sub{color:#666}"
    ".raysweep-result td.num{text-align:right}"
)


def repr_html(result: SweepResult, top: int = 10) -> str:
    """A compact HTML summary for notebooks; needs neither plotly nor JavaScript."""
    esc = html.escape
    name = str(result.meta.get("name") or Path(result.path).name)
    parts = [f"<div><b>raysweep sweep {esc(name)}</b> <code>{esc(str(result.path))}</code></div>",
             _summary_html(result)]
    col, label = _value_column(result, result.metric)
    if col is not None and len(result.trials):
        numbers = _start_order(result)
        x = np.array([numbers[t] for t in result.trials["trial_id"]], dtype=float)
        y = _numbers(result.trials[col])
        order = np.argsort(x, kind="stable")
        fill = np.inf if _mode(result) == "min" else -np.inf
        acc = np.minimum if _mode(result) == "min" else np.maximum
        run = acc.accumulate(np.where(np.isfinite(y[order]), y[order], fill))
        spark = _sparkline(x[order], run)
        if spark:
            parts.append(f'<div class="sub">best so far ({esc(label)}) by trial number</div>'
                         + spark)
    if len(result.trials):
        more = len(result.trials) - top
        parts.append(trials_table_html(result, limit=top).replace(
            '<table class="trials">', '<table class="trials" style="font-size:12px">'))
        if more > 0:
            parts.append(f'<div class="sub">… {more} more trials: <code>.trials</code>; plots: '
                         "<code>.plot_parallel()</code>, <code>.plot_importance()</code>, "
                         "<code>.plot_curves()</code>, <code>.plot_best()</code>, "
                         "<code>.report()</code></div>")
    return f'<div class="raysweep-result"><style>{_REPR_CSS}</style>' + "\n".join(parts) + "</div>"
