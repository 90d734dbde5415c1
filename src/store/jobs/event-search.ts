/**
 * Reading stored events back (the JJ_EVENTS stream): a search newest first with a cursor and a bounded
 * read, and the events of a queue after a given event id (an SSE client resuming).
 */
import { ValidationError } from "../../core/errors.js";
import { scanMessages } from "../../nats/scan.js";
import type { StoreContext } from "../infra/context.js";
import type { EventView, JobEvent } from "./events.js";
import { decodeEvents, eventId, eventIdTime, toEventView } from "./events.js";

export interface RecentEventsQuery {
  types?: string[];
  queues?: string[];
  limit?: number;
  jobId?: string;
  /** Continue a search: the `nextCursor` of the previous page. */
  cursor?: string;
}

export interface EventPage {
  /** Newest first. */
  events: EventView[];
  /**
   * Where older matching events may be found: set when the page is full, or when the search read its
   * budget of stored messages without reaching the oldest.
   */
  nextCursor?: string;
}

/** Stored event batches one search reads at most: its cost is bounded whatever it finds. */
export const EVENT_SCAN_BUDGET = 20_000;

/**
 * Recent events, newest first. Reads backwards through the events stream in growing windows (each a
 * stream read, nats/scan.ts), stopping at `limit` matches or after {@link EVENT_SCAN_BUDGET} stored
 * batches, so a search that matches nothing costs a bounded read, and says where to go on.
 */
export async function searchEvents(ctx: StoreContext, q: RecentEventsQuery): Promise<EventPage> {
  const limit = Math.min(Math.max(q.limit ?? 50, 1), 1000);
  const stream = ctx.topology.streams.events;
  const subject = q.queues?.length === 1 ? ctx.subjects.events(q.queues[0]!) : ctx.subjects.eventsAll();
  const types = q.types && q.types.length > 0 ? new Set(q.types) : undefined;
  const queues = q.queues && q.queues.length > 0 ? new Set(q.queues) : undefined;
  const keep = (e: JobEvent) =>
    (!types || types.has(e.t)) && (!queues || queues.has(e.q)) && (q.jobId === undefined || e.id === q.jobId);
  // Position of the next event to look at: message `seq`, events of it before index `idx`.
  let seq: number;
  let idx = Infinity;
  if (q.cursor !== undefined) {
    const m = /^(\d+)\.(\d+)$/.exec(q.cursor);
    if (!m)
      throw new ValidationError("cursor: not a cursor this server gave", { details: { field: "cursor" } });
    seq = Number(m[1]);
    idx = Number(m[2]);
  } else {
    const last = await ctx.reader.get(stream, { lastBySubject: subject });
    if (!last) return { events: [] };
    seq = last.seq;
  }
  const found: EventView[] = [];
  let budget = EVENT_SCAN_BUDGET;
  let window = 64;
  while (seq >= 1 && budget > 0) {
    const start = Math.max(1, seq - window + 1);
    const msgs = (
      await scanMessages(ctx.nc, stream, { subjects: subject, fromSeq: start, max: seq - start + 1 })
    ).filter((m) => m.seq <= seq);
    budget -= msgs.length;
    for (let k = msgs.length - 1; k >= 0; k--) {
      const m = msgs[k]!;
      const events = decodeEvents(m.data);
      const from = m.seq === seq ? Math.min(idx, events.length) : events.length;
      for (let i = from - 1; i >= 0; i--) {
        const e = events[i]!;
        if (!keep(e)) continue;
        found.push(toEventView(e));
        if (found.length === limit) return { events: found, nextCursor: `${m.seq}.${i}` };
      }
    }
    seq = start - 1;
    idx = Infinity;
    window = Math.min(window * 4, 4096);
  }
  return seq >= 1 ? { events: found, nextCursor: `${seq}.${Number.MAX_SAFE_INTEGER}` } : { events: found };
}

/** Stored event batches a resume reads at most. */
export const REPLAY_BUDGET = 10_000;

/**
 * The stored events of `queue` that passed `keep` after the event `afterId` (SSE `Last-Event-ID`),
 * oldest first. Reading starts a little before the time in the id (stored times follow the event's
 * own by a few ms; servers' clocks differ a little); when the event itself is no longer stored, the
 * events after its time are given. At most {@link REPLAY_BUDGET} batches are read.
 */
export async function eventsAfter(
  ctx: StoreContext,
  queue: string,
  afterId: string,
  keep: (e: JobEvent) => boolean,
): Promise<EventView[]> {
  const atMs = eventIdTime(afterId);
  if (atMs === undefined) return [];
  const msgs = await scanMessages(ctx.nc, ctx.topology.streams.events, {
    subjects: ctx.subjects.events(queue),
    fromTimeMs: atMs - 5000,
    max: REPLAY_BUDGET,
  });
  const all: JobEvent[] = [];
  for (const m of msgs) for (const e of decodeEvents(m.data)) if (keep(e)) all.push(e);
  const at = all.findIndex((e) => eventId(e) === afterId);
  const after = at >= 0 ? all.slice(at + 1) : all.filter((e) => e.at > atMs);
  return after.map(toEventView);
}

/** {@link searchEvents}' events alone. */
export async function recentEvents(ctx: StoreContext, q: RecentEventsQuery): Promise<EventView[]> {
  return (await searchEvents(ctx, q)).events;
}
