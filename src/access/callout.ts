/**
 * The NATS auth callout service (nats-server 2.10 `auth_callout`): nats-server asks it about every
 * connection that does not log in as one of the configured full-rights users (jetjob's servers and
 * CLI), and it answers with a user JWT carrying that identity's permissions (permissions.ts), or a
 * refusal. Every jetjob API server given the issuer key runs one (a queue group: any of them answers).
 *
 * An agent connects as `agent:<hostname>`, a queue worker as `worker:<name>`, with its secret as
 * password:
 * - unknown host: recorded as pending (the digest of the secret it presented), refused;
 * - pending: refused until an operator accepts it, or at once accepted when the password carries a
 *   valid one-time enrollment token (`<secret>~<token>`; agents only: a worker's queues are granted
 *   by an operator);
 * - accepted and the secret matches: admitted with its permissions (an agent's, plus the relay
 *   subjects of the queues it was granted; a worker's: only those, worker-access.ts);
 * - rejected, revoked, wrong secret: refused. When an identity is revoked (or rejected or forgotten),
 *   this service disconnects the connections it admitted for it (system account `KICK`).
 */
import type { KV } from "@nats-io/kv";
import { KvWatchInclude } from "@nats-io/kv";
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import type { AuthorizationRequest, ClaimsData, KeyPair } from "@nats-io/jwt";
import { decode, encodeAuthorizationResponse, encodeUser } from "@nats-io/jwt";

import type { Logger } from "../core/logger.js";
import { silentLogger } from "../core/logger.js";
import type { ResolvedTopology } from "../store/infra/topology.js";
import { hostToken, keyFromToken } from "../store/infra/topology.js";
import type { IdentityStore } from "./identities.js";
import {
  AGENT_USER_PREFIX,
  agentUser,
  decodeIdentity,
  ENROLL_TOKEN_SEPARATOR,
  IdentityState,
  identityStore,
  openIdentities,
  secretMatches,
} from "./identities.js";
import type { IdentityRecord } from "./identities.js";
import type { SubjectPermissions } from "./permissions.js";
import { agentPermissions } from "./permissions.js";
import {
  queueRelayPermissions,
  WORKER_USER_PREFIX,
  workerNamePattern,
  workerPermissions,
} from "./worker-access.js";

/** The subject nats-server sends auth requests to. */
export const AUTH_CALLOUT_SUBJECT = "$SYS.REQ.USER.AUTH";

export interface AuthCalloutOptions {
  /** Full-rights connection (one of the config's `auth_users`). */
  nc: NatsConnection;
  /** The account key whose public key is the config's `auth_callout.issuer`. */
  issuer: KeyPair;
  topology: ResolvedTopology;
  /** A system-account connection, to disconnect revoked agents (without it they stay until they reconnect). */
  system?: NatsConnection | undefined;
  logger?: Logger;
  /** Account the admitted users go to. @defaultValue "$G" (the config's global account) */
  account?: string;
  /** How long to collect every server's answer when looking for a revoked agent's connections. @defaultValue 1000 */
  connzWaitMs?: number;
}

export interface AuthCallout {
  readonly identities: IdentityStore;
  /** Connections admitted and refused by this service so far. */
  stats(): { admitted: number; refused: number; kicked: number };
  close(): Promise<void>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * The permissions of an accepted identity: an agent's (plus the relay subjects of the queues it was
 * granted, for its `--queue` worker), or a worker identity's (worker-access.ts).
 */
export function permissionsOf(t: ResolvedTopology, r: IdentityRecord): SubjectPermissions {
  if (r.kind === "worker") return workerPermissions(t, r.hostname, r.queues ?? []);
  const base = agentPermissions(t, r.hostname);
  if (!r.queues || r.queues.length === 0) return base;
  const q = queueRelayPermissions(t, hostToken(r.hostname), r.queues);
  return { pub: [...base.pub, ...q.pub], sub: [...base.sub, ...q.sub] };
}

