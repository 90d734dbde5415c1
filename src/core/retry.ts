/**
 * Retry policies: how long to wait after a failed attempt, and whether to try again at all.
 * Pure functions; the engine applies them when a worker reports a failure.
 */
import type { SafeRegExp } from "./safe-regex.js";
import { compileSafeRegExp } from "./safe-regex.js";

export const BackoffStrategy = {
  Exponential: "exponential",
  Linear: "linear",
  Constant: "constant",
} as const;
export type BackoffStrategy = (typeof BackoffStrategy)[keyof typeof BackoffStrategy];

export const OnExhaustion = {
  Discard: "discard",
  DeadLetter: "dead_letter",
} as const;
export type OnExhaustion = (typeof OnExhaustion)[keyof typeof OnExhaustion];

/** A normalized retry policy (durations in milliseconds). */
export interface RetryPolicy {
  /** Total executions allowed, including the first. */
  maxAttempts: number;
  initialIntervalMs: number;
  backoffCoefficient: number;
  maxIntervalMs: number;
  jitter: boolean;
  /** Error types/codes (anchored regular expressions) that are never retried. */
  nonRetryableErrors: string[];
  onExhaustion: OnExhaustion;
  strategy: BackoffStrategy;
}

/** The OJS default policy. */
export function defaultRetryPolicy(): RetryPolicy {
  return {
    maxAttempts: 3,
    initialIntervalMs: 1000,
    backoffCoefficient: 2,
    maxIntervalMs: 300_000,
    jitter: true,
    nonRetryableErrors: [],
    onExhaustion: OnExhaustion.Discard,
    strategy: BackoffStrategy.Exponential,
  };
}

/**
 * The delay before the next attempt after attempt `attempt` (1-based) failed.
 * `random` returns a number in [0, 1); jitter multiplies the delay by a factor in [0.5, 1.5).
 */
export function retryDelayMs(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const n = Math.max(1, attempt);
  let delay: number;
  switch (policy.strategy) {
    case BackoffStrategy.Constant:
      delay = policy.initialIntervalMs;
      break;
    case BackoffStrategy.Linear:
      delay = policy.initialIntervalMs * n;
      break;
    case BackoffStrategy.Exponential:
      delay = policy.initialIntervalMs * policy.backoffCoefficient ** (n - 1);
      break;
  }
  // 0 × Infinity is NaN: a zero initial interval means no wait, however large the growth factor.
  if (policy.initialIntervalMs === 0) delay = 0;
  else if (!Number.isFinite(delay)) delay = policy.maxIntervalMs;
  if (policy.jitter) delay = delay * (0.5 + random());
  // The cap applies after jitter: a delay never exceeds max_interval.
  delay = Math.min(delay, policy.maxIntervalMs);
  return Math.max(0, Math.round(delay));
}

/** An error as a worker reports it. */
export interface ReportedError {
  code?: string | undefined;
  type?: string | undefined;
  message?: string | undefined;
  retryable?: boolean | undefined;
}

/**
 * Checks a `non_retryable_errors` pattern: it must compile on its own (so it cannot escape the
 * anchoring group, like `x)|(.*`), and stay short. Returns an error message, or undefined when fine.
 */
export function checkErrorPattern(pattern: string): string | undefined {
  if (pattern.length > 200) return "is longer than 200 characters";
  try {
    compileSafeRegExp(pattern);
  } catch (err) {
    return `is not a valid regular expression: ${(err as Error).message}`;
  }
  return undefined;
}

/**
 * The one rule for whether a failed attempt is retried: attempts are left and the error may be
 * retried. Used wherever a failure is decided or shown (store/segments/moves.ts, store/jobs/view.ts).
 */
export function willRetry(policy: RetryPolicy, attempt: number, err: ReportedError): boolean {
  return attempt < policy.maxAttempts && isRetryableError(policy, err);
}

/** Whether a failure may be retried under `policy` (ignoring the attempt count). */
export function isRetryableError(policy: RetryPolicy, err: ReportedError): boolean {
  if (err.retryable === false) return false;
  for (const pattern of policy.nonRetryableErrors) {
    const re = compileAnchored(pattern);
    if (!re) continue;
    for (const candidate of [err.type, err.code, err.message]) {
      // Bounded input: patterns come from job options, messages from workers.
      if (candidate !== undefined && re.test(candidate.slice(0, 1000))) return false;
    }
  }
  return true;
}

const patternCache = new Map<string, SafeRegExp | null>();

/** RE2 (core/safe-regex.ts): patterns come from job options, and must not be able to freeze a process. */
function compileAnchored(pattern: string): SafeRegExp | undefined {
  let re = patternCache.get(pattern);
  if (re === undefined) {
    try {
      re = compileSafeRegExp(`^(?:${pattern})$`);
    } catch {
      re = null;
    }
    if (patternCache.size > 1000) patternCache.clear();
    patternCache.set(pattern, re);
  }
  return re ?? undefined;
}
