// Start-up: the session (or the sign-in form), then the page named in the URL's #fragment.
import * as api from "./api.js";
import { notice } from "./ui.js";
import * as chat from "./chat.js";
import * as approvals from "./approvals.js";
import * as training from "./training.js";
import * as models from "./models.js";
import * as status from "./status.js";

const PAGES = { chat, approvals, training, models, status };
let current = null;

function show(name) {
  if (!PAGES[name]) name = "chat";
  for (const key of Object.keys(PAGES)) {
    document.getElementById(`page-${key}`).hidden = key !== name;
    const link = document.querySelector(`[data-tab="${key}"]`);
    if (key === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (current && current !== name) PAGES[current].hide?.();
  current = name;
  document.title = `${name[0].toUpperCase()}${name.slice(1)} · halops console`;
  PAGES[name].show?.();
}

async function start() {
  const global = document.getElementById("global-notice");
  let state;
  try {
    state = await api.session();
  } catch (err) {
    notice(global, `cannot reach the daemon: ${err.message}`, "error");
    return;
  }
  if (!state.authenticated) {
    showLogin();
    return;
  }
  document.getElementById("login").hidden = true;
  document.querySelector("header nav").hidden = false;
  document.getElementById("logout").hidden = !state.token_required;
  for (const page of Object.values(PAGES)) page.init?.();
  window.addEventListener("hashchange", () => show(location.hash.slice(1)));
  show(location.hash.slice(1));
  approvals.watchCount();
}

function showLogin() {
  document.querySelector("header nav").hidden = true; // nothing to navigate to before signing in
  for (const key of Object.keys(PAGES)) document.getElementById(`page-${key}`).hidden = true;
  const section = document.getElementById("login");
  section.hidden = false;
  const form = document.getElementById("login-form");
  const input = document.getElementById("login-token");
  input.focus();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const out = document.getElementById("login-notice");
    try {
      await api.login(input.value);
      input.value = "";
      notice(out, "");
      start();
    } catch (err) {
      notice(out, err.status === 401 ? "That token is not right." : err.message, "error");
      input.select();
    }
  }, { once: false });
}

document.getElementById("logout").addEventListener("click", async () => {
  await api.logout();
  location.reload();
});

start();
