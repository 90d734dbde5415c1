/**
 * User locks (leases with a fencing token): acquire (waiting up to `wait_ms`), renew, release, list.
 * The request bodies are the `/api/v1/locks` wire forms, validated here for both doors.
 */
import { z } from "zod";

import type { LockGrant, LockView } from "../store/features/locks.js";
import { LOCK_LIMITS } from "../store/features/locks.js";
import type { UseCaseDeps } from "./deps.js";

export type { LockGrant, LockView };

export const lockAcquireSchema = z
  .object({
    name: z.string().min(1).max(LOCK_LIMITS.maxNameLength),
    ttl_ms: z.int().min(LOCK_LIMITS.minTtlMs).max(LOCK_LIMITS.maxTtlMs).optional(),
    wait_ms: z.int().min(0).max(LOCK_LIMITS.maxWaitMs).optional(),
    owner: z.string().max(256).optional(),
  })
  .strict();

export const lockRenewSchema = z
  .object({
    token: z.string().min(1).max(100),
    ttl_ms: z.int().min(LOCK_LIMITS.minTtlMs).max(LOCK_LIMITS.maxTtlMs).optional(),
  })
  .strict();

export const lockReleaseSchema = z.object({ token: z.string().min(1).max(100) }).strict();

/** Takes the lock, waiting up to `wait_ms` (409 `lock_held` when it stays taken); `signal` stops the wait. */
export function acquireLock(
  d: UseCaseDeps,
  body: z.output<typeof lockAcquireSchema>,
  signal?: AbortSignal,
): Promise<LockGrant> {
  return d.engine.locks.acquire({
    name: body.name,
    ...(signal === undefined ? {} : { signal }),
    ...(body.ttl_ms === undefined ? {} : { ttlMs: body.ttl_ms }),
    ...(body.wait_ms === undefined ? {} : { waitMs: body.wait_ms }),
    ...(body.owner === undefined ? {} : { owner: body.owner }),
  });
}

/** Extends a lock held with this token (409 `lock_lost` otherwise). */
export const renewLock = (
  d: UseCaseDeps,
  name: string,
  body: z.output<typeof lockRenewSchema>,
): Promise<LockGrant> => d.engine.locks.renew(name, body.token, body.ttl_ms);

/** Releases a lock held with this token (409 `lock_lost` otherwise). */
export const releaseLock = (
  d: UseCaseDeps,
  name: string,
  body: z.output<typeof lockReleaseSchema>,
): Promise<{ released: true; name: string }> => d.engine.locks.release(name, body.token);

/** Locks held now (never their tokens). */
export const listLocks = (d: UseCaseDeps): Promise<LockView[]> => d.engine.locks.list();
