/**
 * What the owner of one running fleet job holds (run.ts) and the small steps every part of the run
 * uses: ending the run, writing a controller event to the timeline, a verdict on a host, and
 * re-sending the job to hosts that stay silent. Finishing is run-finish.ts; the timers (ack window,
 * failover, deadline, agent liveness) are run-timers.ts.
 */
import { hostToken } from "../store/infra/topology.js";
import type { StoreContext } from "../store/infra/context.js";
import type { FastKv } from "../store/infra/kvfast.js";
import type { HostFold } from "./fold.js";
import type { FleetTimings } from "./options.js";
import type { RegistryView } from "./registry.js";
import { appendEvent } from "./timeline.js";
import type { DispatchRequest, FleetRecord, TimelineEvent } from "./types.js";
import { terminalHostStates } from "./types.js";

export interface RunDeps {
  ctx: StoreContext;
  records: FastKv<FleetRecord>;
  registry: RegistryView;
  timings: FleetTimings;
  controllerId: string;
  onError: (err: unknown) => void;
  /** The run ended: finished by us, or the job was taken by someone else. */
  onEnd: (id: string) => void;
  /** Another live, ready agent the job's target selects, none of `exclude` (lowercased); for failover. */
  pickAnother?: (rec: FleetRecord, exclude: ReadonlySet<string>) => string | undefined;
}

/** One run's state; every part of the run reads and changes this one object. */
export interface RunState {
  deps: RunDeps;
  /** The record as we last wrote it (a failover names a new host). */
  rec: FleetRecord;
  /** Its revision in the records bucket, for compare-and-set. */
  revision: number;
  folds: Map<string, HostFold>;
  /** Hosts we already wrote a verdict for. */
  verdicts: Set<string>;
  /** Host (lowercased) → the agent instance that acknowledged. */
  ackedBy: Map<string, string>;
  timers: NodeJS.Timeout[];
  ended: boolean;
  finishing: boolean;
  /** The timeline stored before the run started has been read. */
  caughtUp: boolean;
  /** Ack timers of the current pick (a move arms new ones; the old ones see a newer generation). */
  generation: number;
  follower?: { close(): void };
  markEnded: () => void;
}

const enc = new TextEncoder();

/** Sends the dispatch request to each host (core NATS, fire and forget: acks come on the timeline). */
export function sendDispatch(ctx: StoreContext, rec: FleetRecord, hosts: readonly string[]): void {
  const req: DispatchRequest = {
    id: rec.id,
    op: rec.op,
    kind: rec.kind,
    args: rec.args,
    epoch: rec.epoch,
    deadline_at: rec.deadline_at,
  };
  if (rec.traceparent !== undefined) req.traceparent = rec.traceparent;
  const data = enc.encode(JSON.stringify(req));
  for (const h of hosts) ctx.nc.publish(ctx.subjects.fleetDispatch(hostToken(h)), data);
}

/** Stops the run once: its timers, its timeline follower; tells the controller. */
export function endRun(s: RunState): void {
  if (s.ended) return;
  s.ended = true;
  for (const t of s.timers) clearTimeout(t);
  s.follower?.close();
  s.deps.onEnd(s.rec.id);
  s.markEnded();
}

/** Appends an event written by this controller (this epoch) to the job's timeline. */
export function controllerEvent(
  s: RunState,
  e: TimelineEvent["e"],
  h: string | undefined,
  d?: Record<string, unknown>,
): Promise<unknown> {
  const ev: TimelineEvent = { e, at: Date.now(), ep: s.rec.epoch, by: s.deps.controllerId };
  if (h !== undefined) ev.h = h;
  if (d !== undefined) ev.d = d;
  return appendEvent(s.deps.ctx, s.rec.id, ev);
}

/** Writes a host's verdict once, unless the host is final already. */
export function verdict(s: RunState, f: HostFold, e: "unreachable" | "timeout", message: string): void {
  if (s.verdicts.has(f.host) || terminalHostStates.has(f.state)) return;
  s.verdicts.add(f.host);
  void controllerEvent(s, e, f.host, { error: { code: e, message } }).catch(s.deps.onError);
}

/** Hosts with no acknowledgement and no verdict yet. */
export function silentHosts(s: RunState): HostFold[] {
  return [...s.folds.values()].filter((f) => f.state === "pending" && !s.verdicts.has(f.host));
}

/** Re-sends the job once to each silent host, and says so on the timeline. */
export function resendToSilent(s: RunState, reason: "ack_window" | "reclaimed"): void {
  const silent = silentHosts(s).filter((f) => !f.resent);
  if (silent.length === 0) return;
  for (const f of silent) f.resent = true;
  sendDispatch(
    s.deps.ctx,
    s.rec,
    silent.map((f) => f.host),
  );
  for (const f of silent) void controllerEvent(s, "resent", f.host, { reason }).catch(s.deps.onError);
}

/** Runs `fn` in `ms` (now when past), unless the run has ended by then. */
export function at(s: RunState, ms: number, fn: () => void): void {
  s.timers.push(
    setTimeout(
      () => {
        if (!s.ended) fn();
      },
      Math.max(0, ms),
    ),
  );
}
