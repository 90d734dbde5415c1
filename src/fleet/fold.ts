/**
 * Pure folding of a fleet job's timeline into per-host states and the job's status. The controller,
 * the API and the CLI all use it, so "what happened on each host" has one definition.
 *
 * Rules: a host moves forward only (pending → acknowledged → running → final). A real result from the
 * agent (`completed` / `failed`) is final and also replaces a verdict the controller reached without it
 * (`unreachable`, `timeout`): the agent did answer, just late. Controller verdicts never replace a result.
 */
import type {
  FleetCounts,
  FleetRecord,
  FleetStatus,
  HostResultView,
  HostState,
  LeftOut,
  TimelineEvent,
  TimelineEventView,
} from "./types.js";
import { terminalHostStates } from "./types.js";

export interface HostFold {
  host: string;
  state: HostState;
  result?: unknown;
  error?: { code: string; message: string };
  acknowledgedAt?: number;
  startedAt?: number;
  finishedAt?: number;
  durationMs?: number;
  /** Highest epoch the agent acted on. */
  epoch: number;
  /** The controller has sent the job a second time. */
  resent: boolean;
  lastOutput?: string;
  progress?: unknown;
}

/** A host's state only moves to a higher rank; results (4) outrank controller verdicts (3). */
const rank: Record<HostState, number> = {
  pending: 0,
  acknowledged: 1,
  running: 2,
  unreachable: 3,
  skipped: 3,
  timeout: 3,
  cancelled: 3,
  completed: 4,
  failed: 4,
};

/**
 * A fold per host the job was sent to (pending), and one per host it left out (final from the start,
 * with the reason as its error: fleet/selection.ts).
 */
export function newHostFolds(
  hosts: readonly string[],
  leftOut: readonly LeftOut[] = [],
): Map<string, HostFold> {
  const folds = new Map<string, HostFold>(
    hosts.map((h) => [h.toLowerCase(), { host: h, state: "pending", epoch: 0, resent: false }]),
  );
  for (const l of leftOut) {
    folds.set(l.host.toLowerCase(), {
      host: l.host,
      state: l.state,
      error: { code: l.state, message: l.reason },
      epoch: 0,
      resent: false,
    });
  }
  return folds;
}

/** Applies one event; returns whether the host's state changed. Events for unknown hosts are ignored. */
export function applyEvent(folds: Map<string, HostFold>, ev: TimelineEvent): boolean {
  if (ev.h === undefined) return false;
  if (ev.e === "moved") return applyMove(folds, ev.h, ev.d?.to);
  const f = folds.get(ev.h.toLowerCase());
  if (!f) return false;
  const before = f.state;
  const move = (to: HostState) => {
    if (rank[to] > rank[f.state]) f.state = to;
  };
  switch (ev.e) {
    case "output": {
      const lines = ev.d?.lines;
      const last: unknown = Array.isArray(lines) ? (lines as unknown[])[lines.length - 1] : undefined;
      if (typeof last === "string") f.lastOutput = last;
      return false;
    }
    case "progress":
      f.progress = ev.d?.progress;
      return false;
    case "resent":
      f.resent = true;
      return false;
    case "acknowledged":
      f.acknowledgedAt ??= ev.at;
      f.epoch = Math.max(f.epoch, ev.ep);
      move("acknowledged");
      break;
    case "started":
      f.startedAt ??= ev.at;
      f.epoch = Math.max(f.epoch, ev.ep);
      move("running");
      break;
    case "completed":
    case "failed":
      if (rank[f.state] >= 4) return false; // the first result counts
      f.finishedAt = ev.at;
      f.epoch = Math.max(f.epoch, ev.ep);
      if (ev.e === "completed") {
        f.state = "completed";
        f.result = ev.d?.result;
      } else {
        f.error = asError(ev.d?.error) ?? { code: "handler_error", message: "failed" };
        // What a failed operation produced (a command's exit code and output), beside the error.
        if (ev.d?.result !== undefined) f.result = ev.d.result;
        // The agent stopped the handler at the job's deadline: the same outcome as no answer in time.
        f.state = f.error.code === "timeout" ? "timeout" : "failed";
      }
      if (typeof ev.d?.duration_ms === "number") f.durationMs = ev.d.duration_ms;
      else if (f.startedAt !== undefined) f.durationMs = ev.at - f.startedAt;
      break;
    case "unreachable":
    case "timeout":
    case "cancelled":
      if (terminalHostStates.has(f.state)) return false;
      f.state = ev.e;
      f.finishedAt = ev.at;
      f.error = asError(ev.d?.error) ?? { code: ev.e, message: defaultMessages[ev.e] };
      break;
    default:
      return false;
  }
  return f.state !== before;
}

