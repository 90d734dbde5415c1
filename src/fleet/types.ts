/**
 * Shapes of fleet (targeted) jobs: the stored record, timeline events, and the views the API returns.
 * Stored shapes use short keys where they are written per host; views use the API's snake_case.
 */

/** `query` operations only read and are safe to send again; `modify` ones are never silently re-run. */
export type OperationKind = "query" | "modify";

/** A host the target names or matches that the job is not sent to (fleet/selection.ts). */
export interface LeftOut {
  host: string;
  /** `unreachable`: offline or unknown; `skipped`: live, but cordoned, draining or lacking the operation. */
  state: "unreachable" | "skipped";
  reason: string;
}

/** A fleet job's overall status; everything but `running` is final. */
export type FleetStatus = "running" | "completed" | "partial_failure" | "failed" | "timeout" | "cancelled";

/**
 * One target's state. `unreachable`, `timeout` and `cancelled` are set by the controller; `skipped`
 * (and `unreachable` from the start) are hosts the target named or matched that the job was not sent
 * to (fleet/selection.ts), with the reason in the host's error.
 */
export type HostState =
  | "pending"
  | "acknowledged"
  | "running"
  | "completed"
  | "failed"
  | "unreachable"
  | "skipped"
  | "timeout"
  | "cancelled";

export const terminalHostStates: ReadonlySet<HostState> = new Set([
  "completed",
  "failed",
  "unreachable",
  "skipped",
  "timeout",
  "cancelled",
]);

export type TimelineEventType =
  | "submitted"
  | "resent"
  | "acknowledged"
  | "started"
  | "completed"
  | "failed"
  | "refused"
  | "unreachable"
  | "timeout"
  | "cancelled"
  | "reclaimed"
  | "retried"
  | "finished"
  /** Lines a running job wrote (`d: { stream, lines, dropped_lines? }`; agent/output.ts). */
  | "output"
  /** A running handler's progress (`d: { progress }`). */
  | "progress"
  /** A pick-one job moved from a silent host (`h`) to another (`d: { from, to, reason, try }`). */
  | "moved";

/** One append-only timeline entry, stored on `<prefix>.ft.<job>.<host token>`. */
export interface TimelineEvent {
  e: TimelineEventType;
  /** The host it is about (absent for job-wide controller events). */
  h?: string;
  /** Epoch ms. */
  at: number;
  /** The dispatch epoch it belongs to. */
  ep: number;
  /** Who wrote it: the agent's instance or the controller's id. */
  by?: string;
  d?: Record<string, unknown>;
}

/** The stored job record (`j.<id>` in the fleet bucket). Ownership changes by compare-and-set. */
export interface FleetRecord {
  v: 1;
  id: string;
  op: string;
  kind: OperationKind;
  args: unknown;
  target: string;
  /** The resolved set of hostnames the job is sent to, fixed at dispatch. */
  hosts: string[];
  /** Hosts the target named or matched that the job was not sent to, and why (fleet/selection.ts). */
  left_out?: LeftOut[];
  created_at: number;
  deadline_at: number;
  ack_window_ms: number;
  status: FleetStatus;
  /** Controller that owns the dispatch now. */
  owner: string;
  /** Grows with every change of owner; agents refuse dispatches with a smaller one. */
  epoch: number;
  reclaims: number;
  finished_at?: number;
  /** Per-state host counts, written when the job finishes. */
  counts?: FleetCounts;
  reason?: string;
  meta?: Record<string, unknown>;
  retry_of?: string;
  traceparent?: string;
  /** The target picks one agent (`any`, `…:any`): a silent pick is moved to another candidate. */
  pick_one?: boolean;
  /** Hosts a pick-one job was moved away from (they never acknowledged it), in order. */
  moved_from?: string[];
  /** Who created the job: the API token's name (or `cron:<name>`). */
  created_by?: string;
}

/** What the controller sends to an agent (core NATS). */
export interface DispatchRequest {
  id: string;
  op: string;
  kind: OperationKind;
  args: unknown;
  epoch: number;
  deadline_at: number;
  traceparent?: string;
}

export interface HostResultView {
  host: string;
  state: HostState;
  result?: unknown;
  error?: { code: string; message: string };
  acknowledged_at?: string;
  started_at?: string;
  finished_at?: string;
  duration_ms?: number;
  /** The last line of output the host reported (while it runs: what it is doing now). */
  last_output?: string;
  /** The last progress the host's handler reported. */
  progress?: unknown;
}

export interface TimelineEventView {
  event: TimelineEventType;
  host?: string;
  timestamp: string;
  epoch: number;
  data?: Record<string, unknown>;
}

export interface FleetCounts {
  total: number;
  pending: number;
  running: number;
  completed: number;
  failed: number;
  unreachable: number;
  skipped: number;
  timeout: number;
  cancelled: number;
}

export interface FleetJobView {
  id: string;
  target: string;
  op: string;
  op_kind: OperationKind;
  args: unknown;
  status: FleetStatus;
  hosts: string[];
  /** Hosts the target named or matched that the job was not sent to, and why. */
  left_out?: LeftOut[];
  counts: FleetCounts;
  results: HostResultView[];
  created_at: string;
  deadline_at: string;
  finished_at?: string;
  reason?: string;
  owner: string;
  epoch: number;
  reclaims: number;
  meta?: Record<string, unknown>;
  retry_of?: string;
  /** W3C trace context of the request that created the job. */
  traceparent?: string;
  /** Hosts a pick-one job was moved away from because they did not acknowledge it. */
  moved_from?: string[];
  /** Who created the job: the API token's name (or `cron:<name>`). */
  created_by?: string;
  timeline?: TimelineEventView[];
}
