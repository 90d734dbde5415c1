/**
 * The owner's side of one running fleet job: follows the job's timeline, re-sends the job once to
 * targets that stay silent for the ack window, marks targets unreachable (no acknowledgement after the
 * re-send, or their agent went away) or timed out (deadline), and finishes the job when every target
 * is final. Finishing is a compare-and-set on the record, so a controller that lost the job to another
 * (a newer epoch) cannot overwrite it.
 */
import { ErrorCode, JetjobError } from "../core/errors.js";
import { WrongSequenceError } from "../nats/publisher.js";
import type { StoreContext } from "../store/infra/context.js";
import type { FastKv } from "../store/infra/kvfast.js";
import { scheduleFleetRemoval } from "../store/retention/fleet.js";
import { hostToken } from "../store/infra/topology.js";
import type { HostFold } from "./fold.js";
import { allTerminal, applyEvent, countHosts, finalStatus, newHostFolds } from "./fold.js";
import type { FleetTimings } from "./options.js";
import type { RegistryView } from "./registry.js";
import { agentAlive } from "./registry.js";
import { appendEvent, followTimeline } from "./timeline.js";
import type { DispatchRequest, FleetRecord, FleetStatus, TimelineEvent } from "./types.js";
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

export interface JobRun {
  readonly id: string;
  /** Stops following without finishing (shutdown: another controller will take over). */
  detach(): void;
  /** The job's current per-host state (for tests and the API). */
  hosts(): HostFold[];
  /** Resolves when this controller stops owning the job (finished, taken over, or detached). */
  readonly ended: Promise<void>;
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

/**
 * Starts owning `rec` (stored at `revision`). With `sendNow`, dispatches to every host first (a new
 * job); a job taken over from a dead controller is sent only to hosts that left no trace yet.
 */
export async function startRun(
  deps: RunDeps,
  rec: FleetRecord,
  revision: number,
  o: { sendNow: boolean },
): Promise<JobRun> {
  const { ctx, timings } = deps;
  const folds = newHostFolds(rec.hosts, rec.left_out);
  const verdicts = new Set<string>(); // hosts we already wrote a verdict for
  const ackedBy = new Map<string, string>(); // host → agent instance that acknowledged
  const timers: NodeJS.Timeout[] = [];
  let ended = false;
  let finishing = false;
  let caughtUp = false;
  const startedAt = Date.now();
  let markEnded!: () => void;
  const endedPromise = new Promise<void>((r) => (markEnded = r));

  if (o.sendNow) sendDispatch(ctx, rec, rec.hosts);

  const end = () => {
    if (ended) return;
    ended = true;
    for (const t of timers) clearTimeout(t);
    follower.close();
    deps.onEnd(rec.id);
    markEnded();
  };

  const controllerEvent = (e: TimelineEvent["e"], h: string | undefined, d?: Record<string, unknown>) => {
    const ev: TimelineEvent = { e, at: Date.now(), ep: rec.epoch, by: deps.controllerId };
    if (h !== undefined) ev.h = h;
    if (d !== undefined) ev.d = d;
    return appendEvent(ctx, rec.id, ev);
  };

  const verdict = (f: HostFold, e: "unreachable" | "timeout", message: string) => {
    if (verdicts.has(f.host) || terminalHostStates.has(f.state)) return;
    verdicts.add(f.host);
    void controllerEvent(e, f.host, { error: { code: e, message } }).catch(deps.onError);
  };

  const finish = async () => {
    if (finishing || ended) return;
    finishing = true;
    try {
      const counts = countHosts(folds.values());
      const status: FleetStatus = finalStatus(counts);
      let rev = revision;
      let cur = rec;
      const finishedAt = Date.now();
      for (;;) {
        const next: FleetRecord = { ...cur, status, finished_at: finishedAt, counts };
        try {
          revision = await deps.records.update(`j.${rec.id}`, next, rev);
          break;
        } catch (err) {
          if (!(err instanceof WrongSequenceError)) throw err;
          const fresh = await deps.records.get(`j.${rec.id}`);
          if (!fresh.value || fresh.value.epoch !== rec.epoch || fresh.value.status !== "running") {
            end(); // someone else owns or finished it
            return;
          }
          cur = fresh.value;
          rev = fresh.revision;
        }
      }
      await controllerEvent("finished", undefined, { status, counts });
      await ctx.buckets.fleet.delete(`x.${rec.id}`).catch(deps.onError);
      await scheduleFleetRemoval(ctx, rec.id, finishedAt + ctx.retention.fleetMs).catch(deps.onError);
      end();
    } catch (err) {
      finishing = false;
      deps.onError(err);
    }
  };

  const check = () => {
    if (caughtUp && !ended && allTerminal(folds)) void finish();
  };

  const stored = await ctx.reader.get(ctx.topology.streams.fleet, {
    lastBySubject: ctx.subjects.fleetTimelineAll(rec.id),
  });
  const catchUpSeq = stored?.seq ?? 0;
  caughtUp = catchUpSeq === 0;
  const follower = await followTimeline(
    ctx,
    rec.id,
    (ev, seq) => {
      if (ev.h !== undefined && (ev.e === "acknowledged" || ev.e === "started") && ev.by !== undefined) {
        ackedBy.set(ev.h.toLowerCase(), ev.by);
      }
      applyEvent(folds, ev);
      if (!caughtUp && seq >= catchUpSeq) {
        caughtUp = true;
        if (!o.sendNow) resendToSilent("reclaimed");
      }
      check();
    },
    (subject, ev) => {
      // Refused by NATS permissions where identities are on; counted and logged wherever it happens.
      deps.onError(
        new JetjobError(
          ErrorCode.Forbidden,
          `ignored a '${ev.e}' event of fleet job ${rec.id} for host '${ev.h ?? "-"}' stored on ${subject}`,
        ),
      );
    },
  );
  void follower.done.then(() => {
    if (!ended && !finishing) deps.onError(new Error(`timeline follower of fleet job ${rec.id} stopped`));
  });

  function silentHosts(): HostFold[] {
    return [...folds.values()].filter((f) => f.state === "pending" && !verdicts.has(f.host));
  }

  function resendToSilent(reason: "ack_window" | "reclaimed"): void {
    const silent = silentHosts().filter((f) => !f.resent);
    if (silent.length === 0) return;
    for (const f of silent) f.resent = true;
    sendDispatch(
      ctx,
      rec,
      silent.map((f) => f.host),
    );
    for (const f of silent) void controllerEvent("resent", f.host, { reason }).catch(deps.onError);
  }

  const at = (ms: number, fn: () => void) => {
    timers.push(
      setTimeout(
        () => {
          if (!ended) fn();
        },
        Math.max(0, ms),
      ),
    );
  };
  if (caughtUp && !o.sendNow) resendToSilent("reclaimed");

  // Ack timers of the current pick (a move arms new ones; the old ones see a newer generation).
  let generation = 0;
  const armAckTimers = (base: number) => {
    const gen = generation;
    at(base + rec.ack_window_ms - Date.now(), () => {
      if (gen !== generation) return;
      if (rec.pick_one === true) void failover(gen).catch(deps.onError);
      else resendToSilent("ack_window");
    });
    at(base + 2 * rec.ack_window_ms - Date.now(), () => {
      if (gen !== generation) return;
      for (const f of silentHosts()) verdict(f, "unreachable", "no acknowledgement, also after a re-send");
    });
  };

  /**
   * A pick-one job whose agent stayed silent for the ack window goes to another candidate (at most
   * `failoverTries` times). The record names the new host first, so the old agent refuses the job if
   * its dispatch arrives late; a host that acknowledged meanwhile keeps it. Without another candidate
   * the job is re-sent to the same host, as for other targets.
   */
  async function failover(gen: number): Promise<void> {
    const f = silentHosts()[0];
    const moves = rec.moved_from?.length ?? 0;
    const exclude = new Set([...(rec.moved_from ?? []), ...rec.hosts].map((h) => h.toLowerCase()));
    const next = f && moves < timings.failoverTries ? deps.pickAnother?.(rec, exclude) : undefined;
    if (!f || next === undefined) {
      resendToSilent("ack_window");
      return;
    }
    const moved: FleetRecord = { ...rec, hosts: [next], moved_from: [...(rec.moved_from ?? []), f.host] };
    try {
      revision = await deps.records.update(`j.${rec.id}`, moved, revision);
    } catch (err) {
      if (!(err instanceof WrongSequenceError)) throw err;
      // Changed under us (cancelled, taken over): the owner of the new revision decides.
      const fresh = await deps.records.get(`j.${rec.id}`);
      if (!fresh.value || fresh.value.epoch !== rec.epoch || fresh.value.status !== "running") end();
      return;
    }
    if (ended || gen !== generation) return;
    if (f.state !== "pending") {
      // It acknowledged while the record changed: it keeps the job.
      revision = await deps.records.update(`j.${rec.id}`, rec, revision);
      return;
    }
    rec = moved;
    generation++;
    const reason = `no acknowledgement within ${rec.ack_window_ms} ms`;
    applyEvent(folds, { e: "moved", h: f.host, at: Date.now(), ep: rec.epoch, d: { to: next } });
    await controllerEvent("moved", f.host, { from: f.host, to: next, reason, try: moves + 1 });
    sendDispatch(ctx, rec, [next]);
    armAckTimers(Date.now());
  }
  armAckTimers(o.sendNow ? rec.created_at : startedAt);
  at(rec.deadline_at - Date.now(), () => {
    for (const f of folds.values()) verdict(f, "timeout", "no result before the job's deadline");
  });
  const liveness = setInterval(() => {
    if (ended) return clearInterval(liveness);
    const now = Date.now();
    for (const f of folds.values()) {
      if (terminalHostStates.has(f.state) || f.state === "pending") continue;
      const entry = deps.registry.agent(f.host);
      const acked = ackedBy.get(f.host.toLowerCase());
      if (!entry || !agentAlive(entry, now, timings.livenessMisses)) {
        verdict(f, "unreachable", "the agent went offline while the job ran");
      } else if (acked !== undefined && entry.info.instance !== acked) {
        verdict(f, "unreachable", "the agent restarted while the job ran");
      }
    }
  }, timings.livenessCheckMs);
  timers.push(liveness);
  check();

  return {
    id: rec.id,
    detach: end,
    hosts: () => [...folds.values()],
    ended: endedPromise,
  };
}
