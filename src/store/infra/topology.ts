/**
 * The names of the NATS resources jetjob uses: the topology (prefix, stream and bucket names, limits),
 * subject tokens and subject builders. Their configuration is in stream-configs.ts, creating them in
 * provision.ts; docs/architecture.md explains what each one holds and why.
 */
import type { Store } from "../../core/ids.js";

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
    /** API tokens created at run time (server/tokens.ts). */
    tokens: string;
    /** JSON Schemas of job args per type and version (schema-registry.ts). */
    schemas: string;
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
      tokens: `${prefix}_tokens`,
      schemas: `${prefix}_schemas`,
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
  /** Every delay bucket and nothing else (one token after `dl`, so no hold segment). */
  delayBuckets(): string {
    return `${this.#p}.dl.*`;
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
  /**
   * The sequenced line (exclusive-sequencer.ts): jobs of every exclusive key waiting in one subject,
   * in enqueue order; two tokens after `dl`, so neither the promoter nor the per-key lines see it.
   */
  sequenced(): string {
    return `${this.#p}.dl.s.0`;
  }
  /** Notices to the sequencer: holders that reached a final state (core NATS, not stored). */
  keyReleases(): string {
    return `${this.#p}.xs.rel`;
  }
  /** Moved notices: the pointers to a segment's moved jobs are stored (core NATS, local-moves.ts). */
  moves(): string {
    return `${this.#p}.mv`;
  }
  /** Requests to the sequencer to answer once it has handed on the keys of a stored segment. */
  keySync(): string {
    return `${this.#p}.xs.sync`;
  }
  /** Requests to the sequencer for its keys (the users' view). */
  keyView(): string {
    return `${this.#p}.xs.view`;
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
