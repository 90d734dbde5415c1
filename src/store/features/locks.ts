/**
 * Distributed locks for users (`client.locks`, `/api/v1/locks`, `jetjob lock`). A lock is a KV entry
 * in `jj_locks` taken with compare-and-set: create when free, or replace an expired holder's entry at
 * the revision that was read, so two callers can never both get it. The holder gets a secret token
 * (needed to renew and release) and a fencing token: the entry's revision, which only grows, so a
 * resource can refuse writes from an older holder. Waiting uses a KV watch on the one key, not polling.
 */
import { randomUUID } from "node:crypto";

import type { KV, KvEntry } from "@nats-io/kv";
import { KvWatchInclude } from "@nats-io/kv";

import { ConflictError, ErrorCode, ValidationError } from "../../core/errors.js";
import { toRfc3339 } from "../../core/time.js";
import { deleteForGood, keysOf } from "../infra/kvjson.js";
import { isWrongRevision } from "../infra/cas.js";
import type { Services } from "../infra/services.js";
import { keyToken } from "../infra/topology.js";

export const LOCK_LIMITS = {
  defaultTtlMs: 30_000,
  minTtlMs: 100,
  maxTtlMs: 24 * 3600_000,
  maxWaitMs: 10 * 60_000,
  maxNameLength: 256,
} as const;

interface LockRecord {
  name: string;
  token: string;
  owner?: string;
  acquiredAt: number;
  expiresAt: number;
  /** The fencing token, written at the first renewal (until then it is the entry's revision). */
  fence?: number;
}

/** A lock as its holder sees it. */
export interface LockGrant {
  name: string;
  /** Secret: renews and releases the lock. */
  token: string;
  /** Grows with every acquisition of any lock: give it to the resource to fence off older holders. */
  fencing_token: number;
  owner?: string;
  acquired_at: string;
  expires_at: string;
}

/** A lock as anyone sees it (no token). */
export interface LockView {
  name: string;
  owner?: string;
  fencing_token: number;
  acquired_at: string;
  expires_at: string;
}

