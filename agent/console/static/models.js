// Models: every registry version with its eval per category, the active one, activate / roll back
// (each confirmed), history, two versions side by side, and blind pairs to judge.
import * as api from "./api.js";
import { clear, confirmDialog, fmtBytes, fmtScore, fmtTime, h, notice } from "./ui.js";

let status, versions = [];

export function init() {
  status = document.getElementById("models-notice");
  document.getElementById("models-refresh").addEventListener("click", refresh);
  document.getElementById("models-rollback").addEventListener("click", rollback);
  document.getElementById("compare-form").addEventListener("submit", compare);
}

export function show() { refresh(); }

export async function refresh() {
  try {
    const { data } = await api.get("/v1/models");
    versions = data.filter((m) => m.halops).sort((a, b) => b.halops.version - a.halops.version);
    renderVersions();
    fillCompare();
  } catch (err) {
    notice(status, err.message, "error");
  }
  history();
  pairs();
}

function renderVersions() {
  const table = document.getElementById("models-table");
  const cats = [...new Set(versions.flatMap((m) => Object.keys(m.halops.eval?.by_category || {})))].sort();
  clear(table.tHead, h("tr", {},
    ["Version", "State", "Source", "Overall", ...cats, "Size", "sha256"].map((t, i) =>
      h("th", { scope: "col", class: i >= 3 && i < 4 + cats.length ? "num" : null, text: t })),
    h("th", { scope: "col" }, h("span", { class: "visually-hidden", text: "Actions" }))));
  if (!versions.length) notice(status, "No registered versions.");
  clear(table.tBodies[0], versions.map((m) => {
    const x = m.halops;
    const active = x.state === "active";
    const src = x.source || {};
    return h("tr", { class: active ? "active-row" : null, dataset: { version: x.version, state: x.state } },
      h("th", { scope: "row" }, `v${x.version}`),
      h("td", {}, h("span", { class: `pill ${x.state}`, text: x.state }),
        x.reasons?.length ? h("div", { class: "hint", text: x.reasons.join("; ") }) : null),
      h("td", { text: [src.kind, src.job_id || src.detail || src.path].filter(Boolean).join(" ") || "—" }),
      h("td", { class: "num", text: fmtScore(x.eval?.overall) }),
      cats.map((c) => h("td", { class: "num", text: fmtScore(x.eval?.by_category?.[c]) })),
      h("td", { class: "num", text: fmtBytes(x.size) }),
      h("td", {}, h("code", { title: x.sha256 || "", text: (x.sha256 || "—").slice(0, 12) })),
      h("td", {}, active ? h("span", { class: "hint", text: "serving" })
        : h("button", { type: "button", class: "quiet", text: "Activate…", "aria-label": `Activate v${x.version}`, onclick: () => activate(x) })));
  }));
}

async function activate(x) {
  const fields = [{ name: "reason", label: "Reason (recorded in the history)" }];
  if (x.state === "rejected") fields.push({ name: "force", label: "Force: the gate rejected this version", type: "checkbox" });
  const answer = await confirmDialog(`Activate v${x.version}?`,
    `The model server will switch to v${x.version}${x.state === "rejected" ? ", which the eval gate rejected" : ""}.`, fields);
  if (!answer) return;
  try {
    await api.post(`/v1/halops/models/${x.version}/activate`, { force: Boolean(answer.force), reason: answer.reason || null });
    notice(status, `v${x.version} is now active.`, "ok");
    refresh();
  } catch (err) {
    notice(status, err.message, "error");
  }
}

async function rollback() {
  const active = versions.find((m) => m.halops.state === "active");
  const answer = await confirmDialog("Roll back?",
    `Re-activate the version that was active before${active ? ` v${active.halops.version}` : ""}.`,
    [{ name: "reason", label: "Reason (recorded in the history)" }]);
  if (!answer) return;
  try {
    const r = await api.post("/v1/halops/models/rollback", { reason: answer.reason || null });
    const v = r?.version ?? r?.halops?.version;
    notice(status, v != null ? `Rolled back: v${v} is active.` : "Rolled back.", "ok");
    refresh();
  } catch (err) {
    notice(status, err.message, "error");
  }
}

async function history() {
  const tbody = document.querySelector("#history-table tbody");
  try {
    const { data } = await api.get("/v1/halops/models/history");
    data.sort((x, y) => (y.at ?? 0) - (x.at ?? 0) || String(y.id).localeCompare(String(x.id), undefined, { numeric: true }));
    clear(tbody, data.map((e) => h("tr", {},
      h("td", { text: fmtTime(e.at) }), h("td", { text: e.action }), h("td", { text: e.version != null ? `v${e.version}` : "—" }),
      h("td", { text: e.previous != null ? `v${e.previous}` : "—" }), h("td", { text: e.actor || "—" }),
      h("td", { text: e.verdict || "—" }), h("td", { text: e.reason || "" }))));
  } catch (err) {
    clear(tbody, h("tr", {}, h("td", { colspan: 7, text: err.message })));
  }
}

