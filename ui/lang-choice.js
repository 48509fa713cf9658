// Which interface language a page starts in, shared by the console, the sign-in page and the
// public report page so a choice made on one holds on the others: `?lang=` first, then the last
// choice (localStorage "nazorat.lang"), then the browser's language, else English.

export const LANGUAGES = ["en", "ru"];
const STORAGE_KEY = "nazorat.lang";

export function initialLanguage(search = location.search) {
  const fromQuery = new URLSearchParams(search).get("lang");
  if (LANGUAGES.includes(fromQuery)) return fromQuery;
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    if (LANGUAGES.includes(stored)) return stored;
  } catch {
    // storage blocked: fall through
  }
  const nav = (navigator.language || "en").slice(0, 2).toLowerCase();
  return LANGUAGES.includes(nav) ? nav : "en";
}

/** Keep the choice for the next page (silently not kept when storage is blocked). */
export function rememberLanguage(language) {
  try {
    localStorage.setItem(STORAGE_KEY, language);
  } catch {
    // not persisted, still switched
  }
}
