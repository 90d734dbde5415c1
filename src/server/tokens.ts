/**
 * API tokens managed at run time (`jetjob token create|list|revoke`, `/api/v1/tokens`): kept in the
 * tokens bucket as `t.<id>` records holding the token's SHA-256 digest (never the token), its name,
 * scope, creator and expiry. Every API server watches the bucket, so a new token works and a revoked
 * one is refused on all of them as soon as the change reaches them (milliseconds on one NATS).
 * The tokens given at start (`--token-file`, `JETJOB_API_TOKEN`, the admin token of `jetjob start`)
 * stay the bootstrap: they cannot be listed or revoked here.
 */
import { createHash, randomBytes } from "node:crypto";

import type { KV } from "@nats-io/kv";

import { ConflictError, NotFoundError, ValidationError } from "../core/errors.js";
import type { Authenticator, Principal, Scope } from "./auth.js";
import { generateToken } from "./auth.js";

export interface StoredToken {
  id: string;
  name: string;
  scope: Scope;
  /** Hex SHA-256 of the token. */
  digest: string;
  created_at: string;
  created_by?: string;
  expires_at?: string;
}

/** What the API shows of a token (never the digest nor the token). */
export type TokenView = Omit<StoredToken, "digest"> & { expired: boolean };

export interface TokenStore {
  list(): TokenView[];
  create(o: { name: string; scope: Scope; expiresInMs?: number; createdBy?: string }): Promise<{
    token: string;
    view: TokenView;
  }>;
  /** Revokes by id or by name. */
  revoke(idOrName: string): Promise<TokenView>;
  /** The principal of a presented token, if it is a live, unexpired run-time token. */
  lookup(token: string): Principal | undefined;
  close(): void;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const dec = new TextDecoder();
const digestOf = (token: string) => createHash("sha256").update(token).digest("hex");

function viewOf(t: StoredToken, now = Date.now()): TokenView {
  const { digest: _digest, ...rest } = t;
  return { ...rest, expired: t.expires_at !== undefined && Date.parse(t.expires_at) <= now };
}

function isStoredToken(v: unknown): v is StoredToken {
  if (typeof v !== "object" || v === null) return false;
  const t = v as Record<string, unknown>;
  return (
    typeof t.id === "string" &&
    typeof t.name === "string" &&
    typeof t.digest === "string" &&
    (t.scope === "read" || t.scope === "write" || t.scope === "admin")
  );
}

/** Opens the store and waits until it has read every stored token. */
export async function createTokenStore(kv: KV, onError: (err: unknown) => void): Promise<TokenStore> {
  const byId = new Map<string, StoredToken>();
  const byDigest = new Map<string, StoredToken>();
  const forget = (id: string) => {
    const old = byId.get(id);
    if (old) byDigest.delete(old.digest);
    byId.delete(id);
  };
  const apply = (id: string, data: Uint8Array | undefined) => {
    forget(id);
    if (data === undefined) return;
    let v: unknown;
    try {
      v = JSON.parse(dec.decode(data));
    } catch {
      v = undefined;
    }
    if (isStoredToken(v)) {
      byId.set(id, v);
      byDigest.set(v.digest, v);
    }
  };
  // Watch first (nothing changed meanwhile is missed), then read what is stored.
  const watch = await kv.watch({ key: "t.>" });
  for await (const key of await kv.keys("t.>")) {
    const e = await kv.get(key);
    apply(key.slice(2), e?.operation === "PUT" ? e.value : undefined);
  }
  void (async () => {
    for await (const e of watch) apply(e.key.slice(2), e.operation === "PUT" ? e.value : undefined);
  })().catch(onError);

  const find = (idOrName: string) =>
    byId.get(idOrName) ?? [...byId.values()].find((t) => t.name === idOrName);

  return {
    list: () => [...byId.values()].map((t) => viewOf(t)).sort((a, b) => a.name.localeCompare(b.name)),
    async create(o) {
      if (!NAME.test(o.name)) {
        throw new ValidationError("name may use letters, digits, '.', '_' and '-' (up to 64)", {
          details: { field: "name" },
        });
      }
      if ([...byId.values()].some((t) => t.name === o.name)) {
        throw new ConflictError(`A token named '${o.name}' exists; revoke it first or pick another name.`);
      }
      if (o.expiresInMs !== undefined && (!Number.isFinite(o.expiresInMs) || o.expiresInMs < 1000)) {
        throw new ValidationError("expires_in_ms must be at least 1000", {
          details: { field: "expires_in_ms" },
        });
      }
      const token = generateToken();
      const now = Date.now();
      const rec: StoredToken = {
        id: `tok_${randomBytes(6).toString("hex")}`,
        name: o.name,
        scope: o.scope,
        digest: digestOf(token),
        created_at: new Date(now).toISOString(),
        ...(o.createdBy === undefined ? {} : { created_by: o.createdBy }),
        ...(o.expiresInMs === undefined ? {} : { expires_at: new Date(now + o.expiresInMs).toISOString() }),
      };
      await kv.create(`t.${rec.id}`, JSON.stringify(rec));
      // Usable on this server at once, not only when the watch brings it back.
      byId.set(rec.id, rec);
      byDigest.set(rec.digest, rec);
      return { token, view: viewOf(rec, now) };
    },
    async revoke(idOrName) {
      const t = find(idOrName);
      if (!t) throw new NotFoundError("token", idOrName);
      await kv.purge(`t.${t.id}`);
      forget(t.id);
      return viewOf(t);
    },
    lookup(token) {
      const t = byDigest.get(digestOf(token));
      if (!t) return undefined;
      if (t.expires_at !== undefined && Date.parse(t.expires_at) <= Date.now()) return undefined;
      return { name: t.name, scope: t.scope };
    },
    close: () => watch.stop(),
  };
}

/** The start-up tokens first, then the run-time ones. */
export function withTokenStore(base: Authenticator, store: TokenStore): Authenticator {
  return {
    enabled: base.enabled,
    verify(authorization) {
      const p = base.verify(authorization);
      if (p || !authorization) return p;
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      return m ? store.lookup(m[1]!) : undefined;
    },
  };
}
