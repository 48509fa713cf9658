// Filling in one catalogue value, shared by the console and the public pages so both read the
// same catalogue format (ui/i18n/*.js, ui/i18n/public/*.js): a string with {name} parameters, or
// a plural: an object of CLDR plural categories ("one", "few", "many", "other") chosen by
// Intl.PluralRules for the parameter {n}, never by hand-written rules per language.

const pluralRules = new Map();
const countFormats = new Map();

function cached(map, language, make) {
  let v = map.get(language);
  if (!v) {
    v = make(language);
    map.set(language, v);
  }
  return v;
}

/** The plural category of `n` in `language` ("one", "few", "many", "other"). */
export function pluralCategory(language, n) {
  return cached(pluralRules, language, (l) => new Intl.PluralRules(l)).select(n);
}

/** `n` as that language writes a count (Intl.NumberFormat: digit grouping and decimal mark). */
export function count(language, n) {
  return cached(countFormats, language, (l) => new Intl.NumberFormat(l)).format(n);
}

/**
 * The text of catalogue value `value` with `params` filled in. A plural object needs a numeric
 * params.n; {n} is then written by Intl.NumberFormat. Other parameters are inserted as given
 * (format numbers before, e.g. ids stay "#1234"). An unknown {name} is left visible.
 */
export function formatMessage(language, value, params) {
  let s = value;
  const n = params && typeof params.n === "number" ? params.n : null;
  if (s && typeof s === "object") s = s[n === null ? "other" : pluralCategory(language, n)] ?? s.other;
  if (typeof s !== "string") return undefined;
  if (!params) return s;
  return s.replace(/\{(\w+)\}/g, (m, k) => {
    if (!(k in params)) return m;
    return k === "n" && n !== null ? count(language, n) : String(params[k]);
  });
}