/**
 * A pick-one job moved from a silent host to another: the new host takes the old one's place (only
 * when the old one is on this fold and never acknowledged; replays over the moved record change nothing).
 */
function applyMove(folds: Map<string, HostFold>, from: string, to: unknown): boolean {
  const f = folds.get(from.toLowerCase());
  if (!f || f.state !== "pending" || typeof to !== "string") return false;
  folds.delete(from.toLowerCase());
  if (!folds.has(to.toLowerCase()))
    folds.set(to.toLowerCase(), { host: to, state: "pending", epoch: 0, resent: false });
  return true;
}

const defaultMessages = {
  unreachable: "the agent did not acknowledge the job",
  timeout: "no result before the job's deadline",
  cancelled: "the job was cancelled",
} as const;

function asError(v: unknown): { code: string; message: string } | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  return {
    code: typeof o.code === "string" ? o.code : "handler_error",
    message: typeof o.message === "string" ? o.message : "failed",
  };
}

export function foldTimeline(
  hosts: readonly string[],
  events: readonly TimelineEvent[],
  leftOut: readonly LeftOut[] = [],
): Map<string, HostFold> {
  const folds = newHostFolds(hosts, leftOut);
  for (const ev of events) applyEvent(folds, ev);
  return folds;
}

export function allTerminal(folds: Map<string, HostFold>): boolean {
  for (const f of folds.values()) if (!terminalHostStates.has(f.state)) return false;
  return true;
}

/**
 * Hosts by state (folds, or result views: only `state` is read). `running`: count that many pending
 * hosts as running instead (a record's view before any event was read).
 */
export function countHosts(folds: Iterable<{ state: HostState }>, running = 0): FleetCounts {
  const c: FleetCounts = {
    total: 0,
    pending: 0,
    running: 0,
    completed: 0,
    failed: 0,
    unreachable: 0,
    skipped: 0,
    timeout: 0,
    cancelled: 0,
  };
  for (const f of folds) {
    c.total++;
    if (f.state === "pending") c.pending++;
    else if (f.state === "acknowledged" || f.state === "running") c.running++;
    else c[f.state]++;
  }
  const moved = Math.min(running, c.pending);
  c.pending -= moved;
  c.running += moved;
  return c;
}

/**
 * The final status once every host is final: all completed → `completed`; some completed →
 * `partial_failure`; none completed but some failed or were skipped → `failed`; nothing came back →
 * `timeout`. Hosts left out of the dispatch count like the others: a job is `completed` only when
 * every host its target named or matched completed.
 */
export function finalStatus(counts: FleetCounts, cancelled = false): Exclude<FleetStatus, "running"> {
  if (cancelled) return "cancelled";
  if (counts.total > 0 && counts.completed === counts.total) return "completed";
  if (counts.completed > 0) return "partial_failure";
  if (counts.failed > 0 || counts.skipped > 0) return "failed";
  return "timeout";
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

export function hostView(f: HostFold): HostResultView {
  const v: HostResultView = { host: f.host, state: f.state };
  if (f.result !== undefined) v.result = f.result;
  if (f.error !== undefined) v.error = f.error;
  const a = iso(f.acknowledgedAt);
  if (a !== undefined) v.acknowledged_at = a;
  const s = iso(f.startedAt);
  if (s !== undefined) v.started_at = s;
  const e = iso(f.finishedAt);
  if (e !== undefined) v.finished_at = e;
  if (f.durationMs !== undefined) v.duration_ms = f.durationMs;
  if (f.lastOutput !== undefined) v.last_output = f.lastOutput;
  if (f.progress !== undefined) v.progress = f.progress;
  return v;
}

/** The stored shape of an event the API returned (to fold events read over HTTP). */
export function eventFromView(e: TimelineEventView): TimelineEvent {
  const ev: TimelineEvent = { e: e.event, at: Date.parse(e.timestamp), ep: e.epoch };
  if (e.host !== undefined) ev.h = e.host;
  if (e.data !== undefined) ev.d = e.data;
  return ev;
}

export function eventView(ev: TimelineEvent): TimelineEventView {
  const v: TimelineEventView = { event: ev.e, timestamp: new Date(ev.at).toISOString(), epoch: ev.ep };
  if (ev.h !== undefined) v.host = ev.h;
  if (ev.d !== undefined) v.data = ev.d;
  return v;
}

export function recordCounts(rec: FleetRecord, folds: Map<string, HostFold>): FleetCounts {
  const c = countHosts(folds.values());
  c.total = rec.hosts.length + (rec.left_out?.length ?? 0);
  return c;
}

/** The folds of a record's hosts, sent and left out, with its timeline applied. */
export function foldRecord(rec: FleetRecord, events: readonly TimelineEvent[]): Map<string, HostFold> {
  return foldTimeline(rec.hosts, events, rec.left_out);
}
