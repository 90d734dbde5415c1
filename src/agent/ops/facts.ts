/**
 * Host facts: a flat map of dotted keys (`os.name`, `cpu.cores`, …) the agent advertises so that jobs
 * can be targeted at hosts by their properties. Also the os-release parser shared with `system.os.get`.
 */

import { readFile } from "node:fs/promises";
import os from "node:os";

/** A fact value; facts are flat so they can be matched with simple selectors. */
export type FactValue = string | number | boolean;

/** Where os-release(5) lives, in lookup order. */
export const osReleasePaths = ["/etc/os-release", "/usr/lib/os-release"] as const;

/**
 * Parses os-release(5) text into its `KEY=value` pairs. Handles double quotes (with `\"`, `\\`, `\$`
 * and `` \` `` escapes), single quotes and unquoted values; skips comments, blank and malformed lines.
 */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim();
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) continue;
    out[key] = unquote(line.slice(eq + 1).trim());
  }
  return out;
}

function unquote(raw: string): string {
  const quote = raw[0];
  if (quote === "'") {
    const end = raw.indexOf("'", 1);
    return end === -1 ? raw.slice(1) : raw.slice(1, end);
  }
  const quoted = quote === '"';
  let out = "";
  for (let i = quoted ? 1 : 0; i < raw.length; i++) {
    const ch = raw[i];
    if (ch === "\\" && i + 1 < raw.length) {
      out += raw[++i];
    } else if (quoted && ch === '"') {
      break;
    } else {
      out += ch;
    }
  }
  return out;
}

/** Reads and parses the first os-release file that exists; `{}` when there is none. */
export async function readOsRelease(
  paths: readonly string[] = osReleasePaths,
): Promise<Record<string, string>> {
  for (const path of paths) {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch {
      continue; // absent or unreadable: try the next location
    }
    return parseOsRelease(text);
  }
  return {};
}

/** The number of CPUs the process can use. */
export function cpuCount(): number {
  return typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
}

/**
 * Gathers the host's facts as flat dotted keys: `os.name` (os-release `ID`), `os.version`
 * (`VERSION_ID`), `os.pretty_name`, `os.family` (first word of `ID_LIKE`, else `ID`),
 * `kernel.release`, `arch`, `platform`, `cpu.cores`, `cpu.model`, `memory.total_bytes`,
 * `memory.total_gb` (GiB, 1 decimal), `node.version`, `hostname`. Keys in `extra` override.
 */
export async function gatherFacts(extra: Record<string, FactValue> = {}): Promise<Record<string, FactValue>> {
  const rel = await readOsRelease();
  const id = nonEmpty(rel.ID) ?? os.platform();
  const totalBytes = os.totalmem();
  const facts: Record<string, FactValue> = {
    "os.name": id,
    "os.version": nonEmpty(rel.VERSION_ID) ?? "",
    "os.pretty_name": nonEmpty(rel.PRETTY_NAME) ?? `${os.type()} ${os.release()}`,
    "os.family": nonEmpty(rel.ID_LIKE?.split(/\s+/)[0]) ?? id,
    "kernel.release": os.release(),
    arch: os.arch(),
    platform: os.platform(),
    "cpu.cores": cpuCount(),
    "cpu.model": nonEmpty(os.cpus()[0]?.model.trim()) ?? "unknown",
    "memory.total_bytes": totalBytes,
    "memory.total_gb": Math.round((totalBytes / 1024 ** 3) * 10) / 10,
    "node.version": process.versions.node,
    hostname: os.hostname(),
  };
  return { ...facts, ...extra };
}

/** The string, or `undefined` when it is absent or empty. */
export function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === "" ? undefined : s;
}
