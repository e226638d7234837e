/* netanatomy playground: the spec editor. 300 ms after the last keystroke it POSTs
   {"spec": text, "set": [...]} to /api/analyze and redraws the graph, table and details
   with report.js's window.netanatomy.render; a located error is shown at its line. */
(function () {
  "use strict";

  const DELAY_MS = 300;
  const byId = (id) => document.getElementById(id);
  const NA = (window.netanatomy = window.netanatomy || {});
  const P = { timer: null, sequence: 0, shown: 0, lastSent: null, errorLine: null, controller: null };

  function raw(v) {
    if (v === null || v === undefined) return "";
    return typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : JSON.stringify(v);
  }

  function status(state, text) {
    const node = byId("status");
    if (!node) return;
    node.dataset.state = state;
    node.textContent = text;
  }

  /** "K=3 D=64" or "K=3, D=64" → ["K=3", "D=64"]. */
  function settings() {
    const input = byId("set");
    const text = input ? input.value : "";
    return text.split(/[\s,;]+/).map((s) => s.trim()).filter(Boolean);
  }

  /* gutter */
  function drawGutter() {
    const editor = byId("editor"), gutter = byId("gutter");
    if (!editor || !gutter) return;
    const lines = Math.max(1, editor.value.split("\n").length);
    if (gutter.childElementCount !== lines) {
      const frag = document.createDocumentFragment();
      for (let i = 1; i <= lines; i++) {
        const d = document.createElement("div");
        d.textContent = String(i);
        d.dataset.line = String(i);
        frag.append(d);
      }
      gutter.replaceChildren(frag);
    }
    markLine(P.errorLine);
    gutter.scrollTop = editor.scrollTop;
  }

  function markLine(line) {
    const gutter = byId("gutter");
    if (!gutter) return;
    gutter.querySelectorAll(".na-error-line").forEach((n) => n.classList.remove("na-error-line"));
    if (line === null || line === undefined) return;
    const target = gutter.querySelector('div[data-line="' + line + '"]');
    if (target) target.classList.add("na-error-line");
  }

  /* totals */
  function showTotals(payload) {
    const totals = (payload && payload.summary && payload.summary.totals) || null;
    document.querySelectorAll("#totals [data-total]").forEach((cell) => {
      const key = cell.dataset.total;
      const v = totals ? totals[key] : null;
      cell.textContent = totals ? raw(v) : "";
      const f = NA.format;
      cell.title = totals && f ? (key === "activation_bytes" ? f.bytes(v) : f.count(v)) : "";
    });
  }

  function showError(error) {
    const box = byId("error");
    if (!box) return;
    if (!error) {
      box.hidden = true;
      box.textContent = "";
      box.removeAttribute("data-line");
      box.removeAttribute("data-column");
      P.errorLine = null;
      markLine(null);
      return;
    }
    const line = Number.isInteger(error.line) ? error.line : null;
    const column = Number.isInteger(error.column) ? error.column : null;
    const where = line !== null ? "line " + line + (column !== null ? ", column " + column : "") + ": " : "";
    box.textContent = where + (error.message || "the spec could not be analysed");
    if (line !== null) box.dataset.line = String(line); else box.removeAttribute("data-line");
    if (column !== null) box.dataset.column = String(column); else box.removeAttribute("data-column");
    box.hidden = false;
    P.errorLine = line;
    markLine(line);
  }

  /* analysis */
  function schedule() {
    clearTimeout(P.timer);
    status("busy", "editing…");
    P.timer = setTimeout(analyse, DELAY_MS);
  }

  async function analyse() {
    const editor = byId("editor");
    if (!editor) return;
    const body = JSON.stringify({ spec: editor.value, set: settings() });
    if (body === P.lastSent) { status(P.lastState || "ok", P.lastState === "error" ? "error" : "ok"); return; }
    P.lastSent = body;
    const sequence = ++P.sequence;
    if (P.controller) P.controller.abort();
    const controller = typeof AbortController === "function" ? new AbortController() : null;
    P.controller = controller;
    status("busy", "analysing…");
    let answer;
    try {
      const response = await fetch("/api/analyze", {
        method: "POST", headers: { "Content-Type": "application/json" }, body,
        signal: controller ? controller.signal : undefined, cache: "no-store",
      });
      const text = await response.text();
      try { answer = JSON.parse(text); } catch (_) {
        answer = { ok: false, error: { message: "the server answered " + response.status + " " + response.statusText, line: null, column: null } };
      }
    } catch (err) {
      if (err && err.name === "AbortError") return;
      answer = { ok: false, error: { message: "the playground server cannot be reached (" + (err && err.message ? err.message : err) + ")", line: null, column: null } };
    }
    if (sequence !== P.sequence) return;          // a newer edit was sent meanwhile
    P.controller = null;
    apply(answer);
  }

  function apply(answer) {
    if (answer && answer.ok) {
      showError(null);
      if (typeof NA.render === "function") NA.render(answer.report || null, { keep: true });
      showTotals(answer.report || null);
      P.lastState = "ok";
      status("ok", "ok");
    } else {
      const error = (answer && answer.error) || { message: "unknown error", line: null, column: null };
      showError(error);
      P.lastState = "error";
      status("error", "error");
    }
  }

  function wire() {
    const editor = byId("editor"), set = byId("set"), gutter = byId("gutter");
    if (!editor) return;
    editor.addEventListener("input", () => { drawGutter(); schedule(); });
    editor.addEventListener("scroll", () => { if (gutter) gutter.scrollTop = editor.scrollTop; });
    editor.addEventListener("keydown", (ev) => {
      if (ev.key === "Tab" && !ev.shiftKey && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
        ev.preventDefault();
        const start = editor.selectionStart, end = editor.selectionEnd;
        editor.setRangeText("  ", start, end, "end");
        drawGutter();
        schedule();
      }
    });
    if (set) {
      set.addEventListener("input", schedule);
      set.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { clearTimeout(P.timer); analyse(); } });
    }
    if (gutter) gutter.addEventListener("click", (ev) => {
      const line = ev.target && ev.target.dataset ? Number(ev.target.dataset.line) : NaN;
      if (!Number.isInteger(line)) return;
      const lines = editor.value.split("\n");
      let at = 0;
      for (let i = 0; i < line - 1 && i < lines.length; i++) at += lines[i].length + 1;
      editor.focus();
      editor.setSelectionRange(at, at + (lines[line - 1] || "").length);
    });
  }

  function start() {
    wire();
    drawGutter();
    const payload = NA.data || null;
    showTotals(payload);
    const editor = byId("editor");
    if (payload) {
      P.lastSent = JSON.stringify({ spec: editor ? editor.value : "", set: settings() });
      P.lastState = "ok";
      status("ok", "ok");
    } else if (editor && editor.value.trim()) {
      analyse();                                   // show the starting spec's error (or result)
    } else {
      status("idle", "type a spec");
    }
  }

  // report.js renders on DOMContentLoaded (registered first); start after it
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();

  NA.playground = { analyse, settings, apply };
})();
