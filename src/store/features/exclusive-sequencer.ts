/**
 * The exclusive-key sequencer (the default; `StoreContext.sequencer`): the scheduler leader hands
 * exclusive keys on from memory instead of through per-key lines and KV records (exclusive.ts,
 * `JETJOB_EXCLUSIVE_SEQUENCER=0`). The per-key design costs about eight NATS requests per job, this
 * one well under one.
 *
 * - **Enqueue.** Jobs with a key are stored in hold segments on one subject
 *   (`Subjects.sequenced`), a segment per enqueue batch and queue, so an enqueue writes nothing
 *   more than a plain one.
 * - **Order.** The leader reads that subject in stream order (an ordered consumer, from the start
 *   on each election) and keeps, per key, the holder and the jobs waiting behind it. The line of a
 *   key is its jobs in stream order, whichever segment they are in.
 * - **Hand-over.** A free key's first waiting job becomes its holder in memory, then moves into its
 *   lane with the other new holders of the batch (exclusive-handover.ts `moveManyToLane`: one lane
 *   segment per queue, one `move` append per hold segment, compare-and-set on its journal). A job
 *   cancelled or expired meanwhile loses the compare-and-set and the key goes on. Once the pointers
 *   are stored, a moved notice tells the workers, which then claim the copies without reading them
 *   (local-moves.ts).
 * - **Release.** A process that stores a holder's final outcome publishes a notice
 *   (`Subjects.keyReleases`, core NATS). A lost notice (a leader change, a crash) is repaired by the
 *   holder check: a holder older than `HOLDER_CHECK_AFTER_MS` is looked up, and released when
 *   it has finished or vanished.
 * - **Crash and election.** Nothing but the segments and their journals is state: a new leader reads
 *   the line again; a job moved into a lane is its key's holder (the last one of the key in order),
 *   checked at once. Two leaders for a moment move the same job at most once (the journal's
 *   compare-and-set), so a copy that lost is an orphan that never runs (validate.ts).
 * - **Views and take-over.** The users' view of keys asks the leader (`Subjects.keyView`); a new
 *   leader first takes over the per-key lines of a deployment that ran them (`adoptKeyLines`).
 */
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import type { ConsumerMessages } from "@nats-io/jetstream";
import type { Subscription } from "@nats-io/nats-core";

import { Store } from "../../core/ids.js";
import type { RunningTask } from "../infra/tasks.js";
import type { Services } from "../infra/services.js";
import type { SegmentAt } from "../segments/segment.js";
import { decodeSegment, jobIdAt } from "../segments/segment.js";
import { POINTER_RETRY_MS, validateMoved } from "../segments/validate.js";
import type { WaitingJob } from "./exclusive-line.js";
import { HOLDER_CHECK_AFTER_MS, expireWaiting, holderStatus, readKey } from "./exclusive-line.js";
import { isWrongRevision } from "../infra/cas.js";
import { deleteForGood, eraseKey, keysOf } from "../infra/kvjson.js";
import { moveManyToLane } from "./exclusive-handover.js";
import type { KeyLines } from "./exclusive-sequencer-lines.js";
import { createKeyLines } from "./exclusive-sequencer-lines.js";
import type { SequencerView } from "./exclusive-sequencer-requests.js";
import { parseSync } from "./exclusive-sequencer-requests.js";

interface Sequencer {
  svc: Services;
  keys: KeyLines;
  onError: (err: unknown) => void;
  /**
   * Looks at the keys with waiting jobs again after `ms` (a pointer not written yet); with `pause`,
   * hands nothing on until then (a move failed: NATS may be down).
   */
  later(ms: number, pause?: boolean): void;
  /** A hand-over batch starts; call what it returns when it has ended. */
  batch(): () => void;
}

