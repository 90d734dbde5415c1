/**
 * The NATS transport of the client SDK: validates like the API server, then writes segments straight
 * to JetStream through the same producer, reads and cancels through the same journal operations.
 */
import type { NatsConnection } from "@nats-io/nats-core";

import { parseEnqueueRequest } from "../core/envelope.js";
import { connectNats } from "../nats/connect.js";
import { createStoreContext } from "../store/infra/context.js";
import { enqueueJobs } from "../store/jobs/enqueue.js";
import { cancelJob, getJob } from "../store/jobs/operations.js";
import type { Services } from "../store/infra/services.js";
import { createServices } from "../store/infra/create-services.js";
import { workflowOutcomeListener } from "../store/workflows/workflows.js";
import { NotFoundError, ValidationError } from "../core/errors.js";
import type { JobState } from "../core/states.js";
import { allJobStates } from "../core/states.js";
import { deleteCron, listCrons, registerCron } from "../store/features/cron.js";
import { setCronEnabled, triggerCron } from "../store/features/cron-control.js";
import { parseFleetTemplate } from "../fleet/request.js";
import { deleteDeadLetter, listDeadLetters, retryDeadLetter, retryJob } from "../store/features/dlq.js";
import { decodeEvents, toEventView } from "../store/jobs/events.js";
import { listJobs } from "../store/jobs/list.js";
import { listExclusiveKeys } from "../store/features/exclusive-view.js";
import { acquireLock, listLocks, releaseLock, renewLock } from "../store/features/locks.js";
import { configureQueue } from "../store/queues/queue-config.js";
import { deleteQueue } from "../store/queues/queue-delete.js";
import { storageReport } from "../store/retention/report.js";
import { queueStats } from "../store/queues/stats.js";
import { cancelWorkflow, createWorkflow, getWorkflow } from "../store/workflows/workflows.js";
import type { Api, JobEvent, JobPage } from "./api.js";
import { endsStream } from "./api.js";
import type { ClientOptions } from "./options.js";
import type { Job } from "./types.js";

