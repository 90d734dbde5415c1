/**
 * What every client command shares: the connection flags (--api, --token, --data-dir, --json), the SDK
 * client built from them, the `run` wrapper type, and parsing of numeric and JSON-ish arguments.
 */
import type { Command } from "commander";

import { createClient } from "../client/client.js";
import { ValidationError } from "../core/errors.js";
import { parseIsoDurationMs } from "../core/time.js";
import { resolveApi } from "./endpoints.js";

/** Runs a command body and maps a thrown error to an exit code (see main.ts). */
export type Runner = (fn: () => Promise<void>, json?: boolean) => Promise<void>;

export interface ClientFlags {
  api?: string;
  token?: string;
  dataDir?: string;
  json?: boolean;
}

export function addClientFlags(cmd: Command): Command {
  return cmd
    .option("--api <url>", "API URL (default: $JETJOB_API_URL or .jetjob/endpoints.json)")
    .option("--token <token>", "API token (default: $JETJOB_API_TOKEN or .jetjob/admin.token)")
    .option("--data-dir <dir>", "data dir of `jetjob start` to read endpoints from (default: .jetjob)")
    .option("--json", "print JSON");
}

export function clientFor(f: ClientFlags) {
  const target = resolveApi({ api: f.api, token: f.token, dataDir: f.dataDir });
  return createClient({ url: target.url, ...(target.token === undefined ? {} : { token: target.token }) });
}

/**
 * A flag whose value is JSON (`--args`): the parsed value, or a {@link ValidationError} that says the
 * value is not JSON, why, and what would do.
 */
export function parseJsonFlag(name: string, v: string, example: string): unknown {
  try {
    return JSON.parse(v) as unknown;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new ValidationError(`${name} must be JSON (${why}), e.g. ${name} '${example}'`);
  }
}

/** CLI args are JSON when they parse as JSON, strings otherwise (`42` → 42, `hello` → "hello"). */
export function parseArgValues(values: string[], argsJson: string | undefined): unknown[] {
  if (argsJson !== undefined) {
    const v = parseJsonFlag("--args", argsJson, '["a", 1]');
    if (!Array.isArray(v))
      throw new ValidationError(`--args must be a JSON array (got ${jsonKind(v)}), e.g. --args '["a", 1]'`);
    return v;
  }
  return values.map((s) => {
    try {
      return JSON.parse(s) as unknown;
    } catch {
      return s;
    }
  });
}

/** An integer flag (`--limit 10`); `min` bounds it from below. */
export function intFlag(name: string, v: string, min?: number): number {
  const n = Number(v);
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n))
    throw new ValidationError(`${name} must be an integer, got ${v}`);
  if (min !== undefined && n < min) throw new ValidationError(`${name} must be at least ${min}, got ${v}`);
  return n;
}

/** A duration flag: milliseconds (`1500`), `30s`, `5m`, `1h` or an ISO 8601 duration (`PT1H`). */
export function durationFlag(name: string, v: string): number {
  const upper = v.trim().toUpperCase();
  const ms = /^\d+$/.test(upper)
    ? Number(upper)
    : parseIsoDurationMs(
        upper.startsWith("P") || /^\d+D$/.test(upper)
          ? upper.startsWith("P")
            ? upper
            : `P${upper}`
          : `PT${upper}`,
      );
  if (ms === undefined)
    throw new ValidationError(
      `${name} ${v}: use milliseconds, 30s, 5m, 12h, 30d or an ISO duration like PT1H`,
    );
  return ms;
}

function jsonKind(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "object") return "an object";
  return `a ${typeof v}`;
}
