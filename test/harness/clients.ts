/**
 * Test harness: one client per transport over the same store, so a client API test runs over both
 * and the two behave the same by construction. `http` talks to an in-process API server (engine,
 * optional fleet controller, one admin token) listening on a free port; `nats` runs the use cases
 * in the test process on the test's NATS connection (client/nats.ts).
 *
 * @example
 * ```ts
 * for (const transport of transports) {
 *   describe(transport, () => {
 *     it("enqueues", async () => { await clients[transport].enqueue("t", []); });
 *   });
 * }
 * ```
 *
 * `useClients(h)` does the usual setup for a describe block: a connection, an engine and the clients,
 * started before its tests and closed after them.
 */

import type { NatsConnection } from "@nats-io/nats-core";

import type { Client } from "../../src/client/index.js";
import { createClient } from "../../src/client/index.js";
import { silentLogger } from "../../src/core/logger.js";
import type { Controller } from "../../src/fleet/controller.js";
import { createApp } from "../../src/server/app.js";
import { createAuthenticator } from "../../src/server/auth.js";
import type { HttpServer } from "../../src/server/listen.js";
import { listen } from "../../src/server/listen.js";
import type { Engine, EngineOptions } from "../../src/store/engine.js";
import { createEngine } from "../../src/store/engine.js";

import { useStarted } from "./engine.js";
import type { TestNats } from "./nats.js";

/** The client SDK's transports. */
export const transports = ["http", "nats"] as const;
export type Transport = (typeof transports)[number];

export interface TestClients extends Record<Transport, Client> {
  /** The API server's URL. */
  url: string;
  /** Its admin token. */
  token: string;
  /** Closes both clients (and the API server startClients started; not the engine, controller or connection). */
  close(): Promise<void>;
}

/** Starts an API server over `engine` (and `fleet`) and creates a client per transport. */
export async function startClients(o: {
  nc: NatsConnection;
  engine: Engine;
  fleet?: Controller;
  token?: string;
}): Promise<TestClients> {
  const token = o.token ?? "admin-token-clients-5e8a1c";
  const app = createApp({
    engine: o.engine,
    ...(o.fleet === undefined ? {} : { fleet: o.fleet }),
    logger: silentLogger,
    version: "test",
    auth: createAuthenticator([{ name: "admin", token, scope: "admin" }]),
  });
  const server: HttpServer = await listen(app);
  const clients = createTestClients({ url: server.url, token, nats: o.nc });
  return {
    ...clients,
    async close() {
      await clients.close();
      await server.close();
    },
  };
}

/** A client per transport for an API server already running at `url` and its NATS. */
export function createTestClients(o: {
  url: string;
  token: string;
  nats: string | NatsConnection;
}): TestClients {
  const http = createClient({ url: o.url, token: o.token });
  const nats = createClient({ nats: o.nats });
  return {
    http,
    nats,
    url: o.url,
    token: o.token,
    async close() {
      await http.close();
      await nats.close();
    },
  };
}

/** What useClients started, readable inside the tests of the block that called it. */
export interface UsedClients {
  readonly nc: NatsConnection;
  readonly engine: Engine;
  readonly clients: TestClients;
}

/**
 * Registers before/after hooks in the current describe block: a connection to `h.nats`, an engine
 * on it (lease 1 s unless `engine` says otherwise) and startClients over it; closed in reverse order.
 */
export function useClients(h: { readonly nats: TestNats }, o: { engine?: EngineOptions } = {}): UsedClients {
  return useStarted<UsedClients>(
    "useClients()",
    async (): Promise<UsedClients> => {
      const nc = await h.nats.connect();
      const engine = await createEngine(nc, { leaseMs: 1000, ...o.engine });
      return { nc, engine, clients: await startClients({ nc, engine }) };
    },
    async ({ nc, engine, clients }) => {
      await clients.close();
      await engine.close();
      await nc.close();
    },
  );
}
