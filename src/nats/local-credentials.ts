/**
 * NATS credentials found without configuration, so that `jetjob start` can require a password even
 * on loopback (no other local user can read jobs or purge streams) and its own CLI, SDK clients,
 * workers and agents still connect with nothing but a URL.
 *
 * When a connection names no credentials of its own, they come from, in order:
 * 1. the environment: `JETJOB_NATS_USER` (default `jetjob`) with `JETJOB_NATS_PASSWORD`, or with
 *    `JETJOB_NATS_PASSWORD_FILE` (a file holding it: nothing on a command line, where any local user
 *    can read it in /proc);
 * 2. the data dir of a `jetjob start` (`JETJOB_DATA_DIR`, else `.jetjob` in the working directory)
 *    whose `endpoints.json` names the server being connected to: its `nats.password` (mode 0600, so
 *    only the user who started jetjob can read it).
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** The user `jetjob start` creates. */
export const LOCAL_NATS_USER = "jetjob";
/** Files of a `jetjob start` data dir (cli/endpoints.ts writes them). */
export const DEFAULT_DATA_DIR = ".jetjob";
export const ENDPOINTS_FILE = "endpoints.json";
export const NATS_PASSWORD_FILE = "nats.password";

export interface LocalCredentials {
  user: string;
  pass: string;
  /** Where they came from (for error hints). */
  source: string;
}

function readSecret(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** Host and port of a NATS URL (`nats://h:p`, `h:p`, `tls://…`); default port 4222. */
function hostPort(url: string): { host: string; port: string } | undefined {
  try {
    const u = new URL(url.includes("://") ? url : `nats://${url}`);
    return { host: u.hostname.toLowerCase(), port: u.port || "4222" };
  } catch {
    return undefined;
  }
}

/** Whether two NATS URLs name the same server (loopback addresses count as one host). */
export function sameServer(a: string, b: string): boolean {
  const x = hostPort(a);
  const y = hostPort(b);
  if (!x || !y || x.port !== y.port) return false;
  return x.host === y.host || (isLoopbackHost(x.host) && isLoopbackHost(y.host));
}

export function localCredentials(
  servers: string | string[],
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): LocalCredentials | undefined {
  const user = env.JETJOB_NATS_USER || LOCAL_NATS_USER;
  if (env.JETJOB_NATS_PASSWORD)
    return { user, pass: env.JETJOB_NATS_PASSWORD, source: "JETJOB_NATS_PASSWORD" };
  if (env.JETJOB_NATS_PASSWORD_FILE) {
    const pass = readSecret(env.JETJOB_NATS_PASSWORD_FILE);
    if (pass) return { user, pass, source: env.JETJOB_NATS_PASSWORD_FILE };
  }
  const dataDir = resolve(cwd, env.JETJOB_DATA_DIR || DEFAULT_DATA_DIR);
  let endpointsNats: string | undefined;
  try {
    const e = JSON.parse(readFileSync(join(dataDir, ENDPOINTS_FILE), "utf8")) as { nats?: unknown };
    if (typeof e.nats === "string") endpointsNats = e.nats;
  } catch {
    return undefined;
  }
  const list = Array.isArray(servers) ? servers : servers.split(",");
  if (!endpointsNats || !list.some((s) => sameServer(s.trim(), endpointsNats))) return undefined;
  const passwordFile = join(dataDir, NATS_PASSWORD_FILE);
  const pass = readSecret(passwordFile);
  return pass ? { user: LOCAL_NATS_USER, pass, source: passwordFile } : undefined;
}