/** The leader's sequencer: reads the line, hands keys on, takes release notices, answers views. */
export function startSequencer(svc: Services, o: { onError: (err: unknown) => void }): RunningTask {
  const { ctx } = svc;
  const keys = createKeyLines();
  let closed = false;
  let caughtUp = false;
  let running: Promise<void> | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let ingest: Promise<void> = Promise.resolve();
  let messages: ConsumerMessages | undefined;
  /** Last hold segment read; sync requests waiting for a segment, then for a batch after it. */
  let ingested = 0;
  let paused = false;
  let afterIngest: Array<{ seq: number; answer: () => void }> = [];
  const afterBatch: Array<() => void> = [];
  const seq: Sequencer = {
    svc,
    keys,
    onError: o.onError,
    later(ms, pause = false) {
      if (pause) paused = true;
      if (retryTimer || closed) return;
      retryTimer = setTimeout(() => {
        retryTimer = undefined;
        paused = false;
        for (const [t, l] of keys.lines) if (!l.holder && l.waiting.length > 0) keys.due.add(t);
        kick();
      }, ms);
    },
    batch() {
      const waiting = afterBatch.splice(0);
      return () => waiting.forEach((answer) => answer());
    },
  };

  /** Answers sync requests whose segment was read and whose keys were handed on (or had nothing to do). */
  function settle(): void {
    if (caughtUp) {
      const ready = afterIngest.filter((w) => w.seq <= ingested);
      afterIngest = afterIngest.filter((w) => w.seq > ingested);
      afterBatch.push(...ready.map((w) => w.answer));
    }
    kick();
    if (!running) afterBatch.splice(0).forEach((answer) => answer());
  }

  function kick(): void {
    if (running || closed || paused || !caughtUp || keys.due.size === 0) return;
    running = handOver(seq, () => closed)
      .catch(o.onError)
      .finally(() => {
        running = undefined;
        settle();
      });
  }

  const notices: Subscription = ctx.nc.subscribe(ctx.subjects.keyReleases(), {
    callback: (err, m) => {
      if (err) return;
      try {
        for (const [token, job] of m.json<Array<[string, string]>>()) keys.release(token, job);
      } catch (e) {
        o.onError(e);
      }
      kick();
    },
  });
  const syncing: Subscription = ctx.nc.subscribe(ctx.subjects.keySync(), {
    callback: (err, m) => {
      if (err) return;
      let req: ReturnType<typeof parseSync>;
      try {
        req = parseSync(m.json<unknown>());
      } catch {
        req = { seq: 0, jobs: [] };
      }
      const answer = () => {
        const held = req.jobs.filter(([token, job]) => keys.lines.get(token)?.holder?.job === job);
        m.respond(JSON.stringify(held.map(([, job]) => job)));
      };
      afterIngest.push({ seq: req.seq, answer });
      settle();
    },
  });
  const viewing: Subscription = ctx.nc.subscribe(ctx.subjects.keyView(), {
    callback: (err, m) => {
      const view: SequencerView = caughtUp ? { ready: true, keys: keys.view(Date.now()) } : { ready: false };
      if (!err) m.respond(JSON.stringify(view));
    },
  });

  /** Reads the line from its start (every hold segment still stored), then follows it. */
  async function follow(): Promise<void> {
    // Keys left in per-key lines (stored before the deployment used the sequencer) come first.
    await adoptKeyLines(seq);
    const last = await ctx.reader.get(ctx.topology.streams.delay, {
      lastBySubject: ctx.subjects.sequenced(),
    });
    const lastSeq = last?.seq ?? 0;
    if (lastSeq === 0) caughtUp = true;
    const oc = await jetstream(ctx.nc).consumers.get(ctx.topology.streams.delay, {
      filter_subjects: [ctx.subjects.sequenced()],
      deliver_policy: DeliverPolicy.All,
    });
    if (closed) return;
    messages = await oc.consume();
    for await (const m of messages) {
      const { seq: n, data } = m;
      ingest = ingest
        .then(() => addSegment(seq, n, data))
        .then(() => {
          ingested = n;
          if (n >= lastSeq) caughtUp = true;
          settle();
        })
        .catch(o.onError);
    }
  }

  const following = follow().catch(o.onError);
  const checker = setInterval(() => {
    if (caughtUp) void checkHolders(seq).then(kick).catch(o.onError);
  }, HOLDER_CHECK_AFTER_MS / 2);
  checker.unref();

  return {
    async close() {
      closed = true;
      clearInterval(checker);
      if (retryTimer) clearTimeout(retryTimer);
      notices.unsubscribe();
      viewing.unsubscribe();
      syncing.unsubscribe();
      await messages?.close();
      await following;
      await ingest;
      await running;
    },
  };
}

/** One hold segment of the line, in stream order. */
async function addSegment(s: Sequencer, seq: number, data: Uint8Array): Promise<void> {
  let at: SegmentAt;
  try {
    at = { store: Store.Delay, seq, seg: decodeSegment(data) };
  } catch (err) {
    s.onError(err);
    return;
  }
  s.svc.locator.remember(at);
  s.keys.addSegment(at, await s.svc.ctx.journals.read(Store.Delay, seq, at.seg.jobs.length));
}

