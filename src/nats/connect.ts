/**
 * Connecting to NATS, with the checks jetjob relies on: server version >= 2.10 and JetStream enabled.
 * Older servers silently ignore features jetjob uses (`term(reason)`, multi-filter consumers), so we
 * refuse them up front with a clear error instead of misbehaving later.
 */
import type { ConnectionOptions, NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import { AuthorizationError } from "@nats-io/nats-core";
import { connectCoalescing } from "./coalescing-transport.js";

import { BackendError, ErrorCode, JetjobError } from "../core/errors.js";
import { localCredentials } from "./local-credentials.js";

export const MIN_SERVER_VERSION = "2.10.0";

export interface ConnectOptions {
  /** NATS URL(s), e.g. `nats://127.0.0.1:4222`. */
  servers: string | string[];
  /** Connection name shown in the server's monitoring. */
  name?: string;
  token?: string;
  user?: string;
  pass?: string;
  /** Path to a NATS credentials file. */
  credsFile?: string;
  /** TLS to NATS: CA bundle to trust (PEM file). Setting any TLS field turns TLS on. */
  tlsCaFile?: string;
  /** TLS client certificate and key (PEM files), for servers that verify clients. */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** Prefix of reply subjects (an identity may only receive on its own, access/permissions.ts). */
  inboxPrefix?: string;
  /** How long to try the first connection. @defaultValue 5000 */
  timeoutMs?: number;
  /** Keep retrying the first connection instead of failing (servers and agents). */
  waitOnFirstConnect?: boolean;
}

/** Connects and checks the server. Throws {@link JetjobError} with `server_too_old` or `backend_error`. */
export async function connectNats(options: ConnectOptions): Promise<NatsConnection> {
  const opts: ConnectionOptions = {
    servers: options.servers,
    name: options.name ?? "jetjob",
    timeout: options.timeoutMs ?? 5000,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: options.waitOnFirstConnect ?? false,
    pingInterval: 10_000,
  };
  if (options.inboxPrefix !== undefined) opts.inboxPrefix = options.inboxPrefix;
  if (options.token !== undefined) opts.token = options.token;
  if (options.user !== undefined) opts.user = options.user;
  if (options.pass !== undefined) opts.pass = options.pass;
  // No credentials given: those of a local `jetjob start`, or from the environment (local-credentials.ts).
  const local =
    options.token === undefined &&
    options.user === undefined &&
    options.pass === undefined &&
    options.credsFile === undefined
      ? localCredentials(options.servers)
      : undefined;
  if (local) {
    opts.user = local.user;
    opts.pass = local.pass;
  }
  if (
    options.tlsCaFile !== undefined ||
    options.tlsCertFile !== undefined ||
    options.tlsKeyFile !== undefined
  ) {
    opts.tls = {
      ...(options.tlsCaFile === undefined ? {} : { caFile: options.tlsCaFile }),
      ...(options.tlsCertFile === undefined ? {} : { certFile: options.tlsCertFile }),
      ...(options.tlsKeyFile === undefined ? {} : { keyFile: options.tlsKeyFile }),
    };
  }
  if (options.credsFile !== undefined) {
    const { credsAuthenticator } = await import("@nats-io/nats-core");
    const { readFile } = await import("node:fs/promises");
    opts.authenticator = credsAuthenticator(await readFile(options.credsFile));
  }
  let nc: NatsConnection;
  try {
    nc = await connectCoalescing(opts);
  } catch (err) {
    const servers = Array.isArray(options.servers) ? options.servers.join(",") : options.servers;
    const message = `cannot connect to NATS at ${servers}: ${err instanceof Error ? err.message : String(err)}`;
    if (err instanceof AuthorizationError) {
      throw new BackendError(message, {
        cause: err,
        // Stable for callers that wait for an operator to accept an agent (cli/agent-enroll.ts).
        details: { auth_refused: true },
        hint: local
          ? `The credentials from ${local.source} were refused.`
          : "The server needs credentials. For a `jetjob start` on this machine, run from the folder that " +
            "holds its .jetjob data dir or set JETJOB_DATA_DIR; else set JETJOB_NATS_PASSWORD_FILE (and " +
            "JETJOB_NATS_USER), or pass --nats-user with --nats-pass-file.",
      });
    }
    throw new JetjobError(ErrorCode.NatsUnreachable, message, {
      cause: err,
      details: { servers },
      hint: "Is nats-server running at that address? `jetjob start` runs one for you and writes its URL to .jetjob/endpoints.json.",
    });
  }
  try {
    await checkServer(nc);
  } catch (err) {
    await nc.close();
    throw err;
  }
  return nc;
}

/** Options of {@link connectNatsWithin}. */
export interface RetryingConnectOptions extends Omit<ConnectOptions, "waitOnFirstConnect"> {
  /** Give up (with `nats_unreachable`) when no connection was made within this long. */
  giveUpAfterMs: number;
  /** Pause between attempts. @defaultValue 500 */
  retryDelayMs?: number;
  /** Aborting it stops trying (rejects with `closed`). */
  signal?: AbortSignal;
  /** Called after each failed attempt that will be retried. */
  onRetry?: (err: JetjobError, attempt: number) => void;
}

/**
 * Connects like {@link connectNats}, retrying while nothing answers, and gives up after
 * `giveUpAfterMs` with a {@link JetjobError} `nats_unreachable`. Failures that retrying cannot fix
 * (refused credentials, a server that is too old) are thrown at once.
 */
export async function connectNatsWithin(options: RetryingConnectOptions): Promise<NatsConnection> {
  const { giveUpAfterMs, retryDelayMs = 500, signal, onRetry, ...connect } = options;
  const deadline = Date.now() + giveUpAfterMs;
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw new JetjobError(ErrorCode.Closed, "stopped before connecting to NATS");
    const left = deadline - Date.now();
    try {
      return await connectNats({
        ...connect,
        waitOnFirstConnect: false,
        timeoutMs: Math.max(100, Math.min(connect.timeoutMs ?? 5000, left)),
      });
    } catch (err) {
      if (!(err instanceof JetjobError) || err.code !== ErrorCode.NatsUnreachable) throw err;
      if (Date.now() + retryDelayMs >= deadline) {
        throw new JetjobError(
          ErrorCode.NatsUnreachable,
          `${err.message} (gave up after ${giveUpAfterMs} ms, ${attempt} attempt${attempt === 1 ? "" : "s"})`,
          {
            cause: err,
            details: { ...err.details, attempts: attempt, gave_up_after_ms: giveUpAfterMs },
            hint: err.hint,
          },
        );
      }
      onRetry?.(err, attempt);
      await pause(retryDelayMs, signal);
    }
  }
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Verifies version and JetStream on an open connection. */
export async function checkServer(nc: NatsConnection): Promise<void> {
  const version = nc.info?.version ?? "0.0.0";
  if (compareVersions(version, MIN_SERVER_VERSION) < 0) {
    throw new JetjobError(
      ErrorCode.ServerTooOld,
      `nats-server ${version} is too old: jetjob needs ${MIN_SERVER_VERSION} or newer`,
      { hint: "Run scripts/install-nats-server.sh to get nats-server 2.10 from Debian trixie." },
    );
  }
  if (nc.info?.jetstream !== true) {
    throw new JetjobError(ErrorCode.ServerTooOld, `nats-server ${version} has JetStream disabled`, {
      hint: "Start nats-server with -js (JetStream), or use `jetjob start`.",
    });
  }
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    await jsm.getAccountInfo();
  } catch (err) {
    throw new JetjobError(ErrorCode.ServerTooOld, "JetStream is not available for this NATS account", {
      cause: err,
      hint: "Enable JetStream for the account jetjob connects with.",
    });
  }
}

/** Compares dotted versions numerically (`2.10.27` > `2.9.10`); pre-release suffixes are ignored. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((x) => parseInt(x, 10) || 0);
  const pb = b.split(/[.-]/).map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Checks an SDK's `nats` option at the edge: a NATS URL, or an open connection. Plain connect
 * options there (`{ servers, user, pass }`, as other NATS libraries take them) were used as a
 * connection and failed deep inside with a `TypeError`; credentials and TLS go in `natsOptions`.
 */
export function checkNatsOption(nats: unknown, where: string): void {
  if (typeof nats === "string") return;
  const conn = nats as { subscribe?: unknown; publish?: unknown } | null;
  if (typeof conn?.subscribe === "function" && typeof conn.publish === "function") return;
  throw new JetjobError(
    ErrorCode.InvalidRequest,
    `${where}: \`nats\` must be a NATS URL (string) or an open connection, not ${nats === null ? "null" : typeof nats === "object" ? "connect options" : typeof nats}.`,
    { hint: "Give the URL in `nats` and credentials or TLS in `natsOptions`." },
  );
}
