/**
 * What became of each job that has a slot in a segment: its slot here, or, for a job that moved on
 * (retry, schedule, promotion, split, dead-letter retry), its slot where the pointers lead. Pointers
 * only ever lead to segments stored before them, so a segment that is not there any more was removed
 * by housekeeping and the job with it.
 */
import type { FinishKind } from "../../core/storage-options.js";
import { effectiveRetention, keepMsFor } from "../../core/storage-options.js";
import type { Store } from "../../core/ids.js";
import type { Slot } from "../journal/fold.js";
import { forwardOf, isGone } from "../journal/fold.js";
import type { JobAt, ReadMemo } from "../jobs/locator.js";
import type { SegmentAt } from "../segments/segment.js";
import { indexOfJob, jobIdAt, parseRefKey } from "../segments/segment.js";
import type { Services } from "../infra/services.js";
import { readWorkflow } from "../workflows/workflows.js";
import type { Fate } from "./decide.js";
import { CountFlag } from "./decide.js";

const MAX_HOPS = 64;

/** A slot's fate and, for a finished job, where and how it finished. */
export interface SlotFate {
  fate: Fate;
  kind?: FinishKind;
  /**
   * Set when the job finished elsewhere with an outcome a user may still undo (discarded, cancelled,
   * expired: `retry` revives those). Removing this segment appends `gone` there first, so the removal
   * and a concurrent retry are ordered by that journal's compare-and-set.
   */
  elsewhere?: { store: Store; seq: number; idx: number; at: number };
}

export interface FateOptions {
  nowMs: number;
  /** {@link CountFlag} bits: finished kinds that a queue's count limit lets go now. */
  flags: number;
  /** Longest wait before an unfinished job is looked at again. */
  activeRecheckMaxMs: number;
}

export async function segmentFates(
  svc: Services,
  at: SegmentAt,
  slots: readonly Slot[],
  o: FateOptions,
): Promise<SlotFate[]> {
  const memo: ReadMemo = new Map();
  const running = new Map<string, Promise<boolean>>();
  const out: SlotFate[] = [];
  for (let i = 0; i < slots.length; i++) {
    let f = await slotFate(svc, at, i, slots[i]!, memo, o);
    const wf = at.seg.jobs[i]!.workflow;
    if (f.fate.kind === "finished" && wf !== undefined) {
      // A running workflow still reads its jobs' outcomes (and would enqueue a job it cannot find
      // again): its jobs stay until it has finished.
      let p = running.get(wf.id);
      if (!p) running.set(wf.id, (p = readWorkflow(svc, wf.id).then((r) => r?.state === "running")));
      if (await p) f = { fate: activeFate(svc, at, i, o) };
    }
    out.push(f);
  }
  return out;
}

async function slotFate(
  svc: Services,
  at: SegmentAt,
  i: number,
  slot: Slot,
  memo: ReadMemo,
  o: FateOptions,
): Promise<SlotFate> {
  if (isGone(slot)) return { fate: { kind: "gone" } };
  let cur: { at: SegmentAt; idx: number; slot: Slot } = { at, idx: i, slot };
  const first = at.seg.jobs[i]!.home === undefined ? (slot.loc ?? forwardOf(slot)) : forwardOf(slot);
  if (first) {
    const id = jobIdAt(at, i);
    let next: ReturnType<typeof forwardOf> = first;
    for (let hop = 0; next; hop++) {
      if (hop >= MAX_HOPS) return { fate: activeFate(svc, cur.at, cur.idx, o) };
      const { store, seq } = parseRefKey(next.to);
      const target: JobAt | undefined = await svc.locator.readAt(store, seq, next.ti, memo, true);
      if (!target) return { fate: { kind: "gone" } };
      // A pointer to a slot that is not this job's: corrupt data. Keep the segment (never guess).
      if (indexOfJob(target.at, id) !== target.idx) return { fate: activeFate(svc, cur.at, cur.idx, o) };
      const s = target.slots[target.idx]!;
      if (isGone(s)) return { fate: { kind: "gone" } };
      cur = { at: target.at, idx: target.idx, slot: s };
      next = forwardOf(s);
      // A `loc` pointer may lag behind later moves: the forward chain from it catches up (as locate).
    }
  }
  const outcome = cur.slot.outcome;
  if (!outcome || outcome.kind === "move") return { fate: activeFate(svc, cur.at, cur.idx, o) };
  if (outcome.kind === "gone") return { fate: { kind: "gone" } };
  let kind: FinishKind;
  if (outcome.kind === "done") kind = "completed";
  else if (outcome.kind === "fail") {
    if (outcome.out === "retry") return { fate: activeFate(svc, cur.at, cur.idx, o) };
    kind = outcome.dlq === true ? "dead_letter" : "discarded";
  } else kind = "discarded"; // cancelled or expired
  let keepMs = keepMsFor(kind, retentionOf(svc, cur.at, cur.idx));
  if (kind === "completed" && o.flags & CountFlag.Completed) keepMs = 0;
  if (kind === "discarded" && o.flags & CountFlag.Discarded) keepMs = 0;
  const result: SlotFate = { fate: { kind: "finished", at: outcome.at, keepMs }, kind };
  const moved = cur.at.store !== at.store || cur.at.seq !== at.seq;
  if (moved && kind !== "completed") {
    result.elsewhere = { store: cur.at.store, seq: cur.at.seq, idx: cur.idx, at: outcome.at };
  }
  return result;
}

/** The retention of the job in slot `idx`: its own, its queue's, or the deployment's. */
export function retentionOf(svc: Services, at: SegmentAt, idx: number) {
  const spec = at.seg.jobs[idx]!;
  return effectiveRetention(spec.retention, svc.ctx.queues.cached(at.seg.q)?.retention, svc.ctx.retention);
}

/** An unfinished job: look again after its shortest retention, between 1 s and the configured most. */
function activeFate(svc: Services, at: SegmentAt, idx: number, o: FateOptions): Fate {
  const r = retentionOf(svc, at, idx);
  const shortest = Math.min(r.completedMs, r.discardedMs, r.deadLetterMs);
  const floor = Math.min(1000, o.activeRecheckMaxMs);
  return { kind: "active", recheckMs: Math.min(Math.max(shortest, floor), o.activeRecheckMaxMs) };
}
