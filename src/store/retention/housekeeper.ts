/**
 * The housekeeper: one per deployment (KV-lease leader `housekeeper` in the leases bucket), it walks
 * the streams for finished segments (walk.ts) and runs the removal checks (records.ts) when they are
 * due: segments (segments.ts), journals of removed segments, fleet jobs (fleet.ts).
 *
 * Checks due by the end of the next minute are loaded into a timer heap and run at their due time;
 * each minute's subject is read once when it comes near, and then only for what was added since. A
 * new leader reads every minute that is due, then carries on: nothing is missed across a leadership
 * change, and a check run by two leaders at once (a lease overlap) does no harm.
 */
import { JetStreamApiError } from "@nats-io/jetstream";

import type { ResolvedHousekeeping } from "../../core/storage-options.js";
import type { BackgroundTask } from "../infra/tasks.js";
import { runTasks } from "../infra/tasks.js";
import type { StoreContext } from "../infra/context.js";
import type { Services } from "../infra/services.js";
import { checkFleetJob } from "./fleet.js";
import type { CheckRecord } from "./records.js";
import { decodeCheck, journalRef, parseRef, scheduleChecks, segmentRef } from "./records.js";
import { checkSegment, purgeJournal } from "./segments.js";
import type { Check } from "./walk.js";
import { CountWindows, walkDelay, walkLane } from "./walk.js";

/** JetStream's error for deleting a message that is not there (deleted already, or purged). */
const MSG_DELETE_FAILED = 10057;

const MINUTE = 60_000;

/** What this process's housekeeper did since it started (for metrics and the storage report). */
export interface HousekeeperStats {
  removedSegments: number;
  removedJobs: number;
  removedFleetJobs: number;
  purgedJournals: number;
  checksRun: number;
  /** When the last complete walk ended (ms), while leader. */
  lastWalkAt?: number;
  /** Checks loaded and waiting for their time. */
  pending: number;
}

export interface Housekeeper {
  /** Whether this process holds the housekeeper lease now. */
  readonly leading: boolean;
  readonly stats: Readonly<HousekeeperStats>;
  /** Runs a walk now and waits for it (tests, and `POST` admin use); only while leading. */
  walkNow(): Promise<void>;
  close(): Promise<void>;
}

export interface HousekeeperOptions extends ResolvedHousekeeping {
  onError: (err: unknown) => void;
}

interface Entry {
  /** Sequence of the check message in the GC stream. */
  seq: number;
  due: number;
  record: CheckRecord;
}

export function startHousekeeper(svc: Services, o: HousekeeperOptions): Housekeeper {
  const { ctx } = svc;
  const stats: HousekeeperStats = {
    removedSegments: 0,
    removedJobs: 0,
    removedFleetJobs: 0,
    purgedJournals: 0,
    checksRun: 0,
    pending: 0,
  };
  let run: Running | undefined;

  const housekeeping: BackgroundTask = {
    name: "housekeeper",
    scope: "leader",
    start() {
      const r = startRunning(svc, o, stats);
      run = r;
      return {
        async close() {
          if (run === r) run = undefined;
          await r.stop();
        },
      };
    },
  };
  const tasks = runTasks([housekeeping], {
    election: { kv: ctx.buckets.leases, name: "housekeeper", holder: ctx.instanceId, leaseMs: o.leaseMs },
    onError: o.onError,
  });

  return {
    get leading() {
      return run !== undefined;
    },
    stats,
    async walkNow() {
      await run?.walk();
    },
    close: () => tasks.close(),
  };
}

interface Running {
  walk(): Promise<void>;
  stop(): Promise<void>;
}

