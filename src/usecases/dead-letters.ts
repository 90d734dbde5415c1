/**
 * Dead letters: jobs discarded with `on_exhaustion: dead_letter`, listed newest first (100 a page
 * unless asked otherwise), retried with fresh attempts or deleted.
 */
import type { DeadLetterPage } from "../store/features/dlq.js";
import type { JobView } from "../store/jobs/view.js";
import type { UseCaseDeps } from "./deps.js";
import { queueName } from "./queues.js";

export type { DeadLetterPage };

/** A page of dead letters. @defaultValue limit 100, offset 0 */
export function listDeadLetters(
  d: UseCaseDeps,
  q: { queue?: string | undefined; limit?: number | undefined; offset?: number | undefined },
): Promise<DeadLetterPage> {
  return d.engine.deadLetters({
    limit: q.limit ?? 100,
    offset: q.offset ?? 0,
    ...(q.queue ? { queue: queueName(q.queue) } : {}),
  });
}

/** Back to available with fresh attempts. */
export const retryDeadLetter = (d: UseCaseDeps, id: string): Promise<JobView> => d.engine.retryDeadLetter(id);

export const deleteDeadLetter = (d: UseCaseDeps, id: string): Promise<{ deleted: true; job_id: string }> =>
  d.engine.deleteDeadLetter(id);
