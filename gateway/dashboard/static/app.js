// Switchboard admin dashboard: polls /admin/dashboard/* and renders the panels.
// Everything is drawn with textContent (never innerHTML): reasons, problems and tool descriptions
// come from config files and callers.
"use strict";

const KEY_STORE = "switchboard.adminKey";
const REFRESH_MS = 3000;
const state = { features: null, timer: null, busy: false };

const $ = (id) => document.getElementById(id);

function adminKey() { return sessionStorage.getItem(KEY_STORE) || ""; }

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  const key = adminKey();
  if (key) headers["authorization"] = "Bearer " + key;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const resp = await fetch(path, Object.assign({}, options, { headers }));
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  if (!resp.ok) {
    const err = new Error((data && data.error && data.error.message) || ("HTTP " + resp.status));
    err.status = resp.status;
    throw err;
  }
  return data;
}

// -- formatting ----------------------------------------------------------------------------------
const nf = new Intl.NumberFormat("en-US");
function fmtInt(n) { return n === null || n === undefined ? "–" : nf.format(n); }
function fmtMs(n) { return n === null || n === undefined ? "–" : (n < 10 ? n.toFixed(1) : Math.round(n)) + " ms"; }
function fmtUsd(n) {
  if (n === null || n === undefined) return "–";
  if (n === 0) return "$0";
  return n < 0.01 ? "$" + n.toPrecision(3) : "$" + n.toFixed(4);
}
function fmtTime(unix) {
  if (!unix) return "–";
  return new Date(unix * 1000).toLocaleTimeString([], { hour12: false });
}
function fmtScores(scores) {
  const entries = Object.entries(scores || {});
  if (!entries.length) return "";
  return entries.sort((a, b) => b[1] - a[1]).map(([k, v]) => k + " " + v.toFixed(3)).join(", ");
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function fillTable(tableId, rows, emptyText) {
  const body = $(tableId).tBodies[0];
  const cols = $(tableId).tHead.rows[0].cells;
  body.replaceChildren();
  if (!rows.length) {
    const tr = el("tr", null, "empty");
    const td = el("td", emptyText);
    td.colSpan = cols.length;
    tr.append(td);
    body.append(tr);
    return;
  }
  for (const cells of rows) {
    const tr = el("tr");
    cells.forEach((cell, i) => {
      const td = cell instanceof Node ? el("td") : el("td", cell);
      if (cell instanceof Node) td.append(cell);
      if (cols[i] && cols[i].classList.contains("num")) td.className = "num";
      tr.append(td);
    });
    body.append(tr);
  }
}

function badge(text, kind) { return el("span", text, "badge " + kind); }

function showError(id, message) {
  const node = $(id);
  node.textContent = message || "";
  node.hidden = !message;
}

// -- panels --------------------------------------------------------------------------------------
function renderTraffic(t) {
  const tot = t.totals;
  const errors = Object.values(tot.errors).reduce((a, b) => a + b, 0);
  $("t-requests").textContent = fmtInt(tot.requests);
  $("t-errors").textContent = fmtInt(errors);
  $("t-prompt").textContent = fmtInt(tot.prompt_tokens);
  $("t-completion").textContent = fmtInt(tot.completion_tokens);
  $("t-cost").textContent = fmtUsd(tot.cost_usd);
  $("t-saved").textContent = fmtUsd(tot.saved_usd);
  $("t-window").textContent = fmtInt(t.window.records);
  const chips = $("t-error-types");
  chips.replaceChildren();
  for (const [code, n] of Object.entries(tot.errors).sort((a, b) => b[1] - a[1])) {
    chips.append(el("span", code + " × " + n, "chip bad"));
  }
  fillTable("traffic-deployments", t.deployments.map((d) => [
    d.deployment, d.tier, fmtInt(d.requests), fmtInt(d.errors), fmtMs(d.p50_ms), fmtMs(d.p95_ms),
    fmtMs(d.ttft_p50_ms), fmtInt(d.prompt_tokens) + " / " + fmtInt(d.completion_tokens), fmtUsd(d.cost_usd),
  ]), "No requests yet.");
  fillTable("traffic-policies", t.policies.map((p) => [
    p.policy, fmtInt(p.requests), fmtUsd(p.cost_usd), fmtUsd(p.baseline_cost_usd), fmtUsd(p.saved_usd),
  ]), "No routed requests yet.");
  $("meta-source").textContent = t.source === "shared" ? "all replicas (Redis)" : "this process";
}

function renderDecisions(d) {
  fillTable("decisions", d.data.map((r) => [
    fmtTime(r.at), (r.agent ? "agent " + r.agent + ": " : "") + (r.request_id || "–"), r.policy || (r.router === "direct" ? "(direct)" : "–"),
    r.deployment || "–", r.tier || "–", r.router || "–", r.reason || "–", fmtScores(r.scores),
    r.error ? badge(r.status + " " + r.error, "bad") : badge(String(r.status), "ok"),
    fmtMs(r.latency_ms), fmtUsd(r.cost_usd),
  ]), "No decisions yet.");
}

function renderDeployments(d) {
  fillTable("deployments", d.data.map((x) => {
    let status = badge("available", "ok");
    if (x.cooling_down) status = badge("cooling down", "warn");
    else if (!x.available) status = badge("unavailable", "bad");
    return [
      x.name, status, x.tier, x.model, x.unavailable_reason || "", x.in_flight + " / " + x.max_concurrency,
      fmtMs(x.ttft_ms), fmtMs(x.tpot_ms), fmtMs(x.e2e_ms),
      "$" + x.input_per_mtok + " · $" + x.output_per_mtok,
    ];
  }), "No deployments configured.");
}

function renderConfig(c) {
  $("meta-config").textContent = "config v" + c.version;
  const kv = $("config-kv");
  kv.replaceChildren();
  const pairs = [
    ["Version", c.version], ["File", c.source], ["Loaded", new Date(c.loaded_at * 1000).toLocaleString()],
    ["Last reload", c.last_reload ? c.last_reload.trigger + (c.last_reload.ok ? " · ok" : " · rejected") : "–"],
    ["Policies", c.policies.map((p) => p.name + " (" + p.router + ")").join(", ") || "–"],
  ];
  for (const [k, v] of pairs) { kv.append(el("span", k, "k"), el("span", v, "v")); }
  const box = $("config-error");
  if (c.last_error) {
    $("config-error-when").textContent = "Trigger: " + c.last_error.trigger + " at "
      + new Date(c.last_error.at * 1000).toLocaleString() + "; active version stays " + c.last_error.version + ".";
    $("config-problems").replaceChildren(...c.last_error.problems.map((p) => el("li", p)));
    box.hidden = false;
  } else {
    box.hidden = true;
  }
}

// -- agent runs (GET /v1/agents/runs: newest first, filtered, tenant-scoped by the key) ------------
const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
const RUN_KIND = { succeeded: "ok", failed: "bad", cancelled: "warn", suspended: "warn" };

function runsQuery() {
  const q = new URLSearchParams();
  const agent = $("runs-agent").value.trim();
  if (agent) q.set("agent", agent);
  if ($("runs-state").value) q.set("state", $("runs-state").value);
  q.set("limit", String(Math.min(100, Math.max(1, Math.round(Number($("runs-limit").value)) || 20))));
  return q.toString();
}

function runActions(r) {
  const actions = el("span", null, "actions");
  const verbs = [];
  if (!TERMINAL.has(r.status)) verbs.push("cancel");
  if (r.status === "queued" || r.status === "running") verbs.push("suspend");
  if (r.status === "suspended") verbs.push("resume");
  for (const verb of verbs) {
    const b = el("button", verb);
    b.type = "button";
    b.dataset.verb = verb;
    b.addEventListener("click", () => runAction(r.id, verb));
    actions.append(b);
  }
  return actions;
}

// throws only 401/403 (the refresh loop asks for the key); other errors show in the panel
async function refreshRuns() {
  let page;
  try {
    page = await api("/v1/agents/runs?" + runsQuery());
  } catch (e) {
    if (e.status === 401 || e.status === 403) throw e;
    showError("agents-error", e.message);
    return;
  }
  fillTable("agent-runs", page.data.map((r) => [r.id, r.agent, r.tenant, badge(r.status, RUN_KIND[r.status] || ""),
    fmtInt(r.steps), fmtInt(r.usage.total_tokens), fmtUsd(r.cost_usd), fmtTime(r.created_at),
    r.error || r.output || "", runActions(r)]), "No agent runs match.");
  const cost = page.data.reduce((sum, r) => sum + (r.cost_usd || 0), 0);
  $("runs-summary").textContent = page.data.length + " runs shown, " + fmtUsd(cost) + " in all"
    + (page.has_more ? "; more match (raise the limit or filter)." : ".");
}

async function runAction(id, verb) {
  try {
    await api("/v1/agents/runs/" + encodeURIComponent(id) + "/" + verb, { method: "POST" });
    showError("agents-error", "");
  } catch (e) { showError("agents-error", e.message); }
  refreshRuns().catch(() => {});
}

async function inspectRun(id) {
  const run = await api("/v1/agents/runs/" + encodeURIComponent(id));
  $("agent-run-detail").textContent = JSON.stringify(run, null, 2);
  $("agent-run-detail").hidden = false;
}

// -- refresh loop --------------------------------------------------------------------------------
async function refresh() {
  if (state.busy) return;
  state.busy = true;
  try {
    if (!state.features) {
      state.features = await api("/admin/dashboard/features");
      $("panel-tools").hidden = !state.features.tools_search;
      $("panel-agents").hidden = !state.features.agents;
    }
    const [traffic, decisions, deployments, config] = await Promise.all([
      api("/admin/dashboard/traffic"), api("/admin/dashboard/decisions?limit=50"),
      api("/admin/dashboard/deployments"), api("/admin/dashboard/config"),
    ]);
    renderConfig(config);
    renderTraffic(traffic);
    renderDeployments(deployments);
    renderDecisions(decisions);
    if (state.features.agents) await refreshRuns();
    showError("banner", "");
    $("meta-updated").textContent = "updated " + new Date().toLocaleTimeString([], { hour12: false });
  } catch (e) {
    if (e.status === 401 || e.status === 403) {
      askKey(adminKey() ? "That key was refused." : "");
    } else {
      showError("banner", "Could not load the dashboard: " + e.message);
    }
  } finally {
    state.busy = false;
  }
}

function askKey(message) {
  showError("key-error", message);
  const dlg = $("key-dialog");
  if (!dlg.open) dlg.showModal();
  $("key-input").focus();
}

function schedule() {
  clearInterval(state.timer);
  if ($("auto-refresh").checked) state.timer = setInterval(refresh, REFRESH_MS);
}

function wire() {
  $("key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY_STORE, $("key-input").value.trim());
    $("key-input").value = "";
    $("key-dialog").close();
    state.features = null;
    refresh();
  });
  $("key-clear").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORE);
    $("key-input").value = "";
  });
  $("btn-key").addEventListener("click", () => askKey(""));
  $("btn-refresh").addEventListener("click", refresh);
  $("auto-refresh").addEventListener("change", schedule);

  $("tools-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const res = await api("/v1/tools/search", { method: "POST", body: JSON.stringify({
        query: $("tools-query").value, k: Number($("tools-k").value) || 5 }) });
      showError("tools-error", "");
      fillTable("tools-results", res.data.map((t) => [t.name, t.score.toFixed(3),
        t.needed_by ? `${t.description} (needed by ${t.needed_by})` : t.description]),
        "No tool matched.");
    } catch (e) { showError("tools-error", e.message); }
  });
  $("runs-filter").addEventListener("submit", (ev) => {
    ev.preventDefault();
    showError("agents-error", "");
    refreshRuns().catch((e) => showError("agents-error", e.message));
  });
  $("agents-start").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const run = await api("/v1/agents/" + encodeURIComponent($("agent-name").value.trim()) + "/runs", {
        method: "POST", body: JSON.stringify({ input: $("agent-input").value }) });
      showError("agents-error", "");
      await inspectRun(run.id);
    } catch (e) { showError("agents-error", e.message); }
    refreshRuns().catch(() => {});
  });
  $("agents-inspect").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await inspectRun($("agent-run-id").value.trim());
      showError("agents-error", "");
    } catch (e) { showError("agents-error", e.message); }
  });
  schedule();
  refresh();
}

document.addEventListener("DOMContentLoaded", wire);
