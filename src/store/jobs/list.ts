/**
 * Listing a queue's jobs, newest first, with a cursor. Every job of the queue is listed once, in the
 * state it is in now, from the segment that is its first home:
 * - the queue's lanes (jobs enqueued to run now), and
 * - the delay stream (jobs enqueued with `scheduled_at`, and jobs waiting for an exclusive key),
 * merged by when their segments were written. Copies made by moves (retries, promotions, splits,
 * hand-backs) point to their first home and are not listed again; a job that moved on is shown as it
 * is where it is now (scheduled, retrying, running, finished...).
 *
 * Each source is read backwards in growing windows (nats/scan.ts), and a page reads at most
 * {@link LIST_SCAN_BUDGET} segments: a listing filtered by a rare state may return fewer jobs than
 * asked, with a cursor to go on.
 */
import { Store } from "../../core/ids.js";
import type { JobState } from "../../core/states.js";
import { ValidationError } from "../../core/errors.js";
import { scanMessages } from "../../nats/scan.js";
import { forwardOf, isGone } from "../journal/fold.js";
import type { SegmentAt } from "../segments/segment.js";
import { decodeSegment, jobIdAt } from "../segments/segment.js";
import type { Services } from "../infra/services.js";
import type { JobView } from "./view.js";
import { buildJobView, deriveState } from "./view.js";

export interface ListQuery {
  queue: string;
  state?: JobState;
  /** @defaultValue 50 */
  limit?: number;
  /** From a previous page's `next_cursor`. */
  cursor?: string;
}

export interface JobPage {
  jobs: JobView[];
  next_cursor?: string;
}

/** Segments one page reads at most, over both sources. */
export const LIST_SCAN_BUDGET = 2000;

/** Where a source goes on: below segment `seq`, slot `idx` (idx -1: the whole segment). */
interface Position {
  seq: number;
  idx: number;
}

const TOP: Position = { seq: Number.MAX_SAFE_INTEGER, idx: -1 };

/** Cursor `q<seq>.<idx>~d<seq>.<idx>`; the older form `<seq>.<idx>` is the lanes' position alone. */
function parseCursor(c: string | undefined): { q: Position; d: Position } {
  if (c === undefined) return { q: TOP, d: TOP };
  const old = /^(\d+)\.(\d+)$/.exec(c);
  if (old) return { q: { seq: Number(old[1]), idx: Number(old[2]) }, d: TOP };
  const m = /^q(\d+)\.(-?\d+)~d(\d+)\.(-?\d+)$/.exec(c);
  if (!m)
    throw new ValidationError("cursor: not a cursor this server gave", { details: { field: "cursor" } });
  return { q: { seq: Number(m[1]), idx: Number(m[2]) }, d: { seq: Number(m[3]), idx: Number(m[4]) } };
}

const cursorOf = (q: Position, d: Position) => `q${q.seq}.${q.idx}~d${d.seq}.${d.idx}`;

/** Segments of one source, newest first, from below a position. */
interface Source {
  store: Store;
  pos: Position;
  peek(): Promise<SegmentAt | undefined>;
  take(): void;
}

function windowedSource(
  store: Store,
  pos: Position,
  read: (below: number, window: number) => Promise<{ segs: SegmentAt[]; exhausted: boolean }>,
): Source {
  let buf: SegmentAt[] = [];
  let below =
    pos.seq === Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : pos.seq + (pos.idx >= 0 ? 1 : 0);
  let exhausted = false;
  let window = 64;
  const src: Source = {
    store,
    pos,
    async peek() {
      while (buf.length === 0 && !exhausted) {
        const r = await read(below, window);
        buf = r.segs.sort((a, b) => b.seq - a.seq);
        exhausted = r.exhausted;
        window = Math.min(window * 4, 1024);
        if (buf.length > 0) below = buf[buf.length - 1]!.seq;
        else if (!exhausted) below = Math.max(0, below - window);
      }
      return buf[0];
    },
    take() {
      buf.shift();
    },
  };
  return src;
}

