// The control-plane API, as the page uses it: same origin, the session cookie (HttpOnly, so this
// script never sees it) and the session's CSRF token on every state-changing request.

let csrf = null;

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function session() {
  const r = await fetch("/console/session", { credentials: "same-origin", cache: "no-store" });
  const body = await r.json();
  csrf = body.csrf || null;
  return body;
}

export async function login(token) {
  const r = await fetch("/console/login", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token }),
  });
  const body = await r.json();
  if (!r.ok) throw new ApiError(r.status, errorMessage(body, r), body?.error?.code);
  csrf = body.csrf;
  return body;
}

export async function logout() {
  await request("POST", "/console/logout");
  csrf = null;
}

function errorMessage(body, r) {
  return body?.error?.message || `${r.status} ${r.statusText}`;
}

function headers(method, extra = {}) {
  const out = { ...extra };
  if (!["GET", "HEAD"].includes(method) && csrf) out["X-CSRF-Token"] = csrf;
  return out;
}

export async function request(method, path, body) {
  const init = { method, credentials: "same-origin", cache: "no-store", headers: headers(method) };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { raw: text }; }
  if (!r.ok) {
    if (r.status === 404 && data?.error?.code === "http_error") { // no such route, not a missing object
      throw new ApiError(404, `this daemon has no ${path.split("?")[0]} (not available in this version)`, "missing_endpoint");
    }
    throw new ApiError(r.status, errorMessage(data, r), data?.error?.code);
  }
  return data;
}

export const get = (path) => request("GET", path);
export const post = (path, body = {}) => request("POST", path, body);

// POST that answers with server-sent events (chat with stream=true): calls onEvent per `data:`.
export async function postStream(path, body, onEvent, signal) {
  const r = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: headers("POST", { "Content-Type": "application/json", Accept: "text/event-stream" }),
    body: JSON.stringify(body),
    signal,
  });
  if (!r.ok) {
    let data = null;
    try { data = await r.json(); } catch { /* not JSON */ }
    throw new ApiError(r.status, errorMessage(data, r), data?.error?.code);
  }
  const reader = r.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) !== -1) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
      if (!data) continue; // a keep-alive comment
      if (data === "[DONE]") return;
      onEvent(JSON.parse(data));
    }
  }
}
