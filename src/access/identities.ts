/**
 * Agent identities on NATS: who may connect as which agent. Kept in the identities bucket
 * (`<prefix>_identities`) as `i.<host token>` records holding the SHA-256 digest of the agent's
 * secret (never the secret), its state and who decided it; one-time enrollment tokens as
 * `e.<digest>` records. The auth callout service (callout.ts) reads them on every connect; the CLI
 * (`jetjob agent pending|accept|reject|revoke`) changes them.
 *
 * States: `pending` (asked to join, refused until accepted), `accepted` (connects with its own
 * permissions), `rejected` and `revoked` (refused; a revoked agent is also disconnected).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

import type { KV } from "@nats-io/kv";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";

import { ConflictError, NotFoundError, ValidationError } from "../core/errors.js";
import type { ResolvedTopology } from "../store/infra/topology.js";
import { hostToken } from "../store/infra/topology.js";

export const IdentityState = {
  Pending: "pending",
  Accepted: "accepted",
  Rejected: "rejected",
  Revoked: "revoked",
} as const;
export type IdentityState = (typeof IdentityState)[keyof typeof IdentityState];

export interface IdentityRecord {
  v: 1;
  kind: "agent";
  hostname: string;
  state: IdentityState;
  /** Hex SHA-256 of the agent's secret. */
  secret_sha256: string;
  requested_at: string;
  /** Address the request came from. */
  from?: string;
  decided_at?: string;
  decided_by?: string;
  /** `token` when an enrollment token accepted it. */
  accepted_via?: "operator" | "token" | "local";
}

/** What lists show (never the digest). */
export type IdentityView = Omit<IdentityRecord, "secret_sha256" | "v">;

/** The NATS user name an agent connects with. */
export const AGENT_USER_PREFIX = "agent:";
export const agentUser = (hostname: string) => `${AGENT_USER_PREFIX}${hostname.toLowerCase()}`;

/** A password is the agent's secret, or `<secret>~<enrollment token>` to be accepted at once. */
export const ENROLL_TOKEN_SEPARATOR = "~";

export const identitiesBucket = (t: ResolvedTopology) => `${t.prefix}_identities`;
export const identityKey = (hostname: string) => `i.${hostToken(hostname)}`;
const enrollKey = (token: string) => `e.${digestOf(token)}`;

export const digestOf = (secret: string) => createHash("sha256").update(secret).digest("hex");

export function newSecret(): string {
  return randomBytes(32).toString("base64url");
}

