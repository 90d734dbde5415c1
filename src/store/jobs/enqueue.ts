/**
 * Enqueue with the job policies that act at enqueue time: a queue's rate limit set through
 * `options.rate_limit`, and unique keys. Used by the API engine and the NATS client alike.
 */
import { ConflictError, ErrorCode } from "../../core/errors.js";
import type { NormalizedEnqueue } from "../../core/envelope.js";
import type { KeySource } from "../../core/key-template.js";
import { renderKeyTemplate } from "../../core/key-template.js";
import type { QueuePressure } from "../queues/backpressure.js";
import { withinBounds } from "../queues/backpressure.js";
import { advanceKeys } from "../features/exclusive.js";
import { keyToken } from "../infra/topology.js";
import { markKey } from "../features/exclusive-line.js";
import { assertExclusiveMode } from "../features/exclusive-mode.js";
import { Store } from "../../core/ids.js";
import { JobState as S } from "../../core/states.js";
import { jobIdAt } from "../segments/segment.js";
import { syncSequencer } from "../features/exclusive-sequencer-requests.js";
import { emptySlots } from "../journal/fold.js";
import { deleteForGood } from "../infra/kvjson.js";
import { checkEnqueue } from "./payload-limits.js";
import type { Placement } from "../segments/batches.js";
import type { Services } from "../infra/services.js";
import { recordUnique, reserveUnique } from "../features/unique.js";
import type { JobView } from "./view.js";
import { buildJobView, deriveState } from "./view.js";

export interface Enqueued {
  job: JobView;
  /** False when a unique job with `on_conflict: "ignore"` returned the existing job. */
  created: boolean;
  /** Where the args do not match the type's schema, in `warn` mode (schema-registry.ts). */
  warnings?: string[];
  /** The depth of the job's queue after it, when the queue is bounded (backpressure.ts). */
  pressure?: QueuePressure;
}

export async function enqueueJobs(
  svc: Services,
  items: NormalizedEnqueue[],
  atomic = false,
): Promise<Enqueued[]> {
  const { ctx } = svc;
  checkEnqueue(ctx, items, atomic); // before anything is written
  const warnings = await svc.schemas.check(items); // strict mode: throws before anything is written
  ctx.storage.admit(); // refused while the store is (nearly) full: stored jobs keep the room they need
  for (const n of items) {
    if (
      n.rateLimitPerSecond !== undefined &&
      ctx.queues.cached(n.queue)?.rateLimitPerSecond !== n.rateLimitPerSecond
    ) {
      const perSecond = n.rateLimitPerSecond;
      await ctx.queues.update(n.queue, (r) => {
        r.rateLimitPerSecond = perSecond;
      });
    }
  }

  const { value: results, pressure } = await withinBounds(svc, items, () => storeJobs(svc, items, atomic));
  if (pressure.length === 0 && warnings.every((w) => w === undefined)) return results;
  return results.map((r, i) => {
    const out: Enqueued = { ...r };
    const w = warnings[i];
    if (w && w.length > 0 && r.created) out.warnings = w;
    const p = pressure.find((x) => x.queue === items[i]!.queue);
    if (p) out.pressure = p;
    return out;
  });
}

