/**
 * CLI output: JSON with `--json`, readable text otherwise; colours only on a terminal (and never with
 * NO_COLOR). Errors print one line plus a hint, and map to exit codes through `exitCodeFor`.
 */
import { coerceError, exitCodeFor } from "../core/errors.js";

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
  }
  return exitCodeFor(e.code);
}
