// Interface strings, English, Russian and Uzbek (Latin). Dictionaries live in ui/i18n/<lang>.js
// (the same format as the public pages' ui/i18n/public/: strings with {name}, plurals as objects
// chosen by Intl.PluralRules, see ../i18n/message.js); later slices add their own keys with
// addStrings(). The choice is kept in localStorage and shared with the public pages.
//
// Static markup: data-i18n="key" sets textContent, data-i18n-title / data-i18n-aria /
// data-i18n-placeholder set those attributes. Dynamic text: t("key", {name: "alpha"}).

import en from "../i18n/en.js";
import { formatMessage } from "../i18n/message.js";
import ru from "../i18n/ru.js";
import uz from "../i18n/uz.js";
import { CONSOLE_LANGUAGES as LANGUAGES, initialLanguage, rememberLanguage } from "../lang-choice.js";

export { LANGUAGES };

const dictionaries = { en: { ...en }, ru: { ...ru }, uz: { ...uz } };
const listeners = new Set();

let current = initialLanguage(location.search, LANGUAGES);

export function lang() {
  return current;
}

export function addStrings(language, strings) {
  Object.assign((dictionaries[language] ||= {}), strings);
}

/** The text for `key`; a plural value picks its form for the numeric params.n. */
export function t(key, params) {
  const value = dictionaries[current][key] ?? dictionaries.en[key];
  if (value === undefined) {
    console.warn(`i18n: no string for ${key}`);
    return key;
  }
  return formatMessage(current, value, params);
}

/** True if a string exists for `key` (in the current language or English). */
export function has(key) {
  return key in dictionaries[current] || key in dictionaries.en;
}

export function setLang(language) {
  if (!LANGUAGES.includes(language) || language === current) return;
  current = language;
  rememberLanguage(language);
  applyTo(document);
  for (const fn of listeners) fn(language);
}

/** Call `fn(lang)` after every language switch (re-render dynamic text there). */
export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function applyTo(root) {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-aria]")) {
    el.setAttribute("aria-label", t(el.dataset.i18nAria));
  }
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  for (const el of root.querySelectorAll("[data-lang]")) {
    el.setAttribute("aria-pressed", String(el.dataset.lang === current));
  }
}

const numberFormats = new Map();

/** Locale-aware number with a fixed count of decimals. */
export function num(value, decimals = 0) {
  const key = `${current}:${decimals}`;
  let f = numberFormats.get(key);
  if (!f) {
    f = new Intl.NumberFormat(current, {
      minimumFractionDigits: decimals,
      maximumFractionDigits: decimals,
      signDisplay: "negative", // no "-0" for values that round to zero
    });
    numberFormats.set(key, f);
  }
  return f.format(value);
}

const timeFormats = new Map();

/** Wall-clock time (24 h) of a Unix time, by Intl.DateTimeFormat of the current language. */
export function time(unixSeconds) {
  let f = timeFormats.get(current);
  if (!f) {
    f = new Intl.DateTimeFormat(current, {
      hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
    });
    timeFormats.set(current, f);
  }
  return f.format(new Date(unixSeconds * 1000));
}
