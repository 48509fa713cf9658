// Keyboard shortcuts. Slices register theirs; `?` lists every registered one. Keys are ignored
// while typing in a field or while a dialog is open (the dialog has its own Enter / Esc).

import { anyDialogOpen } from "./dom.js";
import { t } from "./i18n.js";

export class Shortcuts {
  constructor(helpDialog) {
    this.helpDialog = helpDialog;
    this.entries = [];
    document.addEventListener("keydown", (e) => this._onKey(e));
  }

  /** {key: "r", help: "shortcut.return_to_launch" (i18n key), run: () => {}, label?: "R"} */
  register(entry) {
    this.entries.push(entry);
  }

  _onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    if (anyDialogOpen()) return;
    const el = e.target;
    const typing =
      el instanceof HTMLElement &&
      (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));
    if (typing && e.key !== "Escape") return;
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    const entry = this.entries.find((x) => x.key === key || x.key === e.key);
    if (!entry) return;
    e.preventDefault();
    entry.run(e);
  }

  showHelp() {
    const body = this.helpDialog.querySelector("tbody");
    body.replaceChildren(
      ...this.entries.map((x) => {
        const tr = document.createElement("tr");
        const k = document.createElement("td");
        const kbd = document.createElement("kbd");
        kbd.textContent = x.label || (x.key.length === 1 ? x.key.toUpperCase() : x.key);
        k.append(kbd);
        const d = document.createElement("td");
        d.textContent = t(x.help);
        tr.append(k, d);
        return tr;
      }),
    );
    this.helpDialog.showModal();
  }
}