export async function startAuthCallout(o: AuthCalloutOptions): Promise<AuthCallout> {
  const log = o.logger ?? silentLogger;
  const account = o.account ?? "$G";
  const kv: KV = await openIdentities(o.nc, o.topology);
  const identities = identityStore(kv);
  const counts = { admitted: 0, refused: 0, kicked: 0 };

  async function decideFor(req: AuthorizationRequest): Promise<{ jwt: string } | { error: string }> {
    const user = req.connect_opts.user ?? "";
    const pass = req.connect_opts.pass ?? "";
    // `agent:<hostname>` or `worker:<name>`; records are looked up by identity name (identities.ts).
    let who: string;
    if (user.startsWith(AGENT_USER_PREFIX)) {
      who = user.slice(AGENT_USER_PREFIX.length);
      if (!/^[a-z0-9_.-]{1,253}$/.test(who)) return { error: "bad agent name" };
    } else if (user.startsWith(WORKER_USER_PREFIX)) {
      if (!workerNamePattern.test(user.slice(WORKER_USER_PREFIX.length))) return { error: "bad worker name" };
      who = user;
    } else return { error: "unknown user" };
    const hostname = who;
    const sep = pass.indexOf(ENROLL_TOKEN_SEPARATOR);
    const secret = sep < 0 ? pass : pass.slice(0, sep);
    const token = sep < 0 ? undefined : pass.slice(sep + 1);
    if (secret.length < 16) return { error: "the agent's secret is too short" };
    let { record } = await identities.get(hostname);
    if (!record) {
      record = await identities.request(hostname, secret, req.client_info.host);
      log.info("identity asks to join", { name: hostname, from: req.client_info.host ?? "-" });
    }
    if (!secretMatches(secret, record.secret_sha256)) return { error: "wrong secret for this agent" };
    // A worker identity's queues are granted by an operator (`accept --queue`), never by a token.
    if (record.state === IdentityState.Pending && token !== undefined && record.kind !== "worker") {
      if (await identities.takeEnrollToken(token)) {
        await identities.decide(hostname, IdentityState.Accepted, "enrollment token");
        record = { ...record, state: IdentityState.Accepted };
        log.info("agent accepted by an enrollment token", { hostname });
      }
    }
    if (record.state !== IdentityState.Accepted)
      return { error: `${record.kind} '${record.hostname}' is ${record.state}` };
    const perms = permissionsOf(o.topology, record);
    const jwt = await encodeUser(
      user,
      req.user_nkey,
      o.issuer,
      { pub: { allow: perms.pub }, sub: { allow: perms.sub } },
      { aud: account },
    );
    return { jwt };
  }

  async function answer(m: Msg): Promise<void> {
    let claims: ClaimsData<AuthorizationRequest>;
    try {
      claims = decode<AuthorizationRequest>(dec.decode(m.data));
    } catch {
      return; // not a request we can read (encrypted requests are not configured by jetjob)
    }
    const req = claims.nats as AuthorizationRequest;
    let outcome: { jwt: string } | { error: string };
    try {
      outcome = await decideFor(req);
    } catch (err) {
      outcome = { error: "the identity store is unavailable" };
      log.warn("auth callout failed", { error: err instanceof Error ? err.message : String(err) });
    }
    if ("error" in outcome) {
      counts.refused++;
      log.info("NATS connection refused", { user: req.connect_opts.user ?? "-", reason: outcome.error });
    } else counts.admitted++;
    m.respond(
      enc.encode(await encodeAuthorizationResponse(req.user_nkey, req.server_id.id, o.issuer, outcome, {})),
    );
  }

  const sub: Subscription = o.nc.subscribe(AUTH_CALLOUT_SUBJECT, {
    queue: "jetjob-auth",
    callback: (err, m) => {
      if (!err) void answer(m).catch(() => undefined);
    },
  });

  // A revoked (rejected, forgotten) identity loses its connections, wherever they are: every service
  // watches the bucket, and asks every NATS server for that user's connections (not only the ones it
  // admitted itself: a connection may predate this process or be on another node).
  const watch = await kv.watch({ key: "i.>", include: KvWatchInclude.UpdatesOnly });
  void (async () => {
    for await (const e of watch) {
      const r = e.operation === "PUT" ? decodeIdentity(e.value) : undefined;
      log.debug("identity changed", { key: e.key, state: r?.state ?? e.operation });
      if (r?.state === IdentityState.Accepted || r?.state === IdentityState.Pending) continue;
      // A deleted record says nothing: its key is the host's (or worker's) token.
      const tok = e.key.slice("i.".length);
      const user = r
        ? r.kind === "worker"
          ? `${WORKER_USER_PREFIX}${r.hostname}`
          : agentUser(r.hostname)
        : tok.startsWith("w")
          ? `${WORKER_USER_PREFIX}${keyFromToken(tok)}`
          : agentUser(keyFromToken(tok));
      await kick(user);
    }
  })().catch(() => undefined);

  async function kick(user: string): Promise<void> {
    const hostname = user;
    const system = o.system;
    if (!system) return;
    try {
      const replies = await system.requestMany(
        "$SYS.REQ.SERVER.PING.CONNZ",
        JSON.stringify({ user, limit: 1024 }),
        { strategy: "timer", maxWait: o.connzWaitMs ?? 1000 },
      );
      log.debug("looking for the connections of a revoked agent", { hostname });
      for await (const m of replies) {
        const body = JSON.parse(dec.decode(m.data)) as {
          server?: { id?: string };
          data?: { connections?: Array<{ cid: number }> };
        };
        const server = body.server?.id;
        if (!server) continue;
        for (const c of body.data?.connections ?? []) {
          await system.request(`$SYS.REQ.SERVER.${server}.KICK`, JSON.stringify({ cid: c.cid }), {
            timeout: 2000,
          });
          counts.kicked++;
          log.info("disconnected a revoked agent", { hostname, server, cid: c.cid });
        }
      }
    } catch (err) {
      log.warn("could not disconnect a revoked agent", {
        hostname,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  await o.nc.flush();
  return {
    identities,
    stats: () => ({ ...counts }),
    close() {
      sub.unsubscribe();
      watch.stop();
      return Promise.resolve();
    },
  };
}
