/**
 * CLI output: JSON with `--json`, readable text otherwise; colours only on a terminal (and never with
 * NO_COLOR). Errors print one line plus a hint, and map to exit codes through `exitCodeFor`.
 */
import { ErrorCode, coerceError, exitCodeFor } from "../core/errors.js";

const useColor = (stream: NodeJS.WriteStream) => stream.isTTY === true && !process.env.NO_COLOR;

function paint(code: number, s: string, stream: NodeJS.WriteStream = process.stdout): string {
  return useColor(stream) ? `\u001b[${code}m${s}\u001b[0m` : s;
}

export const color = {
  bold: (s: string) => paint(1, s),
  dim: (s: string) => paint(2, s),
  green: (s: string) => paint(32, s),
  red: (s: string) => paint(31, s),
  yellow: (s: string) => paint(33, s),
  cyan: (s: string) => paint(36, s),
};

export function printJson(v: unknown): void {
  process.stdout.write(JSON.stringify(v, null, 2) + "\n");
}

/** Prints key/value rows aligned. */
export function printFields(rows: Array<[string, unknown]>): void {
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) {
    if (v === undefined) continue;
    const text = typeof v === "string" ? v : JSON.stringify(v);
    process.stdout.write(`${color.dim(k.padEnd(width))}  ${text}\n`);
  }
}

// eslint-disable-next-line no-control-regex -- matches the colour codes paint() writes
const ANSI = /\u001b\[[0-9;]*m/g;

/** Width of a cell as it appears on screen (colour codes take no room). */
function visibleLength(s: string): number {
  return s.replace(ANSI, "").length;
}

/** A table cell: absent values show as "-", and a cell stays on one line. */
export function cell(v: unknown): string {
  if (v === undefined || v === null || v === "") return "-";
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return s.replace(/\s*\n\s*/g, " ");
}

/** Shortens `s` to `max` characters, ending with "…" when cut. */
export function truncate(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, Math.max(0, max - 1)) + "…";
}

/** An RFC 3339 time without milliseconds (`2030-01-01T09:00:00Z`), or "-". */
export function shortTime(iso: string | undefined): string {
  if (!iso) return "-";
  return iso.replace(/\.\d+(?=Z$)/, "");
}

/**
 * Prints rows as aligned columns under a dimmed header (two spaces between columns, no trailing
 * spaces). Cells may carry colour; alignment counts only visible characters.
 */
export function printTable(headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ""))));
  const line = (cells: string[], style: (s: string) => string = (s) => s) =>
    cells
      .map((c, i) =>
        i === cells.length - 1 ? style(c) : style(c) + " ".repeat(widths[i]! - visibleLength(c)),
      )
      .join("  ")
      .trimEnd();
  process.stdout.write(line(headers, color.dim) + "\n");
  for (const r of rows) process.stdout.write(line(r) + "\n");
}

export function stateColor(state: string): string {
  if (state === "completed") return color.green(state);
  if (state === "discarded" || state === "cancelled") return color.red(state);
  if (state === "active" || state === "retryable") return color.yellow(state);
  return color.cyan(state);
}

/** Prints an error the way scripts and people both can use, and returns the exit code. */
export function reportError(err: unknown, json: boolean): number {
  const e = coerceError(err);
  if (json) {
    process.stdout.write(
      JSON.stringify({ error: { code: e.code, message: e.message, details: e.details, hint: e.hint } }) +
        "\n",
    );
  } else {
    process.stderr.write(
      `${paint(31, "error", process.stderr)} ${e.message} ${paint(2, `(${e.code})`, process.stderr)}\n`,
    );
    if (e.hint) process.stderr.write(`${paint(2, "hint:", process.stderr)} ${e.hint}\n`);
    const details = detailsText(e.details);
    if (details !== undefined && (showsDetails.has(e.code) || /details/i.test(e.hint ?? "")))
      process.stderr.write(`${paint(2, "details:", process.stderr)} ${details}\n`);
  }
  return exitCodeFor(e.code);
}

/** A progress line for batch commands: redrawn in place on a terminal (stderr), silent otherwise. */
export function createProgress(label: string, total: number): { tick(ok: boolean): void; done(): void } {
  const tty = process.stderr.isTTY === true;
  let ok = 0;
  let failed = 0;
  const draw = () => {
    if (!tty) return;
    const pct = total === 0 ? 100 : Math.floor(((ok + failed) / total) * 100);
    const bad = failed > 0 ? `, ${paint(31, `${failed} failed`, process.stderr)}` : "";
    process.stderr.write(`\r\u001b[2K${label} ${ok + failed}/${total} (${pct}%)${bad}`);
  };
  return {
    tick(success) {
      if (success) ok++;
      else failed++;
      draw();
    },
    done() {
      if (tty) process.stderr.write("\r\u001b[2K");
    },
  };
}

/** Codes whose `details` say what to fix (the field, the hosts left out), printed under the error. */
const showsDetails = new Set<string>([
  ErrorCode.InvalidRequest,
  ErrorCode.InvalidPayload,
  ErrorCode.ValidationError,
  ErrorCode.NoTargets,
  ErrorCode.Conflict,
]);

/** Details on one line when short, else as indented JSON. */
function detailsText(details: Record<string, unknown> | undefined): string | undefined {
  if (details === undefined || Object.keys(details).length === 0) return undefined;
  const one = JSON.stringify(details);
  return one.length <= 100 ? one : "\n" + JSON.stringify(details, null, 2).replace(/^/gm, "  ");
}
