/**
 * Where the CLI finds the API: `--api URL --token T`, else `JETJOB_API_URL` / `JETJOB_API_TOKEN`,
 * else `<data dir>/endpoints.json` and `<data dir>/admin.token` written by `jetjob start`
 * (data dir: `--data-dir`, `JETJOB_DATA_DIR`, or `.jetjob` in the working directory).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

import { ErrorCode, JetjobError } from "../core/errors.js";

export const DEFAULT_DATA_DIR = ".jetjob";

export interface Endpoints {
  api: string;
  nats: string;
}

export interface ApiTarget {
  url: string;
  token: string | undefined;
}

export function dataDirOf(flag: string | undefined): string {
  return resolve(flag ?? process.env.JETJOB_DATA_DIR ?? DEFAULT_DATA_DIR);
}

export function endpointsPath(dataDir: string): string {
  return join(dataDir, "endpoints.json");
}

export function tokenPath(dataDir: string): string {
  return join(dataDir, "admin.token");
}

export function writeEndpoints(dataDir: string, e: Endpoints): void {
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(endpointsPath(dataDir), JSON.stringify(e, null, 2) + "\n");
}

export function removeEndpoints(dataDir: string): void {
  rmSync(endpointsPath(dataDir), { force: true });
}

export function readEndpoints(dataDir: string): Endpoints | undefined {
  try {
    const v = JSON.parse(readFileSync(endpointsPath(dataDir), "utf8")) as Partial<Endpoints>;
    return typeof v.api === "string" && typeof v.nats === "string" ? { api: v.api, nats: v.nats } : undefined;
  } catch {
    return undefined;
  }
}

export function readToken(dataDir: string): string | undefined {
  try {
    return readFileSync(tokenPath(dataDir), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Writes the admin token readable by the owner only. */
export function writeToken(dataDir: string, token: string): void {
  mkdirSync(dataDir, { recursive: true });
  const p = tokenPath(dataDir);
  writeFileSync(p, token + "\n", { mode: 0o600 });
  chmodSync(p, 0o600);
}

export function resolveApi(o: {
  api?: string | undefined;
  token?: string | undefined;
  dataDir?: string | undefined;
}): ApiTarget {
  const dataDir = dataDirOf(o.dataDir);
  const url = o.api ?? (process.env.JETJOB_API_URL || undefined) ?? readEndpoints(dataDir)?.api;
  if (!url) {
    const where = existsSync(dataDir) ? `no endpoints.json in ${dataDir}` : `${dataDir} does not exist`;
    throw new JetjobError(ErrorCode.BackendError, `no jetjob server found (${where})`, {
      hint: "Start one with `jetjob start`, or pass --api URL --token T (or set JETJOB_API_URL / JETJOB_API_TOKEN).",
    });
  }
  const token = o.token ?? (process.env.JETJOB_API_TOKEN || undefined) ?? readToken(dataDir);
  return { url, token };
}
