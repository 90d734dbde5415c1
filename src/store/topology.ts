/**
 * The NATS resources jetjob uses: stream and bucket names, subjects, and their configuration.
 * docs/architecture.md explains what each one holds and why.
 */
import type { JetStreamManager, StreamConfig } from "@nats-io/jetstream";
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { nanos } from "@nats-io/nats-core";

import { Store } from "../core/ids.js";
import { chooseReplicas, serverHints } from "./replicas.js";

export interface TopologyOptions {
  /** Subject prefix and name stem; lets several deployments share one NATS. @defaultValue "jj" */
  prefix?: string;
  /**
   * Replicas of every stream and bucket (3 on a 3-node cluster; 1 to 5). When given,
   * `ensureTopology` creates new streams and buckets with it and rescales existing ones to it. When
   * not (workers, agents, NATS clients), existing ones keep theirs and new ones get 3 on a cluster of
   * 3+ servers, else 1 (replicas.ts). `jetjob server` always passes one (`--replicas`, or detected).
   * @defaultValue undefined
   */
  replicas?: number;
  /**
   * Byte limit of the recent-events stream. Stream limits given here are applied to existing streams
   * on start-up; limits not given leave existing streams as they are (new ones get the defaults).
   * `jetjob server` always gives them (its flags, or the defaults). @defaultValue 64 MiB
   */
  eventsMaxBytes?: number;
  /** Age limit of the recent-events stream. @defaultValue 24 h */
  eventsMaxAgeMs?: number;
  /**
   * Age limit of fleet job timelines (per-host events and results), a backstop behind housekeeping,
   * which removes a finished fleet job after its retention. @defaultValue 8 days
   */
  fleetMaxAgeMs?: number;
}

export interface ResolvedTopology {
  prefix: string;
  /** Replicas asked for (rescales existing resources); undefined: keep existing, detect for new. */
  replicas: number | undefined;
  streams: { queue: string; delay: string; journal: string; events: string; fleet: string; gc: string };
  buckets: {
    queues: string;
    ids: string;
    leases: string;
    dlq: string;
    stats: string;
    unique: string;
    limits: string;
    cron: string;
    workflows: string;
    xkeys: string;
    locks: string;
    agents: string;
    fleet: string;
    gc: string;
  };
  eventsMaxBytes: number;
  eventsMaxAgeMs: number;
  fleetMaxAgeMs: number;
  /**
   * Which stream limits were asked for. Only those are applied to existing streams: a worker, agent
   * or client started with the defaults must not undo the limits a server was configured with.
   */
  limitsGiven: { eventsMaxBytes: boolean; eventsMaxAgeMs: boolean; fleetMaxAgeMs: boolean };
}

/** The stream limits a server applies when it is given none (see {@link TopologyOptions}). */
export function defaultStreamLimits(): Required<
  Pick<TopologyOptions, "eventsMaxBytes" | "eventsMaxAgeMs" | "fleetMaxAgeMs">
> {
  return {
    eventsMaxBytes: 64 * 1024 * 1024,
    eventsMaxAgeMs: 24 * 3600_000,
    fleetMaxAgeMs: 8 * 24 * 3600_000,
  };
}

