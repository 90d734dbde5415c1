/**
 * What users see of exclusive keys: which job (and worker) holds each active key, since when, and how
 * many jobs wait for it, per key (`GET /api/v1/exclusive-keys`) and per queue (queue stats).
 */
import { Store } from "../../core/ids.js";
import { toRfc3339 } from "../../core/time.js";
import { activeKeyTokens } from "./exclusive.js";
import { keyFromToken, keyToken } from "../infra/topology.js";
import { readKey } from "./exclusive-line.js";
import { requestSequencerView } from "./exclusive-sequencer-requests.js";
import { BackendError } from "../../core/errors.js";
import type { Services } from "../infra/services.js";
import { buildJobView, deriveState } from "../jobs/view.js";

/** Waiting jobs are counted up to this many per key; beyond it the count is a lower bound. */
export const MAX_WAITING_COUNTED = 1000;

export interface ExclusiveKeyView {
  key: string;
  holder: { job_id: string; queue: string; since: string; state?: string; worker_id?: string } | null;
  /** Jobs waiting for the key (at most {@link MAX_WAITING_COUNTED}; see `waiting_capped`). */
  waiting: number;
  waiting_capped?: boolean;
  /** Waiting jobs by queue. */
  waiting_by_queue: Record<string, number>;
}

/** Every key that is held or has waiting jobs; with `queue`, only keys that involve that queue. */
export async function listExclusiveKeys(
  svc: Services,
  q: { queue?: string } = {},
): Promise<ExclusiveKeyView[]> {
  if (svc.ctx.sequencer) return sequencedKeys(svc, q);
  const out: ExclusiveKeyView[] = [];
  for (const token of await activeKeyTokens(svc)) {
    const v = await describeKey(svc, token);
    if (!v) continue;
    if (q.queue !== undefined && v.holder?.queue !== q.queue && !(q.queue in v.waiting_by_queue)) continue;
    out.push(v);
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

/** {@link listExclusiveKeys} from the sequencer (exclusive-sequencer.ts), which holds them in memory. */
async function sequencedKeys(svc: Services, q: { queue?: string }): Promise<ExclusiveKeyView[]> {
  let answer = await requestSequencerView(svc);
  // A leader elected a moment ago reads the line first.
  for (let i = 0; i < 20 && answer?.ready === false; i++) {
    await new Promise((r) => setTimeout(r, 100));
    answer = await requestSequencerView(svc);
  }
  if (!answer?.ready) {
    throw new BackendError("no scheduler leader answered for exclusive keys; try again shortly");
  }
  const out: ExclusiveKeyView[] = [];
  for (const k of answer.keys) {
    if (q.queue !== undefined && k.holder?.q !== q.queue && !(q.queue in k.waiting)) continue;
    const view: ExclusiveKeyView = { key: k.key, holder: null, waiting: 0, waiting_by_queue: k.waiting };
    for (const n of Object.values(k.waiting)) view.waiting += n;
    if (k.holder) view.holder = await describeHolder(svc, k.holder);
    out.push(view);
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

async function describeHolder(
  svc: Services,
  h: { job: string; q: string; since: number },
): Promise<NonNullable<ExclusiveKeyView["holder"]>> {
  const holder: NonNullable<ExclusiveKeyView["holder"]> = {
    job_id: h.job,
    queue: h.q,
    since: toRfc3339(h.since),
  };
  const loc = await svc.locator.locate(h.job);
  if (loc) {
    const job = buildJobView(loc.at, loc.idx, deriveState(loc.at, loc.idx, loc.slots[loc.idx]!, Date.now()));
    holder.state = job.state;
    if (typeof job.worker_id === "string") holder.worker_id = job.worker_id;
  }
  return holder;
}

/** One key's holder and waiting jobs (by its token, topology.ts `keyToken`); undefined when idle. */
export async function describeKey(svc: Services, token: string): Promise<ExclusiveKeyView | undefined> {
  if (svc.ctx.sequencer) return (await sequencedKeys(svc, {})).find((k) => keyToken(k.key) === token);
  const rec = await readKey(svc, token);
  const view: ExclusiveKeyView = {
    key: rec?.key ?? keyFromToken(token),
    holder: null,
    waiting: 0,
    waiting_by_queue: {},
  };
  if (rec?.holder) view.holder = await describeHolder(svc, rec.holder);
  await countWaiting(svc, token, rec?.cursor ?? { seq: 0, idx: -1 }, view);
  if (!view.holder && view.waiting === 0) return undefined;
  return view;
}

async function countWaiting(
  svc: Services,
  token: string,
  cursor: { seq: number; idx: number },
  view: ExclusiveKeyView,
): Promise<void> {
  const { ctx } = svc;
  const subject = ctx.subjects.hold(token);
  const now = Date.now();
  let seq = cursor.seq;
  for (;;) {
    const m = await ctx.reader.get(ctx.topology.streams.delay, { nextBySubject: subject, seq });
    if (!m) return;
    const at = await svc.locator.segment(Store.Delay, m.seq);
    seq = m.seq + 1;
    if (!at) continue;
    const { slots } = await ctx.journals.read(Store.Delay, m.seq, at.seg.jobs.length);
    for (let i = m.seq === cursor.seq ? cursor.idx + 1 : 0; i < slots.length; i++) {
      if (slots[i]!.outcome) continue;
      const expiresAt = at.seg.jobs[i]!.expiresAt;
      if (expiresAt !== undefined && now > expiresAt) continue;
      if (view.waiting >= MAX_WAITING_COUNTED) {
        view.waiting_capped = true;
        return;
      }
      view.waiting++;
      view.waiting_by_queue[at.seg.q] = (view.waiting_by_queue[at.seg.q] ?? 0) + 1;
    }
  }
}

/**
 * The keys for statistics and metrics, which must not fail with the leader: when no leader answers,
 * none if no job with a key was ever stored, else undefined (unknown).
 */
export async function exclusiveKeysForStats(
  svc: Services,
  q: { queue?: string } = {},
): Promise<ExclusiveKeyView[] | undefined> {
  if (!svc.ctx.sequencer) return listExclusiveKeys(svc, q);
  try {
    return await sequencedKeys(svc, q);
  } catch (err) {
    if (!(err instanceof BackendError)) throw err;
  }
  const { ctx } = svc;
  const any = await ctx.reader.get(ctx.topology.streams.delay, { lastBySubject: ctx.subjects.sequenced() });
  return any ? undefined : [];
}
