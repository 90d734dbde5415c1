/**
 * Agent enrollment, the operator's side: list identities (optionally of one state), accept, reject,
 * revoke and forget an agent, and make one-time enrollment tokens. These functions are the one
 * implementation behind both `jetjob agent pending|identities|accept|reject|revoke|forget-identity|
 * enroll-token` (cli/agent-identities.ts) and `/api/v1/agent-identities` (server/routes-identities.ts),
 * so the CLI and the HTTP API cannot differ.
 *
 * They only change the identities bucket. Every jetjob server's auth callout (callout.ts) reads it on
 * each connect and watches it: an accepted agent connects at its next attempt, and a revoked (rejected,
 * forgotten) one loses its open connections on every NATS node at once (system `CONNZ`, then `KICK`).
 * Secrets and their digests never leave the store: everything here answers {@link IdentityView}s.
 */
import { NotFoundError, ValidationError } from "../core/errors.js";
import type { IdentityStore, IdentityView } from "./identities.js";
import { viewOfIdentity } from "./identities.js";
import { IdentityState } from "./identities.js";

/** Options of {@link listIdentities}. */
export interface ListIdentitiesOptions {
  /** Only identities in this state (e.g. `pending`: agents waiting for an operator). @defaultValue all */
  state?: IdentityState | undefined;
}

/** Every agent identity (sorted by hostname), or those of one state. */
export async function listIdentities(
  store: IdentityStore,
  o: ListIdentitiesOptions = {},
): Promise<IdentityView[]> {
  const all = await store.list();
  return o.state === undefined ? all : all.filter((i) => i.state === o.state);
}

/** Who made a decision, recorded as `decided_by` (`cli:alice`, `api:ops-token`). */
export interface DecisionOptions {
  by: string;
}

/** Options of {@link acceptAgent}. */
export interface AcceptOptions extends DecisionOptions {
  /**
   * Queues it may take jobs from, through the API servers' relay: a worker identity (`worker:<name>`)
   * needs at least one; an agent gets them for its `--queue` worker. @defaultValue none
   */
  queues?: readonly string[] | undefined;
}

/**
 * Lets a pending agent join with its own NATS identity: it connects at its next attempt. Throws
 * `not_found` for an unknown host and `conflict` when the identity is not pending.
 */
export function acceptAgent(store: IdentityStore, hostname: string, o: AcceptOptions): Promise<IdentityView> {
  return store.decide(hostname, IdentityState.Accepted, o.by, o.queues);
}

/** Refuses an agent from now on (its connections, if any, are closed). `not_found` for an unknown host. */
export function rejectAgent(
  store: IdentityStore,
  hostname: string,
  o: DecisionOptions,
): Promise<IdentityView> {
  return store.decide(hostname, IdentityState.Rejected, o.by);
}

/**
 * Cuts an agent off: every auth callout service closes its connections on every node, and it cannot
 * connect again. `not_found` for an unknown host.
 */
export function revokeAgent(
  store: IdentityStore,
  hostname: string,
  o: DecisionOptions,
): Promise<IdentityView> {
  return store.decide(hostname, IdentityState.Revoked, o.by);
}

/**
 * Removes an identity (its connections are closed; the host may ask to join again). Answers what was
 * removed; `not_found` for an unknown host.
 */
export async function forgetAgent(store: IdentityStore, hostname: string): Promise<IdentityView> {
  const { record } = await store.get(hostname);
  if (!record) throw new NotFoundError("agent identity", hostname);
  await store.forget(hostname);
  return viewOfIdentity(record);
}

/** How long an enrollment token is valid when no lifetime is given: 1 hour. */
export const DEFAULT_ENROLL_TOKEN_TTL_MS = 60 * 60 * 1000;
/** The longest lifetime of an enrollment token: 30 days. */
export const MAX_ENROLL_TOKEN_TTL_MS = 30 * 24 * 60 * 60 * 1000;
const MIN_ENROLL_TOKEN_TTL_MS = 1000;

/** Options of {@link createEnrollToken}. */
export interface EnrollTokenOptions extends DecisionOptions {
  /** Lifetime. @defaultValue {@link DEFAULT_ENROLL_TOKEN_TTL_MS} (1 hour); at most 30 days */
  expiresInMs?: number | undefined;
}

/** A one-time enrollment token: shown once, kept only as its digest. */
export interface EnrollToken {
  token: string;
  expires_at: string;
}

/**
 * A one-time token: the agent presenting it (`jetjob agent --enroll --enroll-token T`) is accepted at
 * once, without waiting for an operator. Throws `invalid_request` for a lifetime out of range.
 */
export function createEnrollToken(store: IdentityStore, o: EnrollTokenOptions): Promise<EnrollToken> {
  const ttl = o.expiresInMs ?? DEFAULT_ENROLL_TOKEN_TTL_MS;
  if (!Number.isSafeInteger(ttl) || ttl < MIN_ENROLL_TOKEN_TTL_MS || ttl > MAX_ENROLL_TOKEN_TTL_MS) {
    throw new ValidationError(
      `an enrollment token's lifetime must be between 1 s and 30 days (${MAX_ENROLL_TOKEN_TTL_MS} ms), got ${ttl} ms`,
      { details: { field: "expires_in_ms" } },
    );
  }
  return store.createEnrollToken({ by: o.by, expiresInMs: ttl });
}

/** The command that enrolls an agent with a token (`--nats-tls-ca` to add when NATS uses TLS). */
export function enrollCommand(o: { natsUrl: string; token: string }): string {
  return `jetjob agent --nats ${o.natsUrl} --enroll --enroll-token ${o.token}`;
}
