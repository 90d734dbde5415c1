/**
 * NATS identities under `jetjob start`: the auth callout service (access/callout.ts) on the API
 * server's connection, a system connection to disconnect revoked agents, and the local agent's own
 * identity, accepted at once, with its secret in `<data dir>/agent.secret` (mode 0600): the local
 * agent needs no configuration and still has only an agent's rights.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import { join } from "node:path";

import type { KeyPair } from "@nats-io/jwt";
import type { NatsConnection } from "@nats-io/nats-core";

import type { AuthCallout } from "../access/callout.js";
import { startAuthCallout } from "../access/callout.js";
import { agentUser, newSecret } from "../access/identities.js";
import { inboxPrefixFor } from "../access/permissions.js";
import { connectSystem } from "../access/system.js";
import type { WorkerRelay } from "../server/worker-relay.js";
import { startWorkerRelay } from "../server/worker-relay.js";
import type { Logger } from "../core/logger.js";
import type { ConnectOptions } from "../nats/connect.js";
import type { Engine } from "../store/engine.js";
import type { TopologyOptions } from "../store/infra/topology.js";
import { resolveTopology } from "../store/infra/topology.js";

export const LOCAL_AGENT_SECRET_FILE = "agent.secret";

export interface LocalIdentities {
  readonly callout: AuthCallout;
  /** Connect options of the local agent: its own login instead of the full-rights one. */
  agentLogin(base: Omit<ConnectOptions, "servers">): Omit<ConnectOptions, "servers">;
  close(): Promise<void>;
}

function loadOrCreateSecret(path: string): string {
  if (existsSync(path)) {
    const s = readFileSync(path, "utf8").trim();
    if (s) return s;
  }
  const s = newSecret();
  writeFileSync(path, s + "\n", { mode: 0o600 });
  chmodSync(path, 0o600);
  return s;
}

export async function startLocalIdentities(o: {
  dataDir: string;
  url: string;
  nc: NatsConnection;
  /** The API server's engine: it runs the queue work of worker identities (server/worker-relay.ts). */
  engine?: Engine | undefined;
  identities: { issuer: KeyPair; systemUser: string; systemPassword: string };
  tlsCaFile?: string | undefined;
  topology?: TopologyOptions | undefined;
  logger: Logger;
  hostname?: string;
}): Promise<LocalIdentities> {
  const system = await connectSystem({
    servers: o.url,
    user: o.identities.systemUser,
    pass: o.identities.systemPassword,
    tlsCaFile: o.tlsCaFile,
  });
  let callout: AuthCallout;
  try {
    callout = await startAuthCallout({
      nc: o.nc,
      issuer: o.identities.issuer,
      topology: resolveTopology(o.topology),
      system,
      logger: o.logger,
    });
  } catch (err) {
    await system.close();
    throw err;
  }
  const relay: WorkerRelay | undefined = o.engine
    ? await startWorkerRelay({ engine: o.engine, logger: o.logger })
    : undefined;
  const hostname = o.hostname ?? osHostname();
  const secret = loadOrCreateSecret(join(o.dataDir, LOCAL_AGENT_SECRET_FILE));
  await callout.identities.acceptLocal(hostname, secret);
  return {
    callout,
    agentLogin(base) {
      const { user: _u, pass: _p, token: _t, credsFile: _c, ...rest } = base;
      return { ...rest, user: agentUser(hostname), pass: secret, inboxPrefix: inboxPrefixFor(hostname) };
    },
    async close() {
      await relay?.close();
      await callout.close();
      await system.close().catch(() => undefined);
    },
  };
}