export function resolveTopology(o: TopologyOptions = {}): ResolvedTopology {
  const prefix = o.prefix ?? "jj";
  if (!/^[a-z][a-z0-9]*$/.test(prefix))
    throw new RangeError(`topology prefix must match ^[a-z][a-z0-9]*$: ${prefix}`);
  const replicas = o.replicas;
  if (replicas !== undefined && (!Number.isInteger(replicas) || replicas < 1 || replicas > 5))
    throw new RangeError(`topology replicas must be an integer from 1 to 5: ${replicas}`);
  const up = prefix.toUpperCase();
  return {
    prefix,
    replicas,
    streams: {
      queue: `${up}_QUEUE`,
      delay: `${up}_DELAY`,
      journal: `${up}_JOURNAL`,
      events: `${up}_EVENTS`,
      fleet: `${up}_FLEET`,
      gc: `${up}_GC`,
    },
    buckets: {
      queues: `${prefix}_queues`,
      ids: `${prefix}_ids`,
      leases: `${prefix}_leases`,
      dlq: `${prefix}_dlq`,
      stats: `${prefix}_stats`,
      unique: `${prefix}_unique`,
      limits: `${prefix}_limits`,
      cron: `${prefix}_cron`,
      workflows: `${prefix}_workflows`,
      xkeys: `${prefix}_xkeys`,
      locks: `${prefix}_locks`,
      agents: `${prefix}_agents`,
      fleet: `${prefix}_fleet`,
      gc: `${prefix}_gc`,
    },
    eventsMaxBytes: o.eventsMaxBytes ?? defaultStreamLimits().eventsMaxBytes,
    eventsMaxAgeMs: o.eventsMaxAgeMs ?? defaultStreamLimits().eventsMaxAgeMs,
    fleetMaxAgeMs: o.fleetMaxAgeMs ?? defaultStreamLimits().fleetMaxAgeMs,
    limitsGiven: {
      eventsMaxBytes: o.eventsMaxBytes !== undefined,
      eventsMaxAgeMs: o.eventsMaxAgeMs !== undefined,
      fleetMaxAgeMs: o.fleetMaxAgeMs !== undefined,
    },
  };
}

/** Queue names may contain dots; subject tokens may not. `_` is not allowed in queue names. */
export function queueToken(queue: string): string {
  return queue.replaceAll(".", "_");
}

/** An exclusive key as a subject token and KV key: `k` + base64url (never a number, never a dot). */
export function keyToken(key: string): string {
  return `k${Buffer.from(key, "utf8").toString("base64url")}`;
}

/** A fleet hostname as a subject token and KV key: `h` + base64url of the lowercased name. */
export function hostToken(hostname: string): string {
  return `h${Buffer.from(hostname.toLowerCase(), "utf8").toString("base64url")}`;
}

/** The token under which a controller writes its own timeline events (never a host token). */
export const CONTROLLER_TOKEN = "_";

export function keyFromToken(token: string): string {
  return Buffer.from(token.slice(1), "base64url").toString("utf8");
}

/** Priority lanes: `p000` (priority -100) … `p200` (priority 100); higher sorts first. */
export function laneToken(priority: number): string {
  return `p${String(priority + 100).padStart(3, "0")}`;
}

export function laneFromToken(token: string): number {
  return Number(token.slice(1)) - 100;
}

/** Subject builders for one topology. */
export class Subjects {
  readonly #p: string;
  constructor(prefix: string) {
    this.#p = prefix;
  }
  /** A queue lane: segments of jobs ready to run. */
  lane(queue: string, priority: number): string {
    return `${this.#p}.q.${queueToken(queue)}.${laneToken(priority)}`;
  }
  /** Delay buckets: segments due in one minute. */
  delayBucket(minute: number): string {
    return `${this.#p}.dl.${minute}`;
  }
  delayAll(): string {
    return `${this.#p}.dl.>`;
  }
  /**
   * Hold segments: jobs waiting for exclusive key `token` (see exclusive.ts), in enqueue order. They
   * live in the delay stream but never have a due time; the token starts with a letter, so the
   * promoter (which reads minute numbers) never mistakes them for a delay bucket.
   */
  hold(token: string): string {
    return `${this.#p}.dl.x.${token}`;
  }
  holdAll(): string {
    return `${this.#p}.dl.x.>`;
  }
  /** The journal of one segment. */
  journal(store: Store, seq: number): string {
    return `${this.#p}.j.${store}.${seq}`;
  }
  /** Recent lifecycle events of a queue. */
  events(queue: string): string {
    return `${this.#p}.ev.${queueToken(queue)}`;
  }
  eventsAll(): string {
    return `${this.#p}.ev.>`;
  }
  /** Live cancel notices to running handlers (core NATS, not stored). */
  cancel(queue: string): string {
    return `${this.#p}.cancel.${queueToken(queue)}`;
  }
  cancelAll(): string {
    return `${this.#p}.cancel.>`;
  }
  /** Dispatch requests to one fleet agent (core NATS, not stored). */
  fleetDispatch(hostTok: string): string {
    return `${this.#p}.fx.${hostTok}`;
  }
  /** A fleet job's timeline: one subject per host (`_` for the controller's own events). */
  fleetTimeline(jobId: string, hostTok: string): string {
    return `${this.#p}.ft.${jobId}.${hostTok}`;
  }
  fleetTimelineAll(jobId: string): string {
    return `${this.#p}.ft.${jobId}.>`;
  }
  /** Housekeeping's removal checks due in one minute (store/retention). */
  gc(minute: number): string {
    return `${this.#p}.gc.${minute}`;
  }
  gcAll(): string {
    return `${this.#p}.gc.>`;
  }
  /** Durable consumer of a lane. */
  laneConsumer(queue: string, priority: number): string {
    return `q_${queueToken(queue)}_${laneToken(priority)}`;
  }
}

