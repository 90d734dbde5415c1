/**
 * Deleting one finished job by hand (the dashboard's and the Admin API's bulk delete, ojs-admin-api
 * §8.3), ahead of its retention. It is what housekeeping does to such a job (retention/segments.ts
 * step 2): a `gone` op on the slot where the job ended, appended with compare-and-set, after which
 * lookups and listings report the job as not found (locator.ts, list.ts) and the segment is removed
 * by housekeeping once the rest of it is gone too. Its dead-letter entry goes at once.
 *
 * Only finished jobs (completed, discarded, cancelled) can be deleted: a waiting or running job must be
 * cancelled first, so that no worker holds a job that no longer exists. A job of a workflow is
 * refused too: the workflow reads its steps' results and states until the workflow itself goes.
 * Queue counters are totals of what finished, so a deletion does not lower them.
 */
import { ConflictError } from "../../core/errors.js";
import { isTerminal } from "../../core/states.js";
import { deadLetterKey } from "../features/dlq-index.js";
import { eraseKey } from "../infra/kvjson.js";
import { mutate } from "./operations.js";
import type { Services } from "../infra/services.js";

/** Deletes finished job `id`; 404 when there is none, 409 `conflict` when it is not finished. */
export async function deleteJob(svc: Services, id: string): Promise<{ deleted: true; job_id: string }> {
  const { ctx } = svc;
  const queue = await mutate(svc, id, (loc, d, now) => {
    const spec = loc.at.seg.jobs[loc.idx]!;
    if (!isTerminal(d.state)) {
      throw new ConflictError(
        `job '${id}' is ${d.state}; only completed, discarded or cancelled jobs can be deleted (cancel it first)`,
        { details: { job_id: id, current_state: d.state } },
      );
    }
    if (spec.workflow !== undefined) {
      throw new ConflictError(
        `job '${id}' is a step of workflow '${spec.workflow.id}'; it is removed with the workflow`,
        { details: { job_id: id, current_state: d.state, workflow_id: spec.workflow.id } },
      );
    }
    return { ops: [{ op: "gone", i: loc.idx, at: now }], done: () => loc.at.seg.q };
  });
  await eraseKey(ctx.jsm, ctx.topology.buckets.dlq, deadLetterKey(queue, id)).catch(() => undefined);
  return { deleted: true, job_id: id };
}
