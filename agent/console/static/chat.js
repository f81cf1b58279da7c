// Chat: a streamed reply, each tool call as a card as soon as it has run, approvals inline (the
// conversation goes on after the decision), and thumbs up/down with a reason on each answer.
import * as api from "./api.js";
import { clear, h, notice } from "./ui.js";

let messages = [];        // the OpenAI-style history we resend each turn
let conversationId = null;
let busy = false;
let log, form, input, sendButton, status;

function newConversation() {
  messages = [];
  conversationId = `console-${crypto.randomUUID()}`;
  clear(log);
  notice(status, "");
}

export function init() {
  log = document.getElementById("chat-log");
  form = document.getElementById("chat-form");
  input = document.getElementById("chat-input");
  sendButton = document.getElementById("chat-send");
  status = document.getElementById("chat-notice");
  newConversation();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (text && !busy) { input.value = ""; send(text); }
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  document.getElementById("chat-new").addEventListener("click", () => { newConversation(); input.focus(); });
}

export function show() { input?.focus(); }

function scroll() { log.scrollTop = log.scrollHeight; }

function setBusy(value) {
  busy = value;
  sendButton.disabled = value;
  sendButton.textContent = value ? "Working…" : "Send";
}

export async function send(text) {
  messages.push({ role: "user", content: text });
  log.append(h("div", { class: "msg user" }, h("div", { class: "who", text: "You" }), h("div", { class: "body", text })));
  const body = h("div", { class: "body" });
  const steps = h("div", { class: "steps" });
  const msg = h("div", { class: "msg assistant", "aria-busy": "true" }, h("div", { class: "who", text: "halops" }), steps, body);
  log.append(msg);
  scroll();
  setBusy(true);
  let answer = "";
  let turnId = null;
  let shown = 0;
  try {
    await api.postStream("/v1/chat/completions", {
      model: "halops",
      stream: true,
      conversation_id: conversationId,
      messages,
      halops: { stream_steps: true },
    }, (event) => {
      if (event.error) throw new api.ApiError(0, event.error.message, event.error.code);
      turnId = event.id || turnId;
      if (event.halops?.step) {
        steps.append(toolCard(event.halops.step));
        shown += 1;
      }
      for (const choice of event.choices || []) {
        if (choice.delta?.content) { answer += choice.delta.content; body.textContent = answer; }
      }
      // The final chunk repeats every step: draw any the live events did not bring.
      if (event.halops?.steps) for (const s of event.halops.steps.slice(shown)) steps.append(toolCard(s));
      scroll();
    });
    messages.push({ role: "assistant", content: answer });
    msg.dataset.turnId = turnId;
    msg.append(feedbackBar(turnId));
  } catch (err) {
    messages.pop();
    body.append(h("p", { class: "error", text: `Error: ${err.message}` }));
  } finally {
    msg.removeAttribute("aria-busy");
    setBusy(false);
    scroll();
  }
}

function describe(step) {
  const a = step.arguments || {};
  const host = a.host || (step.tool === "shell" ? "local" : "—");
  const command = a.command ?? a.url ?? a.action ?? (Object.keys(a).length ? JSON.stringify(a) : "");
  return { host, command: [a.method, command].filter(Boolean).join(" ") };
}

export function toolCard(step) {
  const { host, command } = describe(step);
  const output = [step.stdout, step.stderr && `--- stderr ---\n${step.stderr}`].filter(Boolean).join("\n");
  const card = h("article", { class: "tool-card", dataset: { verdict: step.verdict || "none", status: step.status }, "aria-label": `Tool call ${step.tool} on ${host}` },
    h("header", {},
      h("span", { class: "tool", text: step.tool }),
      h("span", { text: `on ${host}` }),
      h("span", { class: `pill ${step.verdict || ""}`, text: step.verdict || "no verdict" }),
      step.rule ? h("code", { class: "rule", text: step.rule }) : null),
    h("code", { class: "command", text: command }),
    h("dl", {},
      h("dt", { text: "status" }), h("dd", {}, h("span", { class: `pill ${step.status}`, text: step.status })),
      h("dt", { text: "exit code" }), h("dd", { class: "exit-code", text: step.exit_code ?? "—" }),
      step.duration_ms != null ? [h("dt", { text: "time" }), h("dd", { text: `${Math.round(step.duration_ms)} ms` })] : null),
    step.reason ? h("p", { class: "hint reason", text: step.reason }) : null,
    output ? h("details", { class: "output" }, h("summary", { text: "Output" }), h("pre", { text: output })) : null);
  if (step.status === "approval_required" && step.approval_id) card.append(decideForm(step, card, { resume: true }));
  return card;
}

