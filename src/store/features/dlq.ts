/**
 * The dead-letter queue: jobs discarded with `on_exhaustion: "dead_letter"`. The job itself stays
 * where it was discarded; the index (KV `<queue>.<job id>`) lists them. The index entry is written
 * before the discard is appended, so a crash in between can leave a stale entry (the job is not
 * actually discarded) but never an unlisted dead letter; listing drops stale entries.
 *
 * Retrying a dead letter ("revive") copies the job to the end of its queue with fresh attempts and
 * no error history, and points the old slot there.
 */
import { ConflictError, NotFoundError } from "../../core/errors.js";
import { Store } from "../../core/ids.js";
import { JobState } from "../../core/states.js";
import type { DeadLetter } from "./dlq-index.js";
import { deadLetterKey } from "./dlq-index.js";
import { EventType, emitEvents } from "../jobs/events.js";
import { event } from "../jobs/events.js";
import { eraseKey, keysOf, getJson } from "../infra/kvjson.js";
import type { Located } from "../jobs/locator.js";
import { homeKeyOf, movedSpec, pointHomes, publishSegment } from "../segments/moves.js";
import { jobRef, refKey } from "../segments/segment.js";
import { CounterField } from "../queues/counters.js";
import type { Services } from "../infra/services.js";
import { keyToken, queueToken } from "../infra/topology.js";
import { advanceKey } from "./exclusive.js";
import { markKey } from "./exclusive-line.js";
import type { JobView } from "../jobs/view.js";
import { buildJobView, deriveState } from "../jobs/view.js";
import { decideAndAppend } from "../journal/journal.js";

const keyOf = deadLetterKey;

function isDeadLetter(loc: Located): boolean {
  const o = loc.slots[loc.idx]?.outcome;
  return o?.kind === "fail" && o.out === "discard" && o.dlq === true;
}

export interface DeadLetterPage {
  jobs: JobView[];
  total: number;
}

export async function listDeadLetters(
  svc: Services,
  q: { queue?: string; limit: number; offset: number },
): Promise<DeadLetterPage> {
  const { ctx, locator } = svc;
  const keys = await keysOf(ctx.buckets.dlq, q.queue === undefined ? undefined : `${queueToken(q.queue)}.*`);
  const entries: DeadLetter[] = [];
  for (const k of keys) {
    const e = await getJson<DeadLetter>(ctx.buckets.dlq, k);
    if (e) entries.push(e.value);
  }
  entries.sort((a, b) => b.at - a.at || a.id.localeCompare(b.id));
  const jobs: JobView[] = [];
  let total = entries.length;
  let skipped = 0;
  for (const e of entries) {
    if (jobs.length >= q.limit) break;
    const loc = await locator.locate(e.id);
    if (!loc || !isDeadLetter(loc)) {
      // Stale: the discard never happened, or the job moved on (retried, deleted).
      await eraseKey(ctx.jsm, ctx.topology.buckets.dlq, keyOf(e.queue, e.id)).catch(() => undefined);
      total--;
      continue;
    }
    if (skipped < q.offset) {
      skipped++;
      continue;
    }
    jobs.push(buildJobView(loc.at, loc.idx, deriveState(loc.at, loc.idx, loc.slots[loc.idx]!, Date.now())));
  }
  return { jobs, total };
}

async function requireDeadLetter(svc: Services, id: string): Promise<Located> {
  const loc = await svc.locator.locate(id);
  if (!loc || !isDeadLetter(loc) || !(await getJson(svc.ctx.buckets.dlq, keyOf(loc.at.seg.q, id)))) {
    throw new NotFoundError("dead letter", id);
  }
  return loc;
}

/** Retries a dead letter: back to `available` with attempt 0 and no errors. */
export async function retryDeadLetter(svc: Services, id: string): Promise<JobView> {
  return reviveJob(svc, await requireDeadLetter(svc, id));
}

