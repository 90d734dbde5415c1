/**
 * Workflows (chain, group, batch with callbacks): create, read, cancel. The body is the OJS workflow
 * request; its steps are checked against their job types' schemas at creation.
 */
import type { WorkflowView } from "../store/workflows/workflow-record.js";
import type { Caller, UseCaseDeps } from "./deps.js";

export type { WorkflowView };

/** Creates a workflow; the caller's principal is recorded on it and its jobs as `created_by`. */
export const createWorkflow = (d: UseCaseDeps, body: unknown, caller: Caller = {}): Promise<WorkflowView> =>
  d.engine.createWorkflow(body, caller.principal);

export const getWorkflow = (d: UseCaseDeps, id: string): Promise<WorkflowView> => d.engine.getWorkflow(id);

/** Cancels a workflow and its unfinished jobs. */
export const cancelWorkflow = (d: UseCaseDeps, id: string): Promise<WorkflowView> =>
  d.engine.cancelWorkflow(id);
