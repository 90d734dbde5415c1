/**
 * A workflow's record as kept in the workflows bucket (job definitions with ids chosen up front, the
 * progress made so far) and the view of it the APIs answer with. The operations on workflows are in
 * workflows.ts; listing them is in workflow-list.ts.
 */
import { toRfc3339 } from "../../core/time.js";
import type { StepDef } from "./workflow-steps.js";

export type WorkflowType = "chain" | "group" | "batch";
export type WorkflowState = "running" | "completed" | "failed" | "cancelled";
export type CallbackName = "on_success" | "on_failure" | "on_complete";

export interface JobDef {
  id: string;
  body: Record<string, unknown>;
}

export interface WorkflowRecord {
  id: string;
  name?: string;
  type: WorkflowType;
  state: WorkflowState;
  createdAt: number;
  completedAt?: number;
  jobs: JobDef[];
  callbacks: Partial<Record<CallbackName, JobDef>>;
  /** Chain: how many steps have been enqueued. */
  enqueued: number;
  /** Results of completed jobs by index (chain `parent_results`). */
  results: Record<string, unknown>;
  completed: number[];
  failed: number[];
  fired: CallbackName[];
  /** The steps of a workflow created in the http-binding form (workflow-steps.ts). */
  steps?: StepDef[];
  /** Who created it (the API token's name); its jobs carry it as `created_by`. */
  createdBy?: string;
}

export interface WorkflowView {
  id: string;
  name?: string;
  type: WorkflowType;
  state: WorkflowState;
  created_at: string;
  completed_at?: string;
  steps_total?: number;
  steps_completed?: number;
  jobs_total?: number;
  jobs_completed?: number;
  jobs_failed?: number;
  job_ids: string[];
  /** http-binding §14: each step with its job (null until enqueued) and the job's state. */
  steps?: WorkflowStepView[];
  created_by?: string;
}

export interface WorkflowStepView {
  id: string;
  type: string;
  state: string;
  job_id: string | null;
  depends_on: string[];
}

export function workflowView(r: WorkflowRecord): WorkflowView {
  const v: WorkflowView = {
    id: r.id,
    type: r.type,
    state: r.state,
    created_at: toRfc3339(r.createdAt),
    job_ids: r.type === "chain" ? r.jobs.slice(0, r.enqueued).map((j) => j.id) : r.jobs.map((j) => j.id),
  };
  if (r.name !== undefined) v.name = r.name;
  if (r.createdBy !== undefined) v.created_by = r.createdBy;
  if (r.completedAt !== undefined) v.completed_at = toRfc3339(r.completedAt);
  if (r.type === "chain") {
    v.steps_total = r.jobs.length;
    v.steps_completed = r.completed.length;
  } else {
    v.jobs_total = r.jobs.length;
    v.jobs_completed = r.completed.length;
    v.jobs_failed = r.failed.length;
  }
  return v;
}
