/**
 * The eight OJS job states and their legal transitions, in one table.
 *
 * jetjob stores job state as an append-only journal per segment (see docs/architecture.md); every
 * operation that changes a job's state checks {@link canTransition} against the state folded from that
 * journal before it appends, so this table is the single authority for what may happen to a job.
 */

export const JobState = {
  Scheduled: "scheduled",
  Available: "available",
  Pending: "pending",
  Active: "active",
  Completed: "completed",
  Retryable: "retryable",
  Cancelled: "cancelled",
  Discarded: "discarded",
} as const;

export type JobState = (typeof JobState)[keyof typeof JobState];

export const allJobStates: readonly JobState[] = Object.values(JobState);

/** The operations (or events) that move a job between states. */
export const Transition = {
  /** A scheduled job's time has come. */
  Promote: "promote",
  /** A pending job is released. */
  Activate: "activate",
  /** A worker claims the job. */
  Claim: "claim",
  /** The worker reports success. */
  Complete: "complete",
  /** The worker reports failure and attempts remain. */
  Retry: "retry",
  /** The worker reports failure and no attempts remain (or the error is not retryable). */
  Discard: "discard",
  /** The job is put back without counting a failure (nack with requeue, lease expiry). */
  Requeue: "requeue",
  /** The user cancels the job. */
  Cancel: "cancel",
  /** A discarded (dead-letter) job is retried by hand. */
  Revive: "revive",
  /** The job's `expires_at` passed before it ran. */
  Expire: "expire",
} as const;

export type Transition = (typeof Transition)[keyof typeof Transition];

const S = JobState;

/** from-state → transition → to-state. Anything not listed is illegal (HTTP 409). */
const table: Record<JobState, Partial<Record<Transition, JobState>>> = {
  scheduled: { promote: S.Available, cancel: S.Cancelled, expire: S.Discarded },
  pending: { activate: S.Available, cancel: S.Cancelled, expire: S.Discarded },
  available: { claim: S.Active, cancel: S.Cancelled, expire: S.Discarded },
  active: {
    complete: S.Completed,
    retry: S.Retryable,
    discard: S.Discarded,
    requeue: S.Available,
    cancel: S.Cancelled,
  },
  retryable: { promote: S.Available, cancel: S.Cancelled, expire: S.Discarded },
  completed: {},
  cancelled: {},
  discarded: { revive: S.Available },
};

/** The state a transition leads to, or `undefined` when it is not allowed from `from`. */
export function nextState(from: JobState, transition: Transition): JobState | undefined {
  return table[from][transition];
}

export function canTransition(from: JobState, transition: Transition): boolean {
  return nextState(from, transition) !== undefined;
}

/** Terminal states never change again (except a dead-letter retry of `discarded`). */
export function isTerminal(state: JobState): boolean {
  return state === S.Completed || state === S.Cancelled || state === S.Discarded;
}

/** The whole table, for documentation and tests. */
export function transitionTable(): ReadonlyArray<{ from: JobState; transition: Transition; to: JobState }> {
  const rows: Array<{ from: JobState; transition: Transition; to: JobState }> = [];
  for (const from of allJobStates) {
    for (const [transition, to] of Object.entries(table[from]) as Array<[Transition, JobState]>) {
      rows.push({ from, transition, to });
    }
  }
  return rows;
}
