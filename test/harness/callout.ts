/**
 * A deployment with NATS identities for tests: a real nats-server configured for jetjob's auth
 * callout (full-rights login `jetjob`, system account `sys`, a fresh issuer), one API server on it
 * and the callout service that answers agents' and workers' logins. Torn down by `close()`.
 * Used by the identity tests (nats-identities, worker-identities, http-identities).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { KeyPair } from "@nats-io/jwt";
import { createAccount } from "@nats-io/jwt";
import type { NatsConnection } from "@nats-io/nats-core";

import type { AuthCallout } from "../../src/access/callout.js";
import { startAuthCallout } from "../../src/access/callout.js";
import { connectSystem } from "../../src/access/system.js";
import { calloutConfig } from "../../src/cli/nats-access.js";
import { silentLogger } from "../../src/core/logger.js";
import type { RunningNatsServer } from "../../src/natsd/index.js";
import { startNatsServer } from "../../src/natsd/index.js";
import type { Authenticator } from "../../src/server/auth.js";
import type { ApiServerOptions, RunningApiServer } from "../../src/server/run.js";
import { runApiServer } from "../../src/server/run.js";

/** The full-rights login of the servers (and of tests that act as an operator). */
export const CALLOUT_USER = "jetjob";
export const CALLOUT_PASSWORD = "full-rights-password-0123456789";
const SYSTEM_PASSWORD = "system-password-0123456789";

export interface CalloutDeployment {
  server: RunningNatsServer;
  issuer: KeyPair;
  api: RunningApiServer;
  system: NatsConnection;
  callout: AuthCallout;
  /** Permission violations nats-server logged (`DEBUG_VIOLATIONS=1` prints them on close). */
  violations: string[];
  /** Another API server on the same NATS with the full-rights login (no callout of its own). */
  runServer(extra?: Partial<ApiServerOptions>): Promise<RunningApiServer>;
  close(): Promise<void>;
}

export async function startCalloutDeployment(o: {
  /** Prefix of the temp store dir. */
  prefix: string;
  auth: Authenticator;
  /** More options of the API server that answers the callout. */
  api?: Partial<ApiServerOptions>;
}): Promise<CalloutDeployment> {
  const dir = mkdtempSync(join(tmpdir(), o.prefix));
  const issuer = createAccount();
  const violations: string[] = [];
  const server = await startNatsServer({
    storeDir: dir,
    monitorPort: 0,
    log: (line) => {
      if (/Violation/.test(line)) violations.push(line);
    },
    extraConfig: calloutConfig({
      user: CALLOUT_USER,
      password: CALLOUT_PASSWORD,
      systemUser: "sys",
      systemPassword: SYSTEM_PASSWORD,
      issuerPublicKey: issuer.getPublicKey(),
    }).join("\n"),
  });
  const runServer = (extra: Partial<ApiServerOptions> = {}) =>
    runApiServer({
      nats: { servers: server.url, user: CALLOUT_USER, pass: CALLOUT_PASSWORD },
      port: 0,
      auth: o.auth,
      logger: silentLogger,
      version: "test",
      ...extra,
    });
  const api = await runServer(o.api);
  const system = await connectSystem({ servers: server.url, user: "sys", pass: SYSTEM_PASSWORD });
  const callout = await startAuthCallout({
    nc: api.nc,
    issuer,
    topology: api.engine.ctx.topology,
    system,
    logger: silentLogger,
  });
  return {
    server,
    issuer,
    api,
    system,
    callout,
    violations,
    runServer,
    async close() {
      if (process.env.DEBUG_VIOLATIONS) console.error(violations.join("\n"));
      await callout.close();
      await system.close();
      await api.close();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
