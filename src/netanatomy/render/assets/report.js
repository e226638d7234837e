/* netanatomy report page: graph (dagre layout, own SVG), layer table, plots (uPlot),
   details. Reads the netanatomy.report/1 payload from <script id="netanatomy-data">.
   Exposes window.netanatomy = {data, render, expand, collapse, visibleNodes, ...}. */
(function () {
  "use strict";

  const SVGNS = "http://www.w3.org/2000/svg";
  const NA = (window.netanatomy = window.netanatomy || {});

  /* ------------------------------------------------------------------ values */

  const isNum = (v) => typeof v === "number" && Number.isFinite(v);
  const isSym = (v) => typeof v === "string";

  /** The JSON value as text ("" for null): what data-* attributes carry. */
  function raw(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "string") return v;
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    return JSON.stringify(v);
  }

  /** A formula for people: ** as ^, * as · (as the terminal's --explain does). */
  function pretty(expr) {
    return String(expr).replace(/\*\*/g, "^").replace(/\*/g, "·");
  }

  function sig(x) {
    const a = Math.abs(x);
    if (a >= 100) return x.toFixed(0);
    if (a >= 10) return x.toFixed(1);
    return x.toFixed(2).replace(/\.?0+$/, (m) => (m.startsWith(".") ? "" : m));
  }

  const COUNT_UNITS = [[1e18, "E"], [1e15, "P"], [1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];
  const BYTE_UNITS = [[2 ** 50, "PiB"], [2 ** 40, "TiB"], [2 ** 30, "GiB"], [2 ** 20, "MiB"], [2 ** 10, "KiB"]];

  /** 1814073344 → "1.81 G"; a symbolic value as a formula; null → "?". */
  function count(v) {
    if (v === null || v === undefined) return "?";
    if (isSym(v)) return pretty(v);
    if (typeof v === "boolean") return v ? "yes" : "no";
    if (!isNum(v)) return String(v);
    for (const [scale, unit] of COUNT_UNITS) if (Math.abs(v) >= scale) return sig(v / scale) + " " + unit;
    return Number.isInteger(v) ? String(v) : sig(v);
  }

  /** 25333152 → "24.2 MiB". */
  function bytes(v) {
    if (v === null || v === undefined) return "?";
    if (isSym(v)) return pretty(v) + " B";
    if (!isNum(v)) return String(v);
    for (const [scale, unit] of BYTE_UNITS) if (Math.abs(v) >= scale) return sig(v / scale) + " " + unit;
    return v + " B";
  }

  /** 25557032 → "25,557,032" (what tooltips and details show beside the short form). */
  function exact(v) {
    if (v === null || v === undefined) return "unknown";
    if (isNum(v)) return Number.isInteger(v) && Math.abs(v) < 1e21 ? String(v).replace(/\B(?=(\d{3})+(?!\d))/g, ",") : String(v);
    if (isSym(v)) return v;
    return raw(v);
  }

  function shape(s) {
    if (s === null || s === undefined) return "";
    if (!Array.isArray(s)) return String(s);
    if (s.length === 0) return "scalar";
    return s.map((x) => (isSym(x) ? (/^[\w.]+$/.test(x) ? x : "(" + pretty(x) + ")") : String(x))).join("×");
  }

  function floatText(v) {
    if (!isNum(v)) return v === null || v === undefined ? "?" : String(v);
    if (Number.isInteger(v)) return count(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2);
    return String(Number(v.toPrecision(4)));
  }

  const BYTE_KEY = /(^|_)bytes($|_)|_bytes$|bytes_accessed/;
  /** How a column's values are written, by its key. */
  const FORMATTERS = new Map();
  function formatterFor(key) {
    if (!FORMATTERS.has(key)) FORMATTERS.set(key, makeFormatter(key));
    return FORMATTERS.get(key);
  }
  function makeFormatter(key) {
    if (key === "output_shape" || /^rf_(size|stride|padding)$/.test(key)) return shape;
    if (BYTE_KEY.test(key)) return bytes;
    if (/^(path|type|status|kind|op|rf_by|sigma_method|phase|name)$/.test(key)) return (v) => (v === null || v === undefined ? "" : String(v));
    return (v) => (isNum(v) && !Number.isInteger(v) ? floatText(v) : count(v));
  }

  function truncate(text, n) {
    return text.length > n ? text.slice(0, n - 1) + "…" : text;
  }

  /* ------------------------------------------------------------------ DOM helpers */

  function el(tag, attrs, ...kids) {
    const node = document.createElement(tag);
    if (attrs) for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const kid of kids) if (kid !== null && kid !== undefined) node.append(kid);
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVGNS, tag);
    if (attrs) for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, String(v));
    return node;
  }

  const byId = (id) => document.getElementById(id);
  function clear(node) { while (node && node.firstChild) node.removeChild(node.firstChild); }

  /* ------------------------------------------------------------------ state */

  const S = {
    payload: null, summary: null, layers: [], rowByPath: new Map(),
    modules: [], modById: new Map(), ops: [], opById: new Map(), groups: [], inputs: [],
    groupByFirst: new Map(), groupOfMember: new Map(), explainByPath: new Map(), rootId: null,
    expandedM: new Set(), expandedG: new Set(), ownOps: false, metric: "macs",
    view: { k: 1, x: 0, y: 0 }, layout: null, selected: null, match: null,
    sort: null, filter: "", hiddenCols: new Set(), collapsedRows: new Set(), plots: [], plotJobs: [], timing: {},
    sectionRows: [],
  };

  function prepare(payload) {
    S.payload = payload;
    S.summary = (payload && payload.summary) || null;
    S.layers = (S.summary && Array.isArray(S.summary.layers)) ? S.summary.layers : [];
    S.rowByPath = new Map(S.layers.map((row, i) => [row.path, i]));
    const graph = (payload && payload.graph) || {};
    S.modules = Array.isArray(graph.modules) ? graph.modules : [];
    S.ops = Array.isArray(graph.ops) ? graph.ops : [];
    S.groups = Array.isArray(graph.groups) ? graph.groups : [];
    S.inputs = Array.isArray(graph.inputs) ? graph.inputs : [];
    S.modById = new Map(S.modules.map((m) => [m.id, m]));
    S.opById = new Map(S.ops.map((o) => [o.id, o]));
    S.groupByFirst = new Map(); S.groupOfMember = new Map();
    for (const g of S.groups) {
      if (!g.members || !g.members.length) continue;
      S.groupByFirst.set(g.members[0], g);
      for (const m of g.members) S.groupOfMember.set(m, g);
    }
    const root = S.modules.find((m) => m.parent === null || m.parent === undefined);
    S.rootId = root ? root.id : null;
    S.explainByPath = new Map();
    for (const entry of (payload && Array.isArray(payload.explain)) ? payload.explain : []) {
      const list = S.explainByPath.get(entry.path) || [];
      list.push(entry);
      S.explainByPath.set(entry.path, list);
    }
  }

  function children(m) { return Array.isArray(m.children) ? m.children : []; }
  function ownOps(m) { return Array.isArray(m.ops) ? m.ops : []; }
  function expandable(m) { return !!m && (children(m).length > 0 || ownOps(m).length > 0); }
  function rowOf(m) {
    if (!m) return null;
    if (Number.isInteger(m.row) && S.layers[m.row]) return S.layers[m.row];
    const i = S.rowByPath.get(m.path);
    return i === undefined ? null : S.layers[i];
  }
  function modByPath(path) { return S.modules.find((m) => m.path === path) || null; }

  /* ------------------------------------------------------------------ graph model */

  /** The displayed frontier: node ids in drawing order, the clusters (expanded modules
      and groups) and each node's cluster. */
  function frontier() {
    const nodes = [], clusters = [], parentOf = new Map(), repOfModule = new Map(), opShown = new Set();
    const emit = (id, cluster) => { nodes.push(id); if (cluster) parentOf.set(id, cluster); };
    S.inputs.forEach((_, k) => emit("i" + k, null));
    const visit = (mid, cluster) => {
      const m = S.modById.get(mid);
      if (!m) return;
      const open = expandable(m) && S.expandedM.has(mid);
      if (!open) { emit("m" + mid, cluster); repOfModule.set(mid, "m" + mid); return; }
      let here = null;
      if (mid !== S.rootId) {
        here = "m" + mid;
        clusters.push({ id: here, parent: cluster, kind: "module", module: mid });
        if (cluster) parentOf.set(here, cluster);
      }
      const kids = children(m);
      if (kids.length) {
        for (const c of kids) {
          const g = S.groupOfMember.get(c);
          if (g && g.parent === mid) {
            if (g.members[0] !== c) continue; // the group was handled at its first member
            if (!S.expandedG.has(g.id)) {
              emit("g" + g.id, here);
              for (const x of g.members) repOfModule.set(x, "g" + g.id);
            } else {
              const gid = "g" + g.id;
              clusters.push({ id: gid, parent: here, kind: "group", group: g.id });
              if (here) parentOf.set(gid, here);
              for (const x of g.members) visit(x, gid);
            }
            continue;
          }
          visit(c, here);
        }
        if (S.ownOps) for (const o of ownOps(m)) { emit("o" + o, here); opShown.add(o); }
      } else {
        for (const o of ownOps(m)) { emit("o" + o, here); opShown.add(o); }
      }
    };
    if (S.rootId !== null) visit(S.rootId, null);
    return { nodes, clusters, parentOf, repOfModule, opShown };
  }

  /** Edges between displayed nodes: op edges mapped to their displayed ancestors,
      deduplicated, no self loops; ops that are not displayed pass their inputs through. */
  function edgesOf(f) {
    const cache = new Map();
    const modRep = (mid) => {
      if (cache.has(mid)) return cache.get(mid);
      let rep = null;
      const m = S.modById.get(mid);
      if (f.repOfModule.has(mid)) rep = f.repOfModule.get(mid);
      else if (m && m.parent !== null && m.parent !== undefined) rep = modRep(m.parent);
      cache.set(mid, rep);
      return rep;
    };
    const repOfOp = new Map(), through = new Map(), seen = new Set(), edges = [];
    const nInputs = S.inputs.length;
    const ops = S.ops.slice().sort((a, b) => a.id - b.id);
    for (const op of ops) {
      const rep = f.opShown.has(op.id) ? "o" + op.id : modRep(op.module);
      const ups = [];
      for (const p of Array.isArray(op.inputs) ? op.inputs : []) {
        if (!Number.isInteger(p)) continue;
        if (p < 0) { if (-p - 1 < nInputs) ups.push("i" + (-p - 1)); continue; }
        if (repOfOp.get(p)) ups.push(repOfOp.get(p));
        else if (through.has(p)) ups.push(...through.get(p));
      }
      repOfOp.set(op.id, rep);
      if (rep) {
        for (const u of ups) {
          if (u === rep) continue;
          const key = u + ">" + rep;
          if (!seen.has(key)) { seen.add(key); edges.push([u, rep]); }
        }
      } else {
        through.set(op.id, Array.from(new Set(ups)).slice(0, 64));
      }
    }
    return edges;
  }

  /** A node feeding many others (rotary embeddings, a mask, shared weights) would draw
      one long edge to each and make the layout slow: only its first FANOUT_KEPT edges
      are drawn, the number of the others is on the node (S.fanout). */
  const FANOUT_LIMIT = 8, FANOUT_KEPT = 2;
  function prunedFanout(edges) {
    const out = new Map();
    for (const [a] of edges) out.set(a, (out.get(a) || 0) + 1);
    S.fanout = new Map();
    const kept = new Map();
    return edges.filter(([a]) => {
      const n = out.get(a);
      if (n <= FANOUT_LIMIT) return true;
      S.fanout.set(a, n);
      const k = (kept.get(a) || 0) + 1;
      kept.set(a, k);
      return k <= FANOUT_KEPT;
    });
  }

  /** What a node shows: kind, path, title, shape and its four costs. */
  function nodeInfo(id) {
    const kind = { m: "module", g: "group", o: "op", i: "input" }[id[0]];
    const n = Number(id.slice(1));
    if (kind === "module") {
      const m = S.modById.get(n), row = rowOf(m) || {};
      const name = m.path === "" ? "(model)" : m.path.split(".").pop();
      return { id, kind, path: m.path, title: name, type: m.type || row.type || "", shape: row.output_shape,
        macs: row.macs, flops: row.flops, params: row.params_total !== undefined ? row.params_total : row.params,
        act: row.activation_bytes, row, expandable: expandable(m) };
    }
    if (kind === "group") {
      const g = S.groups.find((x) => x.id === n) || {}, t = g.totals || {};
      const members = (g.members || []).map((x) => S.modById.get(x)).filter(Boolean);
      const first = members[0], last = members[members.length - 1];
      const lastRow = rowOf(last) || {};
      const parent = S.modById.get(g.parent);
      const prefix = parent && parent.path ? parent.path + "." : "";
      const names = members.map((m) => m.path.split(".").pop());
      const span = names.length ? (names.length > 1 ? names[0] + "…" + names[names.length - 1] : names[0]) : "";
      return { id, kind, path: first ? first.path : "", title: g.label || (g.type + " × " + g.count),
        sub: prefix + span, type: g.type, shape: lastRow.output_shape, macs: t.macs, flops: t.flops,
        params: t.params_total !== undefined ? t.params_total : t.params, act: t.activation_bytes, group: g };
    }
    if (kind === "op") {
      const o = S.opById.get(n) || {}, m = S.modById.get(o.module);
      const flops = o.flops !== undefined ? o.flops : (isNum(o.macs) ? 2 * o.macs : (o.macs === 0 ? 0 : null));
      return { id, kind, path: m ? m.path : "", title: o.label || o.kind || "op", type: o.op || o.kind || "",
        shape: o.output_shape, macs: o.macs, flops, params: o.params, act: o.activation_bytes, op: o };
    }
    const input = S.inputs[n] || {};
    return { id, kind: "input", path: "", title: input.name || "input " + n, type: input.dtype || "",
      shape: input.shape, macs: null, flops: null, params: null, act: null, input };
  }

  function metricOf(info) {
    return { macs: info.macs, flops: info.flops, params: info.params, activation_bytes: info.act }[S.metric];
  }

  /* ------------------------------------------------------------------ colours */

  const STOPS = [[255, 251, 230], [254, 224, 144], [253, 174, 97], [244, 109, 67], [215, 48, 39], [140, 20, 50]];
  function ramp(t) {
    const x = Math.max(0, Math.min(1, t)) * (STOPS.length - 1);
    const i = Math.min(STOPS.length - 2, Math.floor(x)), f = x - i;
    const c = STOPS[i].map((a, j) => Math.round(a + (STOPS[i + 1][j] - a) * f));
    return "rgb(" + c.join(",") + ")";
  }
  function colourScale(values) {
    const pos = values.filter((v) => isNum(v) && v > 0);
    if (!pos.length) return { colour: (v) => (isNum(v) ? ramp(0) : "#eef0f3"), min: null, max: null, dark: () => false };
    const lo = Math.log(Math.min(...pos)), hi = Math.log(Math.max(...pos));
    const t = (v) => (hi > lo ? (Math.log(v) - lo) / (hi - lo) : 1);
    return {
      colour: (v) => (!isNum(v) ? "#eef0f3" : v <= 0 ? ramp(0) : ramp(t(v))),
      dark: (v) => isNum(v) && v > 0 && t(v) > 0.62,
      min: Math.min(...pos), max: Math.max(...pos),
    };
  }

  /* ------------------------------------------------------------------ graph drawing */

  const NODE_W = 196, NODE_H = 66, INPUT_H = 46;
  const metricFormat = () => (S.metric === "activation_bytes" ? bytes : count);

  function drawGraph(anchor) {
    const host = byId("graph");
    if (!host) return;
    const t0 = performance.now();
    if (S.rootId === null && !S.inputs.length) {
      clear(host);
      host.append(el("div", { class: "na-graph-empty", text: S.payload ? "This report has no graph." : "No model yet." }));
      S.layout = null; S.visible = [];
      drawLegend(null);
      return;
    }
    const f = frontier();
    const edges = prunedFanout(edgesOf(f));
    const g = new dagre.graphlib.Graph({ compound: true, multigraph: false });
    g.setGraph({ rankdir: "TB", nodesep: 22, ranksep: f.clusters.length ? 46 : 34, edgesep: 10, marginx: 24, marginy: 24 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const c of f.clusters) g.setNode(c.id, { cluster: true });
    const infos = new Map();
    for (const id of f.nodes) {
      const info = nodeInfo(id);
      info.lines = nodeLines(info);
      infos.set(id, info);
      g.setNode(id, { width: NODE_W, height: info.kind === "input" ? INPUT_H : NODE_H + 14.5 * (info.lines.length - 4) });
    }
    for (const [id, parent] of f.parentOf) g.setParent(id, parent);
    for (const [a, b] of edges) g.setEdge(a, b);
    dagre.layout(g);
    const t1 = performance.now();

    const scale = colourScale(f.nodes.map((id) => metricOf(infos.get(id))));
    const root = svg("svg", { class: "na-svg", role: "img", "aria-label": "model graph" });
    const defs = svg("defs");
    const marker = svg("marker", { id: "na-arrowhead", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
    marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", class: "na-arrow" }));
    defs.append(marker);
    root.append(defs);
    const viewport = svg("g", { class: "na-viewport" });
    root.append(viewport);

    const clusterLayer = svg("g", { class: "na-clusters" }), edgeLayer = svg("g", { class: "na-edges" }),
      nodeLayer = svg("g", { class: "na-nodes" });
    viewport.append(clusterLayer, edgeLayer, nodeLayer);

    // clusters outermost first, so inner ones are drawn on top
    const depthOf = (c) => { let d = 0, p = c.parent; while (p) { d++; p = (f.clusters.find((x) => x.id === p) || {}).parent; } return d; };
    const clusters = f.clusters.map((c) => ({ c, d: depthOf(c) })).sort((a, b) => a.d - b.d);
    for (const { c } of clusters) {
      const box = g.node(c.id);
      if (!box || !isNum(box.width)) continue;
      const label = clusterLabel(c);
      const top = box.y - box.height / 2;
      const group = svg("g", { class: "na-cluster", "data-cluster-id": c.id, "data-kind": c.kind, "data-path": label.path });
      group.append(svg("rect", { x: box.x - box.width / 2, y: top, width: box.width, height: box.height, rx: 8 }));
      const text = svg("text", { x: box.x - box.width / 2 + 7, y: top + 14 });
      text.textContent = "▾ " + truncate(label.text, Math.max(12, Math.floor((box.width - 10) / 6.4)));
      const tip = svg("title"); tip.textContent = label.tip + "\nclick to collapse";
      text.append(tip);
      text.addEventListener("click", (ev) => { ev.stopPropagation(); if (!S.dragged) collapse(c.id); });
      group.append(text);
      clusterLayer.append(group);
    }

    for (const e of g.edges()) {
      const pts = (g.edge(e) || {}).points || [];
      if (pts.length < 2) continue;
      edgeLayer.append(svg("path", { class: "na-edge", d: curve(pts), "marker-end": "url(#na-arrowhead)", "data-from": e.v, "data-to": e.w }));
    }

    const fmt = metricFormat();
    for (const id of f.nodes) {
      const info = infos.get(id), box = g.node(id);
      if (!box) continue;
      const w = box.width, h = box.height, x = box.x - w / 2, y = box.y - h / 2;
      const value = metricOf(info);
      const node = svg("g", {
        class: "na-node", transform: "translate(" + x + "," + y + ")",
        "data-node-id": id, "data-kind": info.kind, "data-path": info.path,
        "data-macs": raw(info.macs), "data-params": raw(info.params), "data-activation-bytes": raw(info.act),
        "data-flops": raw(info.flops), "data-type": info.type,
      });
      if (info.kind === "group") {
        node.append(svg("rect", { class: "na-stack", x: 6, y: -6, width: w, height: h, rx: 5 }));
        node.append(svg("rect", { class: "na-stack", x: 3, y: -3, width: w, height: h, rx: 5 }));
      }
      node.append(svg("rect", { width: w, height: h, rx: info.kind === "op" ? 12 : 5, fill: scale.colour(value) }));
      const ink = scale.dark(value) ? "#ffffff" : "#1d2433";
      const soft = scale.dark(value) ? "rgba(255,255,255,.85)" : "#4b5565";
      const lines = info.lines;
      lines.forEach((line, i) => {
        const parts = Array.isArray(line) ? line : [line];
        parts.forEach((part, j) => {
          const right = j === 1;
          const t = svg("text", { x: right ? w - 9 : 9, y: 16 + i * 14.5, class: "na-t" + (i + 1), fill: i === 0 ? ink : soft, "text-anchor": right ? "end" : null });
          t.textContent = truncate(part, parts.length > 1 ? 15 : i === 0 ? 24 : 30);
          node.append(t);
        });
      });
      if (info.expandable || info.kind === "group") {
        const t = svg("text", { x: w - 9, y: 16, fill: soft, "text-anchor": "end" });
        t.textContent = "+";
        node.append(t);
      }
      const fan = S.fanout && S.fanout.get(id);
      if (fan) {
        const t = svg("text", { x: w - 9, y: h - 6, fill: soft, "text-anchor": "end", class: "na-fan" });
        t.textContent = "→ " + fan;
        node.append(t);
      }
      const tip = svg("title");
      tip.textContent = tooltip(info) + (S.metric ? "\ncolour: " + S.metric + " = " + (fmt(value)) : "")
        + (fan ? "\nfeeds " + fan + " nodes: edges drawn to the first " + FANOUT_KEPT + " only" : "");
      node.append(tip);
      if (S.match === id) node.classList.add("na-match");
      if (S.selected && S.selected.node === id) node.classList.add("na-selected");
      nodeLayer.append(node);
    }

    clear(host);
    host.append(root);
    const gg = g.graph();
    S.layout = { width: gg.width || 0, height: gg.height || 0, g, viewport, infos };
    S.visible = f.nodes.slice();
    drawLegend(scale);
    const previous = S.view;
    if (anchor && anchor.screen) {
      const box = g.node(anchor.id);
      if (box && !fits()) {
        S.view = { k: previous.k, x: anchor.screen[0] - box.x * previous.k, y: anchor.screen[1] - (box.y - box.height / 2) * previous.k };
        applyView();
      } else fit();
    } else fit();
    S.timing.layout_ms = t1 - t0;
    S.timing.draw_ms = performance.now() - t0;
    S.timing.nodes = f.nodes.length;
    host.dataset.nodes = String(f.nodes.length);
  }

  function clusterLabel(c) {
    if (c.kind === "group") {
      const info = nodeInfo("g" + c.group);
      return { text: info.title + (info.sub ? "  " + info.sub : ""), tip: tooltip(info), path: info.path };
    }
    const m = S.modById.get(c.module), row = rowOf(m) || {};
    const text = (m.path || "(model)") + " · " + (m.type || "") + " · " + count(row.macs) + " MACs";
    return { text, tip: tooltip(nodeInfo("m" + c.module)), path: m.path };
  }

  function nodeLines(info) {
    if (info.kind === "input") return [info.title, shape(info.shape) + (info.type ? "  " + info.type : "")];
    const head = info.kind === "module" ? info.title + " · " + info.type
      : info.kind === "group" ? info.title : info.title + (info.op && info.op.kind && info.op.kind !== info.title ? " · " + info.op.kind : "");
    const second = info.kind === "group" && info.sub ? shape(info.shape) + "  " + info.sub : shape(info.shape) || " ";
    const p = "params " + count(info.params), m = "MACs " + count(info.macs);
    if (p.length + m.length > 24) return [head, second, p, m, "mem " + bytes(info.act)];
    return [head, second, [p, m], "mem " + bytes(info.act)];
  }

  function tooltip(info) {
    const lines = [];
    if (info.kind === "group") lines.push(info.title + " (" + (info.sub || "") + ")");
    else lines.push((info.path || (info.kind === "module" ? "(model)" : info.title)) + (info.type ? "  [" + info.type + "]" : ""));
    if (info.kind === "op" && info.op) lines.push("op: " + (info.op.op || info.op.kind || "") + (info.op.status ? " (" + info.op.status + ")" : ""));
    if (info.shape) lines.push("output: " + shape(info.shape));
    if (info.kind !== "input") {
      lines.push("params: " + exact(info.params));
      lines.push("MACs: " + exact(info.macs));
      lines.push("activation memory: " + exact(info.act) + (isNum(info.act) ? " B" : ""));
    }
    if (info.kind === "group") lines.push("click to expand the " + (info.group.count || "") + " blocks");
    else if (info.expandable) lines.push("click to expand");
    return lines.join("\n");
  }

  function curve(pts) {
    let d = "M" + pts[0].x + "," + pts[0].y;
    if (pts.length === 2) return d + "L" + pts[1].x + "," + pts[1].y;
    for (let i = 1; i < pts.length - 1; i++) {
      const p = pts[i], q = pts[i + 1];
      const mx = i === pts.length - 2 ? q.x : (p.x + q.x) / 2, my = i === pts.length - 2 ? q.y : (p.y + q.y) / 2;
      d += "Q" + p.x + "," + p.y + " " + mx + "," + my;
    }
    return d;
  }

  function drawLegend(scale) {
    const host = byId("graph-legend");
    if (!host) return;
    clear(host);
    if (!scale) { host.hidden = true; return; }
    host.hidden = false;
    const names = { macs: "MACs", flops: "FLOPs", params: "params", activation_bytes: "activation memory" };
    const fmt = metricFormat();
    host.append(el("div", { text: (names[S.metric] || S.metric) + " (log scale)" }));
    if (scale.min !== null) {
      host.append(el("div", { class: "na-bar", style: "background:linear-gradient(to right," + [0, 0.2, 0.4, 0.6, 0.8, 1].map(ramp).join(",") + ")" }));
      host.append(el("div", { class: "na-ends" }, el("span", { text: fmt(scale.min) }), el("span", { text: fmt(scale.max) })));
    }
    host.append(el("div", {}, el("span", { class: "na-none" }), "unknown or symbolic"));
  }

  /* pan & zoom */
  function applyView() {
    if (!S.layout) return;
    const v = S.view;
    S.layout.viewport.setAttribute("transform", "translate(" + v.x + "," + v.y + ") scale(" + v.k + ")");
  }
  function hostSize() {
    const host = byId("graph");
    return [host.clientWidth || 800, host.clientHeight || 600];
  }
  function fits() {
    if (!S.layout) return true;
    const [W, H] = hostSize();
    return S.layout.width * S.view.k <= W && S.layout.height * S.view.k <= H;
  }
  function fit() {
    if (!S.layout) return;
    const [W, H] = hostSize();
    const gw = Math.max(1, S.layout.width), gh = Math.max(1, S.layout.height);
    const k = Math.min(1.25, Math.max(0.04, Math.min(W / gw, H / gh) * 0.96));
    S.view = { k, x: (W - gw * k) / 2, y: Math.max(4, (H - gh * k) / 2) };
    applyView();
  }
  function centreOn(id) {
    if (!S.layout) return;
    const box = S.layout.g.node(id);
    if (!box) return;
    const [W, H] = hostSize();
    const k = Math.max(S.view.k, 0.7);
    S.view = { k, x: W / 2 - box.x * k, y: H / 2 - box.y * k };
    applyView();
  }
  function screenOf(id) {
    if (!S.layout) return null;
    const box = S.layout.g.node(id);
    if (!box) return null;
    return [box.x * S.view.k + S.view.x, (box.y - box.height / 2) * S.view.k + S.view.y];
  }

  function wireGraph() {
    const host = byId("graph");
    if (!host || host.dataset.wired) return;
    host.dataset.wired = "1";
    host.addEventListener("wheel", (ev) => {
      if (!S.layout) return;
      ev.preventDefault();
      const r = host.getBoundingClientRect(), px = ev.clientX - r.left, py = ev.clientY - r.top;
      const k0 = S.view.k, k = Math.min(4, Math.max(0.03, k0 * Math.exp(-ev.deltaY * (ev.deltaMode ? 0.05 : 0.0015))));
      S.view = { k, x: px - (px - S.view.x) * (k / k0), y: py - (py - S.view.y) * (k / k0) };
      applyView();
    }, { passive: false });
    let press = null;
    host.addEventListener("pointerdown", (ev) => {
      if (ev.button !== 0) return;
      press = { x: ev.clientX, y: ev.clientY, vx: S.view.x, vy: S.view.y, id: ev.pointerId, moved: false };
      S.dragged = false;
    });
    host.addEventListener("pointermove", (ev) => {
      if (!press || press.id !== ev.pointerId) return;
      const dx = ev.clientX - press.x, dy = ev.clientY - press.y;
      if (!press.moved && Math.hypot(dx, dy) > 4) {
        press.moved = true; S.dragged = true; host.classList.add("na-dragging");
        try { host.setPointerCapture(ev.pointerId); } catch (_) { /* pointer already gone */ }
      }
      if (press.moved) { S.view.x = press.vx + dx; S.view.y = press.vy + dy; applyView(); }
    });
    const release = (ev) => {
      if (!press || press.id !== ev.pointerId) return;
      if (press.moved) { try { host.releasePointerCapture(ev.pointerId); } catch (_) { /* released */ } }
      host.classList.remove("na-dragging");
      press = null;
      setTimeout(() => { S.dragged = false; }, 0);
    };
    host.addEventListener("pointerup", release);
    host.addEventListener("pointercancel", release);
    host.addEventListener("click", (ev) => {
      if (S.dragged) return;
      const node = ev.target.closest && ev.target.closest("g.na-node");
      if (!node) return;
      clickNode(node.getAttribute("data-node-id"));
    });
    host.addEventListener("keydown", (ev) => {
      if (ev.key === "f" || ev.key === "0") fit();
      else if (ev.key === "+" || ev.key === "=") zoomBy(1.25);
      else if (ev.key === "-") zoomBy(0.8);
    });
  }
  function zoomBy(f) {
    const [W, H] = hostSize(), k0 = S.view.k, k = Math.min(4, Math.max(0.03, k0 * f));
    S.view = { k, x: W / 2 - (W / 2 - S.view.x) * (k / k0), y: H / 2 - (H / 2 - S.view.y) * (k / k0) };
    applyView();
  }

  function clickNode(id) {
    if (!id) return;
    const kind = id[0];
    select({ node: id });
    if (kind === "g") expand(id);
    else if (kind === "m") {
      const m = S.modById.get(Number(id.slice(1)));
      if (expandable(m)) expand(id);
    }
  }

  /** Expand a module ("m<id>": its children, or its ops when it has none) or a group ("g<id>"). */
  function expand(nodeId) {
    const id = String(nodeId), n = Number(id.slice(1));
    const anchor = { id, screen: screenOf(id) };
    if (id[0] === "g") {
      if (!S.groups.some((g) => g.id === n)) return false;
      S.expandedG.add(n);
    } else if (id[0] === "m") {
      const m = S.modById.get(n);
      if (!expandable(m)) return false;
      S.expandedM.add(n);
    } else return false;
    drawGraph(anchor);
    return true;
  }

  /** Collapse a module or a group back into one node. */
  function collapse(nodeId) {
    const id = String(nodeId), n = Number(id.slice(1));
    const anchor = { id, screen: screenOf(id) };
    if (id[0] === "g") { if (!S.expandedG.delete(n)) return false; }
    else if (id[0] === "m") { if (!S.expandedM.delete(n)) return false; }
    else return false;
    if (S.match && !S.visible.includes(S.match)) S.match = null;
    drawGraph(anchor);
    return true;
  }

  /** Reveal the module at `path` (expanding its ancestors and groups) and mark it. */
  function search(text) {
    const q = String(text || "").trim();
    const status = byId("graph-search");
    if (!q) { S.match = null; drawGraph(); return null; }
    let m = modByPath(q);
    if (!m) {
      const lower = q.toLowerCase();
      m = S.modules.find((x) => x.path.toLowerCase().endsWith(lower))
        || S.modules.find((x) => x.path.toLowerCase().includes(lower)) || null;
    }
    if (!m) { if (status) status.setCustomValidity("no module with this path"); if (status) status.reportValidity(); return null; }
    if (status) status.setCustomValidity("");
    let p = m.parent;
    while (p !== null && p !== undefined) { S.expandedM.add(p); const pm = S.modById.get(p); p = pm ? pm.parent : null; }
    for (let a = m; a; a = S.modById.get(a.parent)) {
      const g = S.groupOfMember.get(a.id);
      if (g) S.expandedG.add(g.id);
      if (a.parent === null || a.parent === undefined) break;
    }
    S.expandedM.delete(m.id);
    const id = m.id === S.rootId ? null : "m" + m.id;
    S.match = id;
    drawGraph();
    if (id) centreOn(id);
    select({ node: id || "m" + m.id, path: m.path });
    return id;
  }

  /* ------------------------------------------------------------------ selection & details */

  function select(sel) {
    S.selected = sel;
    const path = sel.path !== undefined ? sel.path : (nodeInfo(sel.node) || {}).path;
    document.querySelectorAll("#graph g.na-node.na-selected").forEach((n) => n.classList.remove("na-selected"));
    if (sel.node) {
      const node = document.querySelector('#graph g.na-node[data-node-id="' + sel.node + '"]');
      if (node) node.classList.add("na-selected");
    }
    document.querySelectorAll("#layers tr.na-selected").forEach((n) => n.classList.remove("na-selected"));
    if (path !== undefined && (!sel.node || sel.node[0] === "m" || sel.node[0] === "o")) {
      const row = Array.from(document.querySelectorAll("#layers tbody tr")).find((r) => r.dataset.path === path);
      if (row) {
        row.classList.add("na-selected");
        const wrap = byId("layers");
        if (wrap && sel.fromTable !== true) {
          const top = row.offsetTop - wrap.clientHeight / 2;
          if (row.offsetTop < wrap.scrollTop + 30 || row.offsetTop > wrap.scrollTop + wrap.clientHeight - 30) wrap.scrollTop = Math.max(0, top);
        }
      }
    }
    showDetails(sel);
  }

  function kv(list, label, value, exactText) {
    const dd = el("dd", {}, value);
    if (exactText && exactText !== value) dd.append(el("span", { class: "na-exact", text: exactText }));
    list.append(el("dt", { text: label }), dd);
  }

  function showDetails(sel) {
    const host = byId("details");
    if (!host) return;
    clear(host);
    const id = sel.node;
    let info = null;
    if (id && /^[mgoi]\d+$/.test(id)) info = nodeInfo(id);
    let path = sel.path !== undefined ? sel.path : info ? info.path : "";
    let row = null;
    if (info && info.kind === "module") row = info.row;
    else if (!info || info.kind === "op") {
      const i = S.rowByPath.get(path);
      row = i === undefined ? null : S.layers[i];
    }
    if (info && info.kind === "group") {
      const g = info.group;
      host.append(el("h2", { text: info.title }), el("span", { class: "na-kind", text: "repeated block" }));
      const list = el("dl", { class: "na-kv" });
      kv(list, "modules", info.sub || "");
      kv(list, "output", shape(info.shape));
      const t = g.totals || {};
      for (const key of Object.keys(t)) {
        const f = formatterFor(key);
        kv(list, key.replace(/_/g, " ") + " (sum)", f(t[key]), exact(t[key]));
      }
      host.append(list, el("p", { class: "na-muted", text: "Click the node to expand its " + g.count + " blocks; click the group's label to collapse it again." }));
      return;
    }
    if (info && info.kind === "input") {
      host.append(el("h2", { text: info.title }), el("span", { class: "na-kind", text: "graph input" }));
      const list = el("dl", { class: "na-kv" });
      kv(list, "shape", shape(info.shape));
      kv(list, "dtype", info.type || "?");
      host.append(list);
      return;
    }
    if (info && info.kind === "op") {
      const o = info.op;
      host.append(el("h2", { text: (o.label || o.kind) + (path ? "  in " + path : "") }), el("span", { class: "na-kind", text: "op · " + (o.op || o.kind) }));
      const list = el("dl", { class: "na-kv" });
      for (const key of Object.keys(o)) {
        if (key === "id" || key === "module" || key === "label") continue;
        const v = o[key];
        if (key === "inputs") { kv(list, "inputs", (v || []).map((p) => (p < 0 ? "input " + (-p - 1) : "op " + p)).join(", ")); continue; }
        const f = formatterFor(key);
        kv(list, key.replace(/_/g, " "), f(v), typeof v === "object" && v !== null ? "" : exact(v));
      }
      host.append(list);
      host.append(el("h3", { text: "module " + (path || "(model)") }));
    } else {
      host.append(el("h2", { text: path === "" ? "(model)" : path }));
      if (row) host.append(el("span", { class: "na-kind", text: row.type }));
    }
    if (row) {
      const list = el("dl", { class: "na-kv" });
      for (const key of Object.keys(row)) {
        const v = row[key];
        if (key === "path" || key === "output_shapes" || key === "call_shapes") continue;
        if (key === "rf") { kv(list, "receptive field", rfText(v)); continue; }
        if (key === "uncounted") { if (v && v.length) kv(list, "uncounted ops", v.map((u) => u.op + " ×" + u.count).join(", ")); continue; }
        const f = formatterFor(key);
        const shown = f(v);
        kv(list, key.replace(/_/g, " "), shown, Array.isArray(v) ? "" : exact(v));
      }
      host.append(list);
      for (const extra of sectionRowsFor(path)) {
        host.append(el("h3", { text: extra.title }));
        const l2 = el("dl", { class: "na-kv" });
        for (const [k, v] of Object.entries(extra.values)) kv(l2, k, cellText(k, v), isNum(v) ? exact(v) : "");
        host.append(l2);
      }
    }
    const entries = S.explainByPath.get(path) || [];
    if (entries.length) {
      const box = el("div", { class: "na-explain" }, el("h3", { text: "Derivation" }));
      for (const entry of entries) {
        if (info && info.kind === "op" && entries.length > 1 && info.op.kind && entry.kind && entry.kind !== info.op.kind) continue;
        box.append(el("div", { class: "na-explain-op" }, (entry.op || entry.kind || "") + " ",
          el("span", { text: entry.convention ? "(" + entry.convention + ")" : "" })));
        for (const step of entry.steps || []) box.append(stepNode(step));
      }
      host.append(box);
    } else if (S.payload && Array.isArray(S.payload.explain) && row) {
      const below = S.payload.explain.filter((e) => path === "" || e.path.startsWith(path + ".")).length;
      if (below) host.append(el("p", { class: "na-muted", text: below + " derivation" + (below > 1 ? "s" : "") + " in the modules below: click one to see its steps." }));
    }
  }

  function stepNode(step) {
    const node = el("div", { class: "na-step" }, el("span", { class: "na-q", text: step.quantity }));
    const parts = [];
    if (step.formula) {
      parts.push(pretty(step.formula));
      if (step.substituted && step.substituted !== step.formula && step.substituted !== raw(step.result)) parts.push(pretty(step.substituted));
    }
    const result = Array.isArray(step.result) ? shape(step.result) : step.result === null ? "unknown" : isNum(step.result) ? exact(step.result) : pretty(step.result);
    for (const p of parts) node.append(el("span", { class: "na-eq", text: "=" }), el("span", { text: p }));
    node.append(el("span", { class: "na-eq", text: "=" }), el("span", { class: "na-r", text: result }));
    node.dataset.quantity = step.quantity;
    node.dataset.result = raw(step.result);
    return node;
  }

  function rfText(rf) {
    if (!rf) return "none";
    if (rf.global) return "global" + (rf.by ? " (by " + rf.by + ")" : "");
    return "size " + shape(rf.size) + ", stride " + shape(rf.stride) + ", padding " + shape(rf.padding);
  }

  /* ------------------------------------------------------------------ table */

  function layerColumns() {
    const keys = [];
    const seen = new Set();
    let hasRf = false;
    for (const row of S.layers) {
      for (const key of Object.keys(row)) {
        if (seen.has(key)) continue;
        const v = row[key];
        if (key === "rf") { hasRf = hasRf || v !== null; continue; }
        if (key === "output_shapes" || key === "call_shapes") continue;
        seen.add(key);
        if (key === "output_shape" || key === "uncounted" || v === null || typeof v !== "object") keys.push(key);
        else seen.delete(key);
      }
      if (!hasRf && row.rf) hasRf = true;
    }
    if (hasRf) {
      const at = keys.indexOf("status");
      const rfKeys = ["rf_size", "rf_stride", "rf_padding", "rf_global"];
      keys.splice(at < 0 ? keys.length : at + 1, 0, ...rfKeys);
    }
    return keys;
  }

  function cellValue(row, key) {
    if (key.startsWith("rf_") && !(key in row)) {
      const rf = row.rf;
      if (!rf) return null;
      const k = key.slice(3);
      return rf[k] === undefined ? null : rf[k];
    }
    const v = row[key];
    return v === undefined ? null : v;
  }

  function cellText(key, v) {
    if (key === "uncounted") return Array.isArray(v) ? v.map((u) => u.op + " ×" + u.count).join(", ") : "";
    if (v && typeof v === "object" && !Array.isArray(v)) return JSON.stringify(v);
    if (typeof v === "boolean") return v ? "yes" : "no";
    return formatterFor(key)(v);
  }

  const TEXT_COLS = new Set(["path", "type", "status", "uncounted", "kind", "op", "name"]);

  /** Numbers numerically, then symbolic strings, then null (always last). */
  function compareValues(a, b, dir) {
    const rank = (v) => (v === null || v === undefined || v === "" ? 3 : isNum(v) ? 0 : typeof v === "boolean" ? 0 : Array.isArray(v) ? 1 : 2);
    const ra = rank(a), rb = rank(b);
    if (ra !== rb) return ra - rb;
    if (ra === 3) return 0;
    let c;
    if (ra === 0) c = Number(a) - Number(b);
    else if (ra === 1) {
      const pa = a.reduce((x, y) => (isNum(y) ? x * y : NaN), 1), pb = b.reduce((x, y) => (isNum(y) ? x * y : NaN), 1);
      c = isNum(pa) && isNum(pb) ? pa - pb : String(a).localeCompare(String(b));
    } else c = String(a).localeCompare(String(b), "en", { numeric: true });
    return dir === "desc" ? -c : c;
  }

  const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  const esc = (t) => String(t).replace(/[&<>"']/g, (c) => ESC[c]);

  /** A table as one HTML string (fast for thousands of rows); every cell carries
      data-col and data-value (the raw JSON value as text). */
  function buildTable(host, spec) {
    const hidden = spec.hidden || new Set();
    const parts = ['<table class="na-table"><thead><tr>'];
    for (const key of spec.columns) {
      const cls = (TEXT_COLS.has(key) ? "na-text" : "") + (key === "path" ? " na-path" : "");
      parts.push('<th data-col="' + esc(key) + '" scope="col" class="' + cls + '" title="sort by ' + esc(key) + '"' + (hidden.has(key) ? " hidden" : "") + ">" + esc(key.replace(/_/g, " ")) + "</th>");
    }
    parts.push("</tr></thead><tbody>");
    spec.rows.forEach((row, index) => {
      const path = spec.pathKey && row[spec.pathKey] !== undefined && row[spec.pathKey] !== null ? ' data-path="' + esc(row[spec.pathKey]) + '"' : "";
      parts.push("<tr" + path + ' data-index="' + index + '"' + (spec.tree ? ' data-depth="' + (row.depth || 0) + '"' : "") + ">");
      for (const key of spec.columns) {
        const v = spec.value(row, key);
        const hid = hidden.has(key) ? " hidden" : "";
        const attrs = ' data-col="' + esc(key) + '" data-value="' + esc(raw(v)) + '"' + hid;
        if (key === "path" && spec.tree) {
          const p = String(v), cut = p.lastIndexOf(".");
          const twist = spec.hasKids && spec.hasKids(index) ? "▾" : "";
          const label = p === "" ? "(model)" : '<span class="na-muted">' + esc(cut >= 0 ? p.slice(0, cut + 1) : "") + "</span>" + esc(p.slice(cut + 1));
          parts.push('<td class="na-text na-path"' + attrs + ' style="padding-left:' + (8 + 14 * (row.depth || 0)) + 'px" title="' + esc(p || "(model)") + '"><span class="na-twist" data-toggle="1">' + twist + "</span>" + label + "</td>");
          continue;
        }
        const text = cellText(key, v);
        const classes = [];
        if (spec.plainText && isSym(v)) {
          parts.push('<td class="na-text na-clip"' + attrs + ' title="' + esc(v) + '">' + esc(v) + "</td>");
          continue;
        }
        if (TEXT_COLS.has(key) || typeof v === "boolean") classes.push("na-text");
        if (key === "path") classes.push("na-path");
        if (isSym(v) && !TEXT_COLS.has(key)) classes.push("na-sym");
        if (v === null) classes.push("na-null");
        let title = "";
        if (isNum(v) && Math.abs(v) >= 1000) title = exact(v);
        else if (isSym(v) && text.length > 24) title = v;
        parts.push("<td" + (classes.length ? ' class="' + classes.join(" ") + '"' : "") + attrs + (title ? ' title="' + esc(title) + '"' : "") + ">" + esc(text) + "</td>");
      }
      parts.push("</tr>");
    });
    parts.push("</tbody></table>");
    host.innerHTML = parts.join("");
    const table = host.firstChild, tbody = table.tBodies[0];
    return { table, tbody, trs: Array.from(tbody.rows) };
  }

  let mainTable = null;

  function drawTable() {
    const host = byId("layers");
    if (!host) return;
    const columns = layerColumns();
    if (!S.layers.length) { clear(host); if (!S.bare) host.append(el("p", { class: "na-muted", text: S.payload ? "No layers." : "No model yet." })); mainTable = null; return; }
    // hide columns with no value at all (all null or empty)
    const empty = new Set(columns.filter((key) => key !== "path" && S.layers.every((r) => {
      const v = cellValue(r, key);
      return v === null || v === "" || (Array.isArray(v) && v.length === 0);
    })));
    if (!S.userCols) S.hiddenCols = empty;
    const kids = new Map();
    const stack = [];
    S.layers.forEach((row, i) => {
      const d = row.depth || 0;
      while (stack.length && (S.layers[stack[stack.length - 1]].depth || 0) >= d) stack.pop();
      if (stack.length) kids.set(stack[stack.length - 1], (kids.get(stack[stack.length - 1]) || 0) + 1);
      stack.push(i);
    });
    S.rowKids = kids;
    mainTable = buildTable(host, { columns, rows: S.layers, value: cellValue, tree: true, pathKey: "path", hidden: S.hiddenCols, hasKids: (i) => kids.has(i) });
    mainTable.columns = columns;
    const table = mainTable.table;
    table.querySelector("thead").addEventListener("click", (ev) => {
      const th = ev.target.closest("th");
      if (!th) return;
      const key = th.dataset.col;
      const dir = S.sort && S.sort.key === key && S.sort.dir === "asc" ? "desc" : "asc";
      S.sort = { key, dir };
      applySort();
    });
    mainTable.tbody.addEventListener("click", (ev) => {
      const tr = ev.target.closest("tr");
      if (!tr) return;
      if (ev.target.closest("[data-toggle]") && !S.sort) {
        const i = Number(tr.dataset.index);
        if (S.rowKids.has(i)) {
          if (S.collapsedRows.has(i)) S.collapsedRows.delete(i); else S.collapsedRows.add(i);
          ev.target.textContent = S.collapsedRows.has(i) ? "▸" : "▾";
          applyFilter();
          return;
        }
      }
      const path = tr.dataset.path;
      const m = modByPath(path);
      let node = m ? "m" + m.id : null;
      if (m && S.visible && !S.visible.includes(node)) {
        const g = S.groupOfMember.get(m.id);
        if (g && S.visible.includes("g" + g.id)) node = "g" + g.id;
      }
      select({ node: m ? "m" + m.id : null, path, fromTable: true });
      if (node && S.visible && S.visible.includes(node)) {
        const n = document.querySelector('#graph g.na-node[data-node-id="' + node + '"]');
        if (n) n.classList.add("na-selected");
      }
    });
    drawColumnChooser(columns);
    if (S.sort && columns.includes(S.sort.key)) applySort(); else S.sort = null;
    applyFilter();
  }

  function drawColumnChooser(columns) {
    const host = byId("layers-columns");
    if (!host) return;
    clear(host);
    for (const key of columns) {
      if (key === "path") continue;
      const box = el("input", { type: "checkbox", "data-col": key });
      box.checked = !S.hiddenCols.has(key);
      box.addEventListener("change", () => {
        S.userCols = true;
        if (box.checked) S.hiddenCols.delete(key); else S.hiddenCols.add(key);
        setColumnHidden(key, !box.checked);
      });
      host.append(el("label", {}, box, " " + key.replace(/_/g, " ")));
    }
  }

  function setColumnHidden(key, hidden) {
    if (!mainTable) return;
    mainTable.table.querySelectorAll('[data-col="' + key + '"]').forEach((c) => { c.hidden = hidden; });
  }

  function applySort() {
    if (!mainTable) return;
    const { tbody, trs, table } = mainTable;
    table.querySelectorAll("th[data-sort]").forEach((th) => th.removeAttribute("data-sort"));
    const reset = byId("layers-unsort");
    let order;
    if (!S.sort) {
      order = trs;
      if (reset) reset.hidden = true;
    } else {
      const { key, dir } = S.sort;
      const th = table.querySelector('th[data-col="' + key + '"]');
      if (th) th.setAttribute("data-sort", dir);
      order = trs.slice().sort((a, b) => {
        const c = compareValues(cellValue(S.layers[a.dataset.index], key), cellValue(S.layers[b.dataset.index], key), dir);
        return c || Number(a.dataset.index) - Number(b.dataset.index);
      });
      if (reset) reset.hidden = false;
    }
    const frag = document.createDocumentFragment();
    for (const tr of order) frag.append(tr);
    tbody.append(frag);
    applyFilter();
  }

  function applyFilter() {
    if (!mainTable) return;
    const q = S.filter.trim().toLowerCase();
    let shown = 0;
    const hiddenBy = new Set();
    if (!q && !S.sort && S.collapsedRows.size) {
      // rows under a collapsed row (tree order: a subtree is the run of deeper rows after it)
      let cut = null;
      S.layers.forEach((row, i) => {
        const d = row.depth || 0;
        if (cut !== null && d > cut) { hiddenBy.add(i); return; }
        cut = S.collapsedRows.has(i) ? d : null;
      });
    }
    for (const tr of mainTable.trs) {
      const i = Number(tr.dataset.index), row = S.layers[i];
      const match = !q || String(row.path).toLowerCase().includes(q) || String(row.type || "").toLowerCase().includes(q);
      const hide = !match || hiddenBy.has(i);
      tr.hidden = hide;
      if (!hide) shown++;
    }
    const counter = byId("layers-count");
    if (counter) counter.textContent = shown + " of " + S.layers.length + " rows";
  }

  function wireTableControls() {
    const input = byId("layers-filter");
    if (input && !input.dataset.wired) {
      input.dataset.wired = "1";
      input.addEventListener("input", () => { S.filter = input.value; applyFilter(); });
    }
    const toolbar = input ? input.parentElement : null;
    if (toolbar && !byId("layers-unsort")) {
      const b = el("button", { type: "button", id: "layers-unsort", title: "back to the module tree order", text: "Tree order" });
      b.hidden = true;
      b.addEventListener("click", () => { S.sort = null; applySort(); });
      toolbar.append(b);
    }
  }

  /* ------------------------------------------------------------------ sections (training, inference, diagnose, ...) */

  const SECTION_TITLES = { training: "Training step", inference: "Inference", diagnose: "Diagnose", lint: "Lint", lab: "Lab", attribute: "Attribution", profile: "Profile" };
  const SKIP_KEYS = new Set(["schema", "conventions", "timeline", "heatmap"]);

  function flatten(obj, prefix, out, depth) {
    for (const [k, v] of Object.entries(obj)) {
      const key = prefix ? prefix + "." + k : k;
      if (v && typeof v === "object" && !Array.isArray(v)) {
        if (depth < 2) flatten(v, key, out, depth + 1);
      } else if (!Array.isArray(v) || v.every((x) => x === null || typeof x !== "object")) out[key] = v;
    }
    return out;
  }

  function sectionRowsFor(path) {
    const out = [];
    for (const entry of S.sectionRows) {
      const row = entry.byPath.get(path);
      if (row) out.push({ title: entry.title, values: row });
    }
    return out;
  }

  function drawSections() {
    const host = byId("na-sections");
    S.sectionRows = [];
    if (!host) return;
    clear(host);
    const sections = (S.payload && S.payload.sections) || {};
    for (const [name, doc] of Object.entries(sections)) {
      if (!doc || typeof doc !== "object") continue;
      const title = SECTION_TITLES[name] || name;
      const box = el("div", { class: "na-section-block", "data-section": name }, el("h3", { text: title }));
      const scalars = {}, tables = [];
      const isRow = (x) => x && typeof x === "object" && !Array.isArray(x);
      const listText = (fk, fv) => (Array.isArray(fv) ? (/shape|size|position/.test(fk) && fv.every((x) => !isRow(x)) ? shape(fv) : fv.join(", ")) : fv);
      for (const [k, v] of Object.entries(doc)) {
        if (SKIP_KEYS.has(k) || v === null || v === undefined) continue;
        if (Array.isArray(v)) {
          if (v.length && v.every(isRow)) tables.push([k, v]);
          else if (v.length && v.length <= 12 && v.every((x) => typeof x !== "object")) scalars[k] = v.join(", ");
        } else if (isRow(v)) {
          const kids = Object.values(v);
          if (kids.length > 1 && kids.every((x) => isRow(x) || x === null)) {
            // {forward: {...}, backward: {...}}: one table, a row per key
            tables.push([k, Object.entries(v).map(([name, x]) => Object.assign({ name }, x || {}))]);
            continue;
          }
          for (const [ak, av] of Object.entries(v)) {
            if (ak === "timeline" || SKIP_KEYS.has(ak)) continue;
            if (Array.isArray(av) && av.length && av.every(isRow)) { tables.push([k + "." + ak, av]); continue; }
            if (isRow(av)) {
              for (const [fk, fv] of Object.entries(flatten(av, k + "." + ak, {}, 1))) scalars[fk] = listText(fk, fv);
              continue;
            }
            scalars[k + "." + ak] = listText(ak, av);
          }
        } else scalars[k] = v;
      }
      const keys = Object.keys(scalars);
      if (keys.length) {
        const cards = el("dl", { class: "na-cards" });
        for (const k of keys.slice(0, 60)) {
          const v = scalars[k];
          cards.append(el("div", {}, el("dt", { text: k.replace(/_/g, " ") }), el("dd", { text: cellText(k.split(".").pop(), v), title: isNum(v) ? exact(v) : String(v) })));
        }
        box.append(cards);
      }
      for (const [k, rows] of tables) {
        const flat = rows.slice(0, 2000).map((r) => flatten(r, "", {}, 0));
        const cols = [];
        for (const r of flat) for (const c of Object.keys(r)) if (!cols.includes(c)) cols.push(c);
        const usable = cols.filter((c) => flat.some((r) => r[c] !== null && r[c] !== undefined && r[c] !== "" && !(Array.isArray(r[c]) && !r[c].length)));
        const wrap = el("div", { class: "na-table-wrap", "data-table": name + "." + k });
        box.append(el("div", { class: "na-muted", text: k.replace(/_/g, " ") + " (" + rows.length + ")" }), wrap);
        buildTable(wrap, { columns: usable.slice(0, 40), rows: flat, value: (r, c) => (r[c] === undefined ? null : listText(c, r[c])), pathKey: "path", plainText: true });
        if (flat.length && "path" in flat[0]) {
          S.sectionRows.push({ title: title + " · " + k, byPath: new Map(flat.map((r) => [r.path, Object.fromEntries(Object.entries(r).filter(([c]) => c !== "path" && c !== "type" && c !== "depth"))])) });
        }
        wrap.addEventListener("click", (ev) => {
          const tr = ev.target.closest("tr[data-path]");
          if (tr && S.rowByPath.has(tr.dataset.path)) {
            const m = modByPath(tr.dataset.path);
            select({ node: m ? "m" + m.id : null, path: tr.dataset.path, fromTable: true });
          }
        });
      }
      host.append(box);
    }
  }

  /* ------------------------------------------------------------------ header, conventions, notes */

  function drawHeader() {
    const p = S.payload;
    const title = byId("na-title");
    if (title && p && p.title) title.textContent = p.title;
    const src = byId("na-source");
    if (src) {
      const s = (p && p.source) || {};
      const bits = [];
      if (s.kind) bits.push(s.kind === "spec" ? "spec" : "PyTorch");
      if (s.target) bits.push(s.target);
      if (Array.isArray(s.inputs) && s.inputs.length) bits.push("input " + s.inputs.map((x) => (typeof x === "string" ? x : shape(x.shape || x))).join(", "));
      if (s.settings && Object.keys(s.settings).length) bits.push(Object.entries(s.settings).map(([k, v]) => k + "=" + v).join(" "));
      const c = S.summary && S.summary.capture;
      if (c && c.device) bits.push(c.device + (c.training ? ", train mode" : ""));
      src.textContent = bits.join(" · ");
    }
    const totals = byId("na-totals");
    if (totals) {
      clear(totals);
      const t = (S.summary && S.summary.totals) || null;
      if (t) {
        const items = [["params", "params", count], ["MACs", "macs", count], ["FLOPs", "flops", count], ["elementwise", "elementwise_flops", count],
          ["activations", "activation_bytes", bytes], ["training mem", "training_bytes", bytes], ["ops", "ops", count], ["status", "status", (v) => String(v)]];
        for (const [label, key, f] of items) {
          if (!(key in t)) continue;
          const v = t[key];
          totals.append(el("div", { "data-total-key": key }, el("dt", { text: label }), el("dd", { text: f(v), title: exact(v), "data-value": raw(v) })));
        }
      }
    }
    const foot = byId("na-footer");
    if (foot) {
      const gen = (p && p.generator) || {};
      foot.textContent = (gen.name || "netanatomy") + (gen.version ? " " + gen.version : "") + " · " + ((p && p.schema) || "") + " · works offline";
    }
  }

  function drawConventions() {
    const host = byId("conventions");
    if (!host) return;
    clear(host);
    const conv = (S.summary && S.summary.conventions) || {};
    for (const [k, v] of Object.entries(conv)) host.append(el("dt", { text: k }), el("dd", { text: String(v) }));
    for (const [name, doc] of Object.entries((S.payload && S.payload.sections) || {})) {
      if (!doc || !doc.conventions) continue;
      const c = doc.conventions;
      const entries = Array.isArray(c) ? c.map((v, i) => [name + " " + (i + 1), v]) : Object.entries(c).map(([k, v]) => [name + ": " + k, v]);
      for (const [k, v] of entries) host.append(el("dt", { text: k }), el("dd", { text: String(v) }));
    }
    if (!host.firstChild) host.append(el("dd", { class: "na-muted", text: "No conventions (no model yet)." }));
  }

  function drawNotes() {
    const host = byId("na-notes");
    if (!host) return;
    clear(host);
    const notes = [];
    const s = S.summary;
    if (s && Array.isArray(s.uncounted) && s.uncounted.length) notes.push("Uncounted ops (no rule; their cost is unknown, not 0): " + s.uncounted.map((u) => u.op + " ×" + u.count).join(", "));
    if (s && s.capture && Array.isArray(s.capture.notes) && s.capture.notes.length) notes.push((s.capture.frontend === "spec" ? "Spec values and notes: " : "Capture notes: ") + s.capture.notes.map(String).join("; "));
    if (s && s.receptive_field && Array.isArray(s.receptive_field.unknown_ops) && s.receptive_field.unknown_ops.length) notes.push("Receptive field: ops without a transfer rule: " + s.receptive_field.unknown_ops.join(", "));
    for (const n of notes) host.append(el("div", { text: n }));
    host.hidden = notes.length === 0;
  }

  /* ------------------------------------------------------------------ plots */

  const PALETTE = ["#2f6fde", "#e4572e", "#17a398", "#f2a541", "#7b4fc9", "#a23b72", "#3f88c5", "#5f6f52", "#d1495b", "#00798c"];

  function leafRows() {
    // leaf modules in execution order (order of their first op when the graph has ops)
    const leaves = [];
    if (S.modules.length) {
      for (const m of S.modules) if (!children(m).length && rowOf(m)) leaves.push({ row: rowOf(m), first: Math.min(...(ownOps(m).length ? ownOps(m) : [Infinity])), order: leaves.length });
      leaves.sort((a, b) => (a.first === b.first ? a.order - b.order : a.first - b.first));
      return leaves.map((x) => x.row);
    }
    return S.layers.filter((row, i) => !(S.layers[i + 1] && (S.layers[i + 1].depth || 0) > (row.depth || 0)));
  }

  function plotBox(name, title, note) {
    const box = el("div", { class: "na-plot", "data-plot": name }, el("h3", { text: title }));
    const area = el("div", { class: "na-plot-area" });
    box.append(area);
    if (note) box.append(el("div", { class: "na-plot-note", text: note }));
    return { box, area };
  }

  function addPlot(host, name, title, build, note) {
    const { box, area } = plotBox(name, title, note);
    host.append(box);
    S.plotJobs.push({ area, build });
    return box;
  }

  /** uPlot charts are drawn just after the page is ready (their boxes exist before). */
  function flushPlots(generation) {
    if (generation !== S.plotGeneration) return;
    const jobs = S.plotJobs;
    S.plotJobs = [];
    const widths = jobs.map((job) => job.area.clientWidth);
    jobs.forEach((job, i) => {
      const width = Math.max(320, (widths[i] || 480) - 4);
      try {
        const { opts, data } = job.build(width);
        opts.width = width;
        opts.height = opts.height || 240;
        S.plots.push({ plot: new uPlot(opts, data, job.area), area: job.area });
      } catch (err) {
        job.area.append(el("div", { class: "na-muted", text: "could not draw this plot: " + err.message }));
      }
    });
    document.body.dataset.plots = "1";
    S.timing.plots_ready = performance.now();
  }

  function numOrNull(v) { return isNum(v) ? v : null; }
  /** Axis tick labels: blanks for missing ticks; on log axes only the powers of ten. */
  const ticks = (f, log) => (u, values) => values.map((v) => {
    if (v === null || v === undefined) return "";
    if (log) {
      const mantissa = Math.abs(v) / 10 ** Math.floor(Math.log10(Math.abs(v)) + 1e-9);
      if (![1, 2, 5].some((m) => Math.abs(mantissa - m) < 1e-6)) return "";
    }
    return f(v);
  });

  function drawPlots() {
    const host = byId("plots");
    if (!host) return;
    for (const p of S.plots) try { p.plot.destroy(); } catch (_) { /* already gone */ }
    S.plots = [];
    S.plotJobs = [];
    const generation = (S.plotGeneration = (S.plotGeneration || 0) + 1);
    delete document.body.dataset.plots;
    setTimeout(() => flushPlots(generation), 0);
    clear(host);
    if (typeof uPlot === "undefined") { host.append(el("p", { class: "na-muted", text: "uPlot is missing." })); return; }
    const leaves = leafRows();
    const xs = leaves.map((_, i) => i);
    const names = leaves.map((r) => r.path || "(model)");
    const xValue = (u, v) => (v === null || v === undefined ? "" : names[Math.round(v)] || "");
    const barPaths = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.8, 40] }) : undefined;
    const byLayer = [["macs", "MACs by layer", count], ["params", "Parameters by layer", count], ["activation_bytes", "Activation memory by layer", bytes]];
    for (const [key, title, f] of byLayer) {
      const ys = leaves.map((r) => numOrNull(key === "params" ? (r.params_total !== undefined ? r.params_total : r.params) : r[key]));
      const symbolic = leaves.filter((r) => isSym(r[key])).length;
      if (!leaves.length && S.bare) continue;
      if (!leaves.length || ys.every((v) => v === null)) {
        const { box } = plotBox(key, title, leaves.length ? (symbolic ? "The values are symbolic: give the symbols values (--set) to plot them." : "No known values.") : "No layers.");
        host.append(box);
        continue;
      }
      addPlot(host, key, title, () => ({
        opts: {
          height: 230, legend: { live: true },
          scales: { x: { time: false, range: () => [-0.6, Math.max(1, xs.length) - 0.4] } },
          axes: [{ values: (u, ticks) => ticks.map((t) => (Number.isInteger(t) ? String(t) : "")), label: "layer (execution order)", size: 40 },
            { values: ticks(f), size: f === bytes ? 78 : 62 }],
          series: [{ label: "layer", value: xValue }, { label: key, stroke: PALETTE[0], fill: "rgba(47,111,222,.55)", width: 1, paths: barPaths, points: { show: false }, value: (u, v) => (v === null ? "?" : f(v)) }],
        },
        data: [xs, ys],
      }), symbolic ? symbolic + " layers with symbolic values are left out." : null);
    }
    // receptive field size and effective stride against depth
    const rfRows = leaves.filter((r) => r.rf && Array.isArray(r.rf.size) && isNum(r.rf.size[0]));
    if (rfRows.length) {
      const idx = leaves.map((r, i) => [r, i]).filter(([r]) => r.rf && Array.isArray(r.rf.size));
      const rx = idx.map(([, i]) => i);
      const size = idx.map(([r]) => numOrNull(Math.max(...r.rf.size.map((v) => (isNum(v) ? v : NaN)))));
      const stride = idx.map(([r]) => numOrNull(Math.max(...r.rf.stride.map((v) => (isNum(v) ? v : NaN)))));
      addPlot(host, "rf", "Receptive field and effective stride", () => ({
        opts: {
          height: 230, scales: { x: { time: false }, s: { distr: 3 }, st: { distr: 3 } },
          axes: [{ label: "layer (execution order)", size: 40 }, { scale: "s", label: "size (px)", size: 56, values: ticks(count, true) }, { scale: "st", side: 1, label: "stride", grid: { show: false }, size: 50, values: ticks(count, true) }],
          series: [{ label: "layer", value: xValue }, { label: "rf size", scale: "s", stroke: PALETTE[0], width: 2 }, { label: "effective stride", scale: "st", stroke: PALETTE[1], width: 2, dash: [6, 3] }],
        },
        data: [rx, size, stride],
      }), "largest axis; global fields (after a global pooling) are not drawn");
    }
    const sections = (S.payload && S.payload.sections) || {};
    const training = sections.training;
    if (training && training.memory && Array.isArray(training.memory.timeline) && training.memory.timeline.length) drawTrainingMemory(host, training.memory);
    drawRoofline(host, leaves, sections);
    if (sections.diagnose) drawDiagnose(host, sections.diagnose);
    const images = (S.payload && Array.isArray(S.payload.images)) ? S.payload.images : [];
    if (images.length) {
      const box = el("div", { class: "na-plot", "data-plot": "images" }, el("h3", { text: "Figures" }));
      for (const img of images) {
        if (!img || !img.png) continue;
        box.append(el("figure", {}, el("img", { src: "data:image/png;base64," + img.png, alt: img.title || "figure", loading: "lazy" }),
          el("figcaption", { text: (img.title || "") + (img.section ? " · " + img.section : "") })));
      }
      host.append(box);
    }
  }

  function drawTrainingMemory(host, memory) {
    const tl = memory.timeline;
    const cats = Array.isArray(memory.categories) && memory.categories.length ? memory.categories
      : Array.from(new Set(tl.flatMap((p) => Object.keys(p.by_category || {}))));
    const xs = tl.map((p, i) => (isNum(p.node) ? p.node : i));
    const own = cats.map((c) => tl.map((p) => numOrNull((p.by_category || {})[c]) || 0));
    const cum = [];
    own.forEach((ys, j) => cum.push(ys.map((v, i) => v + (j ? cum[j - 1][i] : 0))));
    const series = [{ label: "op", value: (u, v) => { if (v === null || v === undefined) return ""; const i = xs.indexOf(v); const p = tl[i]; return p ? (p.phase || "") + " " + (p.path || "") + " " + (p.op || "") : String(v); } }];
    const data = [xs];
    for (let j = cats.length - 1; j >= 0; j--) {
      const colour = PALETTE[j % PALETTE.length];
      const jj = j;
      series.push({ label: cats[j], stroke: colour, fill: colour + "cc", width: 1, points: { show: false }, value: (u, v, si, i) => (i === null || i === undefined ? "" : bytes(own[jj][i])) });
      data.push(cum[j]);
    }
    addPlot(host, "training_memory", "Training memory timeline (stacked by category)", () => ({
      opts: {
        height: 260, scales: { x: { time: false } },
        axes: [{ label: "op index in the step", size: 40 }, { values: ticks(bytes), size: 78 }],
        series,
      },
      data,
    }), memory.peak ? "peak " + bytes(memory.peak.bytes) + " in " + (memory.peak.phase || "") + " at " + (memory.peak.path || "(model)") + " " + (memory.peak.op || "") : null);
  }

  function drawRoofline(host, leaves, sections) {
    // Preferred: the command's own per-module roofline (sections.<training|inference>.roofline,
    // its "self" rows: each op counted once, coloured by phase); else the summary's leaf
    // layers on the roof of the device the section names.
    const doc = (sections.training && sections.training.roofline) || (sections.inference && sections.inference.roofline) || null;
    let peak = null, bw = null, device = "", pts = [];
    if (doc && isNum(doc.peak_flops) && isNum(doc.bandwidth) && Array.isArray(doc.modules)) {
      peak = doc.peak_flops; bw = doc.bandwidth; device = (doc.device || "") + (doc.dtype ? " · " + doc.dtype : "");
      for (const r of doc.modules) {
        if (r.scope !== "self" || !isNum(r.flops) || !isNum(r.bytes) || !isNum(r.time_s) || r.flops <= 0 || r.bytes <= 0 || r.time_s <= 0) continue;
        pts.push({ ai: r.flops / r.bytes, att: r.flops / r.time_s, path: (r.path || "(model)") + " · " + r.phase + " · " + (r.bound || ""), phase: r.phase || "" });
      }
    } else {
      const t = sections.training && sections.training.time;
      const inf = sections.inference && sections.inference.device;
      if (t && isNum(t.peak_flops) && isNum(t.bandwidth)) { peak = t.peak_flops; bw = t.bandwidth; device = t.device || ""; }
      else if (inf && isNum(inf.peak_flops_per_s) && isNum(inf.bandwidth_bytes_per_s)) { peak = inf.peak_flops_per_s; bw = inf.bandwidth_bytes_per_s; device = inf.name || inf.key || ""; }
      if (peak === null) return;
      for (const r of leaves) {
        const f = (isNum(r.flops) ? r.flops : 0) + (isNum(r.elementwise_flops) ? r.elementwise_flops : 0);
        if (!isNum(r.bytes_accessed) || r.bytes_accessed <= 0 || f <= 0) continue;
        const ai = f / r.bytes_accessed;
        pts.push({ ai, att: Math.min(peak, ai * bw), path: r.path, phase: "layers" });
      }
    }
    if (peak === null || !pts.length) return;
    pts.sort((a, b) => a.ai - b.ai);
    const ridge = peak / bw;
    const xs = pts.map((p) => p.ai);
    const phases = [...new Set(pts.map((p) => p.phase))];
    const series = [{ label: "intensity", value: (u, v, si, i) => (i === null || i === undefined ? "" : pts[i].path + " · " + floatText(v)) }];
    const data = [xs];
    phases.forEach((phase, j) => {
      series.push({ label: phase, stroke: PALETTE[(j + 1) % PALETTE.length], width: 0, paths: () => null, points: { show: true, size: 7, fill: PALETTE[(j + 1) % PALETTE.length] }, value: (u, v) => (v === null || v === undefined ? "" : count(v) + "FLOP/s") });
      data.push(pts.map((p) => (p.phase === phase ? p.att : null)));
    });
    series.push({ label: "roof", stroke: "#667085", width: 1.5, dash: [4, 4], points: { show: false } });
    data.push(xs.map((x) => Math.min(peak, x * bw)));
    const what = doc ? "per module and phase (own ops): FLOPs / bytes" : "per leaf layer: (FLOPs + elementwise FLOPs) / bytes accessed";
    addPlot(host, "roofline", "Roofline" + (device ? " · " + device : ""), () => ({
      opts: {
        height: 260, scales: { x: { time: false, distr: 3 }, y: { distr: 3 } },
        axes: [{ label: "arithmetic intensity (FLOP/byte)", size: 44, values: ticks(floatText, true) }, { label: "attainable FLOP/s", values: ticks(count, true), size: 76 }],
        series,
      },
      data,
    }), what + "; ridge at " + floatText(ridge) + " FLOP/byte; peak " + count(peak) + "FLOP/s, " + bytes(bw) + "/s; predicted points lie on the roof (a lower bound on time)");
  }

  function drawDiagnose(host, doc) {
    const layers = Array.isArray(doc.layers) ? doc.layers.filter((l) => (l.depth || 0) > 0 || doc.layers.length === 1) : [];
    if (layers.length) {
      const xs = layers.map((_, i) => i);
      const names = layers.map((l) => l.path || "(model)");
      const xValue = (u, v) => (v === null || v === undefined ? "" : names[Math.round(v)] || "");
      const pos = (v) => (isNum(v) && v > 0 ? v : null);
      const go = layers.map((l) => pos(l.grad_output_norm)), gi = layers.map((l) => pos(l.grad_input_norm));
      if (go.some((v) => v !== null) || gi.some((v) => v !== null)) {
        addPlot(host, "diagnose_gradients", "Gradient flow (norms by layer)", () => ({
          opts: {
            height: 240, scales: { x: { time: false }, y: { distr: 3 } },
            axes: [{ label: "layer", size: 40 }, { values: ticks(floatText, true), size: 60 }],
            series: [{ label: "layer", value: xValue }, { label: "‖∂L/∂output‖", stroke: PALETTE[0], width: 2 }, { label: "‖∂L/∂input‖", stroke: PALETTE[1], width: 2, dash: [5, 3] }],
          },
          data: [xs, go, gi],
        }));
      }
      const keys = [["act_mean", "mean"], ["act_std", "std"], ["dead_fraction", "dead fraction"], ["saturated_fraction", "saturated fraction"]];
      const present = keys.filter(([k]) => layers.some((l) => isNum(l[k])));
      if (present.length) {
        addPlot(host, "diagnose_activations", "Activations by layer", () => ({
          opts: {
            height: 240, scales: { x: { time: false } },
            axes: [{ label: "layer", size: 40 }, { values: ticks(floatText), size: 56 }],
            series: [{ label: "layer", value: xValue }].concat(present.map(([k, label], i) => ({ label, stroke: PALETTE[i % PALETTE.length], width: 2 }))),
          },
          data: [xs].concat(present.map(([k]) => layers.map((l) => numOrNull(l[k])))),
        }));
      }
    }
    const steps = Array.isArray(doc.steps) ? doc.steps.filter((s) => isNum(s.loss)) : [];
    if (steps.length > 1) {
      addPlot(host, "diagnose_loss", "Loss by step", () => ({
        opts: { height: 220, scales: { x: { time: false } }, axes: [{ label: "step", size: 40 }, { size: 56, values: ticks(floatText) }],
          series: [{ label: "step" }, { label: "loss", stroke: PALETTE[2], width: 2 }] },
        data: [steps.map((s, i) => (isNum(s.step) ? s.step : i)), steps.map((s) => s.loss)],
      }));
    }
  }

  function resizePlots() {
    for (const p of S.plots) {
      const w = Math.max(320, p.area.clientWidth - 4);
      if (Math.abs(w - p.plot.width) > 8) p.plot.setSize({ width: w, height: p.plot.height });
    }
  }

  /* ------------------------------------------------------------------ render */

  function datalist() {
    const host = byId("graph-paths");
    if (!host) return;
    clear(host);
    const frag = document.createDocumentFragment();
    for (const m of S.modules.slice(0, 5000)) if (m.path) frag.append(el("option", { value: m.path }));
    host.append(frag);
  }

  function wireControls() {
    const metric = byId("graph-metric");
    if (metric && !metric.dataset.wired) {
      metric.dataset.wired = "1";
      metric.addEventListener("change", () => { S.metric = metric.value; const v = S.view; drawGraph(); S.view = v; applyView(); });
    }
    const searchBox = byId("graph-search");
    if (searchBox && !searchBox.dataset.wired) {
      searchBox.dataset.wired = "1";
      searchBox.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); search(searchBox.value); } });
      searchBox.addEventListener("input", () => searchBox.setCustomValidity(""));
    }
    const fitButton = byId("graph-fit");
    if (fitButton && !fitButton.dataset.wired) { fitButton.dataset.wired = "1"; fitButton.addEventListener("click", fit); }
    const reset = byId("graph-reset");
    if (reset && !reset.dataset.wired) {
      reset.dataset.wired = "1";
      reset.addEventListener("click", () => { initialState(); S.match = null; drawGraph(); });
    }
    if (!S.resizeWired) {
      S.resizeWired = true;
      let timer = null;
      window.addEventListener("resize", () => { clearTimeout(timer); timer = setTimeout(resizePlots, 150); });
    }
  }

  function initialState() {
    S.expandedM = new Set();
    S.expandedG = new Set();
    if (S.rootId !== null) S.expandedM.add(S.rootId);
  }

  /** Keep what was expanded (by path) when a new payload of the same model comes in. */
  function keptState(prev) {
    initialState();
    if (!prev) return;
    for (const path of prev.modules) { const m = modByPath(path); if (m) S.expandedM.add(m.id); }
    for (const path of prev.groups) { const m = modByPath(path); const g = m && S.groupByFirst.get(m.id); if (g) S.expandedG.add(g.id); }
  }

  function savedState() {
    if (!S.modules.length) return null;
    return {
      modules: Array.from(S.expandedM).map((id) => (S.modById.get(id) || {}).path).filter((p) => p !== undefined),
      groups: Array.from(S.expandedG).map((id) => { const g = S.groups.find((x) => x.id === id); const m = g && S.modById.get(g.members[0]); return m ? m.path : undefined; }).filter((p) => p !== undefined),
    };
  }

  /** Draw the whole page for `payload` (may be null: an empty page). options.keep keeps
      expansion, sort and filter (the playground re-renders on every edit). */
  function render(payload, options) {
    const t0 = performance.now();
    const keep = !!(options && options.keep);
    const prev = keep ? savedState() : null;
    S.timing = { start: t0 };
    if (payload !== null && payload !== undefined && typeof payload !== "object") payload = null;
    prepare(payload || null);
    NA.data = payload || null;
    // a page of one command's results (training, lab, …) has no summary: no graph to draw
    S.bare = !!payload && !payload.summary;
    const graphSection = byId("na-graph-section");
    if (graphSection) graphSection.hidden = S.bare;
    for (const link of document.querySelectorAll('a[href="#na-graph-section"]')) link.hidden = S.bare;
    clear(byId("layers"));  // a large old table would make the graph's first measurement slow
    if (!keep) { S.sort = null; S.collapsedRows = new Set(); S.userCols = false; S.match = null; S.selected = null; }
    else S.collapsedRows = new Set();
    keptState(prev);
    wireControls();
    wireGraph();
    wireTableControls();
    const metric = byId("graph-metric");
    if (metric) S.metric = metric.value || "macs";
    const filter = byId("layers-filter");
    S.filter = filter ? filter.value : "";
    const stage = (name, fn) => { const t = performance.now(); fn(); S.timing[name + "_ms"] = performance.now() - t; };
    stage("header", () => { drawHeader(); drawNotes(); });
    stage("graph", () => drawGraph());
    stage("table", () => drawTable());
    stage("sections", () => drawSections());
    stage("conventions", () => drawConventions());
    stage("datalist", () => datalist());
    stage("plots", () => drawPlots());
    if (S.selected && keep) {
      const m = S.selected.path !== undefined ? modByPath(S.selected.path) : null;
      if (m) select({ node: "m" + m.id, path: m.path, fromTable: true });
      else resetDetails();
    } else resetDetails();
    S.timing.render_ms = performance.now() - t0;
    S.timing.ready = performance.now();
    NA.timing = S.timing;
    document.body.dataset.ready = "1";
    document.dispatchEvent(new CustomEvent("netanatomy:rendered", { detail: { payload: payload || null } }));
    return S.timing;
  }

  function resetDetails() {
    const host = byId("details");
    if (!host) return;
    clear(host);
    host.append(el("p", { class: "na-muted", text: S.payload ? "Click a node of the graph or a row of the table to see its values here." : "Nothing to show yet." }));
  }

  function readPayload() {
    const node = byId("netanatomy-data");
    if (!node) return null;
    const text = node.textContent.trim();
    if (!text) return null;
    try { return JSON.parse(text); } catch (err) {
      const notes = byId("na-notes");
      if (notes) { notes.hidden = false; notes.textContent = "The embedded report could not be read: " + err.message; }
      return null;
    }
  }

  Object.assign(NA, {
    data: null,
    render,
    expand,
    collapse,
    search,
    select: (path) => { const m = modByPath(path); select({ node: m ? "m" + m.id : null, path }); },
    fit,
    visibleNodes: () => (S.visible || []).slice(),
    format: { count, bytes, exact, shape, pretty, raw },
    state: S,
  });

  function start() {
    render(readPayload());
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
