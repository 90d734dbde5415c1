/**
 * Everything the engine, the API server and the NATS-direct worker share on one NATS connection:
 * topology, pipelined publisher and reader, journals, KV buckets and the queue registry.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";

import type { StorageGuard } from "./storage-guard.js";
import { createStorageGuard } from "./storage-guard.js";
import { uuidv7 } from "../../core/ids.js";
import type { PayloadLimits, RetentionDefaults } from "../../core/storage-options.js";
import { defaultPayloadLimits, defaultRetention } from "../../core/storage-options.js";
import type { SharedInbox } from "../../nats/inbox.js";
import { createSharedInbox } from "../../nats/inbox.js";
import type { Publisher } from "../../nats/publisher.js";
import { createPublisher } from "../../nats/publisher.js";
import type { StreamReader } from "../../nats/reader.js";
import { createStreamReader } from "../../nats/reader.js";
import { agreeExclusiveMode } from "../features/exclusive-mode.js";
import type { Journals } from "../journal/journal.js";
import { createJournals } from "../journal/journal.js";
import type { QueueRegistry } from "../queues/queues.js";
import { createQueueRegistry } from "../queues/queues.js";
import type { ResolvedTopology, TopologyOptions } from "./topology.js";
import type { Buckets } from "./provision.js";
import { resolveTopology, Subjects } from "./topology.js";
import { ensureTopology, openBuckets } from "./provision.js";

export interface StoreContext {
  nc: NatsConnection;
  jsm: JetStreamManager;
  topology: ResolvedTopology;
  subjects: Subjects;
  inbox: SharedInbox;
  publisher: Publisher;
  reader: StreamReader;
  journals: Journals;
  buckets: Buckets;
  queues: QueueRegistry;
  /** Identifies this process in claims and logs. */
  instanceId: string;
  /** Deployment-wide retention defaults (queues and jobs may set their own). */
  retention: RetentionDefaults;
  /** Payload limits enforced by this process. */
  limits: PayloadLimits;
  /** Refuses new work before JetStream's storage is full (storage-guard.ts). */
  storage: StorageGuard;
  /**
   * Exclusive keys are handed on by the scheduler leader's sequencer (exclusive-sequencer.ts), the
   * default; false: by per-key lines and records (exclusive.ts), with `JETJOB_EXCLUSIVE_SEQUENCER=0`.
   * Every process of a deployment must agree: opening the store in the other mode is refused
   * (features/exclusive-mode.ts).
   */
  sequencer: boolean;
  /** Called when no stream answered a write: the engine checks whether a stream is missing (health.ts). */
  onUnansweredWrite: (() => void) | undefined;
  close(): void;
}

export interface StoreContextOptions {
  topology?: TopologyOptions;
  /** Create/update streams and buckets (servers do; workers only open them). @defaultValue true */
  ensure?: boolean;
  instanceId?: string;
  /**
   * Lease of a segment delivery (the ack wait of lane consumers this process creates). Workers renew
   * it at a third of whatever the consumer has. @defaultValue 30000
   */
  segmentLeaseMs?: number;
  /** Reply timeout of NATS requests. @defaultValue 10000 */
  requestTimeoutMs?: number;
  /** Retention defaults (core/storage-options.ts). */
  retention?: Partial<RetentionDefaults>;
  /** Payload limits (core/storage-options.ts). */
  limits?: Partial<PayloadLimits>;
  /**
   * How many bytes JetStream may store (its `max_file_store`), when the server does not report it:
   * new jobs are refused before it is reached, and the events stream is kept to a tenth of it
   * (storage-guard.ts). `jetjob start` measures it; else the account's limit, if any.
   */
  storageCapacityBytes?: number;
  /** See {@link StoreContext.sequencer}. @defaultValue `JETJOB_EXCLUSIVE_SEQUENCER !== "0"` */
  exclusiveSequencer?: boolean;
}

export async function createStoreContext(
  nc: NatsConnection,
  options: StoreContextOptions = {},
): Promise<StoreContext> {
  const retention = { ...defaultRetention(), ...definedOnly(options.retention) };
  const limits = { ...defaultPayloadLimits(), ...definedOnly(options.limits) };
  const topology = resolveTopology(options.topology);
  // The fleet stream's age limit is a backstop behind housekeeping: never shorter than the retention.
  if (topology.fleetMaxAgeMs < retention.fleetMs + 24 * 3600_000) {
    topology.fleetMaxAgeMs = retention.fleetMs + 24 * 3600_000;
    if (options.retention?.fleetMs !== undefined) topology.limitsGiven.fleetMaxAgeMs = true;
  }
  const capacity = options.storageCapacityBytes;
  if (capacity !== undefined && topology.eventsMaxBytes > Math.floor(capacity / 10)) {
    // Recent events are a convenience: they get at most a tenth of a small store (storage-guard.ts).
    topology.eventsMaxBytes = Math.max(1024 * 1024, Math.floor(capacity / 10));
    topology.limitsGiven.eventsMaxBytes = true;
  }
  const subjects = new Subjects(topology.prefix);
  const jsm = await jetstreamManager(nc, { timeout: options.requestTimeoutMs ?? 10_000 });
  const buckets =
    options.ensure === false
      ? await openBuckets(nc, topology, false)
      : await ensureTopology(nc, jsm, topology);
  const inboxOptions = options.requestTimeoutMs === undefined ? {} : { timeoutMs: options.requestTimeoutMs };
  const inbox = createSharedInbox(nc, inboxOptions);
  const storage = createStorageGuard(jsm, options.storageCapacityBytes);
  const publisher = createPublisher(nc, inbox, {
    written: (n) => storage.noteWritten(n),
    refused: () => storage.noteRefused(),
    unanswered: () => ctx.onUnansweredWrite?.(),
  });
  const reader = createStreamReader(nc, inbox);
  const journals = createJournals(reader, publisher, topology.streams.journal, (store, seq) =>
    subjects.journal(store, seq),
  );
  const queues = createQueueRegistry({
    jsm,
    nc,
    kv: buckets.queues,
    topology,
    subjects,
    ...(options.segmentLeaseMs === undefined ? {} : { leaseMs: options.segmentLeaseMs }),
  });
  const ctx: StoreContext = {
    onUnansweredWrite: undefined,
    nc,
    jsm,
    topology,
    subjects,
    inbox,
    publisher,
    reader,
    journals,
    buckets,
    queues,
    instanceId: options.instanceId ?? uuidv7(),
    retention,
    limits,
    storage,
    sequencer: options.exclusiveSequencer ?? process.env.JETJOB_EXCLUSIVE_SEQUENCER !== "0",
    close() {
      queues.close();
      inbox.close();
    },
  };
  try {
    // Every process hands exclusive keys on the same way (exclusive-mode.ts), or none opens.
    await agreeExclusiveMode(ctx);
  } catch (err) {
    ctx.close();
    throw err;
  }
  return ctx;
}

/** The fields of `o` that are set (so `{ x: undefined }` does not override a default). */
function definedOnly<T extends object>(o: T | undefined): Partial<T> {
  const out: Partial<T> = {};
  if (!o) return out;
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
