/**
 * The unique-job keys that block a new job now (the admin UI's Unique Jobs page): each key of the
 * unique bucket whose job exists, whose `period` has not passed and whose job is in one of its policy's
 * blocking states (unique.ts decides the same way at enqueue). Keys are fingerprints (`u.<sha256>`):
 * the fields they were made from are not kept, so a key is shown with its job's type and queue.
 *
 * Cost: the bucket keeps one entry per fingerprint ever used, and whether an entry blocks depends on
 * its job's state, so a listing reads entries and looks up their jobs. It reads at most
 * {@link UNIQUE_SCAN_MAX} entries and says `truncated` when there were more.
 */
import type { JobState } from "../../core/states.js";
import { toRfc3339 } from "../../core/time.js";
import { getJson, keysOf } from "../infra/kvjson.js";
import type { Services } from "../infra/services.js";
import type { UniqueEntry } from "./unique.js";
import { DEFAULT_STATES } from "./unique.js";
import { buildJobView, deriveState } from "../jobs/view.js";

export const UNIQUE_SCAN_MAX = 5000;

export interface UniqueLockView {
  key: string;
  job_id: string;
  type: string;
  queue: string;
  state: JobState;
  locked_since: string;
  /** When the key stops blocking whatever the job's state (`unique.period`); absent: no period. */
  locked_until?: string;
}

/** The blocking keys, by key; `truncated` when the bucket had more entries than were read. */
export async function listUniqueLocks(
  svc: Services,
  nowMs = Date.now(),
): Promise<{ locks: UniqueLockView[]; truncated: boolean }> {
  const kv = svc.ctx.buckets.unique;
  const keys = (await keysOf(kv)).sort();
  const locks: UniqueLockView[] = [];
  for (const key of keys.slice(0, UNIQUE_SCAN_MAX)) {
    const e = (await getJson<UniqueEntry>(kv, key))?.value;
    if (e?.id === undefined || (e.expiresAt !== undefined && nowMs > e.expiresAt)) continue;
    const loc = await svc.locator.locate(e.id);
    if (!loc) continue;
    const v = buildJobView(loc.at, loc.idx, deriveState(loc.at, loc.idx, loc.slots[loc.idx]!, nowMs));
    const states = (v.unique as { states?: string[] } | undefined)?.states;
    if (!(states ? states.includes(v.state) : DEFAULT_STATES.has(v.state))) continue;
    const lock: UniqueLockView = {
      key,
      job_id: v.id,
      type: v.type,
      queue: v.queue,
      state: v.state,
      locked_since: toRfc3339(e.at),
    };
    if (e.expiresAt !== undefined) lock.locked_until = toRfc3339(e.expiresAt);
    locks.push(lock);
  }
  return { locks, truncated: keys.length > UNIQUE_SCAN_MAX };
}
