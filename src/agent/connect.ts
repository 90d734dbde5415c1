/**
 * The agent's NATS connection: a daemon waits for NATS (it may start before the server), but says so
 * in its log instead of hanging silently.
 */
import type { NatsConnection } from "@nats-io/nats-core";

import type { Logger } from "../core/logger.js";
import type { ConnectOptions } from "../nats/connect.js";
import { connectNatsWithin } from "../nats/connect.js";

/** Retries until NATS answers; warns on the first failure and every 120th, notes the late connect. */
export async function connectAgentNats(
  servers: string,
  natsOptions: Omit<ConnectOptions, "servers"> | undefined,
  hostname: string,
  log: Logger,
): Promise<NatsConnection> {
  let failed = 0;
  const nc = await connectNatsWithin({
    name: `jetjob-agent ${hostname}`,
    ...natsOptions,
    servers,
    giveUpAfterMs: Infinity,
    onRetry: (err, attempt) => {
      failed = attempt;
      if (attempt === 1 || attempt % 120 === 0)
        log.warn("cannot reach NATS; retrying until it answers", {
          nats: servers,
          error: err.message,
          attempts: attempt,
        });
    },
  });
  if (failed > 0) log.info("connected to NATS", { nats: servers, after_attempts: failed + 1 });
  return nc;
}
