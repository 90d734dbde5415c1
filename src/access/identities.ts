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
import { queueNamePattern } from "../core/schema.js";
import type { ResolvedTopology } from "../store/infra/topology.js";
import { hostToken } from "../store/infra/topology.js";
import { keysOf } from "../store/infra/kvjson.js";
import { WORKER_USER_PREFIX, workerNamePattern, workerToken } from "./worker-access.js";

export const IdentityState = {
  Pending: "pending",
  Accepted: "accepted",
  Rejected: "rejected",
  Revoked: "revoked",
} as const;
export type IdentityState = (typeof IdentityState)[keyof typeof IdentityState];

/** An agent (fleet jobs on its host, maybe queue jobs) or a queue worker (queue jobs only). */
export type IdentityKind = "agent" | "worker";

export interface IdentityRecord {
  v: 1;
  kind: IdentityKind;
  /** The agent's hostname, or the worker identity's name. */
  hostname: string;
  /**
   * Queues whose jobs it may take (through the API servers' relay, server/worker-relay.ts), granted
   * by the operator who accepts it (`jetjob agent accept <name> --queue Q`). An accepted worker
   * always has some; an agent only when it was granted any (for its `--queue` worker).
   */
  queues?: string[];
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
export type IdentityView = Omit<IdentityRecord, "secret_sha256" | "v"> & {
  /** What to call it by in the CLI and the API (`web-01`, `worker:etl`): see {@link identityName}. */
  name: string;
};

/** The NATS user name an agent connects with. */
export const AGENT_USER_PREFIX = "agent:";
export const agentUser = (hostname: string) => `${AGENT_USER_PREFIX}${hostname.toLowerCase()}`;

/** A password is the agent's secret, or `<secret>~<enrollment token>` to be accepted at once. */
export const ENROLL_TOKEN_SEPARATOR = "~";

export const identitiesBucket = (t: ResolvedTopology) => `${t.prefix}_identities`;
/**
 * Identities are named like users without the agent prefix: `web-01` is the agent of host web-01,
 * `worker:etl` the worker identity etl. Agents keep their `i.<host token>` key; workers get
 * `i.<worker token>` (`w…`, never a host token).
 */
export function parseIdentityName(who: string): { kind: IdentityKind; name: string } {
  if (who.startsWith(WORKER_USER_PREFIX))
    return { kind: "worker", name: who.slice(WORKER_USER_PREFIX.length) };
  if (who.startsWith(AGENT_USER_PREFIX)) return { kind: "agent", name: who.slice(AGENT_USER_PREFIX.length) };
  return { kind: "agent", name: who };
}
/** How lists and the CLI name an identity: the hostname of an agent, `worker:<name>` of a worker. */
export const identityName = (r: { kind: IdentityKind; hostname: string }) =>
  r.kind === "worker" ? `${WORKER_USER_PREFIX}${r.hostname}` : r.hostname;
export const identityKey = (who: string) => {
  const { kind, name } = parseIdentityName(who);
  return `i.${kind === "worker" ? workerToken(name) : hostToken(name)}`;
};
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
  return { name: identityName(r), ...rest };
}

/** Opens (creating if needed) the identities bucket. */
export async function openIdentities(nc: NatsConnection, t: ResolvedTopology): Promise<KV> {
  return new Kvm(nc).create(identitiesBucket(t), { history: 1, replicas: t.replicas ?? 1 });
}

export interface IdentityStore {
  readonly kv: KV;
  get(hostname: string): Promise<{ record: IdentityRecord | undefined; revision: number }>;
  list(): Promise<IdentityView[]>;
  /**
   * Records a request to join (pending); a second request for the same identity changes nothing.
   * `hostname` is an identity name (`web-01`, `worker:etl`, see {@link parseIdentityName}); `queues`
   * are those it asks to take jobs from.
   */
  request(
    hostname: string,
    secret: string,
    from?: string,
    queues?: readonly string[],
  ): Promise<IdentityRecord>;
  /** Accepted at once, e.g. the local agent of `jetjob start` (its secret is in the data dir). */
  acceptLocal(hostname: string, secret: string, queues?: readonly string[]): Promise<void>;
  /**
   * Accepts, rejects or revokes. Accepting may grant `queues` (replacing those asked for); a worker
   * identity must end up with at least one.
   */
  decide(
    hostname: string,
    state: "accepted" | "rejected" | "revoked",
    by: string,
    queues?: readonly string[],
  ): Promise<IdentityView>;
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
  const checkHost = (who: string) => {
    const { kind, name } = parseIdentityName(who);
    if (
      !/^[A-Za-z0-9_.-]{1,253}$/.test(name) ||
      (kind === "worker" && !workerNamePattern.test(name.toLowerCase()))
    ) {
      throw new ValidationError(
        `${kind === "worker" ? "worker name" : "hostname"} '${name}' may only use letters, digits, '.', '_' and '-'`,
      );
    }
  };
  const checkQueues = (queues: readonly string[] | undefined) => {
    for (const q of queues ?? []) {
      if (q.length > 128 || !queueNamePattern.test(q))
        throw new ValidationError(`'${q}' is not a queue name`);
    }
  };
  return {
    kv,
    get,
    async list() {
      const out: IdentityView[] = [];
      for (const k of await keysOf(kv, "i.>")) {
        const e = await kv.get(k);
        const r = e && e.operation === "PUT" ? decodeIdentity(e.value) : undefined;
        if (r) out.push(viewOfIdentity(r));
      }
      return out.sort((a, b) => identityName(a).localeCompare(identityName(b)));
    },
    async request(hostname, secret, from, queues) {
      checkHost(hostname);
      checkQueues(queues);
      const { kind, name } = parseIdentityName(hostname);
      const rec: IdentityRecord = {
        v: 1,
        kind,
        hostname: name.toLowerCase(),
        ...(queues === undefined || queues.length === 0 ? {} : { queues: [...new Set(queues)].sort() }),
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
    async acceptLocal(hostname, secret, queues) {
      checkHost(hostname);
      checkQueues(queues);
      const { kind, name } = parseIdentityName(hostname);
      const now = new Date().toISOString();
      await kv.put(
        identityKey(hostname),
        enc({
          v: 1,
          kind,
          hostname: name.toLowerCase(),
          ...(queues === undefined || queues.length === 0 ? {} : { queues: [...new Set(queues)].sort() }),
          state: IdentityState.Accepted,
          secret_sha256: digestOf(secret),
          requested_at: now,
          decided_at: now,
          decided_by: "jetjob start",
          accepted_via: "local",
        }),
      );
    },
    async decide(hostname, state, by, queues) {
      checkQueues(queues);
      const { record, revision } = await get(hostname);
      if (!record) throw new NotFoundError(`${parseIdentityName(hostname).kind} identity`, hostname);
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
        ...(state === IdentityState.Accepted && queues !== undefined && queues.length > 0
          ? { queues: [...new Set(queues)].sort() }
          : {}),
      };
      if (next.kind === "worker" && state === IdentityState.Accepted && (next.queues ?? []).length === 0) {
        throw new ValidationError(
          `worker identity '${record.hostname}' needs the queues it may take jobs from`,
          {
            hint: `jetjob agent accept worker:${record.hostname} --queue <name> (repeatable)`,
          },
        );
      }
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
