/**
 * Group commit for reports on single jobs (the HTTP door's ACK and FAIL). A worker that fetched ten
 * jobs acknowledges them at once, and those jobs usually share a segment, so their journal appends
 * are compare-and-sets on one subject: done one by one, all but one lose the race, read the journal
 * again and retry, and ten acks cost dozens of round trips. Here reports on jobs of the same segment
 * that arrive while an append to it is in flight wait for it, then go out together as one append:
 * each report is decided on its own job's slot (one report per job in a round; a second report on
 * the same job waits for the next round and so sees the first one's effect), their operations are
 * appended at once, and each caller gets its own answer or its own error. A lost compare-and-set
 * (another writer appended first) reads the journal again and decides the round again, as
 * `mutate` does for one job.
 */
import { ErrorCode, JetjobError, NotFoundError } from "../core/errors.js";
import { WrongSequenceError } from "../nats/publisher.js";
import type { JournalState } from "./journal.js";
import type { JournalOp } from "./journal-ops.js";
import type { Located } from "./locator.js";
import { refKey } from "./segment.js";
import type { Services } from "./services.js";
import { outcomesOf } from "./services.js";
import type { Derived } from "./view.js";
import { deriveState } from "./view.js";

const MAX_ROUND_TRIES = 25;

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
  resolve(v: unknown): void;
  reject(err: unknown): void;
}

interface Group {
  waiting: Waiter[];
  /** The journal as the last append of this group left it. */
  latest?: JournalState;
}

/** Segments with reports waiting or being appended, by services (one map per engine). */
const groupsOf = new WeakMap<Services, Map<string, Group>>();

/** Locate → decide → append like `mutate`, sharing the append with reports on jobs of the same segment. */
export async function mutateGrouped<T>(svc: Services, id: string, decide: Decide<T>): Promise<T> {
  const loc = await svc.locator.locate(id);
  if (!loc) throw new NotFoundError("job", id);
  let groups = groupsOf.get(svc);
  if (!groups) groupsOf.set(svc, (groups = new Map<string, Group>()));
  const key = refKey(loc.at.store, loc.at.seq);
  return new Promise<T>((resolve, reject) => {
    const w: Waiter = { loc, decide, resolve, reject };
    const g = groups.get(key);
    if (g) {
      g.waiting.push(w);
      return;
    }
    const fresh: Group = { waiting: [w] };
    groups.set(key, fresh);
    void drain(svc, groups, key, fresh);
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
  let base = freshest([...round.map((w) => w.loc.journal), ...(g.latest ? [g.latest] : [])]);
  let live = round;
  for (let attempt = 0; attempt < MAX_ROUND_TRIES && live.length > 0; attempt++) {
    const now = Date.now();
    const decided: Array<{ w: Waiter; loc: Located; step: Step<unknown> }> = [];
    for (const w of live) {
      const loc: Located = { ...w.loc, journal: base, slots: base.slots };
      try {
        const step = await w.decide(loc, deriveState(loc.at, loc.idx, loc.slots[loc.idx]!, now), now);
        if (step.ops.length === 0) w.resolve(step.done(loc, now));
        else decided.push({ w, loc, step });
      } catch (err) {
        w.reject(err);
      }
    }
    if (decided.length === 0) return;
    let next: JournalState;
    try {
      next = await svc.ctx.journals.append(
        first.at.store,
        first.at.seq,
        decided.flatMap((x) => x.step.ops),
        base,
      );
    } catch (err) {
      if (!(err instanceof WrongSequenceError)) {
        for (const x of decided) x.w.reject(err);
        return;
      }
      // Someone else appended first: read the journal again and decide again.
      const reread = await svc.locator.readAt(first.at.store, first.at.seq, first.idx).catch((e: unknown) => {
        for (const x of decided) x.w.reject(e);
        return null;
      });
      if (reread === null) return;
      if (reread === undefined) {
        for (const x of decided) x.w.reject(new NotFoundError("job", x.loc.id));
        return;
      }
      base = reread.journal;
      live = decided.map((x) => x.w);
      continue;
    }
    g.latest = next;
    svc.noteOutcomes(
      outcomesOf(
        first.at,
        decided.flatMap((x) => x.step.ops),
      ),
    );
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
    return;
  }
  for (const w of live)
    w.reject(
      new JetjobError(ErrorCode.Conflict, `job ${w.loc.id} is changing too fast; try again`, {
        retryable: true,
      }),
    );
}

function freshest(states: JournalState[]): JournalState {
  return states.reduce((a, b) => (b.lastSeq > a.lastSeq ? b : a));
}
