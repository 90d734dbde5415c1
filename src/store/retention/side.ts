/**
 * The entries that go with removed jobs: the dead-letter index entry of a dead letter, the id index
 * entry of a client-chosen id, a unique-job fingerprint held by the job, and a workflow record once
 * every job of the workflow is gone. Each is read first and removed only if it still belongs to the
 * removed job, so running this twice (a check repeated after a crash) does no harm.
 */
import type { JobSpec } from "../../core/envelope.js";
import { deadLetterKey } from "../features/dlq-index.js";
import { eraseKey, getJson } from "../infra/kvjson.js";
import type { IdRecord } from "../jobs/id-index.js";
import type { SegmentAt } from "../segments/segment.js";
import { jobIdAt, refKey } from "../segments/segment.js";
import type { Services } from "../infra/services.js";
import { fingerprint } from "../features/unique.js";
import { readWorkflow, workflowJobIds } from "../workflows/workflows.js";
import type { SlotFate } from "./fates.js";

/**
 * Removes the side entries of the jobs of `at` (all of them are gone or past their retention).
 * `fates` (when known) narrows the dead-letter lookups to the jobs that ended as dead letters.
 */
export async function removeSideEntries(
  svc: Services,
  at: SegmentAt,
  fates: readonly SlotFate[] | undefined,
): Promise<void> {
  const { ctx } = svc;
  const here = refKey(at.store, at.seq);
  const workflows = new Set<string>();
  for (let i = 0; i < at.seg.jobs.length; i++) {
    const spec = at.seg.jobs[i]!;
    const id = jobIdAt(at, i);
    if (spec.id !== undefined && spec.home === undefined) await removeIdEntry(svc, id, here);
    const deadLetter = fates ? fates[i]?.kind === "dead_letter" : spec.retry?.onExhaustion === "dead_letter";
    if (deadLetter) await eraseKey(ctx.jsm, ctx.topology.buckets.dlq, deadLetterKey(at.seg.q, id));
    if (spec.unique !== undefined && spec.home === undefined) await removeUniqueEntry(svc, at, spec, id);
    if (spec.workflow !== undefined) workflows.add(spec.workflow.id);
  }
  for (const wf of workflows) await removeWorkflowIfDone(svc, wf);
}

/** The id index entry, if it still points at this segment (the job's first home). */
async function removeIdEntry(svc: Services, id: string, here: string): Promise<void> {
  const e = await getJson<IdRecord>(svc.ctx.buckets.ids, id);
  if (e && e.value.ref === here) await eraseKey(svc.ctx.jsm, svc.ctx.topology.buckets.ids, id, e.revision);
}

/** The unique-job fingerprint, if this job still holds it. */
async function removeUniqueEntry(svc: Services, at: SegmentAt, spec: JobSpec, id: string): Promise<void> {
  const key = fingerprint({ queue: at.seg.q, priority: at.seg.p, spec }, spec.unique!);
  const e = await getJson<{ id?: string }>(svc.ctx.buckets.unique, key);
  // Up to the revision read: a new job that took the fingerprint over since keeps it.
  if (e?.value.id === id) await eraseKey(svc.ctx.jsm, svc.ctx.topology.buckets.unique, key, e.revision);
}

/** A finished workflow's record goes once none of its jobs can be found any more. */
async function removeWorkflowIfDone(svc: Services, id: string): Promise<void> {
  const rec = await readWorkflow(svc, id);
  if (!rec || rec.state === "running") return;
  // Newest first: while any job is left, the first lookup usually finds it.
  for (const jobId of workflowJobIds(rec).reverse()) {
    if (await svc.locator.locate(jobId)) return;
  }
  const bucket = svc.ctx.topology.buckets.workflows;
  await eraseKey(svc.ctx.jsm, bucket, `wf.${id}`);
  await eraseKey(svc.ctx.jsm, bucket, `running.${id}`);
}
