/**
 * A connection as the NATS system account's user, used only to disconnect revoked agents
 * (`$SYS.REQ.SERVER.<id>.KICK`). The system account has no JetStream, so it is opened without the
 * checks of `connectNats`.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { connectCoalescing } from "../nats/coalescing-transport.js";

import { BackendError } from "../core/errors.js";

export async function connectSystem(o: {
  servers: string | string[];
  user: string;
  pass: string;
  tlsCaFile?: string | undefined;
}): Promise<NatsConnection> {
  try {
    return await connectCoalescing({
      servers: o.servers,
      name: "jetjob-system",
      user: o.user,
      pass: o.pass,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      ...(o.tlsCaFile === undefined ? {} : { tls: { caFile: o.tlsCaFile } }),
    });
  } catch (err) {
    throw new BackendError(`cannot connect to NATS as the system user ${o.user}`, { cause: err });
  }
}