/** Retries a finished job that did not complete (discarded, expired or cancelled): it runs again with fresh attempts. */
export async function retryJob(svc: Services, id: string): Promise<JobView> {
  const loc = await svc.locator.locate(id);
  if (!loc) throw new NotFoundError("job", id);
  const o = loc.slots[loc.idx]!.outcome;
  const revivable =
    (o?.kind === "fail" && o.out === "discard") || o?.kind === "expire" || o?.kind === "cancel";
  if (!revivable) {
    const state = buildJobView(
      loc.at,
      loc.idx,
      deriveState(loc.at, loc.idx, loc.slots[loc.idx]!, Date.now()),
    ).state;
    throw new ConflictError(`job '${id}' is ${state}; only discarded or cancelled jobs can be retried`, {
      details: { job_id: id, state },
    });
  }
  return reviveJob(svc, loc);
}

async function reviveJob(svc: Services, loc: Located): Promise<JobView> {
  const { ctx } = svc;
  const spec = movedSpec(loc, { attempt: 0 });
  delete spec.errors;
  delete spec.retryDelayMs;
  delete spec.scheduledAt;
  // A job with an exclusive key gave its key up when it was discarded: it joins the key's line again.
  const xkey = spec.xkey;
  if (xkey !== undefined && !ctx.sequencer) await markKey(svc, xkey);
  const target = await publishSegment(
    ctx,
    xkey === undefined
      ? { store: Store.Queue, queue: loc.at.seg.q, priority: loc.at.seg.p }
      : {
          store: Store.Delay,
          queue: loc.at.seg.q,
          priority: loc.at.seg.p,
          subject: ctx.sequencer ? ctx.subjects.sequenced() : ctx.subjects.hold(keyToken(xkey)),
        },
    [spec],
    `rv:${refKey(loc.at.store, loc.at.seq)}:${loc.idx}:${loc.slots[loc.idx]!.lastAttempt}`,
  );
  const to = refKey(target.store, target.seq);
  const r = await decideAndAppend(
    ctx.journals,
    loc.at.store,
    loc.at.seq,
    loc.at.seg.jobs.length,
    (_j, slots, now) => {
      const o = slots[loc.idx]!.outcome;
      const ok = (o?.kind === "fail" && o.out === "discard") || o?.kind === "expire" || o?.kind === "cancel";
      return { ops: ok ? [{ op: "revive", i: loc.idx, at: now, to, ti: 0 }] : [], value: o };
    },
  );
  if (!r.appended) {
    // Changed since we looked: retried by someone else, or removed by housekeeping (its retention
    // passed). The copy published above is never pointed at, so it never runs.
    if (r.value?.kind === "gone") throw new NotFoundError("job", loc.id);
    throw new ConflictError(`job '${loc.id}' changed meanwhile; look at it again`, {
      details: { job_id: loc.id },
    });
  }
  const homeKey = homeKeyOf(loc);
  if (homeKey !== jobRef(loc.at.store, loc.at.seq, loc.idx)) await pointHomes(svc, [{ homeKey, to, ti: 0 }]);
  await eraseKey(ctx.jsm, ctx.topology.buckets.dlq, keyOf(loc.at.seg.q, loc.id)).catch(() => undefined);
  svc.counters.add(loc.at.seg.q, CounterField.Enqueued); // unfinished again: it counts in the depth
  if (xkey !== undefined) {
    if (!ctx.sequencer) await advanceKey(svc, keyToken(xkey)).catch((err: unknown) => svc.reportError(err));
    // Waiting in its key's line (or already moved on into its lane): as any job there.
    const now = await svc.locator.locate(loc.id);
    if (now)
      return buildJobView(now.at, now.idx, deriveState(now.at, now.idx, now.slots[now.idx]!, Date.now()));
  }
  emitEvents(ctx, loc.at.seg.q, [event(target, 0, EventType.Enqueued, Date.now(), 0)]);
  const view = buildJobView(target, 0, deriveState(target, 0, { lastAttempt: 0, requeues: 0 }, Date.now()));
  return { ...view, state: JobState.Available };
}

/** Removes a dead letter from the queue (the job stays discarded). */
export async function deleteDeadLetter(
  svc: Services,
  id: string,
): Promise<{ deleted: true; job_id: string }> {
  const loc = await requireDeadLetter(svc, id);
  await eraseKey(svc.ctx.jsm, svc.ctx.topology.buckets.dlq, keyOf(loc.at.seg.q, id));
  return { deleted: true, job_id: id };
}
