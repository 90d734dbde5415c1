/**
 * Provisioning: creates or updates the streams (stream-configs.ts) and opens or creates the KV
 * buckets of a topology, and classifies JetStream admin errors.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";

import { chooseReplicas, serverHints } from "./replicas.js";
import { streamConfigs } from "./stream-configs.js";
import type { ResolvedTopology } from "./topology.js";

export interface Buckets {
  /** Queue registry: lanes, pause, rate limit. */
  queues: KV;
  /** Client-chosen job ids → first home. */
  ids: KV;
  /** Leader leases of singleton tasks. */
  leases: KV;
  /** Dead-letter index: `<queue>.<job id>`. */
  dlq: KV;
  /** Per-queue counters (completed, discarded, ...). */
  stats: KV;
  /** Unique-job fingerprints. */
  unique: KV;
  /** Rate-limit tokens per queue. */
  limits: KV;
  /** Cron registrations. */
  cron: KV;
  /** Workflow records. */
  workflows: KV;
  /** API tokens created at run time: `t.<id>` with the token's digest. */
  tokens: KV;
  /** Schemas of job args: `s.<type>.<version>` (schema-registry.ts). */
  schemas: KV;
  /** Exclusive keys: holder job and the position of the key's wait line. */
  xkeys: KV;
  /** User locks (`client.locks`). */
  locks: KV;
  /** Fleet registry: `a.<host token>` agent heartbeats, `c.<id>` controller heartbeats. */
  agents: KV;
  /** Fleet jobs: `j.<id>` records, `x.<id>` active index, `w.<host token>` agent control. */
  fleet: KV;
  /** Housekeeping: the walk's cursor per queue lane and over the delay stream. */
  gc: KV;
}

/**
 * Creates or updates every stream and bucket. Safe to run from several processes at once. Existing
 * ones are rescaled only when `t.replicas` was asked for: a worker, agent or NATS client started with
 * the default topology must not scale a clustered deployment down to one replica.
 */
export async function ensureTopology(
  nc: NatsConnection,
  jsm: JetStreamManager,
  t: ResolvedTopology,
): Promise<Buckets> {
  const fresh = t.replicas ?? chooseReplicas(serverHints(nc)).replicas;
  for (const cfg of streamConfigs(t, fresh)) {
    try {
      const info = await jsm.streams.info(cfg.name);
      const replicas = t.replicas ?? info.config.num_replicas;
      const next = { ...cfg, num_replicas: replicas };
      // Limits nobody asked for stay as they are (see ResolvedTopology.limitsGiven).
      if (cfg.name === t.streams.events && !t.limitsGiven.eventsMaxBytes)
        next.max_bytes = info.config.max_bytes;
      if (cfg.name === t.streams.events && !t.limitsGiven.eventsMaxAgeMs) next.max_age = info.config.max_age;
      if (cfg.name === t.streams.fleet && !t.limitsGiven.fleetMaxAgeMs) next.max_age = info.config.max_age;
      await jsm.streams.update(cfg.name, next);
    } catch (err) {
      if (!isStreamNotFound(err)) throw err;
      try {
        await jsm.streams.add(cfg);
      } catch (addErr) {
        // Another process created it between our info and add.
        if (!isStreamAlreadyExists(addErr)) throw addErr;
      }
    }
  }
  const buckets = await openBuckets(nc, t, true, fresh);
  if (t.replicas !== undefined) await alignBucketReplicas(jsm, t.buckets, t.replicas);
  return buckets;
}

/**
 * `Kvm.create` leaves an existing bucket as it is, so a deployment that moved to a cluster (or was
 * started with another `replicas`) would keep single-replica buckets: rescale their streams here.
 */
async function alignBucketReplicas(
  jsm: JetStreamManager,
  buckets: ResolvedTopology["buckets"],
  replicas: number,
): Promise<void> {
  await Promise.all(
    Object.values(buckets).map(async (bucket) => {
      const stream = `KV_${bucket}`;
      const info = await jsm.streams.info(stream);
      if (info.config.num_replicas !== replicas) await jsm.streams.update(stream, { num_replicas: replicas });
    }),
  );
}

/** Opens (and with `create`, creates with `replicas`; existing ones stay as they are) the KV buckets. */
export async function openBuckets(
  nc: NatsConnection,
  t: ResolvedTopology,
  create: boolean,
  replicas = t.replicas ?? 1,
): Promise<Buckets> {
  const kvm = new Kvm(nc);
  const open = (name: string, opts: { ttl?: number; history?: number }) =>
    create ? kvm.create(name, { replicas, history: opts.history ?? 1, ...opts }) : kvm.open(name);
  return {
    queues: await open(t.buckets.queues, {}),
    ids: await open(t.buckets.ids, {}),
    leases: await open(t.buckets.leases, { ttl: 60_000 }),
    dlq: await open(t.buckets.dlq, {}),
    stats: await open(t.buckets.stats, {}),
    unique: await open(t.buckets.unique, {}),
    limits: await open(t.buckets.limits, {}),
    cron: await open(t.buckets.cron, {}),
    workflows: await open(t.buckets.workflows, {}),
    tokens: await open(t.buckets.tokens, {}),
    schemas: await open(t.buckets.schemas, {}),
    xkeys: await open(t.buckets.xkeys, {}),
    locks: await open(t.buckets.locks, {}),
    // Liveness is judged from each entry's age; the TTL only removes agents long gone.
    agents: await open(t.buckets.agents, { ttl: 15 * 60_000 }),
    fleet: await open(t.buckets.fleet, {}),
    gc: await open(t.buckets.gc, {}),
  };
}

/** The JetStream API error code of a failed admin call (`undefined` for other errors). */
export function jsApiCode(err: unknown): number | undefined {
  return err instanceof JetStreamApiError ? err.code : undefined;
}

export function isStreamNotFound(err: unknown): boolean {
  return jsApiCode(err) === JetStreamApiCodes.StreamNotFound;
}

/** 10058: stream name already in use with a different configuration. */
function isStreamAlreadyExists(err: unknown): boolean {
  return jsApiCode(err) === 10058;
}
