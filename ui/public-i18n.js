// Language of the public pages (the report page and the sign-in page): their catalogues
// (ui/i18n/public/<lang>.js, same format as the console's), the language switcher, and t().
// A resident's phone set to Uzbek, Kazakh or Tajik opens the page in that language
// (lang-choice.js); the switcher names each language in itself.

import en from "./i18n/public/en.js";
import kk from "./i18n/public/kk.js";
import ru from "./i18n/public/ru.js";
import tg from "./i18n/public/tg.js";
import uzCyrl from "./i18n/public/uz-Cyrl.js";
import uz from "./i18n/public/uz.js";
import { formatMessage } from "./i18n/message.js";
import { PUBLIC_LANGUAGES, initialLanguage, languageButtons, rememberLanguage } from "./lang-choice.js";

const CATALOGUES = { en, ru, uz, "uz-Cyrl": uzCyrl, kk, tg };
let current = initialLanguage(location.search, PUBLIC_LANGUAGES);

export function lang() {
  return current;
}

/** The text for `key` in the current language (English if missing there, with a warning). */
export function t(key, params) {
  let value = CATALOGUES[current][key];
  if (value === undefined) {
    console.warn(`i18n: no ${current} string for ${key}`);
    value = CATALOGUES.en[key] ?? key;
  }
  return formatMessage(current, value, params);
}

/** A number with a fixed count of decimals, as the current language writes it. */
export function decimal(value, digits) {
  return new Intl.NumberFormat(current, {
    minimumFractionDigits: digits, maximumFractionDigits: digits,
  }).format(value);
}

/**
 * Fill the switcher group (.lang) and call `render` now and after every switch. Static text
 * comes from data-t="key" attributes; `render` redoes the dynamic parts.
 */
export function startLanguage(group, render) {
  const apply = () => {
    document.documentElement.lang = current;
    group.setAttribute("aria-label", t("lang.label"));
    for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
    for (const btn of group.querySelectorAll("[data-lang]")) {
      btn.setAttribute("aria-pressed", String(btn.dataset.lang === current));
    }
    render();
  };
  languageButtons(group, PUBLIC_LANGUAGES, (tag) => {
    current = tag;
    rememberLanguage(tag);
    apply();
  });
  apply();
}
