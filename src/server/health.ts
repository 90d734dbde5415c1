/**
 * Liveness and readiness answers (`/health`, `/ready` and their `/ojs/v1` twins): the state of
 * NATS/JetStream, storage room and streams, bounded so a probe answers even when NATS does not.
 */
import type { Context } from "hono";

import type { Controller } from "../fleet/controller.js";
import type { WorkerView } from "../fleet/workers.js";
import { listAllWorkers } from "../fleet/workers.js";
import type { Engine } from "../store/engine.js";
import type { StorageStatus } from "../store/infra/storage-guard.js";
import { ojsJson } from "./ojs.js";

export interface HealthDeps {
  engine: Engine;
  version: string;
  startedAt: number;
  /** The worker registry, for the worker summary in the health answer (absent: no summary). */
  fleet?: Controller | undefined;
}

/** Runs `f` with a 2 s bound (a health probe must answer even when NATS does not). */
function bounded<T>(f: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    f(),
    new Promise<never>(
      (_, rej) => (timer = setTimeout(() => rej(new Error("NATS did not answer within 2 s")), 2000)),
    ),
  ]).finally(() => clearTimeout(timer));
}

/**
 * `GET /health`, `/ojs/v1/health`: 200 while the server can serve (status `degraded` when JetStream's
 * storage is full or a stream had to be recreated: stored jobs still run), 503 when NATS is gone.
 */
export async function health(c: Context, d: HealthDeps): Promise<Response> {
  const base = { version: d.version, uptime_seconds: Math.floor((Date.now() - d.startedAt) / 1000) };
  try {
    const [latency, store, queues] = await Promise.all([
      bounded(() => d.engine.ping()),
      bounded(() => d.engine.health()),
      // The admin UI's queue summary; an unanswered queue listing leaves it out, not the health.
      bounded(() => d.engine.listQueues()).catch(() => undefined),
    ]);
    const workers = d.fleet ? listAllWorkers(d.fleet) : undefined;
    return ojsJson(c, 200, {
      status: store.ready && store.recreatedStreams.length === 0 ? "ok" : "degraded",
      ...base,
      backend: { type: "nats-jetstream", status: "ok", latency_ms: Math.round(latency * 100) / 100 },
      storage: storageView(store.storage),
      streams: { missing: store.missingStreams, recreated: store.recreatedStreams },
      ...(store.problems.length > 0 ? { problems: store.problems } : {}),
      ...(queues ? { queues: { total: queues.length, paused: queues.filter((q) => q.paused).length } } : {}),
      ...(workers ? { workers: workerSummary(workers) } : {}),
    });
  } catch (err) {
    return ojsJson(c, 503, {
      status: "degraded",
      ...base,
      backend: {
        type: "nats-jetstream",
        status: "unavailable",
        error: err instanceof Error ? err.message : String(err),
      },
    });
  }
}

/** Registered workers (SDK and HTTP queue workers, fleet agents): `active` while they beat, else `stale`. */
function workerSummary(all: readonly WorkerView[]): Record<string, number> {
  const active = all.filter((w) => w.online).length;
  return { total: all.length, active, stale: all.length - active };
}

/** `GET /ready`, `/ojs/v1/ready`: 200 when new jobs can be stored now, else 503 with the reasons. */
export async function ready(c: Context, d: HealthDeps): Promise<Response> {
  try {
    const store = await bounded(() => d.engine.health());
    const storage = storageView(store.storage);
    if (store.ready) return ojsJson(c, 200, { status: "ready", ready: true, storage });
    return ojsJson(c, 503, { status: "not_ready", ready: false, reasons: store.problems, storage });
  } catch (err) {
    return ojsJson(c, 503, {
      status: "not_ready",
      ready: false,
      reasons: [`NATS/JetStream: ${err instanceof Error ? err.message : String(err)}`],
    });
  }
}

function storageView(s: StorageStatus): Record<string, unknown> {
  const v: Record<string, unknown> = { full: s.full };
  if (s.usedBytes !== undefined) v.used_bytes = s.usedBytes;
  if (s.capacityBytes !== undefined) v.capacity_bytes = s.capacityBytes;
  if (s.reserveBytes !== undefined) v.reserve_bytes = s.reserveBytes;
  if (s.lastRefusedAt !== undefined) v.last_refused_at = new Date(s.lastRefusedAt).toISOString();
  return v;
}
