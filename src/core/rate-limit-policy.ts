/**
 * Per-job rate limits (ojs-rate-limiting §6, `options.rate_limit` with a `key`), mapped onto what
 * jetjob enforces for every door at once: a concurrency of one job per key is an exclusive key
 * (`rate:<key>`, store/features/exclusive.ts): the key's jobs run one at a time, in enqueue order, across all
 * workers and API servers, released on any final outcome and repaired after crashes. Everything
 * else is refused (422 `unsupported`) rather than accepted and not enforced: concurrency above one
 * (exclusive keys have one holder), windows and throttles per key (jetjob limits rates per queue:
 * `max_per_second`), and `on_limit` other than `wait`.
 */
import { ErrorCode, JetjobError, ValidationError } from "./errors.js";

/** The exclusive key that carries a rate-limit key (its own namespace: never an `exclusive_key`'s). */
export const rateLimitKey = (key: string): string => `rate:${key}`;

/** The rate-limit key of an exclusive key, if it carries one. */
export function rateLimitKeyOf(xkey: string): string | undefined {
  return xkey.startsWith("rate:") ? xkey.slice(5) : undefined;
}

export interface RateLimitPolicyWire {
  key?: string | undefined;
  concurrency?: number | undefined;
  rate?: unknown;
  throttle?: unknown;
  on_limit?: string | undefined;
}

/**
 * The exclusive key of a job's rate-limit policy (undefined without a `key`).
 * @throws {JetjobError} `unsupported` (422) for a policy jetjob cannot enforce.
 */
export function rateLimitExclusiveKey(p: RateLimitPolicyWire, exclusiveKey?: string): string | undefined {
  if (p.key === undefined) return undefined;
  const unsupported = (field: string, why: string) =>
    new JetjobError(ErrorCode.Unsupported, `options.rate_limit.${field}: ${why}`, {
      details: { field: `options.rate_limit.${field}` },
    });
  if (p.rate !== undefined)
    throw unsupported("rate", "per-key windows are not supported; limit the queue with max_per_second");
  if (p.throttle !== undefined)
    throw unsupported("throttle", "per-key throttles are not supported; limit the queue with max_per_second");
  if (p.on_limit !== undefined && p.on_limit !== "wait")
    throw unsupported("on_limit", "only 'wait' is supported: a limited job waits its turn");
  if (p.concurrency !== 1) {
    throw unsupported(
      "concurrency",
      "only 1 is supported: one running job per key (an exclusive key), the key's jobs in enqueue order",
    );
  }
  if (exclusiveKey !== undefined) {
    throw new ValidationError("options.rate_limit.key and options.exclusive_key cannot both be given", {
      details: { field: "options.rate_limit.key" },
    });
  }
  return rateLimitKey(p.key);
}
