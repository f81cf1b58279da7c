// Training: jobs with progress and ETA, the selected job's loss curves live (server-sent events)
// and its log tail; start a retrain (recipe + key=value overrides, validated first); cancel.
import * as api from "./api.js";
import { clear, fmtDuration, fmtTime, h, notice } from "./ui.js";
import { LossChart } from "./chart.js";

const FINAL = new Set(["succeeded", "completed", "failed", "cancelled"]);
const LOG_LINES = 200;
let status, tbody, chart, selected = null, source = null, seen = new Set(), recipes = [], poll = null;

export function init() {
  status = document.getElementById("training-notice");
  tbody = document.querySelector("#jobs-table tbody");
  chart = new LossChart(document.getElementById("loss-chart"), document.getElementById("loss-last"));
  document.getElementById("jobs-refresh").addEventListener("click", refresh);
  document.getElementById("job-cancel").addEventListener("click", cancel);
  document.getElementById("retrain-validate").addEventListener("click", () => validate(true));
  document.getElementById("retrain-form").addEventListener("submit", start);
  document.getElementById("retrain-recipe").addEventListener("change", describeRecipe);
}

export function show() {
  refresh();
  loadRecipes();
  poll = setInterval(refresh, 5000);
}

export function hide() { clearInterval(poll); }

export async function refresh() {
  try {
    const { data } = await api.get("/v1/fine_tuning/jobs?limit=20");
    notice(status, data.length ? "" : "No training jobs yet.");
    clear(tbody, data.map(row));
    const current = selected && data.find((j) => j.id === selected.id);
    if (current) summarize(current);
  } catch (err) {
    notice(status, err.message, "error");
  }
}

function row(job) {
  const x = job.halops || {};
  const progress = x.total ? h("progress", { max: x.total, value: x.step || 0, "aria-label": `${x.step || 0} of ${x.total} steps` }) : null;
  const tr = h("tr", { dataset: { job: job.id }, class: selected?.id === job.id ? "selected" : null },
    h("td", {}, h("code", { text: job.id }), h("div", { class: "hint", text: fmtTime(job.created_at) })),
    h("td", {}, h("span", { class: `pill ${job.status}`, text: job.status })),
    h("td", {}, progress, x.total ? ` ${x.step || 0}/${x.total}` : "—"),
    h("td", { text: FINAL.has(job.status) ? "—" : fmtDuration(x.eta_s) }),
    h("td", { text: x.recipe || "—" }),
    h("td", {}, h("button", { type: "button", class: "quiet", text: "Watch", "aria-label": `Watch job ${job.id}`, onclick: () => watch(job) })));
  return tr;
}

function summarize(job) {
  selected = job;
  const x = job.halops || {};
  document.getElementById("job-title").textContent = `Job ${job.id}`;
  const parts = [`status ${job.status}`, x.total ? `step ${x.step || 0} of ${x.total}` : null,
    x.epoch != null ? `epoch ${Number(x.epoch).toFixed(2)}` : null,
    !FINAL.has(job.status) && x.eta_s != null ? `ETA ${fmtDuration(x.eta_s)}` : null,
    x.deployed_version != null ? `deployed as v${x.deployed_version}` : null,
    job.error?.message ? `error: ${job.error.message}` : null];
  document.getElementById("job-summary").textContent = parts.filter(Boolean).join(" · ");
  document.getElementById("job-detail").dataset.status = job.status;
  document.getElementById("job-cancel").hidden = FINAL.has(job.status);
}

export async function watch(job) {
  source?.close();
  seen = new Set();
  chart.reset();
  clear(document.getElementById("job-log"));
  const panel = document.getElementById("job-detail");
  panel.hidden = false;
  summarize(job);
  for (const tr of tbody.querySelectorAll("tr")) tr.classList.toggle("selected", tr.dataset.job === job.id);
  try {
    const { data } = await api.get(`/v1/fine_tuning/jobs/${encodeURIComponent(job.id)}/events?limit=500`);
    data.slice().reverse().forEach(event); // listed newest first, as OpenAI does
  } catch (err) {
    notice(status, err.message, "error");
  }
  // EventSource sends the session cookie (same origin); it reconnects by itself on a dropped line.
  source = new EventSource(`/v1/halops/jobs/${encodeURIComponent(job.id)}/stream`);
  source.onmessage = (msg) => {
    if (msg.data === "[DONE]") { source.close(); refresh(); return; }
    try { event(JSON.parse(msg.data)); } catch { /* not an event */ }
  };
  source.onerror = () => { if (FINAL.has(selected?.status)) source.close(); };
  panel.scrollIntoView({ block: "nearest" });
}