export async function listJobs(svc: Services, q: ListQuery): Promise<JobPage> {
  const { ctx, locator } = svc;
  const limit = Math.min(Math.max(q.limit ?? 50, 1), 500);
  const rec = await ctx.queues.get(q.queue);
  if (!rec) return { jobs: [] };
  const start = parseCursor(q.cursor);
  const laneSubjects = rec.lanes.map((p) => ctx.subjects.lane(q.queue, p));

  // The queue's lanes: segments below `below`, per lane, in a window of sequences.
  const lanes = windowedSource(Store.Queue, start.q, async (below, window) => {
    const segs: SegmentAt[] = [];
    let exhausted = true;
    for (const subject of laneSubjects) {
      const last = await ctx.reader.get(ctx.topology.streams.queue, { lastBySubject: subject });
      if (!last) continue;
      const top = Math.min(last.seq, below - 1);
      if (top < 1) continue;
      const from = Math.max(1, top - window + 1);
      if (from > 1) exhausted = false;
      for (const m of await scanMessages(ctx.nc, ctx.topology.streams.queue, {
        subjects: subject,
        fromSeq: from,
        max: top - from + 1,
      })) {
        if (m.seq > top) break;
        const at = { store: Store.Queue, seq: m.seq, seg: decodeSegment(m.data) };
        locator.remember(at);
        segs.push(at);
      }
    }
    return { segs, exhausted };
  });
  // The delay stream: this queue's first homes there (scheduled jobs, jobs waiting for a key).
  const delays = windowedSource(Store.Delay, start.d, async (below, window) => {
    const info = await ctx.jsm.streams.info(ctx.topology.streams.delay);
    const top = Math.min(info.state.last_seq, below - 1);
    if (top < Math.max(1, info.state.first_seq)) return { segs: [], exhausted: true };
    const from = Math.max(1, info.state.first_seq, top - window + 1);
    const segs: SegmentAt[] = [];
    for (const m of await scanMessages(ctx.nc, ctx.topology.streams.delay, {
      subjects: `${ctx.topology.prefix}.dl.>`,
      fromSeq: from,
      max: top - from + 1,
    })) {
      if (m.seq > top) break;
      let seg;
      try {
        seg = decodeSegment(m.data);
      } catch {
        continue;
      }
      if (seg.q !== q.queue || !seg.jobs.some((j) => j.home === undefined)) continue;
      const at = { store: Store.Delay, seq: m.seq, seg };
      locator.remember(at);
      segs.push(at);
    }
    return { segs, exhausted: from <= Math.max(1, info.state.first_seq) };
  });

  const jobs: JobView[] = [];
  const now = Date.now();
  const pos = { [Store.Queue]: start.q, [Store.Delay]: start.d } as Record<Store, Position>;
  let budget = LIST_SCAN_BUDGET;
  for (;;) {
    const [a, b] = [await lanes.peek(), await delays.peek()];
    if (!a && !b) return { jobs };
    // Newest segment first (by when it was written), across both sources.
    const src = !b || (a && a.seg.ts >= b.seg.ts) ? lanes : delays;
    const at = (src === lanes ? a : b)!;
    src.take();
    if (budget-- <= 0) return { jobs, next_cursor: cursorOf(pos[Store.Queue], pos[Store.Delay]) };
    const { slots } = await ctx.journals.read(at.store, at.seq, at.seg.jobs.length);
    const p = pos[at.store];
    const startIdx = at.seq === p.seq && p.idx >= 0 ? p.idx - 1 : at.seg.jobs.length - 1;
    for (let i = startIdx; i >= 0; i--) {
      if (jobs.length >= limit) {
        pos[at.store] = { seq: at.seq, idx: i + 1 };
        return { jobs, next_cursor: cursorOf(pos[Store.Queue], pos[Store.Delay]) };
      }
      if (at.seg.jobs[i]!.home !== undefined) continue; // a copy: its first home lists it
      const s = slots[i]!;
      if (isGone(s)) continue; // removed by housekeeping
      let view: JobView | undefined;
      if (forwardOf(s) || s.loc) {
        const loc = await locator.locate(jobIdAt(at, i));
        if (loc) view = buildJobView(loc.at, loc.idx, deriveState(loc.at, loc.idx, loc.slots[loc.idx]!, now));
      } else view = buildJobView(at, i, deriveState(at, i, s, now));
      if (view && (q.state === undefined || view.state === q.state)) jobs.push(view);
    }
    pos[at.store] = { seq: at.seq, idx: 0 };
  }
}
