// Sign-in page. POST /api/auth/login sets the HttpOnly session cookie that the console's fetch
// calls and WebSocket then carry; on success the browser goes to `?next=` (same origin only) or
// the console (commanders to its read-only view). Strings in English and Russian; the choice is
// shared with the console (localStorage "nazorat.lang").

import { initialLanguage, rememberLanguage } from "./lang-choice.js";

const STRINGS = {
  en: {
    title: "Nazorat — sign in",
    subtitle: "Sign in to mission control",
    username: "User name",
    password: "Password",
    submit: "Sign in",
    busy: "Signing in…",
    missing: "Enter your user name and password.",
    invalid: "Wrong user name or password.",
    throttled: "Too many failed attempts. Try again in {s} s.",
    failed: "Sign-in failed ({status}). Try again.",
    network: "The service cannot be reached.",
    expired: "Your session has ended. Sign in again.",
  },
  ru: {
    title: "Nazorat — вход",
    subtitle: "Вход в центр управления",
    username: "Имя пользователя",
    password: "Пароль",
    submit: "Войти",
    busy: "Вход…",
    missing: "Введите имя пользователя и пароль.",
    invalid: "Неверное имя пользователя или пароль.",
    throttled: "Слишком много неудачных попыток. Повторите через {s} с.",
    failed: "Не удалось войти ({status}). Повторите.",
    network: "Сервис недоступен.",
    expired: "Сеанс завершён. Войдите снова.",
  },
};
let lang = initialLanguage();
let lastError = null; // [key, params] so a language switch re-renders it

function t(key, params = {}) {
  const s = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
}

function render() {
  document.documentElement.lang = lang;
  document.title = t("title");
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  for (const btn of document.querySelectorAll("[data-lang]")) {
    btn.setAttribute("aria-pressed", String(btn.dataset.lang === lang));
  }
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
      // "/.//evil.example/x" resolves to the path "//evil.example/x", which the browser then
      // reads as another host: a same-origin path starts with exactly one "/".
      if (url.origin === origin && !url.pathname.startsWith("/login")
          && !/^\/[\/\\]/.test(url.pathname)) {
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
    showError(["missing"]);
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  button.textContent = t("busy");
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
      showError(["network"]);
      return;
    }
    if (res.ok) {
      const body = await res.json();
      location.replace(destination(location.search, body.user.role));
      return;
    }
    form.password.value = "";
    if (res.status === 401 || res.status === 422) showError(["invalid"]);
    else if (res.status === 429) showError(["throttled", { s: res.headers.get("Retry-After") || "60" }]);
    else showError(["failed", { status: res.status }]);
    form.password.focus();
  } finally {
    button.disabled = false;
    button.textContent = t("submit");
  }
}

function start() {
  for (const btn of document.querySelectorAll("[data-lang]")) {
    btn.addEventListener("click", () => {
      lang = btn.dataset.lang;
      rememberLanguage(lang);
      render();
    });
  }
  const form = document.getElementById("login-form");
  form.addEventListener("submit", submit);
  if (new URLSearchParams(location.search).get("expired")) showError(["expired"]);
  render();
  form.username.focus();
  document.body.dataset.ready = "true";
}

start();
