/* raysweep dashboard: the three pages (sweeps, one sweep, compare), vanilla JS, no build step.
 * Every fetch carries the page's token (from ?token= in its URL) as X-Raysweep-Token, and
 * every link between pages keeps it. Text from the server (names, configs, logs, errors) is
 * inserted with textContent, never as HTML. */
(function () {
  "use strict";

  var TOKEN = new URLSearchParams(location.search).get("token");
  var HAS_PLOTLY = typeof window.Plotly !== "undefined";

  // ---- small helpers ---------------------------------------------------------------------

  function withToken(url) {
    if (!TOKEN) return url;
    return url + (url.indexOf("?") >= 0 ? "&" : "?") + "token=" + encodeURIComponent(TOKEN);
  }

  function api(path, options) {
    options = options || {};
    var headers = options.headers || {};
    if (TOKEN) headers["X-Raysweep-Token"] = TOKEN;
    options.headers = headers;
    return fetch(path, options).then(function (response) {
      return response.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        if (!response.ok) {
          var why = (body && (body.message || body.error)) || text || response.statusText;
          var err = new Error(response.status + ": " + why);
          err.status = response.status;
          err.body = body;
          throw err;
        }
        return body;
      });
    });
  }

  // el("td", {className: "x", onclick: f}, ["text", node, ...]): strings become text nodes.
  function el(tag, props, children) {
    var node = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (key) {
        if (key === "dataset") {
          Object.keys(props.dataset).forEach(function (k) { node.dataset[k] = props.dataset[k]; });
        } else {
          node[key] = props[key];
        }
      });
    }
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" || typeof child === "number"
        ? document.createTextNode(String(child)) : child);
    });
    return node;
  }

  function byId(id) { return document.getElementById(id); }

  function setText(id, text) {
    var node = byId(id);
    if (node && node.textContent !== String(text)) node.textContent = String(text);
  }

  function fmt(value) {
    if (value === null || value === undefined || value === "") return "";
    if (typeof value === "number") {
      if (!isFinite(value)) return String(value);
      if (Number.isInteger(value)) return String(value);
      var a = Math.abs(value);
      return (a !== 0 && (a < 1e-3 || a >= 1e6)) ? value.toExponential(4) : String(+value.toPrecision(6));
    }
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  function fmtTime(epoch) {
    if (!epoch) return "";
    var d = new Date(epoch * 1000);
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  function fmtDuration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "";
    seconds = Math.max(0, Math.round(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
    return (h ? h + "h " : "") + (h || m ? m + "m " : "") + s + "s";
  }

  function better(goal, a, b) {
    if (a === null || a === undefined || !isFinite(a)) return false;
    if (b === null || b === undefined || !isFinite(b)) return true;
    return goal === "maximize" ? a > b : a < b;
  }

  // Sort values: numbers before strings before empty; numbers numerically.
  function compare(a, b) {
    var ea = a === null || a === undefined || a === "", eb = b === null || b === undefined || b === "";
    if (ea || eb) return ea === eb ? 0 : (ea ? 1 : -1);
    var na = typeof a === "number", nb = typeof b === "number";
    if (na && nb) return a - b;
    if (na !== nb) return na ? -1 : 1;
    return String(a).localeCompare(String(b), undefined, {numeric: true});
  }

  function flatten(obj, prefix, out) {
    out = out || {};
    Object.keys(obj || {}).forEach(function (key) {
      var value = obj[key], name = prefix ? prefix + "." + key : key;
      if (value && typeof value === "object" && !Array.isArray(value)) flatten(value, name, out);
      else out[name] = value;
    });
    return out;
  }

  function showError(message) {
    var box = byId("error");
    if (!box) return;
    box.textContent = message || "";
    box.hidden = !message;
  }

  function pageLink(path) { return withToken(path); }

  /* A sortable table: columns [{key, label, get(row) -> sort value, show(row) -> text|Node,
   * className}], rows are objects. Clicking a header sorts (again: reverses). At most `limit`
   * rows are drawn (the table says how many it leaves out). */
  function SortTable(table, columns, options) {
    this.table = table;
    this.columns = columns;
    this.options = options || {};
    this.sortKey = this.options.sortKey || null;
    this.sortDir = this.options.sortDir || 1;
    this.rows = [];
    var self = this;
    var head = el("tr", null, columns.map(function (col) {
      return el("th", {
        className: col.className || "", title: "sort by " + col.label,
        onclick: function () {
          if (self.sortKey === col.key) self.sortDir = -self.sortDir;
          else { self.sortKey = col.key; self.sortDir = col.descFirst ? -1 : 1; }
          self.draw();
        },
      }, [col.label]);
    }));
    table.textContent = "";
    table.appendChild(el("thead", null, [head]));
    table.appendChild(el("tbody"));
  }

  SortTable.prototype.setRows = function (rows) { this.rows = rows; this.draw(); };

  SortTable.prototype.draw = function () {
    var self = this, columns = this.columns;
    var col = columns.filter(function (c) { return c.key === self.sortKey; })[0];
    var rows = this.rows.slice();
    if (col) {
      var get = col.get || function (r) { return r[col.key]; };
      rows.sort(function (a, b) {
        var c = compare(get(a), get(b));
        // Empty cells stay last in both directions.
        var ea = get(a), eb = get(b);
        if (ea === null || ea === undefined || ea === "" || eb === null || eb === undefined || eb === "") return c;
        return c * self.sortDir;
      });
    }
    Array.prototype.forEach.call(this.table.tHead.rows[0].cells, function (th, i) {
      th.classList.toggle("sorted-asc", columns[i].key === self.sortKey && self.sortDir > 0);
      th.classList.toggle("sorted-desc", columns[i].key === self.sortKey && self.sortDir < 0);
    });
    var limit = this.options.limit || Infinity;
    var body = el("tbody");
    rows.slice(0, limit).forEach(function (row) {
      var tr = el("tr", null, columns.map(function (c) {
        var shown = c.show ? c.show(row) : fmt(c.get ? c.get(row) : row[c.key]);
        return el("td", {className: c.className || ""}, [shown]);
      }));
      if (self.options.rowClass) tr.className = self.options.rowClass(row);
      if (self.options.onRowClick) {
        tr.classList.add("clickable");
        tr.onclick = function () { self.options.onRowClick(row); };
      }
      body.appendChild(tr);
    });
    this.table.replaceChild(body, this.table.tBodies[0]);
    if (this.options.note) {
      this.options.note.textContent = rows.length > limit
        ? "showing " + limit + " of " + rows.length + " rows (sort to see others)" : "";
    }
  };

  function noPlotlyNote() {
    document.querySelectorAll(".chart").forEach(function (div) { div.hidden = true; });
    var note = byId("charts-note");
    if (note) {
      note.hidden = false;
      note.textContent = "Charts need plotly (pip install plotly): the server found none, so " +
        "this page shows tables only.";
    }
  }

  function plot(id, traces, layout) {
    if (!HAS_PLOTLY) return;
    var div = byId(id);
    if (!div) return;
    div.hidden = false;
    var base = {margin: {l: 60, r: 20, t: 36, b: 44}, height: 340, hovermode: "closest",
      legend: {orientation: "h"}};
    window.Plotly.react(div, traces, Object.assign(base, layout || {}),
      {responsive: true, displaylogo: false});
  }

  // Best-so-far of a list of trials ordered by start: [{x: n, y: best so far}] at each new best.
  function bestSoFar(trials, goal) {
    var ordered = trials.filter(function (t) { return t.best !== null && t.best !== undefined; })
      .slice().sort(function (a, b) { return compare(a.started, b.started) || compare(a.order, b.order); });
    var xs = [], ys = [], best = null;
    ordered.forEach(function (t, i) {
      if (better(goal, t.best, best)) best = t.best;
      xs.push(i + 1);
      ys.push(best);
    });
    return {x: xs, y: ys};
  }

  // ---- sweeps page -----------------------------------------------------------------------

  function sweepsPage() {
    var selected = {};
    var filter = byId("filter");
    var all = [];
    var compareLink = byId("compare-link");

    function updateCompare() {
      var ids = Object.keys(selected).filter(function (k) { return selected[k]; });
      compareLink.hidden = ids.length < 2;
      compareLink.href = pageLink("/compare?ids=" + ids.map(encodeURIComponent).join(","));
      compareLink.textContent = "Compare " + ids.length + " sweeps";
    }

    var table = new SortTable(byId("sweeps"), [
      {key: "pick", label: "", show: function (s) {
        var box = el("input", {type: "checkbox", checked: !!selected[s.id], title: "compare"});
        box.onchange = function () { selected[s.id] = box.checked; updateCompare(); };
        return box;
      }, get: function (s) { return selected[s.id] ? 0 : 1; }},
      {key: "name", label: "sweep", show: function (s) {
        return el("a", {href: pageLink("/sweep/" + encodeURIComponent(s.id)), className: "sweep-link"},
          [s.id]);
      }, get: function (s) { return s.id; }},
      {key: "state", label: "state", show: function (s) {
        return el("span", {className: "state state-" + s.state}, [s.state || ""]);
      }},
      {key: "method", label: "method"},
      {key: "metric", label: "metric", get: function (s) {
        return s.metric ? s.metric + (s.goal ? " (" + s.goal + ")" : "") : "";
      }},
      {key: "progress", label: "progress", className: "num", get: function (s) {
        return s.trials ? s.ended / s.trials : 0;
      }, show: function (s) { return (s.ended || 0) + "/" + (s.trials || 0); }},
      {key: "best", label: "best", className: "num"},
      {key: "started", label: "started", descFirst: true,
        show: function (s) { return fmtTime(s.started); }},
      {key: "storage", label: "storage", className: "dim"},
    ], {sortKey: "started", sortDir: -1});

    function draw() {
      var words = filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
      var rows = all.filter(function (s) {
        var text = [s.id, s.name, s.state, s.method, s.metric, s.storage].join(" ").toLowerCase();
        return words.every(function (w) { return text.indexOf(w) >= 0; });
      });
      table.setRows(rows);
      setText("sweeps-count", rows.length === all.length ? all.length + " sweeps"
        : rows.length + " of " + all.length + " sweeps");
    }

    filter.oninput = draw;
    function refresh() {
      api("/api/sweeps").then(function (body) {
        showError("");
        all = body.sweeps || [];
        draw();
      }).catch(function (e) { showError("Could not read the sweeps: " + e.message); })
        .then(function () { setTimeout(refresh, 2000); });
    }
    refresh();
  }

  // ---- one sweep -------------------------------------------------------------------------

  function sweepIdFromPath() {
    var parts = location.pathname.split("/").filter(Boolean);
    return decodeURIComponent(parts[parts.length - 1] || "");
  }

  function objectiveList(body, meta) {
    // `objectives` may be names or {name, goal}; the goals are also in meta.metrics.
    var goals = {};
    (meta.metrics || []).forEach(function (m) { goals[m.name] = m.goal; });
    return (body.objectives || []).map(function (o) {
      if (typeof o === "string") return {name: o, goal: goals[o] || "minimize"};
      var goal = o.goal || (o.mode ? (o.mode === "max" ? "maximize" : "minimize") : null);
      return {name: o.name, goal: goal || goals[o.name] || "minimize"};
    }).filter(function (o) { return o.name; });
  }

  function objectiveValue(trial, name) {
    var slot = trial.objectives && trial.objectives[name];
    var v = slot ? slot.last : (trial.summary ? trial.summary[name] : null);
    return typeof v === "number" && isFinite(v) ? v : null;
  }

  // The non-dominated trials (every objective at least as good, one better, dominates).
  function paretoFront(trials, objectives) {
    var points = trials.map(function (t) {
      return {t: t, v: objectives.map(function (o) {
        var v = objectiveValue(t, o.name);
        return v === null ? null : (o.goal === "maximize" ? -v : v);
      })};
    }).filter(function (p) { return p.v.every(function (v) { return v !== null; }); });
    points.sort(function (a, b) {
      for (var i = 0; i < a.v.length; i++) if (a.v[i] !== b.v[i]) return a.v[i] - b.v[i];
      return 0;
    });
    // Sorted by the first objective: a point can only be dominated by one before it.
    var front = [];
    points.forEach(function (p) {
      var dominated = front.some(function (q) {
        var strictly = false;
        for (var i = 0; i < p.v.length; i++) {
          if (q.v[i] > p.v[i]) return false;
          if (q.v[i] < p.v[i]) strictly = true;
        }
        return strictly;
      });
      if (!dominated) front.push(p);
    });
    return front.map(function (p) { return p.t; });
  }

  function sweepPage() {
    var id = sweepIdFromPath();
    var base = "/api/sweep/" + encodeURIComponent(id);
    var trials = {};          // trial_id -> latest entry
    var order = 0;
    var history = {};         // trial_id -> {steps: [], values: []} for the metric
    var meta = {}, metric = null, goal = "minimize", objectives = [];
    var cursor = null;
    var paramKeys = [];
    var table = null, tableKeys = "";
    var selectedTrial = null;
    var stopped = false;

    document.title = id + " · raysweep";
    setText("sweep-id", id);
    byId("back").href = pageLink("/");
    ["trials.csv", "trials.parquet", "history.csv"].forEach(function (file) {
      var a = byId("dl-" + file.replace(".", "-"));
      if (a) a.href = withToken(base + "/download/" + file);
    });
    if (!HAS_PLOTLY) noPlotlyNote();

    function buildTable() {
      var columns = [
        {key: "trial_id", label: "trial", get: function (t) { return t.order; },
          show: function (t) { return String(t.trial_id); }},
        {key: "status", label: "status", show: function (t) {
          return el("span", {className: "status status-" + t.status}, [t.status || ""]);
        }},
      ];
      paramKeys.forEach(function (k) {
        columns.push({key: "p:" + k, label: k, className: "param", get: function (t) { return t.params[k]; }});
      });
      if (objectives.length) {
        objectives.forEach(function (o) {
          columns.push({key: "o:" + o.name, label: o.name + " (last)", className: "num",
            get: function (t) { return objectiveValue(t, o.name); }});
        });
      } else {
        columns.push({key: "last", label: (metric || "metric") + " last", className: "num"});
        columns.push({key: "best", label: (metric || "metric") + " best", className: "num"});
      }
      columns.push({key: "steps", label: "steps", className: "num"});
      columns.push({key: "duration", label: "time", className: "num", get: function (t) {
        return t.started ? (t.ended || Date.now() / 1000) - t.started : null;
      }, show: function (t) {
        return t.started ? fmtDuration((t.ended || Date.now() / 1000) - t.started) : "";
      }});
      columns.push({key: "stop_reason", label: "stop reason", className: "dim"});
      columns.push({key: "error", label: "error", className: "err", show: function (t) {
        var e = t.error ? String(t.error) : "";
        return e.length > 120 ? e.slice(0, 120) + "…" : e;
      }});
      var old = table;
      table = new SortTable(byId("trials"), columns, {
        sortKey: old ? old.sortKey : "trial_id", sortDir: old ? old.sortDir : 1, limit: 1000,
        note: byId("trials-note"),
        onRowClick: function (t) { showLog(t.trial_id); },
        rowClass: function (t) { return t.trial_id === selectedTrial ? "selected" : ""; },
      });
    }

    function showLog(tid) {
      selectedTrial = tid;
      if (table) table.draw();
      var box = byId("log");
      byId("log-panel").hidden = false;
      setText("log-title", "trial " + tid + ": program.log (last 200 lines)");
      box.textContent = "loading…";
      api(base + "/log/" + encodeURIComponent(tid) + "?lines=200").then(function (body) {
        box.textContent = (body && body.text) || "(empty)";
        box.scrollTop = box.scrollHeight;
      }).catch(function (e) { box.textContent = "Could not read the log: " + e.message; });
    }

    function merge(body) {
      if (body.reset && cursor !== null) {
        // The server read the sweep again from the start (trials.jsonl was rewritten):
        // what came before would be counted twice.
        trials = {};
        history = {};
      }
      if (body.meta) meta = body.meta;
      metric = meta.metric || null;
      goal = meta.goal || "minimize";
      var objs = objectiveList(body, meta);
      if (objs.length) objectives = objs;
      var newKeys = false;
      (body.trials || []).forEach(function (entry) {
        var tid = String(entry.trial_id);
        var old = trials[tid];
        entry.trial_id = tid;
        entry.order = old ? old.order : order++;
        entry.params = flatten(entry.config || {});
        Object.keys(entry.params).forEach(function (k) {
          if (paramKeys.indexOf(k) < 0) { paramKeys.push(k); newKeys = true; }
        });
        trials[tid] = entry;
      });
      (body.history || []).forEach(function (row) {
        var tid = String(row.trial_id);
        var name = metric || (objectives[0] && objectives[0].name);
        var v = name ? row[name] : null;
        if (typeof v !== "number" || !isFinite(v)) return;
        var h = history[tid] || (history[tid] = {steps: [], values: []});
        h.steps.push(row.step);
        h.values.push(v);
      });
      return newKeys;
    }

    function draw(body, newKeys) {
      var list = Object.keys(trials).map(function (k) { return trials[k]; });
      var counts = body.counts || {};
      var total = 0;
      Object.keys(counts).forEach(function (k) { total += counts[k]; });
      var ended = ["finished", "stopped", "failed", "terminated"].reduce(function (n, k) {
        return n + (counts[k] || 0);
      }, 0);
      setText("state", body.state || "");
      byId("state").className = "state state-" + (body.state || "");
      setText("method", meta.method || (meta.config && meta.config.method) || "");
      setText("metric", objectives.length
        ? objectives.map(function (o) { return o.name + " (" + o.goal + ")"; }).join(", ")
        : (metric ? metric + " (" + goal + ")" : "none"));
      setText("started", fmtTime(meta.created || meta.started));
      setText("run-cap", meta.run_cap ? "run_cap " + meta.run_cap : "");
      setText("trial-count", String(total));
      setText("ended-count", String(ended));
      var countsBox = byId("counts");
      countsBox.textContent = "";
      Object.keys(counts).sort().forEach(function (k) {
        countsBox.appendChild(el("span", {className: "count status-" + k}, [k + " " + counts[k]]));
      });
      var bar = byId("progress-bar");
      bar.max = Math.max(total, 1);
      bar.value = ended;
      if (body.best && body.best.value !== null && body.best.value !== undefined) {
        setText("best-value", fmt(body.best.value));
        setText("best-trial", "trial " + body.best.trial_id);
      } else if ((body.objectives || []).some(function (o) { return o && o.best; })) {
        // Several objectives: each one's best, and its trial (the front is below).
        setText("best-value", body.objectives.map(function (o) {
          return o.best ? o.name + " " + fmt(o.best.value) : "";
        }).filter(Boolean).join(" · "));
        setText("best-trial", body.objectives.map(function (o) {
          return o.best ? o.name + ": trial " + o.best.trial_id : "";
        }).filter(Boolean).join(", "));
      } else {
        setText("best-value", "–");
        setText("best-trial", "");
      }
      var running = body.state === "running";
      byId("stop").disabled = !running || stopped;
      byId("cancel").disabled = !running;

      // Nothing new (a quiet poll): the tables and charts stay as they are, so that a sweep of
      // thousands of trials costs nothing between its changes; running trials' times still tick.
      var changed = (body.trials || []).length || (body.history || []).length || body.reset;
      refreshFigures(ended);  // also on a quiet poll: trials may have ended while it waited
      if (!changed && table) {
        drawRunning(list);
        return;
      }
      if (newKeys || !table || tableKeys !== objectives.length + ":" + paramKeys.join(",")) {
        tableKeys = objectives.length + ":" + paramKeys.join(",");
        buildTable();
      }
      table.setRows(list);
      drawRunning(list);
      drawPareto(list);
      drawCharts(list);
    }

    /* The parallel coordinates and the importance: the report's figures, computed by the
     * server (GET .../figures) and kept there until the number of ended trials changes. Asked
     * for when that number changed, at most every FIGURES_EVERY s, or five times as long as
     * the server took to compute them (the importance forest of a large sweep takes seconds). */
    var FIGURES_EVERY = 5;
    var figures = {ended: null, asked: 0, busy: false, every: FIGURES_EVERY};

    function refreshFigures(ended) {
      if (!HAS_PLOTLY || figures.busy || ended === figures.ended) return;
      var now = Date.now() / 1000;
      if (figures.ended !== null && now - figures.asked < figures.every) return;
      figures.busy = true;
      figures.asked = now;
      api(base + "/figures").then(function (body) {
        figures.ended = body.ended;
        figures.every = Math.max(FIGURES_EVERY, 5 * (body.seconds || 0));
        setText("figures-every", String(Math.round(figures.every)));
        drawFigure("plot-parallel", body.parallel, body.parallel_error);
        drawFigure("plot-importance", body.importance, body.importance_error);
        setText("figures-note", "Last drawn over " + body.ended + " ended trials (computed in " +
          fmt(body.seconds) + " s).");
      }).catch(function (e) {
        setText("figures-note", "Could not draw the parameter figures: " + e.message);
      }).then(function () { figures.busy = false; });
    }

    function drawFigure(id, figure, error) {
      var div = byId(id);
      if (!figure) {
        div.hidden = true;
        if (error) setText("figures-note", error);
        return;
      }
      div.hidden = false;
      div.dataset.points = String(figurePoints(figure));
      window.Plotly.react(div, figure.data || [], figure.layout || {},
        {responsive: true, displaylogo: false});
    }

    function drawRunning(list) {
      var box = byId("running");
      var runningTrials = list.filter(function (t) { return t.status === "running"; });
      box.textContent = "";
      if (!runningTrials.length) {
        box.appendChild(el("p", {className: "dim"}, ["no trial is running"]));
        return;
      }
      runningTrials.forEach(function (t) {
        var summary = t.summary || {};
        var keys = Object.keys(summary).slice(0, 12);
        box.appendChild(el("div", {className: "running-trial clickable", onclick: function () { showLog(t.trial_id); }}, [
          el("strong", null, ["trial " + t.trial_id]),
          el("span", {className: "dim"}, [" step " + (t.reports || t.steps || 0) +
            (t.started ? ", " + fmtDuration(Date.now() / 1000 - t.started) : "") + ": "]),
          keys.map(function (k) { return k + "=" + fmt(summary[k]); }).join("  "),
        ]));
      });
    }

    function drawPareto(list) {
      var panel = byId("pareto-panel");
      if (objectives.length < 2) { panel.hidden = true; return; }
      panel.hidden = false;
      var front = paretoFront(list, objectives);
      setText("pareto-size", front.length + " trials on the Pareto front of " +
        objectives.map(function (o) { return o.name; }).join(" × "));
      var a = objectives[0].name, b = objectives[1].name;
      var onFront = {};
      front.forEach(function (t) { onFront[t.trial_id] = true; });
      var rest = list.filter(function (t) {
        return !onFront[t.trial_id] && objectiveValue(t, a) !== null && objectiveValue(t, b) !== null;
      });
      var frontSorted = front.slice().sort(function (p, q) { return objectiveValue(p, a) - objectiveValue(q, a); });
      function trace(ts, name, extra) {
        return Object.assign({type: "scatter", mode: "markers", name: name,
          x: ts.map(function (t) { return objectiveValue(t, a); }),
          y: ts.map(function (t) { return objectiveValue(t, b); }),
          text: ts.map(function (t) { return "trial " + t.trial_id; })}, extra || {});
      }
      plot("plot-pareto", [trace(rest, "dominated", {marker: {color: "#9aa5b1"}}),
        trace(frontSorted, "Pareto front", {mode: "lines+markers", line: {shape: "hv"},
          marker: {color: "#d9480f", size: 9}})],
        {title: {text: "Pareto front", font: {size: 14}}, xaxis: {title: {text: a}}, yaxis: {title: {text: b}}});
    }

    function drawCharts(list) {
      if (!HAS_PLOTLY) return;
      var name = metric || (objectives[0] && objectives[0].name);
      if (!name) return;
      var g = metric ? goal : objectives[0].goal;
      var values = objectives.length && !metric ? list.map(function (t) {
        return Object.assign({}, t, {best: objectiveValue(t, name)});
      }) : list;
      var bsf = bestSoFar(values, g);
      var points = values.filter(function (t) { return t.best !== null && t.best !== undefined; })
        .sort(function (x, y) { return compare(x.started, y.started) || x.order - y.order; });
      plot("plot-best", [
        {type: "scatter", mode: "markers", name: "trial best", x: points.map(function (_, i) { return i + 1; }),
          y: points.map(function (t) { return t.best; }),
          text: points.map(function (t) { return "trial " + t.trial_id; }), marker: {color: "#9aa5b1"}},
        {type: "scatter", mode: "lines", name: "best so far", x: bsf.x, y: bsf.y,
          line: {shape: "hv", color: "#1c7ed6", width: 2}},
      ], {title: {text: "Best " + name + " so far", font: {size: 14}},
        xaxis: {title: {text: "trials (by start)"}}, yaxis: {title: {text: name}}});
      // Learning curves: the most recent 200 trials keep the chart responsive.
      var recent = list.slice().sort(function (x, y) { return y.order - x.order; }).slice(0, 200);
      var curves = recent.filter(function (t) { return history[t.trial_id]; }).map(function (t) {
        var h = history[t.trial_id];
        var early = t.status === "stopped";
        return {type: "scatter", mode: "lines", name: "trial " + t.trial_id, x: h.steps, y: h.values,
          showlegend: false, opacity: t.status === "running" ? 1 : 0.55,
          line: {width: t.status === "running" ? 2.5 : 1, dash: early ? "dot" : "solid"},
          hovertemplate: "trial " + t.trial_id + " (" + t.status + ")<br>step %{x}<br>%{y}<extra></extra>"};
      });
      plot("plot-curves", curves, {title: {text: name + " per step (dotted: stopped early)", font: {size: 14}},
        xaxis: {title: {text: "step"}}, yaxis: {title: {text: name}}});
    }

    function poll() {
      var url = base + (cursor !== null ? "?cursor=" + encodeURIComponent(cursor) : "");
      api(url).then(function (body) {
        showError("");
        var newKeys = merge(body);
        cursor = body.cursor;
        draw(body, newKeys);
        if (body.thinned && body.reset) {
          setText("history-note", "The learning curves of this large sweep are thinned: " +
            "evenly spaced steps of each trial (its last one kept), then every new report.");
        }
      }).catch(function (e) {
        showError("Could not read the sweep: " + e.message);
      }).then(function () { setTimeout(poll, 1000); });
    }

    function control(what) {
      if (what === "cancel" && !window.confirm(
        "Cancel sweep " + id + "? Running trials are killed now (raysweep resume continues it).")) return;
      var box = byId("control-message");
      box.textContent = what + " requested…";
      api(base + "/" + what, {method: "POST"}).then(function (body) {
        if (what === "stop") stopped = true;
        box.textContent = (body && body.message) || (what + " requested");
        box.className = "message ok";
      }).catch(function (e) {
        box.textContent = (e.body && e.body.message) || e.message;
        box.className = "message bad";
      });
    }
    byId("stop").onclick = function () { control("stop"); };
    byId("cancel").onclick = function () { control("cancel"); };
    byId("log-close").onclick = function () {
      byId("log-panel").hidden = true;
      selectedTrial = null;
      if (table) table.draw();
    };
    poll();
  }

  // ---- compare ---------------------------------------------------------------------------

  function comparePage() {
    byId("back").href = pageLink("/");
    var ids = (new URLSearchParams(location.search).get("ids") || "").split(",")
      .map(function (s) { return s.trim(); }).filter(Boolean);
    if (ids.length < 1) {
      showError("Choose sweeps to compare: /compare?ids=<sweep>,<sweep> (or tick them on the sweeps page).");
      return;
    }
    if (!HAS_PLOTLY) noPlotlyNote();
    var state = {};
    ids.forEach(function (id) { state[id] = {cursor: null, trials: {}, order: 0, body: null, meta: {}}; });

    var table = new SortTable(byId("compare"), [
      {key: "id", label: "sweep", show: function (r) {
        return el("a", {href: pageLink("/sweep/" + encodeURIComponent(r.id))}, [r.id]);
      }},
      {key: "state", label: "state"},
      {key: "method", label: "method"},
      {key: "metric", label: "metric"},
      {key: "trials", label: "trials", className: "num"},
      {key: "ended", label: "ended", className: "num"},
      {key: "best", label: "best", className: "num"},
      {key: "best_trial", label: "best trial"},
    ]);

    function draw() {
      var rows = [], traces = [];
      ids.forEach(function (id) {
        var s = state[id];
        if (!s.body) { rows.push({id: id, state: s.error || "loading"}); return; }
        var counts = s.body.counts || {}, total = 0;
        Object.keys(counts).forEach(function (k) { total += counts[k]; });
        var ended = ["finished", "stopped", "failed", "terminated"].reduce(function (n, k) {
          return n + (counts[k] || 0);
        }, 0);
        // A multi-objective sweep is compared on its first objective.
        var objs = objectiveList(s.body, s.meta);
        var first = !s.meta.metric && objs.length ? objs[0] : null;
        var metricName = first ? first.name : s.meta.metric;
        var goal = first ? first.goal : (s.meta.goal || "minimize");
        var best = (first ? (s.body.objectives[0] || {}).best : s.body.best) || {};
        rows.push({id: id, state: s.body.state, method: s.meta.method || "",
          metric: metricName ? metricName + " (" + goal + ")" : "",
          trials: total, ended: ended, best: best.value, best_trial: best.trial_id});
        var list = Object.keys(s.trials).map(function (k) { return s.trials[k]; });
        if (first) {
          list = list.map(function (t) {
            return Object.assign({}, t, {best: objectiveValue(t, first.name)});
          });
        }
        var bsf = bestSoFar(list, goal);
        traces.push({type: "scatter", mode: "lines", line: {shape: "hv", width: 2}, name: id, x: bsf.x, y: bsf.y});
      });
      table.setRows(rows);
      var metrics = ids.map(function (id) {
        var s = state[id];
        var objs = s.body ? objectiveList(s.body, s.meta) : [];
        return s.meta.metric || (objs[0] && objs[0].name);
      }).filter(Boolean);
      var same = metrics.every(function (m) { return m === metrics[0]; });
      if (metrics.length && !same) setText("compare-note", "These sweeps optimize different metrics: their curves share an axis but not a meaning.");
      plot("plot-compare", traces, {title: {text: "Best so far", font: {size: 14}},
        xaxis: {title: {text: "trials (by start)"}}, yaxis: {title: {text: same && metrics[0] ? metrics[0] : "metric"}}});
      drawDistributions();
    }

    /* Parameter distributions: per parameter one chart, one trace per sweep in the sweep's own
     * colour. Drawn again only when some sweep's trials changed. */
    var COLORS = ["#1c7ed6", "#e8590c", "#2b8a3e", "#ae3ec9", "#c92a2a", "#0b7285", "#f08c00", "#5c940d"];
    var MAX_PARAMETERS = 24, MAX_POINTS = 2000;
    var drawnSignature = "";

    function drawDistributions() {
      if (!HAS_PLOTLY) return;
      var signature = ids.map(function (id) { return id + ":" + state[id].changes; }).join(",");
      if (signature === drawnSignature) return;
      drawnSignature = signature;
      var names = [], values = {};  // parameter -> sweep id -> [values]
      ids.forEach(function (id) {
        var s = state[id];
        (s.meta.parameters || []).forEach(function (p) { if (names.indexOf(p) < 0) names.push(p); });
        Object.keys(s.trials).forEach(function (tid) {
          var params = flatten(s.trials[tid].config || {});
          Object.keys(params).forEach(function (p) {
            if (names.indexOf(p) < 0) names.push(p);
            var perSweep = values[p] || (values[p] = {});
            (perSweep[id] || (perSweep[id] = [])).push(params[p]);
          });
        });
      });
      names = names.filter(function (p) { return values[p]; });
      setText("distributions-note", names.length > MAX_PARAMETERS
        ? "The first " + MAX_PARAMETERS + " of " + names.length + " parameters." : "");
      var box = byId("distributions");
      names = names.slice(0, MAX_PARAMETERS);
      // Every chart's place first, then the charts: each is drawn at its cell's final width.
      names.forEach(function (name, i) {
        if (!byId("dist-" + i)) box.appendChild(el("div", {id: "dist-" + i, className: "chart distribution"}));
      });
      for (var k = names.length; byId("dist-" + k); k++) box.removeChild(byId("dist-" + k));
      names.forEach(function (name, i) {
        var div = byId("dist-" + i);
        var dist = distribution(name, values[name]);
        div.dataset.parameter = name;
        div.dataset.points = String(dist.points);
        plot(div.id, dist.traces, dist.layout);
      });
    }

    function distribution(name, perSweep) {
      var all = [];
      ids.forEach(function (id) { all = all.concat(perSweep[id] || []); });
      var present = all.filter(function (v) { return v !== null && v !== undefined; });
      var numeric = present.length > 0 && present.every(function (v) {
        return typeof v === "number" && isFinite(v);
      });
      var traces = [], points = 0;
      var layout = {title: {text: name, font: {size: 14}}, showlegend: true, height: 300};
      if (numeric) {
        // A log axis where the values are positive and span two decades or more (as the
        // report's importance takes a parameter on a log scale).
        var lo = Math.min.apply(null, present), hi = Math.max.apply(null, present);
        var log = lo > 0 && hi / lo >= 100;
        ids.forEach(function (id, i) {
          var xs = (perSweep[id] || []).filter(function (v) { return typeof v === "number" && isFinite(v); });
          points += xs.length;
          traces.push({type: "box", name: id, x: xs, orientation: "h", boxmean: false,
            boxpoints: xs.length <= MAX_POINTS ? "all" : "outliers", jitter: 0.5, pointpos: 0,
            marker: {color: COLORS[i % COLORS.length], size: 4, opacity: 0.6},
            line: {color: COLORS[i % COLORS.length]}, hoveron: "points"});
        });
        layout.xaxis = {type: log ? "log" : "linear", title: {text: name + (log ? " (log)" : "")}};
        layout.yaxis = {automargin: true};
        layout.showlegend = false;
      } else {
        var levels = [];
        present.forEach(function (v) {
          var key = fmt(v);
          if (levels.indexOf(key) < 0) levels.push(key);
        });
        levels.sort(function (a, b) { return compare(a, b); });
        ids.forEach(function (id, i) {
          var counts = {};
          (perSweep[id] || []).forEach(function (v) {
            var key = v === null || v === undefined ? "(none)" : fmt(v);
            counts[key] = (counts[key] || 0) + 1;
          });
          var xs = levels.concat(counts["(none)"] ? ["(none)"] : []);
          points += xs.length;
          traces.push({type: "bar", name: id, x: xs, y: xs.map(function (k) { return counts[k] || 0; }),
            marker: {color: COLORS[i % COLORS.length]}});
        });
        layout.barmode = "group";
        layout.xaxis = {type: "category", title: {text: name}};
        layout.yaxis = {title: {text: "trials"}};
      }
      return {traces: traces, layout: layout, points: points};
    }

    function poll() {
      Promise.all(ids.map(function (id) {
        var s = state[id];
        var url = "/api/sweep/" + encodeURIComponent(id) + (s.cursor !== null ? "?cursor=" + encodeURIComponent(s.cursor) : "");
        return api(url).then(function (body) {
          s.body = body;
          s.error = null;
          if (body.meta) s.meta = body.meta;
          if (body.reset && s.cursor !== null) s.trials = {};
          if (body.reset || (body.trials || []).length) s.changes = (s.changes || 0) + 1;
          s.cursor = body.cursor;
          (body.trials || []).forEach(function (t) {
            var tid = String(t.trial_id), old = s.trials[tid];
            t.order = old ? old.order : s.order++;
            s.trials[tid] = t;
          });
        }).catch(function (e) { s.error = e.message; });
      })).then(function () {
        var errors = ids.filter(function (id) { return state[id].error; })
          .map(function (id) { return id + ": " + state[id].error; });
        showError(errors.length ? "Could not read " + errors.join("; ") : "");
        draw();
        setTimeout(poll, 2000);
      });
    }
    poll();
  }

  // How many values a figure draws (the browser tests watch it grow): a parcoords' lines, a
  // bar chart's bars.
  function figurePoints(figure) {
    return (figure.data || []).reduce(function (n, trace) {
      if (trace.type === "parcoords") {
        var dims = trace.dimensions || [];
        return n + (dims.length ? arrayLength(dims[0].values) : 0);
      }
      return n + arrayLength(trace.x);
    }, 0);
  }

  // An array's length, also for plotly's typed-array form ({dtype, bdata: base64}) in which
  // plotly.py writes numpy arrays.
  var ITEM_BYTES = {f8: 8, f4: 4, i4: 4, u4: 4, i2: 2, u2: 2, i1: 1, u1: 1, u1c: 1};
  function arrayLength(values) {
    if (!values) return 0;
    if (Array.isArray(values)) return values.length;
    if (typeof values.bdata === "string") {
      var b64 = values.bdata, pad = b64.endsWith("==") ? 2 : (b64.endsWith("=") ? 1 : 0);
      return Math.floor((b64.length * 3 / 4 - pad) / (ITEM_BYTES[values.dtype] || 8));
    }
    return 0;
  }

  // Exposed for the browser tests and for debugging in the console.
  window.raysweepDashboard = {paretoFront: paretoFront, bestSoFar: bestSoFar, withToken: withToken};

  var page = document.body.dataset.page;
  if (page === "sweeps") sweepsPage();
  else if (page === "sweep") sweepPage();
  else if (page === "compare") comparePage();
})();