/** The housekeeper's work while this process leads: the check heap, its loading and the walks. */
function startRunning(svc: Services, o: HousekeeperOptions, stats: HousekeeperStats): Running {
  const { ctx } = svc;
  const heap: Entry[] = [];
  const known = new Set<number>();
  const seen = new Map<number, number>(); // minute → last check sequence read
  const counts = new CountWindows();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let work: Promise<void> = Promise.resolve();
  let walking: Promise<void> | undefined;

  const enqueue = (task: () => Promise<void>) => {
    work = work.then(task).catch(o.onError);
    return work;
  };

  function push(e: Entry): void {
    if (stopped || known.has(e.seq)) return;
    known.add(e.seq);
    let lo = 0;
    let hi = heap.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (heap[mid]!.due <= e.due) lo = mid + 1;
      else hi = mid;
    }
    heap.splice(lo, 0, e);
    stats.pending = heap.length;
    arm();
  }

  function arm(): void {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    const head = heap[0];
    if (!head) return;
    timer = setTimeout(() => void enqueue(fireDue), Math.max(0, Math.min(head.due - Date.now(), 30_000)));
  }

  /** Writes checks and loads the ones due soon straight into the heap (no need to read them back). */
  async function schedule(checks: Check[]): Promise<void> {
    const horizon = (Math.floor(Date.now() / MINUTE) + 2) * MINUTE;
    for (const w of await scheduleChecks(ctx, checks))
      if (w.record.due < horizon) push({ seq: w.seq, due: w.record.due, record: w.record });
  }

  async function loadMinute(minute: number): Promise<void> {
    const from = (seen.get(minute) ?? 0) + 1;
    const msgs = await ctx.reader.all(ctx.topology.streams.gc, ctx.subjects.gc(minute), from);
    for (const m of msgs) {
      const record = decodeCheck(m.data);
      if (record) push({ seq: m.seq, due: record.due, record });
      else await dropRecord(ctx, m.seq, o.onError);
    }
    const last = msgs.at(-1)?.seq;
    if (last !== undefined) seen.set(minute, last);
    else if (!seen.has(minute)) seen.set(minute, from - 1);
  }

  /** Every minute with checks up to the next one (a new leader's first look). */
  async function loadAll(): Promise<void> {
    const horizon = Math.floor(Date.now() / MINUTE) + 1;
    const info = await ctx.jsm.streams.info(ctx.topology.streams.gc, {
      subjects_filter: ctx.subjects.gcAll(),
    });
    const minutes = Object.keys(info.state.subjects ?? {})
      .map((s) => Number(s.slice(s.lastIndexOf(".") + 1)))
      .filter((m) => Number.isInteger(m) && m <= horizon)
      .sort((a, b) => a - b);
    for (const m of minutes) await loadMinute(m);
  }

  /** The minutes around now (new checks land in the current minute or later). */
  async function loadRecent(): Promise<void> {
    const now = Math.floor(Date.now() / MINUTE);
    for (let m = now - 1; m <= now + 1; m++) await loadMinute(m);
    for (const m of seen.keys()) if (m < now - 2) seen.delete(m);
  }

  async function fireDue(): Promise<void> {
    const now = Date.now();
    const due: Entry[] = [];
    while (!stopped && heap.length > 0 && heap[0]!.due <= now) due.push(heap.shift()!);
    stats.pending = heap.length;
    for (const e of due) if (!stopped) await runCheck(e);
    arm();
  }

  async function runCheck(e: Entry): Promise<void> {
    const later: Check[] = [];
    // The segments of one check are independent: a few at a time.
    await mapLimit(e.record.refs, Math.max(1, o.concurrency), async (ref) => {
      try {
        later.push(...(await runRef(svc, ref, o, stats)));
      } catch (err) {
        o.onError(err);
        later.push({ ref, due: Date.now() + 5000 });
      }
    });
    stats.checksRun++;
    // Follow-up checks are stored before this one is deleted: a crash in between repeats work, never loses it.
    if (later.length > 0) await schedule(later);
    await dropRecord(ctx, e.seq, o.onError);
    known.delete(e.seq);
  }

  const walkOnce = (): Promise<void> =>
    (walking ??= walkStore(svc, o, counts, schedule, () => stopped, stats)
      .catch(o.onError)
      .finally(() => (walking = undefined)));

  void enqueue(async () => {
    await ctx.queues.watch();
    await loadAll();
    await fireDue();
  });
  const tick = setInterval(() => void enqueue(async () => loadRecent().then(fireDue)), o.tickMs);
  const walkTimer = setInterval(() => void walkOnce(), o.walkIntervalMs);
  const rescan = setInterval(() => void enqueue(loadAll), 10 * MINUTE);
  for (const t of [tick, walkTimer, rescan]) t.unref();

  return {
    walk: walkOnce,
    async stop() {
      stopped = true;
      clearInterval(tick);
      clearInterval(walkTimer);
      clearInterval(rescan);
      if (timer) clearTimeout(timer);
      await Promise.allSettled([work, walking]);
      heap.length = 0;
      stats.pending = 0;
    },
  };
}

