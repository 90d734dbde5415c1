/**
 * What `/health` and `/ojs/v1/ready` report beyond "NATS answers": whether JetStream's storage has
 * room for new jobs (storage-guard.ts), and whether every jetjob stream exists. A stream that is
 * missing (deleted by hand, or lost with a server's disk) is created again with its consumers, so
 * new jobs can be stored; what it held is gone, and the report says so.
 */
import type { StoreContext } from "./context.js";
import type { StorageStatus } from "./storage-guard.js";
import { ensureTopology, isStreamNotFound } from "./provision.js";

export interface StoreHealth {
  storage: StorageStatus;
  /** Streams that were missing at the last check. */
  missingStreams: string[];
  /** Streams created again in the last 10 minutes (their former contents are lost). */
  recreatedStreams: string[];
  /** Whether new jobs can be stored now. */
  ready: boolean;
  /** Why not, in words. */
  problems: string[];
}

/** How long a recreated stream is reported. */
const REPORT_RECREATED_MS = 10 * 60_000;
/** How long the streams check is reused (health probes are frequent; it costs ~6 requests). */
const CHECK_EVERY_MS = 2000;

/** @param report told about streams found missing (the engine logs it) */
export function createHealthCheck(
  ctx: StoreContext,
  report: (err: Error) => void = () => undefined,
): () => Promise<StoreHealth> {
  /** Streams created again lately (reported for a while, so someone sees it). */
  const recreatedAt = new Map<string, number>();
  /** The streams part (about six requests), reused for a while; storage is read on every call. */
  let streams: { at: number; missing: string[]; recreated: string[]; problems: string[] } | undefined;
  let checking: Promise<NonNullable<typeof streams>> | undefined;

  async function checkStreams(): Promise<NonNullable<typeof streams>> {
    const missing: string[] = [];
    for (const name of Object.values(ctx.topology.streams)) {
      try {
        await ctx.jsm.streams.info(name);
      } catch (err) {
        if (isStreamNotFound(err)) missing.push(name);
        else throw err;
      }
    }
    const recreated: string[] = [];
    const problems: string[] = [];
    if (missing.length > 0) {
      report(
        new Error(
          `jetjob streams are missing: ${missing.join(", ")}; creating them again (their jobs are lost)`,
        ),
      );
      try {
        await ensureTopology(ctx.nc, ctx.jsm, ctx.topology);
        if (missing.includes(ctx.topology.streams.queue)) {
          ctx.queues.forget();
          await ctx.queues.recreateConsumers();
        }
        recreated.push(...missing);
      } catch (err) {
        problems.push(`streams missing and not recreated (${missing.join(", ")}): ${String(err)}`);
      }
    }
    const now = Date.now();
    for (const name of recreated) recreatedAt.set(name, now);
    for (const [name, at] of recreatedAt) if (now - at > REPORT_RECREATED_MS) recreatedAt.delete(name);
    return { at: now, missing, recreated: [...recreatedAt.keys()], problems };
  }

  return async () => {
    if (!streams || Date.now() - streams.at >= CHECK_EVERY_MS) {
      checking ??= checkStreams().finally(() => (checking = undefined));
      streams = await checking;
    }
    const storage = await ctx.storage.status();
    const problems = [...streams.problems];
    if (storage.full) problems.push("JetStream's storage is full: new jobs are refused");
    return {
      storage,
      missingStreams: streams.missing,
      recreatedStreams: streams.recreated,
      ready: problems.length === 0,
      problems,
    };
  };
}
