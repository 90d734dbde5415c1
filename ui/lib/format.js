// @ts-check
// Formatting of times, durations, counts and values for table cells.

/** A date and time in the browser's locale, or "–". @param {string | undefined} iso */
export const time = (iso) => (iso ? new Date(iso).toLocaleString() : "–");
const pad = (/** @type {number} */ n, w = 2) => String(n).padStart(w, "0");
/** Time of day with milliseconds, for timelines where events are close together. */
export const clock = (/** @type {string | undefined} */ iso) => {
  if (!iso) return "–";
  const d = new Date(iso);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
};
/** A value as at most `n` characters of text (JSON unless it is a string). */
export const short = (/** @type {unknown} */ v, n = 80) => {
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return s === undefined ? "" : s.length > n ? s.slice(0, n - 1) + "…" : s;
};
/** A duration in ms or s, or "–". */
export const dur = (/** @type {number | undefined} */ ms) =>
  ms === undefined ? "–" : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`;
/** "1 host", "3 hosts". */
export const plural = (/** @type {number} */ n, /** @type {string} */ word) =>
  `${n} ${word}${n === 1 ? "" : "s"}`;
/** Labels as "k:v, k:v", or "–". */
export const labelsText = (/** @type {Record<string, string> | undefined} */ labels) =>
  Object.entries(labels ?? {})
    .map(([k, v]) => `${k}:${v}`)
    .join(", ") || "–";
