/**
 * Resetting the store for test runs (`POST /ojs/v1/admin/reset`, off unless enabled): every job,
 * queue, schedule and event is deleted, and the duplicate windows are emptied so job ids can be used
 * again at once. The caller stops the scheduler's tasks first (engine.ts).
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";

import { streamConfigs } from "./infra/stream-configs.js";
import type { Services } from "./infra/services.js";
import { purgeProgress } from "./jobs/progress.js";

export async function resetStore(svc: Services): Promise<void> {
  const { ctx } = svc;
  await svc.producer.flush();
  const consumers = await ctx.jsm.consumers.list(ctx.topology.streams.queue).next();
  for (const c of consumers) await ctx.jsm.consumers.delete(ctx.topology.streams.queue, c.name);
  for (const cfg of streamConfigs(ctx.topology)) await ctx.jsm.streams.purge(cfg.name);
  await forgetMessageIds(ctx.jsm, streamConfigs(ctx.topology));
  const b = ctx.buckets;
  for (const kv of [
    b.queues,
    b.ids,
    b.dlq,
    b.stats,
    b.unique,
    b.limits,
    b.cron,
    b.workflows,
    b.xkeys,
    b.locks,
    b.gc,
    b.schemas,
  ]) {
    const keys = await kv.keys();
    for await (const k of keys) await kv.purge(k);
  }
  await purgeProgress(ctx); // a client-chosen job id used again must not show old progress
  svc.counters.clear();
  ctx.queues.forget();
  svc.locator.clear();
}

/**
 * Empties the duplicate windows of `streams`: a purge keeps the message ids JetStream remembers, so a
 * job id used before a reset would still be refused as a duplicate for minutes after it. Shrinking a
 * stream's window makes the server drop the older ids at once (it re-runs its expiry when the
 * window changes); the window is then restored.
 */
async function forgetMessageIds(
  jsm: JetStreamManager,
  streams: ReadonlyArray<{ name: string; duplicate_window?: number }>,
): Promise<void> {
  const windows = streams.filter((c) => (c.duplicate_window ?? 0) > 0);
  for (const c of windows) await jsm.streams.update(c.name, { duplicate_window: nanos(100) });
  // The server's expiry runs right after the change (ids older than 100 ms, its smallest window, go)
  // and again as the younger ones expire: 250 ms covers both.
  await new Promise((r) => setTimeout(r, 250));
  for (const c of windows) await jsm.streams.update(c.name, { duplicate_window: c.duplicate_window! });
}