/**
 * Stream configs, with their limits set explicitly. Queue, delay and journal have none: they hold
 * live jobs, so they keep data until housekeeping removes it (store/retention) and refuse new writes
 * rather than drop old ones. Events are bounded by size and age; fleet timelines by age, as a
 * backstop behind housekeeping. `ensureTopology` applies changed limits to existing streams.
 */
export function streamConfigs(
  t: ResolvedTopology,
  replicas = t.replicas ?? 1,
): Array<Partial<StreamConfig> & { name: string }> {
  const p = t.prefix;
  const common = {
    storage: StorageType.File,
    num_replicas: replicas,
    allow_direct: true,
    retention: RetentionPolicy.Limits,
  };
  return [
    {
      ...common,
      name: t.streams.queue,
      subjects: [`${p}.q.>`],
      discard: DiscardPolicy.New,
      duplicate_window: nanos(5 * 60_000),
      description: "jetjob: segments of jobs ready to run, one subject per queue and priority lane",
    },
    {
      ...common,
      name: t.streams.delay,
      subjects: [`${p}.dl.>`],
      discard: DiscardPolicy.New,
      duplicate_window: nanos(5 * 60_000),
      description: "jetjob: segments of scheduled and retrying jobs, one subject per due minute",
    },
    {
      ...common,
      name: t.streams.journal,
      subjects: [`${p}.j.>`],
      discard: DiscardPolicy.New,
      duplicate_window: nanos(60_000),
      description: "jetjob: append-only state journal, one subject per segment",
    },
    {
      ...common,
      name: t.streams.events,
      subjects: [`${p}.ev.>`],
      discard: DiscardPolicy.Old,
      max_bytes: t.eventsMaxBytes,
      max_age: nanos(t.eventsMaxAgeMs),
      duplicate_window: nanos(1000),
      description: "jetjob: recent lifecycle events (bounded)",
    },
    {
      ...common,
      name: t.streams.fleet,
      subjects: [`${p}.ft.>`],
      discard: DiscardPolicy.Old,
      max_age: nanos(t.fleetMaxAgeMs),
      duplicate_window: nanos(60_000),
      description: "jetjob: fleet job timelines, one subject per job and host (events and results)",
    },
    {
      ...common,
      name: t.streams.gc,
      subjects: [`${p}.gc.>`],
      // Removal checks may be due months ahead; each is deleted once processed.
      discard: DiscardPolicy.New,
      max_age: 0,
      max_bytes: -1,
      duplicate_window: nanos(60_000),
      description: "jetjob: housekeeping's removal checks, one subject per due minute",
    },
  ];
}

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

export { Store };
