/**
 * Finding jobs for the OJS Admin API's job list and bulk operations, across one queue or all of
 * them, with the admin filters (state, type, created since/until). It reads through the engine's
 * per-queue listing (store/jobs/list.ts, newest first, bounded work per page), so it adds no store logic:
 * each queue is read only as far as the page asked for needs, and the queues are merged newest first.
 *
 * The work is bounded: at most {@link MAX_QUEUES} queues and {@link MAX_LIST_PAGES} listing pages per
 * queue; a search that stops at a bound says so (`complete: false`).
 */
import type { JobState } from "../core/states.js";
import type { Engine } from "../store/engine.js";
import type { JobView } from "../store/jobs/view.js";
import type { QueueStats } from "../store/queues/stats.js";
import type { JobMatch } from "./ojs-admin-views.js";
import { countsOf, hasMatch, matchesJob } from "./ojs-admin-views.js";

/** Queues one search reads at most (the first by name). */
export const MAX_QUEUES = 500;
/** Listing pages (each up to 500 jobs, store/jobs/list.ts) read per queue at most. */
export const MAX_LIST_PAGES = 40;
/** Queues read at once. */
const QUEUES_IN_FLIGHT = 8;

export interface JobSearch {
  queue?: string;
  /** One state (read by the listing itself), or a set of states to keep. */
  state?: JobState;
  states?: ReadonlySet<JobState>;
  match: JobMatch;
}

export interface SearchResult {
  /** Newest first, at most `want`. */
  jobs: JobView[];
  /** Whether more matching jobs exist beyond `want` (or may, when not `complete`). */
  more: boolean;
  /** False when the search stopped at a bound before reading everything it needed. */
  complete: boolean;
}

const newestFirst = (a: JobView, b: JobView) =>
  String(b.created_at).localeCompare(String(a.created_at)) || b.id.localeCompare(a.id);

/**
 * The first `want` matching jobs, newest first. `candidates`: the queues worth reading (by default
 * every queue; see {@link queuesWithJobs}).
 */
export async function searchJobs(
  engine: Engine,
  s: JobSearch,
  want: number,
  candidates?: readonly string[],
): Promise<SearchResult> {
  let names: string[];
  let complete = true;
  if (s.queue !== undefined) names = [s.queue];
  else {
    names = [...(candidates ?? (await engine.listQueues()).map((q) => q.name))].sort();
    if (names.length > MAX_QUEUES) {
      names = names.slice(0, MAX_QUEUES);
      complete = false;
    }
  }
  const perQueue: JobView[][] = [];
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++]!;
      const r = await searchQueue(engine, name, s, want + 1);
      if (!r.complete) complete = false;
      perQueue.push(r.jobs);
    }
  };
  await Promise.all(Array.from({ length: Math.min(QUEUES_IN_FLIGHT, names.length) }, worker));
  const all = perQueue.flat().sort(newestFirst);
  return { jobs: all.slice(0, want), more: all.length > want || !complete, complete };
}

async function searchQueue(
  engine: Engine,
  queue: string,
  s: JobSearch,
  want: number,
): Promise<{ jobs: JobView[]; complete: boolean }> {
  const jobs: JobView[] = [];
  const sifted = s.states !== undefined || hasMatch(s.match);
  let cursor: string | undefined;
  for (let page = 0; page < MAX_LIST_PAGES; page++) {
    const r = await engine.listJobs({
      queue,
      // Only as many as still wanted when the listing applies every filter; full pages otherwise.
      limit: sifted ? 500 : Math.min(500, Math.max(1, want - jobs.length)),
      ...(s.state === undefined ? {} : { state: s.state }),
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const v of r.jobs) {
      if (s.states !== undefined && !s.states.has(v.state)) continue;
      if (!matchesJob(v, s.match)) continue;
      jobs.push(v);
      if (jobs.length >= want) return { jobs, complete: true };
    }
    if (r.next_cursor === undefined) return { jobs, complete: true };
    cursor = r.next_cursor;
  }
  return { jobs, complete: false };
}

/**
 * The queues whose statistics say they may hold jobs in `state` (any state when undefined): the rest
 * need not be read. A queue whose figures are estimates is always kept.
 */
export function queuesWithJobs(stats: readonly QueueStats[], state: JobState | undefined): string[] {
  return stats
    .filter((q) => {
      if (q.approximate === true) return true;
      const c = countsOf(q);
      return state === undefined ? Object.values(c).some((n) => n > 0) : c[state] > 0;
    })
    .map((q) => q.name);
}
