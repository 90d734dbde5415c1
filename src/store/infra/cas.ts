/**
 * Compare-and-set loops, one shape for all: read, decide, write only if nobody wrote in between;
 * when somebody did, read again. Writers that lose the race see a KV wrong revision (JetStream
 * 10071 / 10164) or a journal's {@link WrongSequenceError}; {@link orAgain} turns either into
 * {@link AGAIN}, and {@link casLoop} runs the attempt again, at most {@link CAS_TRIES} times by default.
 *
 * Only the write is wrapped, never the whole attempt: an error thrown while reading or deciding, or by
 * work done after a successful write, is not a lost race and goes to the caller unchanged.
 */
import { JetStreamApiError } from "@nats-io/jetstream";

import { WrongSequenceError } from "../../nats/publisher.js";

/** How many times a loop reads again after losing a race before it gives up (one default for all). */
export const CAS_TRIES = 25;

/** What an attempt returns when it must read again (its write lost the race, or what it read moved). */
export const AGAIN: unique symbol = Symbol("cas-again");
export type Again = typeof AGAIN;

/** A KV compare-and-set lost the race (JetStream 10071 / 10164). */
export function isWrongRevision(err: unknown): boolean {
  return err instanceof JetStreamApiError && (err.code === 10071 || err.code === 10164);
}

/** Whether an error means that somebody else wrote first (KV revision or journal sequence). */
export function isCasConflict(err: unknown): boolean {
  return err instanceof WrongSequenceError || isWrongRevision(err);
}

/** The write's result, or {@link AGAIN} when it lost the race; other errors are thrown. */
export async function orAgain<T>(write: Promise<T>): Promise<T | Again> {
  try {
    return await write;
  } catch (err) {
    if (isCasConflict(err)) return AGAIN;
    throw err;
  }
}

export interface CasLoopOptions<T> {
  /** Attempts before giving up; default {@link CAS_TRIES}. */
  tries?: number;
  /** What to do when every attempt lost: a fallback value, or throw (typically a retryable conflict). */
  exhausted: () => T | Promise<T>;
}

/**
 * Runs `attempt` (given its number, from 0) until it returns something other than {@link AGAIN}, and
 * returns that; after `tries` attempts returns `exhausted()`.
 */
export async function casLoop<T>(
  attempt: (n: number) => Promise<T | Again>,
  o: CasLoopOptions<T>,
): Promise<T> {
  const tries = o.tries ?? CAS_TRIES;
  for (let n = 0; n < tries; n++) {
    const r = await attempt(n);
    if (r !== AGAIN) return r;
  }
  return o.exhausted();
}
