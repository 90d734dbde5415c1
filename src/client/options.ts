/**
 * How a client connects: the options of `createClient`, shared by both transports (HTTP and NATS).
 */
import type { NatsConnection } from "@nats-io/nats-core";

import type { ConnectOptions } from "../nats/connect.js";
import type { TopologyOptions } from "../store/infra/topology.js";

export interface ClientOptions {
  /** API base URL, e.g. `http://127.0.0.1:8080` (HTTP transport). */
  url?: string;
  /** Bearer token for the API. */
  token?: string;
  /** NATS URL or an open connection (NATS transport). */
  nats?: string | NatsConnection;
  /** Extra NATS connection options (credentials, name). */
  natsOptions?: Omit<ConnectOptions, "servers">;
  /** Must match the server's topology (prefix, replicas). */
  topology?: TopologyOptions;
  /** Per-request timeout. @defaultValue 30000 */
  timeoutMs?: number;
}
