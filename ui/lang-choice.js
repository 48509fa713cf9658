// Which interface language a page starts in, shared by the console, the sign-in page and the
// public report page so a choice made on one holds on the others: `?lang=` first, then the last
// choice (localStorage "nazorat.lang"), then the browser's languages in order of preference,
// else English. The public pages (report, sign-in) speak more languages than the console,
// because the residents who report read Uzbek, Kazakh or Tajik while the operators' console is
// translated to Uzbek only: a choice the console lacks falls back along FALLBACK (kk, tg -> ru,
// the second language of those units; uz-Cyrl -> uz).

/** Languages of the public pages, in the switcher's order (BCP 47 tags). */
export const PUBLIC_LANGUAGES = ["uz", "uz-Cyrl", "kk", "tg", "ru", "en"];
/** Languages of the operators' console. */
export const CONSOLE_LANGUAGES = ["en", "ru", "uz"];

/** The switcher's label (short, in the language itself) and full native name of each language. */
export const LANGUAGE_NAMES = {
  uz: ["Oʻz", "Oʻzbekcha"],
  "uz-Cyrl": ["Ўз", "Ўзбекча"],
  kk: ["Қаз", "Қазақша"],
  tg: ["Тоҷ", "Тоҷикӣ"],
  ru: ["Рус", "Русский"],
  en: ["EN", "English"],
};

const FALLBACK = { "uz-Cyrl": "uz", kk: "ru", tg: "ru", uz: "uz-Cyrl" };
const STORAGE_KEY = "nazorat.lang";

/**
 * The supported tag for a browser or stored tag, or null: "uz-Cyrl-UZ" -> "uz-Cyrl",
 * "uz-UZ"/"uz-Latn" -> "uz", "kk-KZ" -> "kk"; a tag the page lacks follows FALLBACK.
 */
export function matchLanguage(tag, available) {
  if (!tag) return null;
  const parts = String(tag).replace(/_/g, "-").split("-");
  const base = parts[0].toLowerCase();
  const script = parts.slice(1).find((p) => p.length === 4);
  const tags = [];
  if (base === "uz" && script && script.toLowerCase() === "cyrl") tags.push("uz-Cyrl");
  tags.push(base);
  for (const candidate of tags) {
    if (available.includes(candidate)) return candidate;
  }
  const fallback = FALLBACK[tags[0]];
  return fallback && available.includes(fallback) ? fallback : null;
}

export function initialLanguage(search = location.search, available = CONSOLE_LANGUAGES) {
  const fromQuery = matchLanguage(new URLSearchParams(search).get("lang"), available);
  if (fromQuery) return fromQuery;
  try {
    const stored = matchLanguage(localStorage.getItem(STORAGE_KEY), available);
    if (stored) return stored;
  } catch {
    // storage blocked: fall through
  }
  const browser = navigator.languages && navigator.languages.length
    ? navigator.languages : [navigator.language || "en"];
  for (const tag of browser) {
    const found = matchLanguage(tag, available);
    if (found) return found;
  }
  return "en";
}

/** Keep the choice for the next page (silently not kept when storage is blocked). */
export function rememberLanguage(language) {
  try {
    localStorage.setItem(STORAGE_KEY, language);
  } catch {
    // not persisted, still switched
  }
}

/**
 * Fill `group` with one button per language (data-lang, data-testid "lang-<tag>", aria-pressed
 * by the page's render), labelled in the language itself so a reader finds their own.
 */
export function languageButtons(group, available, onChoose) {
  group.replaceChildren(...available.map((tag) => {
    const [short, full] = LANGUAGE_NAMES[tag];
    const btn = document.createElement("button");
    btn.type = "button";
    btn.dataset.lang = tag;
    btn.setAttribute("data-testid", `lang-${tag}`);
    btn.lang = tag;
    btn.title = full;
    btn.setAttribute("aria-label", full);
    btn.textContent = short;
    btn.addEventListener("click", () => onChoose(tag));
    return btn;
  }));
}
