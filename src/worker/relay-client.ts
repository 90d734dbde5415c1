/**
 * The identity worker's side of the relay (identity-worker.ts): logging in as the identity (waiting
 * while an operator has not accepted it), asking the relay, and making a handler's job from a
 * relayed job view.
 */
import type { NatsConnection } from "@nats-io/nats-core";

import type { RelayOp } from "../access/worker-access.js";
import { relaySubject, workerInboxPrefix } from "../access/worker-access.js";
import { coerceError, ErrorCode, JetjobError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { connectNatsWithin } from "../nats/connect.js";
import type { ProgressUpdate } from "../store/jobs/progress.js";
import type { ResolvedTopology } from "../store/infra/topology.js";
import type { JobCancel } from "./handler.js";
import { HandlerJob } from "./handler.js";
import { loadWorkerSecret } from "./identity-file.js";
import type { WorkerOptions } from "./types.js";

/** Pause between login attempts while the identity waits for an operator to accept it. */
const ACCEPT_RETRY_MS = 2000;
/** How long a relayed request may take. */
const RELAY_TIMEOUT_MS = 10_000;

/** A job as the relay hands it out (the HTTP door's job view). */
export type RelayedJob = Record<string, unknown> & { id: string; type: string; queue: string };

/** One relayed request; rejects with the relay's error (its code and message) or NATS's. */
export type RelayAsk = (
  queue: string,
  op: RelayOp,
  body: Record<string, unknown>,
) => Promise<Record<string, unknown>>;

const enc = new TextEncoder();
const dec = new TextDecoder();

export function relayClient(
  nc: NatsConnection,
  o: { topology: ResolvedTopology; principal: string; instance: string },
): RelayAsk {
  return async (queue, op, body) => {
    const m = await nc.request(
      relaySubject(o.topology, queue, o.principal, op),
      enc.encode(JSON.stringify({ instance: o.instance, ...body })),
      { timeout: RELAY_TIMEOUT_MS },
    );
    const r = JSON.parse(dec.decode(m.data)) as { ok: boolean; error?: { code: string; message: string } };
    if (!r.ok) {
      const code = (r.error?.code ?? ErrorCode.BackendError) as ErrorCode;
      throw new JetjobError(code, r.error?.message ?? "the relay refused the request");
    }
    return r;
  };
}

/** Logs in as the identity; while NATS refuses it (not accepted yet) it says so and tries again. */
export async function connectIdentity(
  options: WorkerOptions,
  o: { user: string; name: string; id: string; logger: Logger; signal: AbortSignal },
): Promise<NatsConnection> {
  const identity = options.identity!;
  const secret = identity.secret ?? loadWorkerSecret(identity.file, o.name);
  const queues = options.queues ?? ["default"];
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectNatsWithin({
        name: `jetjob-worker ${o.id}`,
        ...options.natsOptions,
        servers: options.nats as string,
        user: o.user,
        pass: secret,
        inboxPrefix: workerInboxPrefix(o.name),
        giveUpAfterMs: options.connectTimeoutMs ?? 10_000,
        signal: o.signal,
      });
    } catch (err) {
      const e = coerceError(err);
      if (e.details?.auth_refused !== true || o.signal.aborted) throw e;
      if (attempt === 1 || attempt % 30 === 0) {
        o.logger.warn("waiting to be accepted", {
          hint: `an operator runs: jetjob agent accept ${o.user} --queue ${queues.join(" --queue ")}`,
          attempts: attempt,
        });
      }
      await new Promise((r) => setTimeout(r, ACCEPT_RETRY_MS));
    }
  }
}

/** The job a handler gets, from a relayed view; `progress()` reports through `sendProgress`. */
export function handlerJobOf(
  v: RelayedJob,
  attempt: number,
  cancel: JobCancel,
  sendProgress: (u: ProgressUpdate) => Promise<unknown>,
): HandlerJob {
  const job = new HandlerJob(
    cancel,
    v.id,
    v.type,
    v.queue,
    Array.isArray(v.args) ? v.args : [],
    attempt,
    typeof v.max_attempts === "number" ? v.max_attempts : 1,
    typeof v.priority === "number" ? v.priority : 0,
    (v.meta as Record<string, unknown> | undefined) ?? {},
    new Date(typeof v.created_at === "string" ? v.created_at : Date.now()),
  );
  if (Array.isArray(v.parent_results)) job.parent_results = job.parentResults = v.parent_results;
  if (typeof v.traceparent === "string") job.traceparent = v.traceparent;
  return job.attach({
    send: async (_id, _a, u) => {
      await sendProgress(u);
    },
  });
}
