/**
 * The NATS transport of the client SDK: the use cases the API server's routes call (src/usecases),
 * run in this process over a job engine of its own. The engine does no background work (promotion,
 * cron, housekeeping: the servers do that); the fleet controller for targeted jobs is created on the
 * first fleet call (nats-fleet.ts). Nothing is validated, defaulted or reshaped here.
 */
import type { NatsConnection } from "@nats-io/nats-core";

import type { Controller } from "../fleet/controller.js";
import { createCronFleet } from "../fleet/cron.js";
import { connectNats } from "../nats/connect.js";
import type { Engine } from "../store/engine.js";
import { createEngine } from "../store/engine.js";
import * as cron from "../usecases/cron.js";
import * as dlq from "../usecases/dead-letters.js";
import type { UseCaseDeps } from "../usecases/deps.js";
import { parseInput } from "../usecases/deps.js";
import * as jobs from "../usecases/jobs.js";
import { watchJob } from "../usecases/job-stream.js";
import * as locks from "../usecases/locks.js";
import * as queues from "../usecases/queues.js";
import * as workflows from "../usecases/workflows.js";
import type { Api } from "./api.js";
import type { FleetApi } from "./fleet.js";
import { createNatsFleetApi, openController } from "./nats-fleet.js";
import type { ClientOptions } from "./options.js";

interface Conn {
  nc: NatsConnection;
  own: boolean;
  engine: Engine;
}

export function createNatsTransport(o: ClientOptions): Api & { fleet: FleetApi } {
  let ready: Promise<Conn> | undefined;
  let fleet: Promise<Controller> | undefined;
  const init = () =>
    (ready ??= (async () => {
      const own = typeof o.nats === "string";
      const nc =
        typeof o.nats === "string"
          ? await connectNats({ servers: o.nats, name: "jetjob-client", ...o.natsOptions })
          : o.nats!;
      const engine = await createEngine(nc, {
        ...(o.topology === undefined ? {} : { topology: o.topology }),
        background: false,
        housekeeping: false,
        // Schedules with a target are checked as the API server checks them; the scheduling
        // server's controller creates their jobs.
        cron: { fleet: createCronFleet(Promise.resolve(undefined)) },
      });
      return { nc, own, engine };
    })().catch((err: unknown) => {
      ready = undefined; // the next call tries again (e.g. NATS was not up yet)
      throw err;
    }));
  const deps = async (): Promise<UseCaseDeps> => ({ engine: (await init()).engine });
  const use =
    <A extends unknown[], R>(fn: (d: UseCaseDeps, ...a: A) => Promise<R> | R) =>
    async (...a: A): Promise<R> =>
      fn(await deps(), ...a);
  const fleetDeps = async (): Promise<UseCaseDeps> => {
    const { engine } = await init();
    fleet ??= openController(engine).catch((err: unknown) => {
      fleet = undefined;
      throw err;
    });
    return { engine, fleet: await fleet };
  };

  return {
    enqueue: async (bodies, atomic) =>
      !atomic && bodies.length === 1
        ? [(await jobs.enqueueJob(await deps(), bodies[0])).job]
        : jobs.enqueueJobs(await deps(), bodies),
    get: use(jobs.getJob),
    cancel: use(jobs.cancelJob),
    retry: use(jobs.retryJob),
    list: async (q) =>
      jobs.listQueueJobs(await deps(), { ...parseInput(jobs.jobListQuery, q), queue: q.queue }),
    async *watch(id, signal) {
      yield* watchJob(await deps(), id, signal);
    },
    queues: {
      list: use(queues.listQueues),
      stats: use(queues.queueStats),
      setPaused: async (name, paused) => {
        const r = await queues.setQueuePaused(await deps(), name, paused);
        return { name: r.name, paused: r.paused };
      },
      configure: async (name, change) =>
        queues.configureQueue(await deps(), name, parseInput(queues.queueConfigSchema, change)),
      delete: use(queues.deleteQueue),
    },
    storage: use(queues.storageReport),
    exclusiveKeys: use(queues.exclusiveKeys),
    locks: {
      acquire: async (req, signal) =>
        locks.acquireLock(await deps(), parseInput(locks.lockAcquireSchema, req), signal),
      renew: async (name, token, ttlMs) =>
        locks.renewLock(
          await deps(),
          name,
          parseInput(locks.lockRenewSchema, ttlMs === undefined ? { token } : { token, ttl_ms: ttlMs }),
        ),
      release: async (name, token) =>
        locks.releaseLock(await deps(), name, parseInput(locks.lockReleaseSchema, { token })),
      list: use(locks.listLocks),
    },
    deadLetters: {
      list: use(dlq.listDeadLetters),
      retry: use(dlq.retryDeadLetter),
      delete: use(dlq.deleteDeadLetter),
    },
    cron: {
      list: use(cron.listCrons),
      register: async (body) => (await cron.registerCron(await deps(), body)).cron,
      delete: use(cron.deleteCron),
      setEnabled: use(cron.setCronEnabled),
      trigger: use(cron.triggerCron),
    },
    workflows: {
      create: use(workflows.createWorkflow),
      get: use(workflows.getWorkflow),
      cancel: use(workflows.cancelWorkflow),
    },
    fleet: createNatsFleetApi(fleetDeps),
    async close() {
      if (!ready) return;
      let conn: Conn;
      try {
        conn = await ready;
      } catch {
        return; // never connected: nothing to close
      }
      const controller = await fleet?.catch(() => undefined);
      await controller?.close();
      await conn.engine.close();
      if (conn.own) await conn.nc.close();
    },
  };
}