export function createNatsTransport(o: ClientOptions): Api {
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
    })().catch((err: unknown) => {
      ready = undefined; // the next call tries again (e.g. NATS was not up yet)
      throw err;
    }));
  const withSvc = async <T>(fn: (svc: Services) => Promise<T>): Promise<T> => fn((await init()).svc);
  const asJob = (v: unknown) => v as Job;

  return {
    enqueue: (bodies, atomic) =>
      withSvc(async (svc) => {
        const now = Date.now();
        const items = bodies.map((b) => parseEnqueueRequest(b, now));
        return (await enqueueJobs(svc, items, atomic)).map((r) => asJob(r.job));
      }),
    get: (id) => withSvc(async (svc) => asJob(await getJob(svc, id))),
    cancel: (id) => withSvc(async (svc) => asJob(await cancelJob(svc, id))),
    retry: (id) => withSvc(async (svc) => asJob(await retryJob(svc, id))),
    list: (q) =>
      withSvc(async (svc) => {
        if (q.state !== undefined && !allJobStates.includes(q.state as JobState)) {
          throw new ValidationError(`state must be one of ${allJobStates.join(", ")}`);
        }
        const page = await listJobs(svc, q as Parameters<typeof listJobs>[1]);
        return page as unknown as JobPage;
      }),
    watch: (id, signal) => natsWatch(init, id, signal),
    queues: {
      list: () =>
        withSvc(async (svc) =>
          (await svc.ctx.queues.list()).map((q) => ({
            name: q.name,
            status: q.paused ? ("paused" as const) : ("active" as const),
            paused: q.paused,
            created_at: new Date(q.createdAt).toISOString(),
          })),
        ),
      stats: (name) =>
        withSvc(async (svc) => {
          const rec = await svc.ctx.queues.get(name);
          if (!rec) throw new NotFoundError("queue", name);
          return queueStats(svc, rec);
        }),
      setPaused: (name, paused) =>
        withSvc(async (svc) => {
          const r = await svc.ctx.queues.update(name, (q) => {
            q.paused = paused;
          });
          return { name: r.name, paused: r.paused };
        }),
      configure: (name, change) => withSvc((svc) => configureQueue(svc, name, change)),
      delete: (name) => withSvc((svc) => deleteQueue(svc, name)),
    },
    exclusiveKeys: (q) => withSvc((svc) => listExclusiveKeys(svc, q)),
    storage: () => withSvc((svc) => storageReport(svc, undefined)),
    locks: {
      acquire: (req, signal) =>
        withSvc((svc) =>
          acquireLock(svc, {
            name: req.name,
            ...(req.ttl_ms === undefined ? {} : { ttlMs: req.ttl_ms }),
            ...(req.wait_ms === undefined ? {} : { waitMs: req.wait_ms }),
            ...(req.owner === undefined ? {} : { owner: req.owner }),
            ...(signal === undefined ? {} : { signal }),
          }),
        ),
      renew: (name, token, ttlMs) => withSvc((svc) => renewLock(svc, name, token, ttlMs)),
      release: (name, token) => withSvc((svc) => releaseLock(svc, name, token)),
      list: () => withSvc((svc) => listLocks(svc)),
    },
    deadLetters: {
      list: (q) =>
        withSvc(async (svc) => {
          const page = await listDeadLetters(svc, {
            limit: q.limit ?? 100,
            offset: q.offset ?? 0,
            ...(q.queue ? { queue: q.queue } : {}),
          });
          return { jobs: page.jobs.map(asJob), total: page.total };
        }),
      retry: (id) => withSvc(async (svc) => asJob(await retryDeadLetter(svc, id))),
      delete: (id) => withSvc((svc) => deleteDeadLetter(svc, id)),
    },
    cron: {
      list: () => withSvc((svc) => listCrons(svc)),
      // Checked as the API server checks it; the scheduling server's controller creates the jobs.
      register: (body) => withSvc((svc) => registerCron(svc, body, { fleet: { check: parseFleetTemplate } })),
      delete: (name) => withSvc((svc) => deleteCron(svc, name)),
      setEnabled: (name, enabled) => withSvc((svc) => setCronEnabled(svc, name, enabled)),
      trigger: (name) => withSvc(async (svc) => asJob(await triggerCron(svc, name))),
    },
    workflows: {
      create: (body) => withSvc((svc) => svc.schemas.ready().then(() => createWorkflow(svc, body))),
      get: (id) => withSvc((svc) => getWorkflow(svc, id)),
      cancel: (id) => withSvc((svc) => cancelWorkflow(svc, id)),
    },
    async close() {
      if (!ready) return;
      let conn: Awaited<typeof ready>;
      try {
        conn = await ready;
      } catch {
        return; // never connected: nothing to close
      }
      const { nc, own, svc } = conn;
      await svc.close();
      svc.ctx.close();
      if (own) await nc.close();
    },
  };
}

/** Live events of one job from its queue's event subject (starts with its current state). */
async function* natsWatch(
  init: () => Promise<{ svc: Services }>,
  id: string,
  signal?: AbortSignal,
): AsyncIterable<JobEvent> {
  const { svc } = await init();
  const queued: JobEvent[] = [];
  let wake: (() => void) | undefined;
  let job = await getJob(svc, id);
  const sub = svc.ctx.nc.subscribe(svc.ctx.subjects.events(job.queue), {
    callback: (err, msg) => {
      if (err) return;
      for (const e of decodeEvents(msg.data)) if (e.id === id) queued.push(toEventView(e));
      wake?.();
    },
  });
  const onAbort = () => wake?.();
  signal?.addEventListener("abort", onAbort);
  try {
    job = await getJob(svc, id); // after subscribing: nothing between the two reads is missed
    const first: JobEvent = {
      type: "job.state",
      timestamp: new Date().toISOString(),
      data: {
        job_id: id,
        job_type: job.type,
        queue: job.queue,
        attempt: job.attempt as number,
        state: job.state,
      },
    };
    yield first;
    if (endsStream(first)) return;
    while (!signal?.aborted) {
      while (queued.length > 0) {
        const e = queued.shift()!;
        yield e;
        if (endsStream(e)) return;
      }
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    sub.unsubscribe();
  }
}