/** The key's first waiting job that may run now, or undefined (none, or not yet: see `later`). */
async function nextOf(s: Sequencer, token: string): Promise<WaitingJob | undefined> {
  const { svc, keys } = s;
  const line = keys.lines.get(token);
  while (line && line.waiting.length > 0) {
    const w = line.waiting[0]!;
    const journal = keys.journalOf(w.at.seq);
    if (!journal || journal.slots[w.idx]!.outcome) {
      keys.dropHead(token);
      continue;
    }
    const spec = w.at.seg.jobs[w.idx]!;
    const expired = spec.expiresAt !== undefined && Date.now() > spec.expiresAt;
    const validity = expired ? "expired" : await validateMoved(svc.ctx, svc.locator, w.at, w.idx);
    if (validity === "wait") {
      s.later(POINTER_RETRY_MS);
      return undefined;
    }
    if (validity !== "ok") {
      await expireWaiting(svc, w.at, w.idx, validity === "orphan");
      keys.dropHead(token);
      continue;
    }
    return { at: w.at, idx: w.idx, journal };
  }
  return undefined;
}

/** Hands every due key on, in batches (their new holders share lane segments), until none is left. */
async function handOver(s: Sequencer, closed: () => boolean): Promise<void> {
  const { keys } = s;
  while (keys.due.size > 0 && !closed()) {
    const ended = s.batch();
    try {
      if (!(await handOverBatch(s))) return;
    } finally {
      ended();
    }
  }
}

/** One batch: the due keys' first waiting jobs become holders and move into their lanes together. */
async function handOverBatch(s: Sequencer): Promise<boolean> {
  const { svc, keys } = s;
  const tokens = [...keys.due];
  keys.due.clear();
  const winners: Array<{ token: string; job: WaitingJob }> = [];
  for (const token of tokens) {
    if (keys.lines.get(token)?.holder) continue;
    const next = await nextOf(s, token);
    if (!next) {
      keys.forgetIdle(token);
      continue;
    }
    keys.takeHead(token, Date.now());
    winners.push({ token, job: next });
  }
  if (winners.length === 0) return true;
  try {
    const moved = await moveManyToLane(
      svc,
      winners.map((w) => w.job),
    );
    for (const [seq, journal] of moved.journals) keys.learnJournal(seq, journal);
    for (const f of moved.finished) keys.release(f.token, f.releasing!);
    return true;
  } catch (err) {
    // Not moved (a publish or append that failed): they wait at the head of their lines again, and
    // the sequencer tries again in a second.
    s.onError(err);
    for (const w of winners) {
      if (keys.lines.get(w.token)?.holder?.job !== jobIdAt(w.job.at, w.job.idx)) continue;
      keys.putBack(w.token, w.job.at, w.job.idx, w.job.journal);
    }
    s.later(1000, true);
    return false;
  }
}

/** Releases holders that finished or vanished without a notice reaching this leader. */
async function checkHolders(s: Sequencer): Promise<void> {
  const { svc, keys } = s;
  const now = Date.now();
  const old = [...keys.lines].filter(([, l]) => l.holder && now - l.holder.checked >= HOLDER_CHECK_AFTER_MS);
  await Promise.all(
    old.map(async ([token, line]) => {
      const job = line.holder!.job;
      const status = await holderStatus(svc, job);
      if (line.holder?.job !== job) return;
      if (status.kind === "finished") keys.release(token, job);
      // Still in the line: its move never happened (a failure this process did not see).
      else if (status.kind === "in-line")
        keys.putBack(token, status.loc.at, status.loc.idx, status.loc.journal);
      else line.holder.checked = Date.now();
    }),
  );
}

/**
 * Takes over the per-key lines (exclusive.ts) of keys that have an attention marker: their jobs join
 * the sequencer's lines ahead of any job of the sequenced line, their holder (the last job moved
 * from the line) holds on and is checked at once, and a key with nothing left has its marker and
 * record removed. The markers stay while something waits, so the next leader takes them over too.
 */
async function adoptKeyLines(s: Sequencer): Promise<void> {
  const { svc, keys } = s;
  const { ctx } = svc;
  const kv = ctx.buckets.xkeys;
  for (const marker of await keysOf(kv, "h.>")) {
    const token = marker.slice(2);
    const entry = await kv.get(marker);
    const rec = await readKey(svc, token);
    // The read returns the segment itself: no second read by sequence.
    for (let seq = rec?.cursor.seq ?? 0; ;) {
      const m = await ctx.reader.get(ctx.topology.streams.delay, {
        nextBySubject: ctx.subjects.hold(token),
        seq,
      });
      if (!m) break;
      seq = m.seq + 1;
      await addSegment(s, m.seq, m.data);
    }
    const line = keys.lines.get(token);
    if (line?.holder || (line?.waiting.length ?? 0) > 0) continue;
    if (!entry || entry.operation !== "PUT") continue;
    // Nothing left: the marker goes (unless written since), then the record.
    try {
      await deleteForGood(kv, ctx.jsm, ctx.topology.buckets.xkeys, marker, entry.revision);
      await eraseKey(ctx.jsm, ctx.topology.buckets.xkeys, token);
    } catch (err) {
      if (!isWrongRevision(err)) throw err;
    }
  }
}