export interface AcquireRequest {
  name: string;
  ttlMs?: number;
  /** Wait this long for the lock to become free (0: fail at once). */
  waitMs?: number;
  owner?: string;
  signal?: AbortSignal;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function decode(e: KvEntry | null): LockRecord | undefined {
  if (!e || e.operation !== "PUT") return undefined;
  try {
    return JSON.parse(dec.decode(e.value)) as LockRecord;
  } catch {
    return undefined;
  }
}

function checkName(name: string): void {
  if (name.length === 0 || name.length > LOCK_LIMITS.maxNameLength) {
    throw new ValidationError(`a lock name must be 1 to ${LOCK_LIMITS.maxNameLength} characters`, {
      details: { field: "name" },
    });
  }
}

function checkTtl(ttlMs: number): void {
  if (!Number.isInteger(ttlMs) || ttlMs < LOCK_LIMITS.minTtlMs || ttlMs > LOCK_LIMITS.maxTtlMs) {
    throw new ValidationError(
      `ttl_ms must be an integer from ${LOCK_LIMITS.minTtlMs} to ${LOCK_LIMITS.maxTtlMs}`,
      { details: { field: "ttl_ms" } },
    );
  }
}

export async function acquireLock(svc: Services, req: AcquireRequest): Promise<LockGrant> {
  const ttlMs = req.ttlMs ?? LOCK_LIMITS.defaultTtlMs;
  const waitMs = req.waitMs ?? 0;
  checkName(req.name);
  checkTtl(ttlMs);
  if (!Number.isInteger(waitMs) || waitMs < 0 || waitMs > LOCK_LIMITS.maxWaitMs) {
    throw new ValidationError(`wait_ms must be an integer from 0 to ${LOCK_LIMITS.maxWaitMs}`, {
      details: { field: "wait_ms" },
    });
  }
  const kv = svc.ctx.buckets.locks;
  const key = keyToken(req.name);
  const deadline = Date.now() + waitMs;
  for (;;) {
    req.signal?.throwIfAborted();
    const entry = await kv.get(key);
    const cur = decode(entry);
    const now = Date.now();
    if (!cur || cur.expiresAt <= now) {
      const rec: LockRecord = {
        name: req.name,
        token: randomUUID(),
        acquiredAt: now,
        expiresAt: now + ttlMs,
      };
      if (req.owner !== undefined) rec.owner = req.owner;
      try {
        const revision =
          entry && entry.operation === "PUT"
            ? await kv.update(key, enc.encode(JSON.stringify(rec)), entry.revision)
            : await kv.create(key, enc.encode(JSON.stringify(rec)));
        return grantOf(rec, revision);
      } catch (err) {
        if (isWrongRevision(err)) continue; // someone else got there first: look again
        throw err;
      }
    }
    if (now >= deadline) {
      throw new ConflictError(
        `lock ${req.name} is held${cur.owner === undefined ? "" : ` by ${cur.owner}`} until ${toRfc3339(cur.expiresAt)}`,
        {
          code: ErrorCode.LockHeld,
          details: {
            name: req.name,
            expires_at: toRfc3339(cur.expiresAt),
            ...(cur.owner ? { owner: cur.owner } : {}),
          },
        },
      );
    }
    await changeOrTimeout(kv, key, entry!.revision, Math.min(deadline, cur.expiresAt) - now, req.signal);
  }
}

/** Resolves when the key changes after `revision`, after `ms`, or when `signal` aborts. */
async function changeOrTimeout(
  kv: KV,
  key: string,
  revision: number,
  ms: number,
  signal?: AbortSignal,
): Promise<void> {
  const w = await kv.watch({ key, include: KvWatchInclude.LastValue });
  let timer: NodeJS.Timeout | undefined;
  const onAbort = () => w.stop();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await Promise.race([
      (async () => {
        for await (const e of w) if (e.revision > revision) return;
      })(),
      new Promise<void>((r) => (timer = setTimeout(r, Math.max(1, ms)))),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
    w.stop();
  }
}

async function ownEntry(
  kv: KV,
  key: string,
  name: string,
  token: string,
): Promise<{ rec: LockRecord; revision: number }> {
  const entry = await kv.get(key);
  const rec = decode(entry);
  if (!rec || rec.token !== token) {
    throw new ConflictError(`lock ${name} is not held with this token (released, or expired and taken)`, {
      code: ErrorCode.LockLost,
      details: { name },
    });
  }
  return { rec, revision: entry!.revision };
}

/** Extends a lock this token holds. An expired lock nobody took since can still be renewed. */
export async function renewLock(
  svc: Services,
  name: string,
  token: string,
  ttlMs: number = LOCK_LIMITS.defaultTtlMs,
): Promise<LockGrant> {
  checkName(name);
  checkTtl(ttlMs);
  const kv = svc.ctx.buckets.locks;
  const key = keyToken(name);
  for (;;) {
    const { rec, revision } = await ownEntry(kv, key, name, token);
    const next: LockRecord = { ...rec, fence: rec.fence ?? revision, expiresAt: Date.now() + ttlMs };
    try {
      await kv.update(key, enc.encode(JSON.stringify(next)), revision);
      // The fencing token stays the one of the acquisition.
      return grantOf(next, undefined);
    } catch (err) {
      if (!isWrongRevision(err)) throw err;
    }
  }
}

export async function releaseLock(
  svc: Services,
  name: string,
  token: string,
): Promise<{ released: true; name: string }> {
  checkName(name);
  const kv = svc.ctx.buckets.locks;
  const key = keyToken(name);
  for (;;) {
    const { revision } = await ownEntry(kv, key, name, token);
    try {
      await deleteForGood(kv, svc.ctx.jsm, svc.ctx.topology.buckets.locks, key, revision);
      return { released: true, name };
    } catch (err) {
      if (!isWrongRevision(err)) throw err;
    }
  }
}

/** Locks held now (expired ones are free and not listed). */
export async function listLocks(svc: Services): Promise<LockView[]> {
  const kv = svc.ctx.buckets.locks;
  const out: LockView[] = [];
  const now = Date.now();
  for (const key of await keysOf(kv)) {
    const entry = await kv.get(key);
    const rec = decode(entry);
    if (!rec || rec.expiresAt <= now) continue;
    const v: LockView = {
      name: rec.name,
      fencing_token: fencingOf(rec, entry!.revision),
      acquired_at: toRfc3339(rec.acquiredAt),
      expires_at: toRfc3339(rec.expiresAt),
    };
    if (rec.owner !== undefined) v.owner = rec.owner;
    out.push(v);
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Renewals change the revision; the fencing token is the one taken at acquisition. */
function fencingOf(rec: LockRecord, revision: number): number {
  return rec.fence ?? revision;
}

function grantOf(rec: LockRecord, revision: number | undefined): LockGrant {
  const g: LockGrant = {
    name: rec.name,
    token: rec.token,
    fencing_token: rec.fence ?? revision ?? 0,
    acquired_at: toRfc3339(rec.acquiredAt),
    expires_at: toRfc3339(rec.expiresAt),
  };
  if (rec.owner !== undefined) g.owner = rec.owner;
  return g;
}
