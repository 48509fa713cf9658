// Small DOM helpers: element building, toasts, and the confirmation dialog.

import { t } from "./i18n.js";

/**
 * h("button", {class: "btn", dataset: {command: "land"}, onclick: fn}, "Land")
 * Attributes starting with "on" become listeners; `dataset` and `style` objects are merged.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** el.replaceChildren(...) that leaves out null/undefined/false and flattens arrays, like h(). */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

const TOAST_MS = { info: 4000, success: 3500, error: 9000 };

/** A transient message in the corner; errors stay longer and can be dismissed. */
export function toast(message, { kind = "info", title } = {}) {
  const box = document.getElementById("toasts");
  const el = h(
    "div",
    { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status", dataset: { kind } },
    title ? h("strong", { class: "toast-title" }, title) : null,
    h("span", { class: "toast-text" }, message),
    h("button", { class: "toast-close", type: "button", "aria-label": t("common.close"), onclick: () => el.remove() }, "×"),
  );
  box.append(el);
  while (box.children.length > 5) box.firstElementChild.remove();
  setTimeout(() => el.remove(), TOAST_MS[kind] || 4000);
  return el;
}

let confirmOpen = null;

/**
 * Ask before a flight-critical command. Resolves true only on the confirm button.
 * `body` may be a string or a Node (e.g. with an altitude input); `onConfirm` may read it.
 */
export function confirmDialog({ title, body, confirmLabel, danger = true }) {
  const dlg = document.getElementById("confirm-dialog");
  if (confirmOpen) {
    dlg.close("cancel");
  }
  dlg.querySelector(".dialog-title").textContent = title;
  const bodyEl = dlg.querySelector(".dialog-body");
  bodyEl.replaceChildren(typeof body === "string" ? h("p", {}, body) : body);
  const ok = dlg.querySelector("[value=ok]");
  const cancel = dlg.querySelector("[value=cancel]");
  ok.textContent = confirmLabel || t("common.confirm");
  ok.classList.toggle("btn-danger", danger);
  cancel.textContent = t("common.cancel");
  dlg.returnValue = "";
  return new Promise((resolve) => {
    const done = () => {
      dlg.removeEventListener("close", done);
      confirmOpen = null;
      resolve(dlg.returnValue === "ok");
    };
    dlg.addEventListener("close", done);
    confirmOpen = done;
    dlg.showModal();
    const firstInput = bodyEl.querySelector("input");
    (firstInput || ok).focus();
  });
}

export function anyDialogOpen() {
  return [...document.querySelectorAll("dialog")].some((d) => d.open);
}

export function closeDialogs() {
  let closed = false;
  for (const d of document.querySelectorAll("dialog")) {
    if (d.open) {
      d.close("cancel");
      closed = true;
    }
  }
  return closed;
}
