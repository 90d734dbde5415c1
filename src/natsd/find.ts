/**
 * Finding a usable nats-server binary: `$JETJOB_NATS_SERVER`, then `nats-server` on PATH, then the
 * project's tools folder (`.tools/bin`, filled by scripts/install-nats-server.sh). Binaries older than
 * 2.10 are skipped (Debian bookworm's 2.9.10, for instance).
 */
import { execFileSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { ErrorCode, JetjobError } from "../core/errors.js";
import { compareVersions, MIN_SERVER_VERSION } from "../nats/connect.js";

/** The repository (or installed package) root: two levels above this compiled file. */
export const packageRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));

export const INSTALL_HINT =
  "run `bash scripts/install-nats-server.sh` (puts nats-server 2.10 from Debian trixie into .tools/bin)";

export interface FoundServer {
  path: string;
  version: string;
}

export function natsServerVersion(path: string): string | undefined {
  try {
    const out = execFileSync(path, ["--version"], { encoding: "utf8", timeout: 5000 });
    return /v?(\d+\.\d+\.\d+)/.exec(out)?.[1];
  } catch {
    return undefined;
  }
}

function candidates(): string[] {
  const out: string[] = [];
  const env = process.env.JETJOB_NATS_SERVER;
  if (env) out.push(env);
  for (const dir of (process.env.PATH ?? "").split(delimiter)) if (dir) out.push(join(dir, "nats-server"));
  out.push(join(packageRoot, ".tools", "bin", "nats-server"));
  out.push(join(process.cwd(), ".tools", "bin", "nats-server"));
  return out;
}

/** Finds nats-server >= 2.10 (among `paths`, default: env, PATH, tools folder) or throws with a one-line install hint. */
export function findNatsServer(paths: string[] = candidates()): FoundServer {
  const tooOld: string[] = [];
  for (const path of paths) {
    try {
      accessSync(path, constants.X_OK);
    } catch {
      continue;
    }
    const version = natsServerVersion(path);
    if (!version) continue;
    if (compareVersions(version, MIN_SERVER_VERSION) < 0) {
      tooOld.push(`${path} (${version})`);
      continue;
    }
    return { path, version };
  }
  const old = tooOld.length > 0 ? ` (found only older ones: ${tooOld.join(", ")})` : "";
  throw new JetjobError(
    ErrorCode.ServerTooOld,
    `nats-server ${MIN_SERVER_VERSION}+ not found${old}: ${INSTALL_HINT}`,
  );
}
