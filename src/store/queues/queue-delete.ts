/**
 * Deleting a queue: its registry entry goes, so it leaves every list (a typo such as `defualt`
 * made by `queue pause --create` disappears). Refused while any of its jobs waits, is scheduled,
 * retrying or running: those would be stranded. Finished jobs stay readable by id until retention
 * removes them, and the lanes' consumers stay (idle): a job enqueued by another server in the
 * moment before it learns of the deletion is still delivered, and the check is repeated after the
 * deletion so such a job brings the entry back instead of hiding.
 */
import { ConflictError, NotFoundError } from "../../core/errors.js";
import type { QueueRecord } from "./queues.js";
import type { Services } from "../infra/services.js";
import type { QueueStats } from "./stats.js";
import { queueStats } from "./stats.js";

/** What `deleteQueue` answers. */
export interface QueueDeleted {
  deleted: true;
  name: string;
  /** Finished jobs still kept (readable by id until retention removes them). */
  finished: { completed: number; discarded: number; cancelled: number; expired: number };
}

/** Jobs of a queue that have not finished, by state; all zero when the queue may go. */
export function unfinished(s: QueueStats): Record<string, number> {
  const counts: Record<string, number> = {
    available: s.available,
    active: s.active,
    scheduled: s.scheduled,
    retryable: s.retryable,
    pending: s.pending,
  };
  for (const [state, n] of Object.entries(counts)) if (n === 0) delete counts[state];
  return counts;
}

function refuse(name: string, left: Record<string, number>, restored: boolean): ConflictError {
  const list = Object.entries(left)
    .map(([state, n]) => `${n} ${state}`)
    .join(", ");
  return new ConflictError(
    restored
      ? `Queue '${name}' got jobs while it was being deleted (${list}); it was kept.`
      : `Queue '${name}' still has jobs that have not finished (${list}).`,
    {
      details: { queue: name, unfinished: left },
      hint: "Let them finish, or cancel them (`jetjob job list -q <queue>` shows them), then delete the queue.",
    },
  );
}

/** Deletes a queue that has no unfinished jobs (see the module header). */
export async function deleteQueue(svc: Services, name: string): Promise<QueueDeleted> {
  const rec: QueueRecord | undefined = await svc.ctx.queues.get(name);
  if (!rec) throw new NotFoundError("queue", name);
  const before = unfinished(await queueStats(svc, rec));
  if (Object.keys(before).length > 0) throw refuse(name, before, false);
  await svc.ctx.queues.remove(name);
  const after = await queueStats(svc, rec);
  const left = unfinished(after);
  if (Object.keys(left).length > 0) {
    // A job slipped in through a server that still knew the lane: keep the queue visible.
    await svc.ctx.queues.update(name, (r) => {
      Object.assign(r, rec, { lanes: [...new Set([...r.lanes, ...rec.lanes])].sort((a, b) => b - a) });
    });
    throw refuse(name, left, true);
  }
  return {
    deleted: true,
    name,
    finished: {
      completed: after.completed,
      discarded: after.discarded,
      cancelled: after.cancelled,
      expired: after.expired,
    },
  };
}
