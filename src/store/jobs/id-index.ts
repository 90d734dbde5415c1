/**
 * The id index (the `ids` bucket): where a job with a client-chosen id lives, and the reservation an
 * enqueue makes before it stores such a job, so the same id is never stored twice.
 */
import { BackendError, ConflictError, ErrorCode } from "../../core/errors.js";
import type { StoreContext } from "../infra/context.js";
import { deleteForGood } from "../infra/kvjson.js";

const enc = new TextEncoder();

/**
 * A reservation without a location is an enqueue of a client-chosen id that has not finished: it is
 * in progress, or its process died (or timed out) somewhere between reserving the id and recording
 * where the job was stored. Within this time a repeat of the same request (the same ids going to the
 * same places) goes ahead, and any other request with the id is refused: the job's segment
 * is published with a msg id derived from the ids in it, so if the first enqueue did store it,
 * JetStream stores nothing new (its duplicate window on the segment streams is 5 minutes) and the
 * enqueue records the stored job and answers `duplicate`. An older reservation is taken over.
 */
const RESUME_MS = 4 * 60_000;

/** Drops reservations made by an enqueue that stored nothing (only while they are still ours). */
export async function unreserve(ctx: StoreContext, reserved: Map<string, number>): Promise<void> {
  await Promise.all(
    [...reserved].map(([id, revision]) =>
      deleteForGood(ctx.buckets.ids, ctx.jsm, ctx.topology.buckets.ids, id, revision).catch(() => undefined),
    ),
  );
}

/** An id index entry: where a job with a client-chosen id lives, or a reservation before it is stored. */
export interface IdRecord {
  ref?: string;
  ti?: number;
  reservedAt: number;
  /** Fingerprint of the request that reserved it (its ids and where each goes). */
  request?: string;
}

/** Reserves a client-chosen id (see {@link RESUME_MS}); returns the revision of the reservation. */
export async function reserveId(ctx: StoreContext, id: string, request: string): Promise<number> {
  const value = enc.encode(JSON.stringify({ reservedAt: Date.now(), request } satisfies IdRecord));
  let createError: unknown;
  try {
    return await ctx.buckets.ids.create(id, value);
  } catch (err) {
    // It exists (a real job, or a reservation of an enqueue that has not finished), or NATS failed.
    createError = err;
  }
  const e = await ctx.buckets.ids.get(id);
  if (!e || e.operation !== "PUT") {
    // Not taken: the create failed for another reason (a timeout, a lost connection). Not a duplicate.
    throw new BackendError(`cannot reserve job id '${id}'`, { cause: createError });
  }
  const rec = JSON.parse(new TextDecoder().decode(e.value)) as IdRecord;
  if (rec.ref === undefined) {
    if (Date.now() - rec.reservedAt >= RESUME_MS) return await ctx.buckets.ids.update(id, value, e.revision);
    if (rec.request === undefined || rec.request === request) return e.revision;
    // Another request is creating a job with this id (say, the same id sent at once as an immediate
    // and as a scheduled job): both must not be stored.
    throw new ConflictError(`a job with id '${id}' is being created by another request`, {
      code: ErrorCode.Duplicate,
      retryable: true,
      details: { job_id: id },
      hint: "If that request failed, the id can be used again after a few minutes.",
    });
  }
  throw new ConflictError(`a job with id '${id}' already exists`, {
    code: ErrorCode.Duplicate,
    details: { job_id: id },
  });
}

export async function recordId(ctx: StoreContext, id: string, ref: string, ti: number): Promise<void> {
  await ctx.buckets.ids.put(
    id,
    enc.encode(JSON.stringify({ ref, ti, reservedAt: Date.now() } satisfies IdRecord)),
  );
}
