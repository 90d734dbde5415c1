/**
 * The NATS transport of the client SDK: validates like the API server, then writes segments straight
 * to JetStream through the same producer, reads and cancels through the same journal operations.
 */
import type { NatsConnection } from "@nats-io/nats-core";

import { parseEnqueueRequest } from "../core/envelope.js";
import { connectNats } from "../nats/connect.js";
import type { StoreContext } from "../store/context.js";
import { createStoreContext } from "../store/context.js";
import { emptySlots } from "../store/fold.js";
import type { Locator } from "../store/locator.js";
import { createLocator } from "../store/locator.js";
import { cancelJob, getJob } from "../store/operations.js";
import type { Producer } from "../store/producer.js";
import { createProducer } from "../store/producer.js";
import { buildJobView, deriveState } from "../store/view.js";
import type { ClientOptions, Transport } from "./client.js";
import type { Job } from "./types.js";

export function createNatsTransport(o: ClientOptions): Transport {
  let ready:
    | Promise<{ nc: NatsConnection; own: boolean; ctx: StoreContext; producer: Producer; locator: Locator }>
    | undefined;
  const init = () =>
    (ready ??= (async () => {
      const own = typeof o.nats === "string";
      const nc =
        typeof o.nats === "string"
          ? await connectNats({ servers: o.nats, name: "jetjob-client", ...o.natsOptions })
          : o.nats!;
      const ctx = await createStoreContext(nc, {
        ...(o.topology === undefined ? {} : { topology: o.topology }),
      });
      return { nc, own, ctx, producer: createProducer(ctx), locator: createLocator(ctx) };
    })());

  return {
    async enqueue(bodies, atomic) {
      const { producer } = await init();
      const now = Date.now();
      const items = bodies.map((b) => parseEnqueueRequest(b, now));
      const placed = await producer.enqueue(items, { atomic });
      const t = Date.now();
      return placed.map(
        (p) => buildJobView(p.at, p.idx, deriveState(p.at, p.idx, emptySlots(1)[0]!, t)) as Job,
      );
    },
    async get(id) {
      const { locator } = await init();
      return (await getJob(locator, id)) as Job;
    },
    async cancel(id) {
      const { ctx, locator } = await init();
      return (await cancelJob(ctx, locator, id)) as Job;
    },
    async close() {
      if (!ready) return;
      const { nc, own, ctx, producer } = await ready;
      await producer.flush();
      ctx.close();
      if (own) await nc.close();
    },
  };
}
