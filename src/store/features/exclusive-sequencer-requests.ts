/**
 * What other processes tell and ask the exclusive-key sequencer (exclusive-sequencer.ts), which runs
 * on the scheduler leader: release notices, enqueue syncs and the keys' view, over core NATS.
 */
import type { Services } from "../infra/services.js";
import type { SequencedKey } from "./exclusive-sequencer-lines.js";

/** Tells the sequencer that these jobs (of these keys) reached a final state (fire and forget). */
export function noticeReleases(
  svc: Services,
  items: ReadonlyArray<{ token: string; releasing: string }>,
): void {
  if (items.length === 0) return;
  const body = JSON.stringify(items.map((i) => [i.token, i.releasing]));
  svc.ctx.nc.publish(svc.ctx.subjects.keyReleases(), body);
}

/**
 * Waits until the sequencer has read the hold segment `seq` and handed its free keys on, so that an
 * enqueue returns with its jobs in their lanes as with per-key lines; resolves with those of `jobs`
 * (key token, job id) that hold their key by then. Without a leader (or after `timeoutMs`) it
 * returns none: the jobs are stored, and are handed on when a leader reads them.
 */
export async function syncSequencer(
  svc: Services,
  seq: number,
  jobs: ReadonlyArray<[token: string, job: string]>,
  timeoutMs = 5000,
): Promise<Set<string>> {
  try {
    const m = await svc.ctx.nc.request(svc.ctx.subjects.keySync(), JSON.stringify({ s: seq, j: jobs }), {
      timeout: timeoutMs,
    });
    const held = m.json<unknown>();
    return new Set(Array.isArray(held) ? held.filter((x): x is string => typeof x === "string") : []);
  } catch {
    return new Set();
  }
}

/** A sync request: the hold segment to wait for, and the jobs to say whether they hold their key. */
export function parseSync(data: unknown): { seq: number; jobs: Array<[string, string]> } {
  if (typeof data === "number") return { seq: data, jobs: [] };
  const r = data as { s?: unknown; j?: unknown } | null;
  const jobs = Array.isArray(r?.j)
    ? r.j.filter(
        (x): x is [string, string] =>
          Array.isArray(x) && typeof x[0] === "string" && typeof x[1] === "string",
      )
    : [];
  return { seq: typeof r?.s === "number" ? r.s : 0, jobs };
}

/** What the sequencer answers a view request with. */
export type SequencerView = { ready: false } | { ready: true; keys: SequencedKey[] };

/** The sequencer's keys; undefined when no leader answered. */
export async function requestSequencerView(
  svc: Services,
  timeoutMs = 5000,
): Promise<SequencerView | undefined> {
  try {
    const m = await svc.ctx.nc.request(svc.ctx.subjects.keyView(), undefined, { timeout: timeoutMs });
    return m.json<SequencerView>();
  } catch {
    return undefined;
  }
}
