// Small DOM helpers. Text always goes in as text (textContent), never as HTML: everything shown
// here (tool output, model answers, prompts) is untrusted.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

export function fmtTime(ts) {
  if (!ts) return "—";
  const d = new Date(ts * 1000);
  return d.toLocaleString(undefined, { hour12: false });
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function fmtScore(x) {
  return typeof x === "number" ? x.toFixed(3) : "—";
}

// A status line for a region: role=status so screen readers hear it; "error" styles it.
export function notice(el, message, kind = "info") {
  el.textContent = message || "";
  el.dataset.kind = kind;
  el.hidden = !message;
}

// A modal confirmation (<dialog>: focus is trapped and Escape cancels, by the browser).
// `fields` are extra inputs ({name, label, type}); resolves to their values, or null if cancelled.
export function confirmDialog(title, message, fields = []) {
  const dialog = document.getElementById("confirm");
  const form = dialog.querySelector("form");
  dialog.querySelector("h2").textContent = title;
  dialog.querySelector(".message").textContent = message;
  const box = clear(dialog.querySelector(".fields"));
  for (const f of fields) {
    const id = `confirm-${f.name}`;
    const input = f.type === "checkbox"
      ? h("input", { id, name: f.name, type: "checkbox" })
      : h("input", { id, name: f.name, type: f.type || "text", autocomplete: "off" });
    box.append(h("div", { class: f.type === "checkbox" ? "field check" : "field" },
      f.type === "checkbox" ? [input, h("label", { for: id, text: f.label })] : [h("label", { for: id, text: f.label }), input]));
  }
  return new Promise((resolve) => {
    const done = () => {
      dialog.removeEventListener("close", done);
      if (dialog.returnValue !== "ok") return resolve(null);
      const out = {};
      for (const f of fields) {
        const input = form.elements[f.name];
        out[f.name] = f.type === "checkbox" ? input.checked : input.value.trim();
      }
      resolve(out);
    };
    dialog.addEventListener("close", done);
    dialog.returnValue = "";
    dialog.showModal();
    dialog.querySelector("button[value=ok]").focus();
  });
}