function event(e) {
  if (!e || (e.id && seen.has(e.id))) return;
  if (e.id) seen.add(e.id);
  if (e.type === "metrics" && e.data) chart.add(e.data);
  if (e.message) {
    const log = document.getElementById("job-log");
    log.append(`${fmtTime(e.created_at)} ${e.level || "info"} ${e.message}\n`);
    while (log.childNodes.length > LOG_LINES) log.firstChild.remove();
    log.scrollTop = log.scrollHeight;
  }
  if (e.data?.status && selected) { selected.status = e.data.status; summarize(selected); }
}

async function cancel() {
  if (!selected) return;
  try {
    const job = await api.post(`/v1/fine_tuning/jobs/${encodeURIComponent(selected.id)}/cancel`);
    summarize(job);
    notice(status, `Job ${job.id}: ${job.status}.`, "ok");
    refresh();
  } catch (err) {
    notice(status, err.message, "error");
  }
}

async function loadRecipes() {
  const select = document.getElementById("retrain-recipe");
  try {
    recipes = (await api.get("/v1/halops/recipes")).data;
    const keep = select.value;
    clear(select, recipes.map((r) => h("option", { value: r.name, text: r.name })));
    if (keep) select.value = keep;
    describeRecipe();
  } catch (err) {
    notice(status, err.message, "error");
  }
  try {
    const files = (await api.get("/v1/files")).data.filter((f) => f.purpose === "fine-tune");
    const fileSelect = document.getElementById("retrain-file");
    clear(fileSelect, h("option", { value: "sessions", text: "The data pipeline's output (sessions)" }),
      files.map((f) => h("option", { value: f.id, text: `${f.filename} (${f.id})` })));
  } catch { /* uploads are optional */ }
}

function describeRecipe() {
  const name = document.getElementById("retrain-recipe").value;
  const recipe = recipes.find((r) => r.name === name);
  const defaults = Object.entries(recipe?.defaults || {}).filter(([, v]) => v !== null && typeof v !== "object");
  clear(document.getElementById("retrain-recipe-help"), recipe?.description || "",
    defaults.length ? h("details", {}, h("summary", { text: "Defaults" }),
      h("code", { class: "defaults", text: defaults.map(([k, v]) => `${k}=${v}`).join("\n") })) : null);
}

// key=value lines → {key: value}; numbers and booleans as such, the rest as text.
export function parseOverrides(text) {
  const out = {}, problems = [];
  text.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#")).forEach((line, i) => {
    const eq = line.indexOf("=");
    if (eq <= 0) { problems.push(`line ${i + 1}: "${line}" is not key=value`); return; }
    const key = line.slice(0, eq).trim(), raw = line.slice(eq + 1).trim();
    let value = raw;
    if (/^(true|false)$/i.test(raw)) value = raw.toLowerCase() === "true";
    else if (raw !== "" && !isNaN(Number(raw))) value = Number(raw);
    out[key] = value;
  });
  return { overrides: out, problems };
}

async function validate(announce) {
  const list = document.getElementById("retrain-problems");
  clear(list);
  const recipe = document.getElementById("retrain-recipe").value;
  const { overrides, problems } = parseOverrides(document.getElementById("retrain-overrides").value);
  if (!recipe) problems.push("pick a recipe");
  if (!problems.length) {
    try {
      const r = await api.post("/v1/halops/recipes/validate", { recipe, overrides });
      if (!r.ok) {
        const listed = r.problems?.length ? r.problems : ["the recipe does not validate"];
        problems.push(...listed.map((p) => (typeof p === "object" ? `${p.key}: ${p.message}` : String(p))));
      }
    } catch (err) {
      problems.push(err.message);
    }
  }
  clear(list, problems.map((p) => h("li", { text: p })));
  if (!problems.length && announce) notice(status, "The recipe and overrides are valid.", "ok");
  return problems.length ? null : { recipe, overrides };
}

async function start(event) {
  event.preventDefault();
  const button = document.getElementById("retrain-start");
  button.disabled = true;
  try {
    const valid = await validate(false);
    if (!valid) return;
    const job = await api.post("/v1/fine_tuning/jobs", {
      model: "halops",
      training_file: document.getElementById("retrain-file").value,
      halops: valid,
    });
    notice(status, `Started job ${job.id}.`, "ok");
    await refresh();
    watch(job);
  } catch (err) {
    clear(document.getElementById("retrain-problems"), h("li", { text: err.message }));
  } finally {
    button.disabled = false;
  }
}
