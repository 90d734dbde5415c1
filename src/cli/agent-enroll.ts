/**
 * The agent's side of enrollment (`jetjob agent --enroll`): the agent makes up its own secret once and
 * keeps it in its identity file (mode 0600, `<data dir>/agent-<hostname>.identity.json` unless
 * `--identity-file`), logs in as `agent:<hostname>` with it, and while an operator has not accepted it
 * (`jetjob agent accept <hostname>`) keeps asking. A one-time enrollment token (`--enroll-token`) gets
 * it accepted at once. Once the file exists the agent always logs in with it.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

import { agentUser, ENROLL_TOKEN_SEPARATOR, newSecret } from "../access/identities.js";
import { ErrorCode, isJetjobError, ValidationError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";

export interface AgentIdentityFile {
  hostname: string;
  user: string;
  secret: string;
}

export const enrollDefaults = {
  /** Pause between attempts while the agent waits to be accepted. */
  retryMs: 2000,
};

export function identityFilePath(dataDir: string, hostname: string, flag?: string): string {
  return (
    flag ??
    process.env.JETJOB_AGENT_IDENTITY_FILE ??
    join(dataDir, `agent-${hostname.toLowerCase()}.identity.json`)
  );
}

export function readIdentityFile(path: string): AgentIdentityFile | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const v = JSON.parse(readFileSync(path, "utf8")) as Partial<AgentIdentityFile>;
    if (typeof v.hostname === "string" && typeof v.user === "string" && typeof v.secret === "string") {
      return { hostname: v.hostname, user: v.user, secret: v.secret };
    }
  } catch {
    // fall through
  }
  throw new ValidationError(`${path} is not an agent identity file`);
}

/** The identity file's login, created (mode 0600) when missing. */
export function loadOrCreateIdentity(path: string, hostname: string): AgentIdentityFile {
  const cur = readIdentityFile(path);
  if (cur) {
    if (cur.hostname.toLowerCase() !== hostname.toLowerCase()) {
      throw new ValidationError(`${path} is the identity of '${cur.hostname}', not '${hostname}'`);
    }
    return cur;
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const id = { hostname: hostname.toLowerCase(), user: agentUser(hostname), secret: newSecret() };
  writeFileSync(path, JSON.stringify(id, null, 2) + "\n", { mode: 0o600 });
  chmodSync(path, 0o600);
  return id;
}

/** The NATS login of an identity (with the enrollment token while it may still be needed). */
export function identityLogin(id: AgentIdentityFile, enrollToken?: string): { user: string; pass: string } {
  return {
    user: id.user,
    pass: enrollToken === undefined ? id.secret : `${id.secret}${ENROLL_TOKEN_SEPARATOR}${enrollToken}`,
  };
}

/** Whether an error is NATS refusing the login (pending, rejected, revoked, wrong secret). */
export function isLoginRefused(err: unknown): boolean {
  return isJetjobError(err) && err.code === ErrorCode.BackendError && err.details?.auth_refused === true;
}

/**
 * Runs `start` again while NATS refuses its login, `retryMs` apart, up to `tries` attempts (else
 * without end), telling `refused` each time; any other error, or an abort, ends it.
 */
export async function retryWhileRefused<T>(
  start: () => Promise<T>,
  o: { retryMs: number; tries?: number; signal?: AbortSignal; refused: (attempt: number) => void },
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (!isLoginRefused(err) || o.signal?.aborted) throw err;
      if (o.tries !== undefined && attempt >= o.tries) throw err;
      o.refused(attempt);
      await new Promise((r) => setTimeout(r, o.retryMs));
    }
  }
}

/**
 * Runs `start` until NATS accepts the login: a refusal means the operator has not accepted the agent
 * yet, so it says so (once, then every 30th attempt) and tries again.
 */
export async function untilAccepted<T>(
  start: () => Promise<T>,
  o: { hostname: string; logger: Logger; retryMs?: number; signal?: AbortSignal },
): Promise<T> {
  return retryWhileRefused(start, {
    retryMs: o.retryMs ?? enrollDefaults.retryMs,
    ...(o.signal ? { signal: o.signal } : {}),
    refused: (attempt) => {
      if (attempt !== 1 && attempt % 30 !== 0) return;
      o.logger.warn("waiting to be accepted", {
        hostname: o.hostname,
        hint: `an operator runs: jetjob agent accept ${o.hostname.toLowerCase()}`,
        attempts: attempt,
      });
    },
  });
}
