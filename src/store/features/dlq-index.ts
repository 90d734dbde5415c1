/**
 * The dead-letter index (KV `<queue>.<job id>`), written before a dead-letter discard is appended so
 * that no dead letter goes unlisted (see dlq.ts).
 */
import type { StoreContext } from "../infra/context.js";
import { putJson } from "../infra/kvjson.js";
import { queueToken } from "../infra/topology.js";

export interface DeadLetter {
  id: string;
  queue: string;
  at: number;
}

export const deadLetterKey = (queue: string, id: string): string => `${queueToken(queue)}.${id}`;

export async function indexDeadLetter(ctx: StoreContext, queue: string, id: string): Promise<void> {
  await putJson(ctx.buckets.dlq, deadLetterKey(queue, id), {
    id,
    queue,
    at: Date.now(),
  } satisfies DeadLetter);
}
