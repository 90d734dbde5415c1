/**
 * Operator directives for OJS HTTP workers (ojs-admin-api §9.3): "quiet" tells a worker to stop
 * fetching and finish what it runs. It is delivered the way the spec says, in the answer to the
 * worker's next heartbeat (`state: "quiet"`, `directive: "quiet"`; the official OJS SDKs stop
 * polling on it). One KV entry per quieted worker (`qd.<worker id token>` in the fleet bucket, beside
 * the agents' control records), so every API server answers the same; it stays until the worker is
 * resumed or deregistered.
 *
 * NATS-direct SDK workers take no directives (they have no heartbeat answer to carry one); fleet
 * agents are quieted by their drain control instead (fleet/workers.ts).
 */
import { getJson, keysOf, putJson } from "../store/infra/kvjson.js";
import type { StoreContext } from "../store/infra/context.js";
import { hostToken } from "../store/infra/topology.js";

export const WorkerDirective = { Quiet: "quiet" } as const;
export type WorkerDirective = (typeof WorkerDirective)[keyof typeof WorkerDirective];

interface DirectiveRecord {
  worker_id: string;
  directive: WorkerDirective;
  /** When it was given, epoch ms. */
  at: number;
}

const PREFIX = "qd.";
export const directiveKey = (workerId: string) => `${PREFIX}${hostToken(workerId)}`;

/** Gives `workerId` a directive, or (undefined) takes its directive back. */
export async function setWorkerDirective(
  ctx: StoreContext,
  workerId: string,
  directive: WorkerDirective | undefined,
): Promise<void> {
  const kv = ctx.buckets.fleet;
  if (directive === undefined) {
    if (await getJson(kv, directiveKey(workerId))) await kv.purge(directiveKey(workerId));
    return;
  }
  await putJson(kv, directiveKey(workerId), {
    worker_id: workerId,
    directive,
    at: Date.now(),
  } satisfies DirectiveRecord);
}

/** The directive for `workerId`'s next heartbeat, if any. */
export async function workerDirective(
  ctx: StoreContext,
  workerId: string,
): Promise<WorkerDirective | undefined> {
  return (await getJson<DirectiveRecord>(ctx.buckets.fleet, directiveKey(workerId)))?.value.directive;
}

/** Every worker with a directive, by worker id. */
export async function workerDirectives(ctx: StoreContext): Promise<Map<string, WorkerDirective>> {
  const kv = ctx.buckets.fleet;
  const out = new Map<string, WorkerDirective>();
  for (const k of await keysOf(kv, `${PREFIX}>`)) {
    const r = (await getJson<DirectiveRecord>(kv, k))?.value;
    if (r) out.set(r.worker_id, r.directive);
  }
  return out;
}

/** Takes every directive back (admin/reset: nothing of a test run may change the next one). */
export async function clearWorkerDirectives(ctx: StoreContext): Promise<void> {
  const kv = ctx.buckets.fleet;
  for (const k of await keysOf(kv, `${PREFIX}>`)) await kv.purge(k);
}
