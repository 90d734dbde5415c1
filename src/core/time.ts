/**
 * Time formats of the OJS wire: RFC 3339 timestamps (UTC, milliseconds), ISO 8601 durations
 * (`PT1S`, `P1DT2H`) and relative times (`+PT5S` = now + 5 s).
 */

/** `2026-02-12T10:30:00.123Z`; whole seconds without a fraction (`2099-12-31T23:59:59Z`), as clients send them. */
export function toRfc3339(ms: number): string {
  // Jobs of one segment share their times: remember the last few conversions.
  const i = ms & 3;
  if (rfcMs[i] === ms) return rfcStr[i]!;
  const s = new Date(ms).toISOString();
  const out = s.endsWith(".000Z") ? s.slice(0, -5) + "Z" : s;
  rfcMs[i] = ms;
  rfcStr[i] = out;
  return out;
}
const rfcMs: number[] = [NaN, NaN, NaN, NaN];
const rfcStr: string[] = ["", "", "", ""];

/**
 * The longest duration accepted (100 years). A time computed from a longer one (a retry's due time,
 * `+P99999999W`) can leave the range of `Date`, and a job carrying it could not even be shown.
 */
export const MAX_DURATION_MS = 100 * 365 * 86_400_000;

const durationPattern =
  /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/**
 * Parses an ISO 8601 duration into milliseconds. Years and months are not accepted (their length
 * varies). Returns `undefined` for anything else, and for durations over {@link MAX_DURATION_MS}.
 */
export function parseIsoDurationMs(text: string): number | undefined {
  const m = durationPattern.exec(text);
  if (!m || text === "P" || text.endsWith("T")) return undefined;
  const [, w, d, h, min, s] = m;
  const ms =
    num(w) * 7 * 86_400_000 + num(d) * 86_400_000 + num(h) * 3_600_000 + num(min) * 60_000 + num(s) * 1000;
  return ms <= MAX_DURATION_MS ? Math.round(ms) : undefined;
}

/** Formats milliseconds as an ISO 8601 duration (`PT1.5S`, `PT5M`, `P1DT2H`). */
export function formatIsoDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms <= 0) return "PT0S";
  ms = Math.round(ms);
  const days = Math.floor(ms / 86_400_000);
  let rest = ms - days * 86_400_000;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = rest / 1000;
  let out = "P";
  if (days) out += `${days}D`;
  if (hours || minutes || seconds) {
    out += "T";
    if (hours) out += `${hours}H`;
    if (minutes) out += `${minutes}M`;
    if (seconds) out += `${seconds}S`;
  }
  return out;
}

const rfc3339Pattern = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):[0-5]\d:[0-5]\d(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Parses an absolute RFC 3339 time or a relative `+<ISO duration>` into epoch milliseconds.
 * Returns `undefined` when the text is neither.
 */
export function parseTimeMs(text: string, nowMs: number = Date.now()): number | undefined {
  if (text.startsWith("+")) {
    const d = parseIsoDurationMs(text.slice(1));
    return d === undefined ? undefined : nowMs + d;
  }
  const m = rfc3339Pattern.exec(text);
  if (!m) return undefined;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) return undefined;
  // Date.parse rolls impossible dates over (Feb 30 → Mar 2); reject them instead.
  const [y, mo, d, h] = [m[1], m[2], m[3], m[4]].map(Number) as [number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23) return undefined;
  return ms;
}

function num(s: string | undefined): number {
  return s === undefined ? 0 : Number(s);
}
