/**
 * The NATS transport of the client SDK: validates like the API server, then writes segments straight
 * to JetStream through the same producer, reads and cancels through the same journal operations.
 */
import type { NatsConnection } from "@nats-io/nats-core";

import { parseEnqueueRequest } from "../core/envelope.js";
import { connectNats } from "../nats/connect.js";
import { createStoreContext } from "../store/context.js";
import { enqueueJobs } from "../store/enqueue.js";
import { cancelJob, getJob } from "../store/operations.js";
import type { Services } from "../store/services.js";
import { createServices } from "../store/services.js";
import { workflowOutcomeListener } from "../store/workflows.js";
import type { ClientOptions, Transport } from "./client.js";
import type { Job } from "./types.js";

export function createNatsTransport(o: ClientOptions): Transport {
  let ready: Promise<{ nc: NatsConnection; own: boolean; svc: Services }> | undefined;
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
      const svc = createServices(ctx);
      svc.onOutcomes(workflowOutcomeListener(svc));
      return { nc, own, svc };
    })());

  return {
    async enqueue(bodies, atomic) {
      const { svc } = await init();
      const now = Date.now();
      const items = bodies.map((b) => parseEnqueueRequest(b, now));
      return (await enqueueJobs(svc, items, atomic)).map((r) => r.job as Job);
    },
    async get(id) {
      const { svc } = await init();
      return (await getJob(svc, id)) as Job;
    },
    async cancel(id) {
      const { svc } = await init();
      return (await cancelJob(svc, id)) as Job;
    },
    async close() {
      if (!ready) return;
      const { nc, own, svc } = await ready;
      await svc.close();
      svc.ctx.close();
      if (own) await nc.close();
    },
  };
}
