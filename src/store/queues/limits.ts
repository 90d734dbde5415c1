/**
 * Per-queue rate limits (`options.rate_limit.max_per_second`), shared by every HTTP fetcher and
 * NATS-direct worker: one KV entry per limited queue holds the earliest time the next job may start,
 * taken with compare-and-set.
 */
import type { KV } from "@nats-io/kv";

import { getJson } from "../infra/kvjson.js";
import { AGAIN, casLoop, orAgain } from "../infra/cas.js";
import { queueToken } from "../infra/topology.js";

interface Slot {
  next: number;
}

/** Takes a start slot: 0 when granted, otherwise milliseconds until one may be free. */
export async function takeRateToken(
  kv: KV,
  queue: string,
  perSecond: number,
  nowMs = Date.now(),
): Promise<number> {
  const interval = 1000 / perSecond;
  const key = queueToken(queue);
  return casLoop(
    async () => {
      const cur = await getJson<Slot>(kv, key);
      const next = cur?.value.next ?? 0;
      if (next > nowMs) return Math.ceil(next - nowMs);
      const value = new TextEncoder().encode(
        JSON.stringify({ next: Math.max(next, nowMs) + interval } satisfies Slot),
      );
      const w = await orAgain(cur ? kv.update(key, value, cur.revision) : kv.create(key, value));
      return w === AGAIN ? AGAIN : 0;
    },
    { exhausted: () => Math.ceil(interval) },
  );
}
