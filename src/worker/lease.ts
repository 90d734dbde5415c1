/**
 * Lease upkeep of the segment runner: the segment deliveries it holds, renewed (in-progress) often
 * enough for the shortest lane lease, and released (ack, nak or left) once every job of a segment
 * reached an outcome and its writes are flushed.
 */
import { inProgress } from "../nats/pull.js";
import { applyRelease, decideRelease } from "../store/segments/release.js";
import type { Held, RunnerDeps, RunnerStats } from "./runner-state.js";

export interface Holdings {
  /** Held deliveries by segment sequence. */
  readonly held: Map<number, Held>;
  hold(h: Held): void;
  /** Releases a held delivery once nothing of it is running, waiting or unwritten. */
  maybeRelease(h: Held): void;
  release(h: Held, decision: ReturnType<typeof decideRelease>): void;
  /** A lane's lease is this short: renew held segments often enough for it. */
  noteLeaseMs(ms: number): void;
  /** Resolves once no delivery is held any more. */
  whenIdle(): Promise<void>;
  /** Stops renewing. */
  stop(): void;
}

export function createHoldings(d: RunnerDeps, stats: RunnerStats): Holdings {
  const held = new Map<number, Held>();
  const idle: Array<() => void> = [];

  let leaseMs = d.leaseMs;
  const renewEvery = () => Math.max(100, Math.floor(leaseMs / 3));
  const renewHeld = () => {
    for (const h of held.values()) if (!h.released) inProgress(d.nc, h.ack);
  };
  let renew = setInterval(renewHeld, renewEvery());
  renew.unref();

  function release(h: Held, decision: ReturnType<typeof decideRelease>): void {
    if (h.released) return;
    h.released = true;
    applyRelease(d.nc, h.ack, decision.kind === "hold" ? { kind: "nak", delayMs: 0 } : decision);
    held.delete(h.at.seq);
    stats.segmentsHeld = held.size;
    if (held.size === 0) for (const cb of idle.splice(0)) cb();
  }

  return {
    held,
    hold(h) {
      held.set(h.at.seq, h);
      stats.segmentsHeld = held.size;
    },
    maybeRelease(h) {
      if (h.released || h.flushing || h.pending.length > 0 || h.running.size > 0 || h.queued > 0) return;
      release(h, decideRelease(h.journal.slots, Date.now(), undefined, h.at.seg.jobs));
    },
    release,
    noteLeaseMs(ms) {
      if (!(ms > 0) || ms >= leaseMs) return;
      leaseMs = ms;
      clearInterval(renew);
      renew = setInterval(renewHeld, renewEvery());
      renew.unref();
    },
    whenIdle: () => new Promise<void>((r) => idle.push(r)),
    stop() {
      clearInterval(renew);
    },
  };
}