function fillCompare() {
  for (const [id, pick] of [["compare-a", 1], ["compare-b", 0]]) {
    const select = document.getElementById(id);
    const keep = select.value;
    clear(select, versions.map((m) => h("option", { value: m.halops.version, text: `v${m.halops.version} (${m.halops.state})` })));
    if (keep) select.value = keep;
    else if (versions[pick]) select.value = versions[pick].halops.version;
  }
}

async function compare(event) {
  event.preventDefault();
  const a = document.getElementById("compare-a").value, b = document.getElementById("compare-b").value;
  const out = document.getElementById("compare-result");
  try {
    const r = await api.get(`/v1/halops/models/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);
    const cats = Object.entries(r.by_category || {});
    clear(out,
      h("p", { class: "summary" }, h("strong", { text: `v${r.a} wins ${r.a_wins}` }), ` · v${r.b} wins ${r.b_wins} · ties ${r.ties}`),
      h("div", { class: "table-wrap" }, h("table", {},
        h("caption", { class: "visually-hidden", text: "Score by category" }),
        h("thead", {}, h("tr", {}, ["Category", `v${r.a}`, `v${r.b}`, "Δ (B − A)"].map((t, i) => h("th", { scope: "col", class: i ? "num" : null, text: t })))),
        h("tbody", {}, cats.map(([c, s]) => h("tr", {}, h("th", { scope: "row", text: c }),
          h("td", { class: "num", text: fmtScore(s.a) }), h("td", { class: "num", text: fmtScore(s.b) }),
          h("td", { class: `num ${s.delta > 0 ? "delta-pos" : s.delta < 0 ? "delta-neg" : ""}`, text: s.delta > 0 ? `+${fmtScore(s.delta)}` : fmtScore(s.delta) })))))),
      h("details", {}, h("summary", { text: `Case by case (${(r.cases || []).length})` }),
        h("div", { class: "table-wrap" }, h("table", {},
          h("thead", {}, h("tr", {}, ["Case", "Category", `v${r.a}`, `v${r.b}`, "Winner"].map((t) => h("th", { scope: "col", text: t })))),
          h("tbody", {}, (r.cases || []).map((c) => h("tr", {}, h("td", {}, h("code", { text: c.id })), h("td", { text: c.category }),
            h("td", { class: "num", text: fmtScore(c.a) }), h("td", { class: "num", text: fmtScore(c.b) }),
            h("td", { text: c.winner === "tie" ? "tie" : `v${c.winner === "a" ? r.a : r.b}` }))))))));
  } catch (err) {
    clear(out, h("p", { class: "notice", "data-kind": "error", text: err.message }));
  }
}

// One unjudged pair at a time; which answer is on the left is a coin toss per pair.
async function pairs() {
  const box = document.getElementById("pairs");
  let data;
  try {
    ({ data } = await api.get("/v1/halops/models/pairs?judged=false"));
  } catch (err) {
    clear(box, h("p", { class: "hint", text: err.message }));
    return;
  }
  if (!data.length) { clear(box, h("p", { class: "hint", text: "No pairs waiting to be judged." })); return; }
  const pair = data[0];
  const swap = Math.random() < 0.5;
  const [left, right] = swap ? ["second", "first"] : ["first", "second"];
  const judge = async (winner) => {
    try {
      await api.post(`/v1/halops/models/pairs/${encodeURIComponent(pair.id)}/judge`, { winner });
      pairs();
    } catch (err) {
      box.append(h("p", { class: "notice", "data-kind": "error", text: err.message }));
    }
  };
  clear(box,
    h("p", { class: "hint", text: `${data.length} pair(s) to judge.` }),
    h("p", {}, h("strong", { text: "Prompt: " }), pair.prompt),
    h("div", { class: "pair" },
      h("div", {}, h("h4", { text: "Left answer" }), h("div", { class: "answer", text: pair[left] })),
      h("div", {}, h("h4", { text: "Right answer" }), h("div", { class: "answer", text: pair[right] }))),
    h("div", { class: "row wrap" },
      h("button", { type: "button", text: "Left is better", onclick: () => judge(left) }),
      h("button", { type: "button", class: "quiet", text: "Tie", onclick: () => judge("tie") }),
      h("button", { type: "button", text: "Right is better", onclick: () => judge(right) })));
}
