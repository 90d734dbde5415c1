/**
 * Group commit for reports on single jobs (the HTTP door's ACK and FAIL). A worker that fetched ten
 * jobs acknowledges them at once, and those jobs usually share a segment, so their journal appends
 * are compare-and-sets on one subject: done one by one, all but one lose the race, read the journal
 * again and retry, and ten acks cost dozens of round trips. Here reports on jobs of the same segment
 * that arrive while an append to it is in flight wait for it, then go out together as one append:
 * each report is decided on its own job's slot (one report per job in a round; a second report on
 * the same job waits for the next round and so sees the first one's effect), their operations are
 * appended at once, and each caller gets its own answer or its own error. After a lost
 * compare-and-set (another writer appended first) each report locates its job again and is decided
 * again, as `mutate` does for one job.
 */
import { ErrorCode, JetjobError, NotFoundError, isJetjobError } from "../../core/errors.js";
import { WrongSequenceError } from "../../nats/publisher.js";
import type { JournalState } from "./journal.js";
import type { JournalOp } from "./journal-ops.js";
import type { JobAt, Located, ReadMemo } from "../jobs/locator.js";
import { refKey } from "../segments/segment.js";
import type { Services } from "../infra/services.js";
import { outcomesOf } from "../infra/services.js";
import type { Derived } from "../jobs/view.js";
import { deriveState } from "../jobs/view.js";

const MAX_TRIES = 25;

/** What a report decides for its job: the journal operations, and what to answer once they are stored. */
export interface Step<T> {
  ops: JournalOp[];
  after?: () => Promise<void>;
  done: (loc: Located, now: number) => T;
}

type Decide<T> = (loc: Located, d: Derived, now: number) => Promise<Step<T>> | Step<T>;

interface Waiter {
  loc: Located;
  decide: Decide<unknown>;
  /** Rounds this report has lost to another writer so far. */
  tries: number;
  /** Located with a read of its own, issued after the report arrived (not a shared one). */
  fresh: boolean;
  resolve(v: unknown): void;
  reject(err: unknown): void;
}

interface Group {
  waiting: Waiter[];
  /** The journal as the last append of this group left it. */
  latest?: JournalState;
}

/** Segments with reports waiting or being appended, and the reads in flight, per engine. */
interface Groups {
  bySegment: Map<string, Group>;
  reads: ReadMemo;
}
const groupsOf = new WeakMap<Services, Groups>();

/**
 * Reads in flight shared by concurrent reports (ten acks of one segment read its journal once); an
 * entry goes when its read settles, so a later report reads afresh. A shared read that turns out to
 * be stale only costs a lost compare-and-set, after which the report locates its job again.
 */
class InFlightReads extends Map<string, Promise<JobAt | undefined>> {
  override set(key: string, p: Promise<JobAt | undefined>): this {
    super.set(key, p);
    const drop = () => {
      if (super.get(key) === p) super.delete(key);
    };
    p.then(drop, drop);
    return this;
  }
}

/** The refusal of a report whose job kept changing under it for every try (`mutate` and here). */
export function changingTooFast(id: string): JetjobError {
  return new JetjobError(ErrorCode.Conflict, `job ${id} is changing too fast; try again`, {
    retryable: true,
  });
}

/** Locate → decide → append like `mutate`, sharing the append with reports on jobs of the same segment. */
export function mutateGrouped<T>(svc: Services, id: string, decide: Decide<T>): Promise<T> {
  return enter(svc, id, decide, 0, false) as Promise<T>;
}

async function enter(
  svc: Services,
  id: string,
  decide: Decide<unknown>,
  tries: number,
  fresh: boolean,
): Promise<unknown> {
  let groups = groupsOf.get(svc);
  if (!groups) groupsOf.set(svc, (groups = { bySegment: new Map(), reads: new InFlightReads() }));
  const loc = await svc.locator.locate(id, fresh ? undefined : groups.reads);
  if (!loc) throw new NotFoundError("job", id);
  const key = refKey(loc.at.store, loc.at.seq);
  const { bySegment } = groups;
  return new Promise((resolve, reject) => {
    const w: Waiter = { loc, decide, tries, fresh, resolve, reject };
    const g = bySegment.get(key);
    if (g) {
      g.waiting.push(w);
      return;
    }
    const started: Group = { waiting: [w] };
    bySegment.set(key, started);
    void drain(svc, bySegment, key, started);
  });
}

