/**
 * Listing a queue's jobs, newest first, with a cursor. Jobs are listed from the segments that are
 * their first home (copies made by retries and splits are not listed twice); a job that moved on is
 * shown as it is now. The cursor is a stream sequence: the next page continues below it.
 *
 * Reading goes backwards through each lane in growing windows, so a page costs about as many reads
 * as it shows jobs, whatever the queue's length.
 */
import { Store } from "../core/ids.js";
import type { JobState } from "../core/states.js";
import { forwardOf, isGone } from "./fold.js";
import type { Services } from "./services.js";
import type { JobView } from "./view.js";
import { buildJobView, deriveState } from "./view.js";
import { jobIdAt } from "./segment.js";

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

export async function listJobs(svc: Services, q: ListQuery): Promise<JobPage> {
  const { ctx, locator } = svc;
  const limit = Math.min(Math.max(q.limit ?? 50, 1), 500);
  const rec = await ctx.queues.get(q.queue);
  if (!rec) return { jobs: [] };
  // Cursor "seq.idx": continue in segment `seq` below slot `idx`.
  const m = q.cursor === undefined ? null : /^(\d+)\.(\d+)$/.exec(q.cursor);
  let curSeq = m ? Number(m[1]) : Number.MAX_SAFE_INTEGER;
  let curIdx = m ? Number(m[2]) : -1;
  const stream = ctx.topology.streams.queue;
  const lanes = rec.lanes.map((p) => ctx.subjects.lane(q.queue, p));
  const jobs: JobView[] = [];
  const now = Date.now();
  let window = 64;
  for (;;) {
    // Segment sequences of every lane at or below the cursor, newest first, read in a window.
    const seqs: number[] = [];
    let more = false;
    for (const subject of lanes) {
      const last = await ctx.reader.get(stream, { lastBySubject: subject });
      if (!last) continue;
      const top = Math.min(last.seq, curSeq);
      if (top < 1) continue;
      const from = Math.max(1, top - window);
      if (from > 1) more = true;
      for (const msg of await ctx.reader.all(stream, subject, from, window + 1))
        if (msg.seq <= top) seqs.push(msg.seq);
    }
    seqs.sort((a, b) => b - a);
    for (const seq of seqs) {
      const at = await locator.segment(Store.Queue, seq);
      if (!at) continue;
      const { slots } = await ctx.journals.read(Store.Queue, seq, at.seg.jobs.length);
      const startIdx = seq === curSeq && curIdx >= 0 ? curIdx - 1 : at.seg.jobs.length - 1;
      for (let i = startIdx; i >= 0; i--) {
        if (jobs.length >= limit) return { jobs, next_cursor: `${seq}.${i + 1}` };
        if (at.seg.jobs[i]!.home !== undefined) continue; // a copy: its first home lists it
        const s = slots[i]!;
        if (isGone(s)) continue; // removed by housekeeping
        let view: JobView | undefined;
        if (forwardOf(s) || s.loc) {
          const loc = await locator.locate(jobIdAt(at, i));
          if (loc)
            view = buildJobView(loc.at, loc.idx, deriveState(loc.at, loc.idx, loc.slots[loc.idx]!, now));
        } else view = buildJobView(at, i, deriveState(at, i, s, now));
        if (view && (q.state === undefined || view.state === q.state)) jobs.push(view);
      }
      curSeq = seq - 1;
      curIdx = -1;
    }
    if (!more || seqs.length === 0) return { jobs };
    window *= 4;
  }
}
