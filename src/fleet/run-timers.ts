/**
 * The timers of a running fleet job (run.ts): the ack window (re-send to silent hosts, or fail a
 * pick-one job over to another agent; after a second window the silent hosts are unreachable), the
 * job's deadline, and agent liveness while hosts run the job.
 */
import { WrongSequenceError } from "../nats/publisher.js";
import { applyEvent } from "./fold.js";
import { agentAlive } from "./registry.js";
import type { RunState } from "./run-state.js";
import {
  at,
  controllerEvent,
  endRun,
  resendToSilent,
  sendDispatch,
  silentHosts,
  verdict,
} from "./run-state.js";
import type { FleetRecord } from "./types.js";
import { terminalHostStates } from "./types.js";

/** Arms the ack-window timers of the current pick, counted from `base` (ms). */
export function armAckTimers(s: RunState, base: number): void {
  const gen = s.generation;
  at(s, base + s.rec.ack_window_ms - Date.now(), () => {
    if (gen !== s.generation) return;
    if (s.rec.pick_one === true) void failover(s, gen).catch(s.deps.onError);
    else resendToSilent(s, "ack_window");
  });
  at(s, base + 2 * s.rec.ack_window_ms - Date.now(), () => {
    if (gen !== s.generation) return;
    for (const f of silentHosts(s)) verdict(s, f, "unreachable", "no acknowledgement, also after a re-send");
  });
}

/**
 * A pick-one job whose agent stayed silent for the ack window goes to another candidate (at most
 * `failoverTries` times). The record names the new host first, so the old agent refuses the job if
 * its dispatch arrives late; a host that acknowledged meanwhile keeps it. Without another candidate
 * the job is re-sent to the same host, as for other targets.
 */
export async function failover(s: RunState, gen: number): Promise<void> {
  const { deps } = s;
  const rec = s.rec;
  const f = silentHosts(s)[0];
  const moves = rec.moved_from?.length ?? 0;
  const exclude = new Set([...(rec.moved_from ?? []), ...rec.hosts].map((h) => h.toLowerCase()));
  const next = f && moves < deps.timings.failoverTries ? deps.pickAnother?.(rec, exclude) : undefined;
  if (!f || next === undefined) {
    resendToSilent(s, "ack_window");
    return;
  }
  const moved: FleetRecord = { ...rec, hosts: [next], moved_from: [...(rec.moved_from ?? []), f.host] };
  try {
    s.revision = await deps.records.update(`j.${rec.id}`, moved, s.revision);
  } catch (err) {
    if (!(err instanceof WrongSequenceError)) throw err;
    // Changed under us (cancelled, taken over): the owner of the new revision decides.
    const fresh = await deps.records.get(`j.${rec.id}`);
    if (!fresh.value || fresh.value.epoch !== s.rec.epoch || fresh.value.status !== "running") endRun(s);
    return;
  }
  if (s.ended || gen !== s.generation) return;
  if (f.state !== "pending") {
    // It acknowledged while the record changed: it keeps the job.
    s.revision = await deps.records.update(`j.${rec.id}`, s.rec, s.revision);
    return;
  }
  s.rec = moved;
  s.generation++;
  const reason = `no acknowledgement within ${moved.ack_window_ms} ms`;
  applyEvent(s.folds, { e: "moved", h: f.host, at: Date.now(), ep: moved.epoch, d: { to: next } });
  await controllerEvent(s, "moved", f.host, { from: f.host, to: next, reason, try: moves + 1 });
  sendDispatch(deps.ctx, moved, [next]);
  armAckTimers(s, Date.now());
}

/** At the job's deadline every host without a result times out. */
export function armDeadline(s: RunState): void {
  at(s, s.rec.deadline_at - Date.now(), () => {
    for (const f of s.folds.values()) verdict(s, f, "timeout", "no result before the job's deadline");
  });
}

/**
 * Checks every `livenessCheckMs` that each host running the job still has its agent, the same
 * instance that acknowledged: a host whose agent went offline or restarted is unreachable.
 */
export function watchLiveness(s: RunState): void {
  const { registry, timings } = s.deps;
  const liveness = setInterval(() => {
    if (s.ended) return clearInterval(liveness);
    const now = Date.now();
    for (const f of s.folds.values()) {
      if (terminalHostStates.has(f.state) || f.state === "pending") continue;
      const entry = registry.agent(f.host);
      const acked = s.ackedBy.get(f.host.toLowerCase());
      if (!entry || !agentAlive(entry, now, timings.livenessMisses)) {
        verdict(s, f, "unreachable", "the agent went offline while the job ran");
      } else if (acked !== undefined && entry.info.instance !== acked) {
        verdict(s, f, "unreachable", "the agent restarted while the job ran");
      }
    }
  }, timings.livenessCheckMs);
  s.timers.push(liveness);
}
