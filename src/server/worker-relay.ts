/**
 * The worker relay: API servers (full rights) do the queue work of worker identities
 * (access/worker-access.ts) that may not touch JetStream themselves. A worker identity asks on
 * `<p>.wq.<queue token>.<principal token>.<op>`; nats-server lets it publish only on its own
 * principal token and its granted queues, so the subject says who asks and for which queue, and the
 * body is trusted for nothing else.
 *
 * Each operation is the HTTP door's: fetch, ack, nack and heartbeat call the same use cases with the
 * same request schemas (usecases/worker-reports.ts), progress the same store function, so the relay
 * adds no rules of its own: retries, dead letters, workflow steps, stats, exclusive keys and
 * events happen exactly as for an OJS HTTP worker. What the relay adds is who the worker is:
 * - a fetch takes jobs of the subject's queue only;
 * - every report names the worker as `<user>/<instance>` (`worker:etl/3f2a…`), derived from the
 *   subject, and reports are fenced on it (`lease_lost`): a worker identity can complete, fail, extend
 *   or report progress only on jobs it claimed itself, so never on another queue's or identity's.
 *
 * Every API server that answers the auth callout runs one (queue group: any of them answers).
 */
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";

import { coerceError, ValidationError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { silentLogger } from "../core/logger.js";
import { beatState, noteHttpFetcher, noteHttpWorkerBeat } from "./http-fetchers.js";
import type { Engine } from "../store/engine.js";
import type { UseCaseDeps } from "../usecases/deps.js";
import { parseInput } from "../usecases/deps.js";
import {
  ackJob,
  ackRequestSchema,
  fetchJobs,
  fetchRequestOf,
  fetchRequestSchema,
  heartbeat,
  heartbeatRequestSchema,
  nackJob,
  nackRequestSchema,
} from "../usecases/worker-reports.js";
import { reportProgress } from "../store/jobs/progress-report.js";
import { AGENT_USER_PREFIX } from "../access/identities.js";
import { RelayOp, relaySubjectAll, WORKER_USER_PREFIX, workerNamePattern } from "../access/worker-access.js";

/** Most jobs one relayed fetch hands out. */
export const RELAY_MAX_FETCH = 256;
const INSTANCE = /^[A-Za-z0-9_.-]{1,64}$/;

export interface WorkerRelayOptions {
  engine: Engine;
  logger?: Logger;
  /** The connection to answer on. @defaultValue the engine's */
  nc?: NatsConnection;
}

export interface WorkerRelay {
  /** Requests answered, and those refused (bad subject or body, or the operation failed). */
  stats(): { answered: number; failed: number };
  close(): Promise<void>;
}

/**
 * Who a relay subject's principal token names, as the NATS user it logged in as: `h…` is an agent
 * (its `--queue` worker), `w…` a worker identity. Undefined for anything else.
 */
export function principalUser(token: string): string | undefined {
  const name = Buffer.from(token.slice(1), "base64url").toString("utf8");
  if (!workerNamePattern.test(name)) return undefined;
  if (token.startsWith("w")) return `${WORKER_USER_PREFIX}${name}`;
  if (token.startsWith("h")) return `${AGENT_USER_PREFIX}${name}`;
  return undefined;
}

/** The worker id a relayed request acts as: its user, and the instance the body names. */
export function relayWorkerId(user: string, instance: unknown): string {
  return `${user}/${typeof instance === "string" && INSTANCE.test(instance) ? instance : "0"}`;
}

interface Body {
  instance?: unknown;
  count?: unknown;
  visibility_timeout_ms?: unknown;
  id?: unknown;
  ids?: unknown;
  result?: unknown;
  error?: unknown;
  requeue?: unknown;
  state?: unknown;
  running?: unknown;
  progress?: unknown;
  message?: unknown;
  data?: unknown;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

const int = (v: unknown, min: number, max: number): number | undefined =>
  typeof v === "number" && Number.isInteger(v) && v >= min && v <= max ? v : undefined;

function jobId(b: Body): string {
  if (typeof b.id !== "string" || b.id.length === 0 || b.id.length > 100)
    throw new ValidationError("id: a job id is required");
  return b.id;
}

export async function startWorkerRelay(o: WorkerRelayOptions): Promise<WorkerRelay> {
  const { engine } = o;
  const log = o.logger ?? silentLogger;
  const nc = o.nc ?? engine.ctx.nc;
  const t = engine.ctx.topology;
  const counts = { answered: 0, failed: 0 };
  const d: UseCaseDeps = { engine };

  async function handle(queue: string, user: string, op: string, b: Body): Promise<Record<string, unknown>> {
    const workerId = relayWorkerId(user, b.instance);
    switch (op) {
      // The HTTP worker door's use cases (usecases/worker-reports.ts) with its schemas: the queue and
      // the worker id come from the subject (what NATS allowed this identity), never from the body.
      case RelayOp.Fetch: {
        const body = parseInput(fetchRequestSchema, {
          queues: [queue],
          count: typeof b.count === "number" ? Math.min(b.count, RELAY_MAX_FETCH) : (b.count ?? 1),
          worker_id: workerId,
          visibility_timeout_ms: b.visibility_timeout_ms,
        });
        const jobs = await fetchJobs(d, fetchRequestOf(body));
        if (jobs.length > 0) noteHttpFetcher(engine, workerId, [queue], (err) => log.debug(String(err)));
        return { jobs };
      }
      case RelayOp.Ack: {
        const r = await ackJob(
          d,
          parseInput(ackRequestSchema, { job_id: b.id, result: b.result, worker_id: workerId }),
        );
        return { state: r.state, job_id: r.job_id };
      }
      case RelayOp.Nack: {
        const r = await nackJob(
          d,
          parseInput(nackRequestSchema, {
            job_id: b.id,
            error: b.error ?? {},
            requeue: b.requeue,
            worker_id: workerId,
          }),
        );
        return { state: r.state, job_id: r.job_id };
      }
      case RelayOp.Beat: {
        const ids = Array.isArray(b.ids)
          ? b.ids.filter((x): x is string => typeof x === "string").slice(0, 10_000)
          : [];
        const state = typeof b.state === "string" ? beatState(b.state) : undefined;
        if (state !== undefined)
          await noteHttpWorkerBeat(engine, workerId, state, int(b.running, 0, 1e9) ?? ids.length);
        const beat = parseInput(heartbeatRequestSchema, {
          worker_id: workerId,
          active_job_ids: ids,
          visibility_timeout_ms: b.visibility_timeout_ms,
        });
        const r = ids.length > 0 ? await heartbeat(d, beat) : { extended: [], lost: [] };
        return { extended: r.extended, lost: r.lost };
      }
      case RelayOp.Progress: {
        const value = typeof b.progress === "number" ? b.progress : 0;
        const update = {
          progress: value,
          ...(typeof b.message === "string" ? { message: b.message } : {}),
          ...(typeof b.data === "object" && b.data !== null
            ? { data: b.data as Record<string, unknown> }
            : {}),
        };
        const r = await reportProgress(engine.svc, jobId(b), update, workerId);
        return { accepted: r.accepted ?? true };
      }
      default:
        throw new ValidationError(`unknown relay operation '${op}'`);
    }
  }

  async function answer(m: Msg): Promise<void> {
    // <prefix>.wq.<queue token>.<principal token>.<op>; the prefix has no dots (topology.ts).
    const parts = m.subject.split(".");
    let reply: unknown;
    try {
      const [, , qt, principal, op] = parts;
      const user = principal === undefined ? undefined : principalUser(principal);
      if (parts.length !== 5 || qt === undefined || op === undefined || user === undefined)
        throw new ValidationError(`not a relay subject: ${m.subject}`);
      let body: Body = {};
      if (m.data.length > 0) {
        const v: unknown = JSON.parse(dec.decode(m.data));
        if (typeof v === "object" && v !== null) body = v;
      }
      // Queue names have no `_`; their tokens carry dots as `_` (topology.ts queueToken).
      reply = { ok: true, ...(await handle(qt.replaceAll("_", "."), user, op, body)) };
      counts.answered++;
    } catch (err) {
      const e = coerceError(err);
      counts.failed++;
      log.debug("relayed worker request refused", { subject: m.subject, code: e.code, error: e.message });
      reply = {
        ok: false,
        error: {
          code: e.code,
          message: e.message,
          ...(e.details === undefined ? {} : { details: e.details }),
        },
      };
    }
    if (m.reply) m.respond(enc.encode(JSON.stringify(reply)));
  }

  const sub: Subscription = nc.subscribe(relaySubjectAll(t), {
    queue: "jetjob-worker-relay",
    callback: (err, m) => {
      if (!err) void answer(m).catch(() => undefined);
    },
  });
  await nc.flush();
  return {
    stats: () => ({ ...counts }),
    close() {
      sub.unsubscribe();
      return Promise.resolve();
    },
  };
}
