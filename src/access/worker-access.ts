/**
 * Queue workers as NATS identities (docs/security.md, "Queue workers as identities"): names, subjects
 * and the permission list of a worker identity. Pure, like permissions.ts.
 *
 * A queue worker's NATS-direct hot path writes things that carry no queue in their subject: the
 * journal of a segment (`<p>.j.<store>.<seq>`), delay segments (`<p>.dl.<minute>`), the id index,
 * stats, dead letters, workflow state and exclusive keys. No subject permission can limit those to
 * one queue. So a worker identity does not touch JetStream at all: it asks the API servers (which
 * keep full rights) over a request/reply subject that names its queue and itself,
 * `<p>.wq.<queue token>.<principal token>.<op>`, and may publish only on those of its own queues.
 * nats-server enforces the subject, so the relay knows which queue and which
 * identity a request comes from without trusting anything in its body (server/worker-relay.ts).
 *
 * It may also receive its queues' cancel notices (`<p>.cancel.<queue>`, job ids only), its queues'
 * lifecycle events (`<p>.ev.<queue>`, to wake up when work arrives instead of polling fast) and
 * replies on its own inbox prefix. Nothing else: no stream, consumer or bucket, no other queue.
 */
import { queueToken } from "../store/infra/topology.js";
import type { ResolvedTopology } from "../store/infra/topology.js";
import type { SubjectPermissions } from "./permissions.js";

/** The NATS user name a worker identity connects with. */
export const WORKER_USER_PREFIX = "worker:";
export const workerUser = (name: string) => `${WORKER_USER_PREFIX}${name.toLowerCase()}`;

/** Worker names: as hostnames (they are shown in the same lists). */
export const workerNamePattern = /^[a-z0-9_.-]{1,253}$/;

/** A worker name as a subject token: `w` + base64url of the lowercased name (never a host token). */
export function workerToken(name: string): string {
  return `w${Buffer.from(name.toLowerCase(), "utf8").toString("base64url")}`;
}

/** The reply prefix a worker identity must use (its subscription right covers only this prefix). */
export function workerInboxPrefix(name: string): string {
  return `_INBOX_${workerToken(name)}`;
}

/** What a worker asks the relay. */
export const RelayOp = {
  Fetch: "fetch",
  Ack: "ack",
  Nack: "nack",
  Beat: "beat",
  Progress: "progress",
} as const;
export type RelayOp = (typeof RelayOp)[keyof typeof RelayOp];

/** The relay subject of one queue, principal (host or worker token) and operation. */
export function relaySubject(
  t: ResolvedTopology,
  queue: string,
  principalToken: string,
  op: RelayOp,
): string {
  return `${t.prefix}.wq.${queueToken(queue)}.${principalToken}.${op}`;
}

/** Every relay subject (the API servers' subscription). */
export function relaySubjectAll(t: ResolvedTopology): string {
  return `${t.prefix}.wq.*.*.*`;
}

/**
 * What a principal may do on its queues: ask the relay about them, hear their cancel notices and
 * events. `principalToken` is `workerToken(name)` or, for an agent's queue worker, `hostToken(host)`.
 */
export function queueRelayPermissions(
  t: ResolvedTopology,
  principalToken: string,
  queues: readonly string[],
): SubjectPermissions {
  const p = t.prefix;
  const pub: string[] = [];
  const sub: string[] = [];
  for (const q of queues) {
    const qt = queueToken(q);
    pub.push(`${p}.wq.${qt}.${principalToken}.*`);
    sub.push(`${p}.cancel.${qt}`, `${p}.ev.${qt}`);
  }
  return { pub, sub };
}

/** The permission list of worker identity `name` allowed `queues`. */
export function workerPermissions(
  t: ResolvedTopology,
  name: string,
  queues: readonly string[],
): SubjectPermissions {
  const q = queueRelayPermissions(t, workerToken(name), queues);
  return {
    // connectNats checks the account's JetStream (account info only: no data)
    pub: ["$JS.API.INFO", ...q.pub],
    sub: [...q.sub, `${workerInboxPrefix(name)}.>`],
  };
}
