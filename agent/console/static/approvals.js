// Approvals: every pending call across conversations, with its time left. A decision here is
// shown to the agent in that conversation's next turn.
import * as api from "./api.js";
import { clear, fmtDuration, fmtTime, h, notice } from "./ui.js";
import { decideForm } from "./chat.js";

let list, status, timer = null, countTimer = null;

export function init() {
  list = document.getElementById("approvals-list");
  status = document.getElementById("approvals-notice");
  document.getElementById("approvals-refresh").addEventListener("click", refresh);
}

export function show() {
  refresh();
  timer = setInterval(tick, 1000);
}

export function hide() { clearInterval(timer); }

function tick() {
  const now = Date.now() / 1000;
  for (const el of list.querySelectorAll("[data-expires]")) {
    const left = Number(el.dataset.expires) - now;
    el.textContent = left > 0 ? `expires in ${fmtDuration(left)}` : "expired";
    el.closest(".tool-card")?.classList.toggle("expired", left <= 0);
  }
}

export async function refresh() {
  try {
    const { data } = await api.get("/v1/approvals");
    setCount(data.length);
    notice(status, data.length ? "" : "Nothing is waiting for approval.", "info");
    clear(list, data.map(card));
    tick();
  } catch (err) {
    notice(status, err.message, "error");
  }
}

function card(a) {
  const args = a.arguments || {};
  const host = args.host || (a.tool === "shell" ? "local" : "—");
  const command = args.command ?? args.url ?? args.action ?? JSON.stringify(args);
  const el = h("article", { class: "tool-card", dataset: { verdict: "approve", id: a.id }, "aria-label": `Approval ${a.id}` },
    h("header", {},
      h("span", { class: "tool", text: a.tool }), h("span", { text: `on ${host}` }),
      a.rule ? h("code", { text: a.rule }) : null),
    h("code", { class: "command", text: command }),
    a.reason ? h("p", { class: "hint", text: a.reason }) : null,
    h("dl", {},
      h("dt", { text: "asked" }), h("dd", { text: fmtTime(a.created_at) }),
      h("dt", { text: "conversation" }), h("dd", {}, h("code", { text: a.conversation_id || "—" })),
      h("dt", { text: "time left" }), h("dd", { dataset: { expires: a.expires_at } })));
  el.append(decideForm({ approval_id: a.id }, el, { onDone: () => setTimeout(refresh, 1500) }));
  return el;
}

function setCount(n) {
  const badge = document.getElementById("approvals-count");
  badge.hidden = !n;
  badge.textContent = String(n);
  badge.setAttribute("aria-label", `${n} pending`);
}

// The badge in the tab bar: polled, so a call waiting in another conversation is noticed.
export function watchCount() {
  const poll = async () => {
    try { setCount((await api.get("/v1/approvals")).data.length); } catch { /* shown on the page */ }
  };
  poll();
  document.addEventListener("halops:approvals-changed", poll);
  clearInterval(countTimer);
  countTimer = setInterval(poll, 10000);
}