/** Constant-time comparison of a presented secret with a stored digest. */
export function secretMatches(secret: string, digest: string): boolean {
  const a = Buffer.from(digestOf(secret), "hex");
  const b = Buffer.from(digest, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}

const dec = new TextDecoder();

export function decodeIdentity(value: Uint8Array): IdentityRecord | undefined {
  try {
    const r = JSON.parse(dec.decode(value)) as Partial<IdentityRecord>;
    if (
      typeof r === "object" &&
      r !== null &&
      typeof r.hostname === "string" &&
      typeof r.secret_sha256 === "string" &&
      typeof r.state === "string" &&
      (Object.values(IdentityState) as string[]).includes(r.state)
    ) {
      return r as IdentityRecord;
    }
  } catch {
    // not a record
  }
  return undefined;
}

export function viewOfIdentity(r: IdentityRecord): IdentityView {
  const { secret_sha256: _d, v: _v, ...rest } = r;
  return rest;
}

/** Opens (creating if needed) the identities bucket. */
export async function openIdentities(nc: NatsConnection, t: ResolvedTopology): Promise<KV> {
  return new Kvm(nc).create(identitiesBucket(t), { history: 1, replicas: t.replicas ?? 1 });
}

export interface IdentityStore {
  readonly kv: KV;
  get(hostname: string): Promise<{ record: IdentityRecord | undefined; revision: number }>;
  list(): Promise<IdentityView[]>;
  /** Records a request to join (pending); a second request for the same host changes nothing. */
  request(hostname: string, secret: string, from?: string): Promise<IdentityRecord>;
  /** Accepted at once, e.g. the local agent of `jetjob start` (its secret is in the data dir). */
  acceptLocal(hostname: string, secret: string): Promise<void>;
  decide(hostname: string, state: "accepted" | "rejected" | "revoked", by: string): Promise<IdentityView>;
  /** Removes the record (the host may ask to join again). */
  forget(hostname: string): Promise<void>;
  /** A one-time enrollment token that accepts the agent presenting it (stored as its digest only). */
  createEnrollToken(o: { by: string; expiresInMs: number }): Promise<{ token: string; expires_at: string }>;
  /** Uses up a token: true when it was valid (then it is gone). */
  takeEnrollToken(token: string): Promise<boolean>;
}

export function identityStore(kv: KV): IdentityStore {
  const enc = (r: IdentityRecord) => JSON.stringify(r);
  const get = async (hostname: string) => {
    const e = await kv.get(identityKey(hostname));
    if (!e || e.operation !== "PUT") return { record: undefined, revision: e?.revision ?? 0 };
    return { record: decodeIdentity(e.value), revision: e.revision };
  };
  const checkHost = (hostname: string) => {
    if (!/^[A-Za-z0-9_.-]{1,253}$/.test(hostname)) {
      throw new ValidationError(`hostname '${hostname}' may only use letters, digits, '.', '_' and '-'`);
    }
  };
  return {
    kv,
    get,
    async list() {
      const out: IdentityView[] = [];
      const keys: string[] = [];
      for await (const k of await kv.keys("i.>")) keys.push(k);
      for (const k of keys) {
        const e = await kv.get(k);
        const r = e && e.operation === "PUT" ? decodeIdentity(e.value) : undefined;
        if (r) out.push(viewOfIdentity(r));
      }
      return out.sort((a, b) => a.hostname.localeCompare(b.hostname));
    },
    async request(hostname, secret, from) {
      checkHost(hostname);
      const rec: IdentityRecord = {
        v: 1,
        kind: "agent",
        hostname: hostname.toLowerCase(),
        state: IdentityState.Pending,
        secret_sha256: digestOf(secret),
        requested_at: new Date().toISOString(),
        ...(from === undefined ? {} : { from }),
      };
      try {
        await kv.create(identityKey(hostname), enc(rec));
        return rec;
      } catch {
        const cur = (await get(hostname)).record;
        if (cur) return cur;
        throw new ConflictError(`the identity of '${hostname}' changed meanwhile`);
      }
    },
    async acceptLocal(hostname, secret) {
      checkHost(hostname);
      const now = new Date().toISOString();
      await kv.put(
        identityKey(hostname),
        enc({
          v: 1,
          kind: "agent",
          hostname: hostname.toLowerCase(),
          state: IdentityState.Accepted,
          secret_sha256: digestOf(secret),
          requested_at: now,
          decided_at: now,
          decided_by: "jetjob start",
          accepted_via: "local",
        }),
      );
    },
    async decide(hostname, state, by) {
      const { record, revision } = await get(hostname);
      if (!record) throw new NotFoundError("agent identity", hostname);
      if (state === IdentityState.Accepted && record.state !== IdentityState.Pending) {
        throw new ConflictError(`'${hostname}' is ${record.state}, not pending`, {
          details: { hostname, state: record.state },
        });
      }
      const next: IdentityRecord = {
        ...record,
        state,
        decided_at: new Date().toISOString(),
        decided_by: by,
        ...(state === IdentityState.Accepted ? { accepted_via: "operator" as const } : {}),
      };
      try {
        await kv.update(identityKey(hostname), enc(next), revision);
      } catch (err) {
        // Another operator (or the callout, for a token) decided first: say so, do not overwrite.
        const now = await get(hostname).catch(() => undefined);
        if (now !== undefined && now.revision !== revision) {
          throw new ConflictError(`the identity of '${hostname}' changed meanwhile; look again`, {
            details: { hostname },
            cause: err,
          });
        }
        throw err;
      }
      return viewOfIdentity(next);
    },
    async forget(hostname) {
      await kv.delete(identityKey(hostname));
    },
    async createEnrollToken({ by, expiresInMs }) {
      const token = `jje_${randomBytes(24).toString("base64url")}`;
      const expires_at = new Date(Date.now() + expiresInMs).toISOString();
      await kv.put(enrollKey(token), JSON.stringify({ created_by: by, expires_at }));
      return { token, expires_at };
    },
    async takeEnrollToken(token) {
      const key = enrollKey(token);
      const e = await kv.get(key);
      if (!e || e.operation !== "PUT") return false;
      let expiresAt: number;
      try {
        expiresAt = Date.parse((JSON.parse(dec.decode(e.value)) as { expires_at: string }).expires_at);
      } catch {
        return false;
      }
      // One use: whoever deletes it at this revision wins.
      try {
        await kv.delete(key, { previousSeq: e.revision });
      } catch {
        return false;
      }
      return expiresAt > Date.now();
    },
  };
}
