/**
 * Lock handles for the client SDK: `client.locks.acquire(name, { ttlMs, waitMs })` returns a handle
 * that renews and releases the lock with its secret token. Locks are leases: if the holder stops
 * renewing, the lock is free again after `ttlMs`. Give `fencingToken` to the resource you protect so
 * it can refuse a holder whose lease ran out without it noticing.
 */
import type { Api, LockGrantInfo, LockInfo } from "./api.js";

export interface AcquireOptions {
  /** The lease; renew before it ends. @defaultValue 30000 */
  ttlMs?: number;
  /** Wait up to this long for the lock to become free. @defaultValue 0 (fail at once with `lock_held`) */
  waitMs?: number;
  /** Shown to others in `locks.list()` (e.g. host and pid). */
  owner?: string;
  signal?: AbortSignal;
}

export interface LockHandle {
  readonly name: string;
  /** Secret: renews and releases this lock. */
  readonly token: string;
  /** Grows with every acquisition: lets a resource refuse writes from an older holder. */
  readonly fencingToken: number;
  /** When the lease ends unless renewed. */
  readonly expiresAt: Date;
  /** Extends the lease (fails with `lock_lost` if the lock is no longer ours). */
  renew(ttlMs?: number): Promise<Date>;
  /** Gives the lock up (fails with `lock_lost` if it is no longer ours). */
  release(): Promise<void>;
  /** Releases the lock, ignoring `lock_lost` (for `await using`). */
  [Symbol.asyncDispose](): Promise<void>;
}

export interface Locks {
  acquire(name: string, options?: AcquireOptions): Promise<LockHandle>;
  /** Locks held now (never their tokens). */
  list(): Promise<LockInfo[]>;
  /** Renews a lock by name and token (e.g. one taken by another process or the CLI). */
  renew(name: string, token: string, ttlMs?: number): Promise<LockInfo>;
  /** Releases a lock by name and token. */
  release(name: string, token: string): Promise<{ released: true; name: string }>;
}

export function createLocks(api: Api): Locks {
  function handle(g: LockGrantInfo): LockHandle {
    let expiresAt = new Date(g.expires_at);
    const h: LockHandle = {
      name: g.name,
      token: g.token,
      fencingToken: g.fencing_token,
      get expiresAt() {
        return expiresAt;
      },
      async renew(ttlMs) {
        const r = await api.locks.renew(g.name, g.token, ttlMs);
        expiresAt = new Date(r.expires_at);
        return expiresAt;
      },
      async release() {
        await api.locks.release(g.name, g.token);
      },
      async [Symbol.asyncDispose]() {
        await h.release().catch(() => undefined);
      },
    };
    return h;
  }
  return {
    async acquire(name, o = {}) {
      const g = await api.locks.acquire(
        {
          name,
          ...(o.ttlMs === undefined ? {} : { ttl_ms: o.ttlMs }),
          ...(o.waitMs === undefined ? {} : { wait_ms: o.waitMs }),
          ...(o.owner === undefined ? {} : { owner: o.owner }),
        },
        o.signal,
      );
      return handle(g);
    },
    list: () => api.locks.list(),
    async renew(name, token, ttlMs) {
      const { token: _secret, ...info } = await api.locks.renew(name, token, ttlMs);
      return info;
    },
    release: (name, token) => api.locks.release(name, token),
  };
}