/** Stores jobs that passed the checks: exclusive keys, unique keys, the producer. */
async function storeJobs(svc: Services, items: NormalizedEnqueue[], atomic: boolean): Promise<Enqueued[]> {
  const { ctx } = svc;
  // A client-chosen id must not be an existing job's (a server-made id locates its job without the
  // id index, so only a lookup finds it): it would be stored as a second, hidden job.
  for (const n of items) {
    if (n.spec.id !== undefined && (await svc.locator.locate(n.spec.id))) {
      throw new ConflictError(`a job with id '${n.spec.id}' already exists`, {
        code: ErrorCode.Duplicate,
        details: { job_id: n.spec.id },
      });
    }
  }
  if (items.some((n) => mayHaveKeyTemplate(svc, n))) await applyKeyTemplates(svc, items);
  // A process started before the deployment's mode changed refuses keyed jobs (exclusive-mode.ts).
  if (items.some((n) => n.spec.xkey !== undefined)) await assertExclusiveMode(ctx);
  const keys = new Set<string>();
  // With the sequencer, the line is read in order by the scheduler leader: no marker, no hand-over here.
  if (!ctx.sequencer) for (const n of items) if (n.spec.xkey !== undefined) keys.add(n.spec.xkey);
  // Mark before storing: a crash after the store leaves a marker for the leader's sweep.
  if (keys.size > 0) await Promise.all([...keys].map((k) => markKey(svc, k)));

  const results: Array<Enqueued | undefined> = new Array<Enqueued | undefined>(items.length);
  /** Jobs of this call that got their key and went to their lane before it returns. */
  let handed = new Set<string>();
  const toStore: Array<{ n: NormalizedEnqueue; slot: number; uniqueKey?: string }> = [];
  const reserved: string[] = [];
  try {
    for (const [slot, n] of items.entries()) {
      if (!n.spec.unique) {
        toStore.push({ n, slot });
        continue;
      }
      const d = await reserveUnique(svc, n);
      if (d.kind === "existing") results[slot] = { job: d.job, created: false };
      else {
        reserved.push(d.key);
        toStore.push({ n, slot, uniqueKey: d.key });
      }
    }
    const placed: Placement[] = await svc.producer.enqueue(
      toStore.map((t) => t.n),
      { atomic },
    );
    const now = Date.now();
    const unique: Array<Promise<void>> = [];
    toStore.forEach((t, k) => {
      const p = placed[k]!;
      const job = buildJobView(p.at, p.idx, deriveState(p.at, p.idx, NEW_SLOT, now));
      if (t.uniqueKey !== undefined) unique.push(recordUnique(svc, t.uniqueKey, job.id, t.n.spec.unique!));
      results[t.slot] = { job, created: true };
    });
    if (unique.length > 0) await Promise.all(unique);
    if (ctx.sequencer) {
      // As with per-key lines, the enqueue returns once free keys went to their new jobs.
      const lined = placed.filter(
        (p) => p.at.store === Store.Delay && p.at.seg.due === undefined && p.at.seg.jobs[p.idx]!.xkey,
      );
      if (lined.length > 0) {
        const jobs = lined.map((p): [string, string] => [
          keyToken(p.at.seg.jobs[p.idx]!.xkey!),
          jobIdAt(p.at, p.idx),
        ]);
        handed = await syncSequencer(svc, Math.max(...lined.map((p) => p.at.seq)), jobs);
      }
    }
  } catch (err) {
    // Nothing (or not everything) was stored: free the unique keys this call reserved.
    await Promise.all(
      reserved.map((k) =>
        deleteForGood(ctx.buckets.unique, ctx.jsm, ctx.topology.buckets.unique, k).catch(() => undefined),
      ),
    );
    throw err;
  }
  // Hand free keys to their first waiting job. A failure here only delays it until the leader's sweep.
  // Their new holders share lane segments (exclusive-handover.ts).
  if (keys.size > 0) {
    try {
      handed = await advanceKeys(
        svc,
        [...keys].map((k) => keyToken(k)),
      );
    } catch (err) {
      svc.reportError(err);
    }
  }
  // The views were made as the jobs were stored: a job handed its key since is in its lane now.
  for (const r of results)
    if (r?.created && handed.has(r.job.id) && r.job.state === S.Pending) r.job.state = S.Available;
  return results.map((r) => r!);
}

const NEW_SLOT = emptySlots(1)[0]!;

/** False when the job needs no key template: it has its own key, or its queue (known) has no template. */
function mayHaveKeyTemplate(svc: Services, n: NormalizedEnqueue): boolean {
  if (n.spec.xkey !== undefined) return false;
  const rec = svc.ctx.queues.cached(n.queue);
  return rec === undefined || rec.exclusiveKeyTemplate !== undefined;
}

/** Fills in exclusive keys from the queues' key templates (an explicit `exclusive_key` wins). */
async function applyKeyTemplates(svc: Services, items: NormalizedEnqueue[]): Promise<void> {
  for (const n of items) {
    if (n.spec.xkey !== undefined) continue;
    const rec = svc.ctx.queues.cached(n.queue) ?? (await svc.ctx.queues.get(n.queue));
    const template = rec?.exclusiveKeyTemplate;
    if (template === undefined) continue;
    const source: KeySource = { type: n.spec.type, queue: n.queue, args: n.spec.args };
    if (n.spec.meta !== undefined) source.meta = n.spec.meta;
    n.spec.xkey = renderKeyTemplate(template, source);
  }
}

/** The view of a freshly stored job, for callers that placed jobs themselves. */
export function freshView(p: Placement): JobView {
  return buildJobView(p.at, p.idx, deriveState(p.at, p.idx, NEW_SLOT, Date.now()));
}
