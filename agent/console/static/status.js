// Status: what `halops status --json` says (GET /v1/halops/status), drawn generically so new
// fields show up without a change here, plus the daemon's own /health.
import * as api from "./api.js";
import { clear, fmtTime, h, notice } from "./ui.js";

let status, body;

export function init() {
  status = document.getElementById("status-notice");
  body = document.getElementById("status-body");
  document.getElementById("status-refresh").addEventListener("click", refresh);
}

export function show() { refresh(); }

export async function refresh() {
  const parts = [];
  try {
    const health = await fetch("/health", { cache: "no-store" }).then((r) => r.json());
    parts.push(section("agent daemon", health));
  } catch { /* shown by the status call below */ }
  try {
    const data = await api.get("/v1/halops/status");
    notice(status, "");
    for (const [key, value] of Object.entries(data || {})) parts.push(section(key, value));
  } catch (err) {
    notice(status, err.message, "error");
  }
  clear(body, parts);
}

function section(title, value) {
  return h("section", { class: "panel" }, h("h3", { text: title.replaceAll("_", " ") }), render(value, title));
}

// Epoch seconds under a time-like key ("time", "at", "created_at", ...) read as a date.
const TIME_KEY = /(^|_)(time|at)$/;

function render(value, key = "") {
  if (value === null || value === undefined) return h("span", { class: "hint", text: "—" });
  if (Array.isArray(value)) {
    if (!value.length) return h("span", { class: "hint", text: "none" });
    if (value.every((v) => v && typeof v === "object" && !Array.isArray(v))) {
      const cols = [...new Set(value.flatMap(Object.keys))];
      return h("div", { class: "table-wrap" }, h("table", {},
        h("thead", {}, h("tr", {}, cols.map((c) => h("th", { scope: "col", text: c })))),
        h("tbody", {}, value.map((row) => h("tr", {}, cols.map((c) => h("td", {}, scalar(row[c], c))))))));
    }
    return h("span", { text: value.map((v) => (typeof v === "object" ? JSON.stringify(v) : String(v))).join(", ") });
  }
  if (typeof value === "object") {
    return h("dl", {}, Object.entries(value).map(([k, v]) => [h("dt", { text: k }), h("dd", {}, typeof v === "object" && v !== null ? render(v, k) : scalar(v, k))]));
  }
  return scalar(value, key);
}

function scalar(v, key = "") {
  if (typeof v === "number" && v > 1e9 && TIME_KEY.test(key)) return document.createTextNode(fmtTime(v));
  if (v === null || v === undefined) return h("span", { class: "hint", text: "—" });
  if (typeof v === "object") return h("code", { text: JSON.stringify(v) });
  if (typeof v === "boolean") return h("span", { class: `pill ${v ? "ok" : "error"}`, text: v ? "yes" : "no" });
  return document.createTextNode(String(v));
}
