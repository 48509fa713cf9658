// Sign-in page. POST /api/auth/login sets the HttpOnly session cookie that the console's fetch
// calls and WebSocket then carry; on success the browser goes to `?next=` (same origin only) or
// the console (commanders to its read-only view). Strings in ui/i18n/public/ (public-i18n.js);
// the language choice is shared with the console (localStorage "nazorat.lang").

import { startLanguage, t } from "./public-i18n.js";

let lastError = null; // [key, params] so a language switch re-renders it

/** The language-dependent text that data-t attributes do not cover. */
function render() {
  document.title = t("login.title");
  showError(lastError);
}

function showError(err) {
  lastError = err;
  document.getElementById("login-error").textContent = err ? t(err[0], err[1]) : "";
}

/** Where to go after signing in: `next` if it stays on this origin, else the console. */
export function destination(search, role, origin = location.origin) {
  const next = new URLSearchParams(search).get("next");
  if (next) {
    try {
      const url = new URL(next, origin);
      if (url.origin === origin && !url.pathname.startsWith("/login")) {
        return url.pathname + url.search + url.hash;
      }
    } catch {
      // not a URL: ignore
    }
  }
  return role === "commander" ? "/?view=commander" : "/";
}

async function submit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const username = form.username.value.trim();
  const password = form.password.value;
  if (!username || !password) {
    showError(["login.missing"]);
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  button.textContent = t("login.busy");
  try {
    let res;
    try {
      res = await fetch("/api/auth/login", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ username, password }),
      });
    } catch {
      showError(["login.network"]);
      return;
    }
    if (res.ok) {
      const body = await res.json();
      location.replace(destination(location.search, body.user.role));
      return;
    }
    form.password.value = "";
    if (res.status === 401 || res.status === 422) showError(["login.invalid"]);
    else if (res.status === 429) showError(["login.throttled", { n: Number(res.headers.get("Retry-After")) || 60 }]);
    else showError(["login.failed", { status: res.status }]);
    form.password.focus();
  } finally {
    button.disabled = false;
    button.textContent = t("login.submit");
  }
}

function start() {
  const form = document.getElementById("login-form");
  form.addEventListener("submit", submit);
  if (new URLSearchParams(location.search).get("expired")) lastError = ["login.expired"];
  startLanguage(document.querySelector(".lang"), render);
  form.username.focus();
  document.body.dataset.ready = "true";
}

start();