// Approve / Deny (with a reason) for one pending call. After the decision the card shows the
// result; with `resume`, the chat tells the agent, whose next turn sees the result.
export function decideForm(step, card, { resume = false, onDone = null } = {}) {
  const id = step.approval_id;
  const reasonId = `deny-reason-${id}`;
  const reason = h("input", { id: reasonId, type: "text", autocomplete: "off", placeholder: "optional" });
  const out = h("p", { class: "notice", role: "status", hidden: true });
  const approve = h("button", { type: "button", class: "ok", text: "Approve" });
  const deny = h("button", { type: "button", class: "danger", text: "Deny" });
  const box = h("div", { class: "decide" },
    h("div", { class: "field" }, h("label", { for: reasonId, text: "Reason (for a denial)" }), reason),
    approve, deny, out);
  const decide = async (decision) => {
    approve.disabled = deny.disabled = true;
    const comment = reason.value.trim() || null;
    try {
      const r = await api.post(`/v1/approvals/${encodeURIComponent(id)}`, { decision, comment });
      box.replaceWith(decisionResult(r, comment));
      card.dataset.status = r.status;
      document.dispatchEvent(new CustomEvent("halops:approvals-changed"));
      onDone?.(r);
      if (resume && !busy) {
        send(r.status === "approved"
          ? `I approved the call (approval ${id}). Its result is in.`
          : `I denied the call (approval ${id})${comment ? `: ${comment}` : "."}`);
      }
    } catch (err) {
      approve.disabled = deny.disabled = false;
      notice(out, err.message, "error");
    }
  };
  approve.addEventListener("click", () => decide("approve"));
  deny.addEventListener("click", () => decide("deny"));
  return box;
}

function decisionResult(r, comment) {
  const res = r.result || {};
  const output = [res.stdout, res.stderr && `--- stderr ---\n${res.stderr}`].filter(Boolean).join("\n");
  return h("div", { class: "decision" },
    h("p", {}, h("span", { class: `pill ${r.status === "approved" ? "ok" : "denied"}`, text: r.status }),
      r.status === "denied" && comment ? ` — ${comment}` : "",
      r.status === "approved" ? ` — ran: ${res.status ?? "?"}, exit code ` : "",
      r.status === "approved" ? h("span", { class: "exit-code", text: res.exit_code ?? "—" }) : ""),
    output ? h("details", { class: "output", open: true }, h("summary", { text: "Result" }), h("pre", { text: output })) : null);
}

function feedbackBar(turnId) {
  const bar = h("div", { class: "feedback" });
  const out = h("span", { class: "hint", role: "status" });
  const up = h("button", { type: "button", class: "quiet", "aria-pressed": "false", title: "Good answer", text: "▲ Good" });
  const down = h("button", { type: "button", class: "quiet", "aria-pressed": "false", title: "Bad answer", text: "▼ Bad" });
  const rate = async (rating, comment) => {
    try {
      await api.post("/v1/feedback", { id: turnId, rating, comment: comment || null });
      up.setAttribute("aria-pressed", String(rating === "up"));
      down.setAttribute("aria-pressed", String(rating === "down"));
      out.textContent = rating === "up" ? "Thanks: marked good." : "Thanks: marked bad; it will not be trained on.";
    } catch (err) {
      out.textContent = `Could not record: ${err.message}`;
    }
  };
  up.addEventListener("click", () => rate("up"));
  down.addEventListener("click", () => {
    if (bar.querySelector("form")) return;
    const fid = `fb-${turnId}`;
    const field = h("input", { id: fid, type: "text", autocomplete: "off", placeholder: "optional" });
    const fform = h("form", {}, h("label", { for: fid, text: "What was wrong?" }), field,
      h("button", { type: "submit", text: "Send" }));
    fform.addEventListener("submit", (event) => { event.preventDefault(); fform.remove(); rate("down", field.value.trim()); });
    bar.insertBefore(fform, out);
    field.focus();
  });
  bar.append(up, down, out);
  return bar;
}
