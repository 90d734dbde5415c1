/**
 * Searching one queue's jobs for `GET /api/v1/jobs?queue=` (the dashboard's queue page): by type
 * (exact, or a prefix ending in `*`), by the start of the id, and by text found in the args or the
 * error (the last one and the history: message, type, code), case-insensitive.
 *
 * It reads the queue's listing (store/jobs/list.ts, newest first, in the asked state) and keeps what
 * matches, reading at most {@link SEARCH_MAX_JOBS} jobs per request, so a search over a huge queue
 * costs a bounded amount. The answer says how many jobs were read (`searched`) and, when it stopped
 * before the end, gives the cursor to search the next ones: a page never claims more than it looked at.
 */
import type { JobState } from "../core/states.js";
import type { Engine } from "../store/engine.js";
import type { JobView } from "../store/jobs/view.js";

/** Jobs one search request reads at most. */
export const SEARCH_MAX_JOBS = 5000;
/** The listing's largest page (store/jobs/list.ts). */
const PAGE = 500;
/**
 * Listing pages one request reads at most: a listing in a rare state can return few jobs per page
 * (its own bound on segments read), and the search must still end.
 */
const MAX_PAGES = 20;

export interface QueueJobFilter {
  type?: string;
  /** The start of the job id. */
  id?: string;
  /** Text in the args or the errors (case-insensitive). */
  text?: string;
}

export interface QueueJobSearch {
  /** Matching jobs, newest first: every match of the jobs read (at least `limit` unless the end came first). */
  jobs: JobView[];
  /** Jobs read (in the asked state, when there is one). */
  searched: number;
  /** Where to search on; absent when every job (in the state) was read. */
  next_cursor?: string;
}

export const hasFilter = (f: QueueJobFilter): boolean => Boolean(f.type) || Boolean(f.id) || Boolean(f.text);

function errorText(v: JobView): string {
  const errs: unknown[] = [v.error, ...(Array.isArray(v.errors) ? (v.errors as unknown[]) : [])];
  const text = (x: unknown) => (typeof x === "string" ? x : "");
  return errs
    .map((e) => (typeof e === "object" && e !== null ? (e as Record<string, unknown>) : undefined))
    .filter((e) => e !== undefined)
    .map((e) => `${text(e.message)} ${text(e.type)} ${text(e.code)}`)
    .join("\n");
}

export function matchesFilter(v: JobView, f: QueueJobFilter): boolean {
  if (f.type) {
    const ok = f.type.endsWith("*") ? v.type.startsWith(f.type.slice(0, -1)) : v.type === f.type;
    if (!ok) return false;
  }
  if (f.id && !v.id.startsWith(f.id)) return false;
  if (f.text) {
    const needle = f.text.toLowerCase();
    const hay = `${JSON.stringify(v.args ?? null)}\n${errorText(v)}`.toLowerCase();
    if (!hay.includes(needle)) return false;
  }
  return true;
}

/**
 * Reads `queue` (in `state`) from `cursor` until at least `limit` jobs match, the queue ends, or
 * {@link SEARCH_MAX_JOBS} jobs (or {@link MAX_PAGES} listing pages) were read.
 */
export async function searchQueueJobs(
  engine: Engine,
  q: { queue: string; state?: JobState; cursor?: string; limit: number },
  f: QueueJobFilter,
): Promise<QueueJobSearch> {
  const jobs: JobView[] = [];
  let searched = 0;
  let cursor = q.cursor;
  for (let n = 0; n < MAX_PAGES && jobs.length < q.limit && searched < SEARCH_MAX_JOBS; n++) {
    const page = await engine.listJobs({
      queue: q.queue,
      // Small first (a common search ends in the first page), four times larger each page after.
      limit: Math.min(PAGE, SEARCH_MAX_JOBS - searched, Math.max(1, q.limit) * 4 ** n),
      ...(q.state === undefined ? {} : { state: q.state }),
      ...(cursor === undefined ? {} : { cursor }),
    });
    searched += page.jobs.length;
    for (const v of page.jobs) if (matchesFilter(v, f)) jobs.push(v);
    cursor = page.next_cursor;
    if (cursor === undefined) return { jobs, searched };
  }
  return { jobs, searched, next_cursor: cursor! };
}
