/**
 * Promoting one due delay segment (the promoter, promoter.ts, decides when): the journal decision
 * and its after-effects (home pointers, exclusive keys, enqueued events).
 */
import { Store } from "../../core/ids.js";
import { advanceKey, holdsKey } from "../features/exclusive.js";
import { markKey } from "../features/exclusive-line.js";
import { keyToken } from "../infra/topology.js";
import type { Services } from "../infra/services.js";
import { outcomesOf } from "../infra/services.js";
import { EventType, emitEvents, event } from "../jobs/events.js";
import type { ReadMemo } from "../jobs/locator.js";
import type { JournalOp } from "../journal/journal-ops.js";
import { decideAndAppend } from "../journal/journal.js";
import { movedSpec, moveMsgId, pointHomes, publishSegment } from "./moves.js";
import type { SegmentAt } from "./segment.js";
import { jobIdAt, jobRef, refKey } from "./segment.js";
import { POINTER_RETRY_MS, validateMoved } from "./validate.js";

/**
 * Promotes one delay segment: its due jobs move into their queue lane (one new lane segment), a
 * scheduled job with an exclusive key joins its key's line (a hold segment per key), and expired or
 * orphaned copies end. Returns a time to look again when some jobs must wait (a pointer not yet
 * written).
 */
export async function promoteSegment(
  svc: Services,
  seq: number,
  onError: (err: unknown) => void,
): Promise<number | undefined> {
  const { ctx, locator } = svc;
  const at = await locator.segment(Store.Delay, seq);
  if (!at) return undefined;
  const r = await decideAndAppend(
    ctx.journals,
    Store.Delay,
    seq,
    at.seg.jobs.length,
    async (journal, slots, now) => {
      const ops: JournalOp[] = [];
      const moving: number[] = [];
      const holding: number[] = [];
      const held: Array<{ token: string; hold: SegmentAt; idxs: number[] }> = [];
      let retryAt: number | undefined;
      const memo: ReadMemo = new Map();
      // A cached segment with an empty journal may have been removed by housekeeping since.
      const removed = journal.lastSeq === 0 && !(await locator.exists(Store.Delay, seq));
      for (let i = 0; i < slots.length && !removed; i++) {
        const s = slots[i]!;
        const spec = at.seg.jobs[i]!;
        if (s.outcome || spec.pending) continue;
        if (spec.expiresAt !== undefined && now > spec.expiresAt) {
          ops.push({ op: "expire", i, at: now });
          continue;
        }
        const validity = await validateMoved(ctx, locator, at, i, memo);
        if (validity === "wait") {
          retryAt = now + POINTER_RETRY_MS;
          continue;
        }
        if (validity === "orphan") {
          ops.push({ op: "expire", i, at: now, orphan: 1 });
          continue;
        }
        const xkey = at.seg.jobs[i]!.xkey;
        if (xkey !== undefined && !(await holdsKeyHere(svc, at, i))) {
          // A scheduled job with an exclusive key joins its key's line now (a holder's retry does not).
          holding.push(i);
          continue;
        }
        moving.push(i);
      }
      // With the sequencer, all of them join the one sequenced line (exclusive-sequencer.ts).
      const lines = ctx.sequencer
        ? new Map(holding.length > 0 ? [["", holding]] : [])
        : groupByKey(at, holding);
      for (const [token, idxs] of lines) {
        if (!ctx.sequencer) await markKey(svc, at.seg.jobs[idxs[0]!]!.xkey!);
        const specs = idxs.map((i) => movedSpec({ at, idx: i, journal, slots }, {}));
        const subject = ctx.sequencer ? ctx.subjects.sequenced() : ctx.subjects.hold(token);
        const hold = await publishSegment(
          ctx,
          { store: Store.Delay, queue: at.seg.q, priority: at.seg.p, subject },
          specs,
          moveMsgId("ph", at, idxs),
        );
        const to = refKey(Store.Delay, hold.seq);
        idxs.forEach((i, k) => ops.push({ op: "move", i, at: now, to, ti: k }));
        held.push({ token, hold, idxs });
      }
      let target: SegmentAt | undefined;
      if (moving.length > 0) {
        // retryDelayMs stays: a fetched retry shows the delay it waited (OJS `retry_delay_ms`).
        const specs = moving.map((i) => movedSpec({ at, idx: i, journal, slots }, {}));
        target = await publishSegment(
          ctx,
          { store: Store.Queue, queue: at.seg.q, priority: at.seg.p },
          specs,
          moveMsgId("pr", at, moving),
        );
        const to = refKey(Store.Queue, target.seq);
        moving.forEach((i, k) => ops.push({ op: "move", i, at: now, to, ti: k }));
      }
      return { ops, value: { moving, target, retryAt, now, ops, held } };
    },
  );
  const { moving, target, retryAt, now, held } = r.value;
  svc.noteOutcomes(outcomesOf(at, r.value.ops));
  if (r.appended) {
    for (const h of held) {
      const to = refKey(Store.Delay, h.hold.seq);
      await pointHomes(
        svc,
        h.idxs.flatMap((i, k) => {
          const home = h.hold.seg.jobs[k]!.home!;
          return home === jobRef(Store.Delay, seq, i) ? [] : [{ homeKey: home, to, ti: k }];
        }),
      );
      if (!ctx.sequencer) await advanceKey(svc, h.token).catch(onError);
    }
  }
  if (r.appended && target) {
    const to = refKey(Store.Queue, target.seq);
    await pointHomes(
      svc,
      moving.flatMap((i, k) => {
        const home = target.seg.jobs[k]!.home!;
        return home === jobRef(Store.Delay, seq, i) ? [] : [{ homeKey: home, to, ti: k }];
      }),
    );
    emitEvents(
      ctx,
      at.seg.q,
      moving.map((i) => event(at, i, EventType.Enqueued, now, at.seg.jobs[i]!.attempt ?? 0)),
    );
  }
  return retryAt;
}

/**
 * Whether a due job with an exclusive key holds it (a holder's retry goes back to its lane; a
 * scheduled job joins the line). The sequencer keeps no record: only a holder reaches a lane, so a
 * copy that came from one (moved, with attempts made or waiting for a handler) holds its key.
 */
async function holdsKeyHere(svc: Services, at: SegmentAt, i: number): Promise<boolean> {
  const spec = at.seg.jobs[i]!;
  if (!svc.ctx.sequencer) return holdsKey(svc, spec.xkey!, jobIdAt(at, i));
  return spec.home !== undefined && ((spec.attempt ?? 0) > 0 || spec.unhandled !== undefined);
}

/** Jobs of a segment by exclusive key token, in slot order. */
function groupByKey(at: SegmentAt, idxs: number[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const i of idxs) {
    const token = keyToken(at.seg.jobs[i]!.xkey!);
    const list = out.get(token) ?? [];
    list.push(i);
    out.set(token, list);
  }
  return out;
}