/**
 * Deletes a check record that ran. One that is gone already (an admin reset, or a previous leader
 * that ran it too) is not an error: the goal is met. Any other failure leaves it to run again.
 */
async function dropRecord(ctx: StoreContext, seq: number, onError: (err: unknown) => void): Promise<void> {
  try {
    await ctx.jsm.streams.deleteMessage(ctx.topology.streams.gc, seq, false);
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === MSG_DELETE_FAILED)) onError(err);
  }
}

/** Runs the check of one ref (segment, journal or fleet job), counting what it removed; answers the follow-up checks. */
async function runRef(
  svc: Services,
  ref: string,
  o: HousekeeperOptions,
  stats: HousekeeperStats,
): Promise<Check[]> {
  const { ctx } = svc;
  const r = parseRef(ref);
  if (!r) return [];
  if (r.kind === "segment") {
    const res = await checkSegment(svc, r.store, r.seq, {
      flags: r.flags,
      activeRecheckMaxMs: o.activeRecheckMaxMs,
      journalGraceMs: o.journalGraceMs,
    });
    if (res.kind === "recheck") return [{ ref: segmentRef(r.store, r.seq, r.flags), due: res.at }];
    if (res.kind === "removed") {
      stats.removedSegments++;
      stats.removedJobs += res.jobs;
      return [{ ref: journalRef(r.store, r.seq), due: res.purgeJournalAt }];
    }
    return res.purgeJournalAt === undefined
      ? []
      : [{ ref: journalRef(r.store, r.seq), due: res.purgeJournalAt }];
  }
  if (r.kind === "journal") {
    if ((await purgeJournal(svc, r.store, r.seq)) === "purged") {
      stats.purgedJournals++;
      return [];
    }
    return [{ ref: segmentRef(r.store, r.seq), due: Date.now() + o.journalGraceMs }];
  }
  const res = await checkFleetJob(ctx, r.id, o.activeRecheckMaxMs);
  if (res.kind === "recheck") return [{ ref, due: res.at }];
  if (res.kind === "removed") stats.removedFleetJobs++;
  return [];
}

/** One walk over every lane and the delay stream, scheduling checks for what it finds (walk.ts). */
async function walkStore(
  svc: Services,
  o: HousekeeperOptions,
  counts: CountWindows,
  schedule: (checks: Check[]) => Promise<void>,
  stopped: () => boolean,
  stats: HousekeeperStats,
): Promise<void> {
  const { ctx } = svc;
  const wo = {
    walkBatch: o.walkBatch,
    activeRecheckMaxMs: o.activeRecheckMaxMs,
    delaySlackMs: o.delaySlackMs,
    holdRecheckMs: o.holdRecheckMs,
  };
  for (const q of ctx.queues.cachedAll()) {
    for (const p of q.lanes) {
      if (stopped()) return;
      await walkLane(svc, q.name, p, wo, counts, schedule);
    }
  }
  if (stopped()) return;
  await walkDelay(svc, wo, schedule);
  stats.lastWalkAt = Date.now();
}

/** Runs `fn` over `items`, at most `limit` at a time. */
async function mapLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