async function drain(svc: Services, groups: Map<string, Group>, key: string, g: Group): Promise<void> {
  try {
    while (g.waiting.length > 0) {
      const round: Waiter[] = [];
      const later: Waiter[] = [];
      const jobs = new Set<number>();
      for (const w of g.waiting) {
        if (jobs.has(w.loc.idx)) later.push(w);
        else {
          jobs.add(w.loc.idx);
          round.push(w);
        }
      }
      g.waiting = later;
      await commitRound(svc, g, round);
    }
  } finally {
    groups.delete(key);
  }
}

async function commitRound(svc: Services, g: Group, round: Waiter[]): Promise<void> {
  const first = round[0]!.loc;
  const base = freshest([...round.map((w) => w.loc.journal), ...(g.latest ? [g.latest] : [])]);
  const now = Date.now();
  const decided: Array<{ w: Waiter; loc: Located; step: Step<unknown> }> = [];
  for (const w of round) {
    const loc: Located = { ...w.loc, journal: base, slots: base.slots };
    try {
      const step = await w.decide(loc, deriveState(loc.at, loc.idx, loc.slots[loc.idx]!, now), now);
      if (step.ops.length === 0) w.resolve(step.done(loc, now));
      else decided.push({ w, loc, step });
    } catch (err) {
      // A refusal (lease lost, not active) decided on a shared read, or on this group's last append,
      // may predate a write the report depends on: the claim of a job fetched while that read was in
      // flight. A stale read that leads to an append only loses the compare-and-set; a refusal writes
      // nothing, so it is confirmed on a read of the report's own before it is answered.
      if (!w.fresh && isJetjobError(err)) reenter(svc, w, w.tries, true);
      else w.reject(err);
    }
  }
  if (decided.length === 0) return;
  const ops = decided.flatMap((x) => x.step.ops);
  let next: JournalState;
  try {
    next = await svc.ctx.journals.append(first.at.store, first.at.seq, ops, base);
  } catch (err) {
    delete g.latest;
    if (!(err instanceof WrongSequenceError)) {
      for (const { w } of decided) w.reject(err);
      return;
    }
    await retryRound(
      svc,
      g,
      decided.map((x) => x.w),
    );
    return;
  }
  g.latest = next;
  svc.noteOutcomes(outcomesOf(first.at, ops));
  await Promise.all(
    decided.map(async ({ w, loc, step }) => {
      try {
        if (step.after) await step.after();
        w.resolve(step.done({ ...loc, journal: next, slots: next.slots }, now));
      } catch (err) {
        w.reject(err);
      }
    }),
  );
}

/**
 * Another writer appended first. The round's base was stale: most often a read shared with reports
 * that arrived earlier, issued before this group's own last append (under load such reads kept
 * losing, and an ACK was refused as changing too fast). One read of the journal, issued now, sees
 * every append stored before the lost one; the round's reports go back to the front of the group,
 * decided again on it. A report whose job has moved meanwhile is refused by its decide on this
 * segment and then located again with a read of its own (`commitRound`).
 */
async function retryRound(svc: Services, g: Group, lost: Waiter[]): Promise<void> {
  const again: Waiter[] = [];
  for (const w of lost) {
    w.tries += 1;
    if (w.tries < MAX_TRIES) {
      w.fresh = false;
      again.push(w);
    } else w.reject(changingTooFast(w.loc.id));
  }
  if (again.length === 0) return;
  const at = again[0]!.loc.at;
  try {
    g.latest = await svc.ctx.journals.read(at.store, at.seq, at.seg.jobs.length);
  } catch (err) {
    for (const w of again) w.reject(err);
    return;
  }
  g.waiting.unshift(...again);
}

function reenter(svc: Services, w: Waiter, tries: number, fresh: boolean): void {
  enter(svc, w.loc.id, w.decide, tries, fresh).then(
    (v) => w.resolve(v),
    (e: unknown) => w.reject(e),
  );
}

function freshest(states: JournalState[]): JournalState {
  return states.reduce((a, b) => (b.lastSeq > a.lastSeq ? b : a));
}
