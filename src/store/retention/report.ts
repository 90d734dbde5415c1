/**
 * The storage report behind `GET /api/v1/storage` and `jetjob storage`: every stream and bucket with
 * its message count, bytes and oldest entry; where the housekeeper's walk stands per lane; the
 * retention in force; and what is due to be removed next.
 */
import { scanMessages } from "../../nats/scan.js";
import { queueRetentionToWire } from "../../core/storage-options.js";
import { getJson, readAllJson } from "../infra/kvjson.js";
import type { Services } from "../infra/services.js";
import { laneToken } from "../infra/topology.js";
import type { HousekeeperStats } from "./housekeeper.js";
import type { CheckRef } from "./records.js";
import { decodeCheck, parseRef } from "./records.js";
import type { Cursor } from "./walk.js";
import { DELAY_CURSOR_KEY, laneCursorKey } from "./walk.js";

export interface StoredResource {
  name: string;
  kind: "stream" | "bucket";
  /** What it holds. */
  holds: string;
  messages: number;
  bytes: number;
  /** Time of the oldest entry (absent when empty). */
  oldest_at?: string;
  newest_at?: string;
  /** Limits of the stream (absent: unlimited). */
  max_age_ms?: number;
  max_bytes?: number;
}

export interface LaneWalk {
  queue: string;
  priority: number;
  /** Stream sequence the walk has passed (segments before it have their removal checks). */
  cursor: number;
  /** Last segment stored on the lane. */
  last_seq: number;
  /** Segments still stored on the lane (walked and waiting for their retention, or not walked yet). */
  segments: number;
  cursor_moved_at?: string;
}

export interface DueRemovals {
  /** Start of the minute the checks are due in. */
  minute_at: string;
  checks: number;
  /** What those checks look at (read for the first few minutes only). */
  segments?: number;
  journals?: number;
  fleet_jobs?: number;
}

export interface StorageReport {
  generated_at: string;
  totals: { messages: number; bytes: number };
  resources: StoredResource[];
  housekeeper: {
    /** Instance holding the housekeeper lease (absent: nobody, e.g. no server runs it). */
    leader?: string;
    lease_expires_at?: string;
    /** Whether the server answering holds the lease. */
    this_server: boolean;
    /** What the answering server's housekeeper removed since it started. */
    removed?: { segments: number; jobs: number; fleet_jobs: number; journals: number };
    lanes: LaneWalk[];
    delay: { cursor: number; last_seq: number; cursor_moved_at?: string };
  };
  retention: {
    defaults: { completed_ms: number; discarded_ms: number; dead_letter_ms: number; fleet_ms: number };
    queues: Array<{ name: string; retention: ReturnType<typeof queueRetentionToWire> }>;
  };
  next_removals: { checks: number; due: DueRemovals[] };
}

const bucketHolds: Record<string, string> = {
  queues: "queue registry: lanes, pause, limits, retention",
  ids: "client-chosen job ids → first home",
  leases: "leader leases (scheduler, housekeeper)",
  dlq: "dead-letter index",
  stats: "per-queue counters",
  unique: "unique-job keys",
  limits: "rate-limit slots",
  cron: "cron schedules",
  workflows: "workflow records",
  xkeys: "exclusive keys and their lines",
  locks: "user locks",
  agents: "fleet agents and controllers",
  fleet: "fleet job records",
  gc: "housekeeping's walk cursors",
  schemas: "JSON Schemas of job args per type and version",
};

const holds: Record<string, string> = {
  queue: "segments of jobs ready to run",
  delay: "segments of scheduled and retrying jobs, exclusive-key lines",
  journal: "per-segment state journals",
  events: "recent lifecycle events (bounded)",
  fleet: "fleet job timelines and per-host results",
  gc: "housekeeping's removal checks",
};

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** Due minutes listed, and how many of them are read to count what their checks name. */
const DUE_LISTED = 10;
const DUE_READ = 5;

export async function storageReport(
  svc: Services,
  hk: { leading: boolean; stats: Readonly<HousekeeperStats> } | undefined,
): Promise<StorageReport> {
  const { ctx } = svc;
  const t = ctx.topology;
  const resources: StoredResource[] = [];
  for (const [key, name] of Object.entries(t.streams)) {
    resources.push(await resource(svc, name, "stream", holds[key] ?? key));
  }
  for (const [key, bucket] of Object.entries(t.buckets)) {
    resources.push(await resource(svc, `KV_${bucket}`, "bucket", bucketHolds[key] ?? key));
  }
  const totals = resources.reduce(
    (a, r) => ({ messages: a.messages + r.messages, bytes: a.bytes + r.bytes }),
    {
      messages: 0,
      bytes: 0,
    },
  );

  const lease = await getJson<{ holder: string; expiresAt: number }>(ctx.buckets.leases, "lease.housekeeper");
  const live = lease && lease.value.holder !== "" && lease.value.expiresAt > Date.now();
  const queueInfo = await ctx.jsm.streams.info(t.streams.queue, { subjects_filter: `${t.prefix}.q.>` });
  const perLane = queueInfo.state.subjects ?? {};
  // Bulk reads (nats/scan.ts): every cursor, and every lane's last segment (headers only), each in
  // one stream read, so the report costs what it lists rather than two requests per lane.
  const [queues, cursors, lastMsgs] = await Promise.all([
    ctx.queues.list(),
    readAllJson<Cursor>(ctx.nc, t.buckets.gc),
    scanMessages(ctx.nc, t.streams.queue, {
      subjects: `${t.prefix}.q.>`,
      lastPerSubject: true,
      headersOnly: true,
    }),
  ]);
  const lastSeq = new Map(lastMsgs.map((m) => [m.subject, m.seq]));
  const lanes: LaneWalk[] = [];
  for (const q of queues) {
    for (const p of q.lanes) {
      const subject = ctx.subjects.lane(q.name, p);
      const c = cursors.get(laneCursorKey(q.name, p));
      const cur = c === undefined ? undefined : { value: c };
      const seq = lastSeq.get(subject);
      const last = seq === undefined ? undefined : { seq };
      const lane: LaneWalk = {
        queue: q.name,
        priority: p,
        cursor: cur?.value.seq ?? 0,
        last_seq: last?.seq ?? 0,
        segments: perLane[subject] ?? 0,
      };
      const moved = iso(cur?.value.at);
      if (moved !== undefined) lane.cursor_moved_at = moved;
      lanes.push(lane);
    }
  }
  lanes.sort(
    (a, b) => a.queue.localeCompare(b.queue) || laneToken(b.priority).localeCompare(laneToken(a.priority)),
  );
  const delayCur = await getJson<Cursor>(ctx.buckets.gc, DELAY_CURSOR_KEY);
  const delayInfo = await ctx.jsm.streams.info(t.streams.delay);
  const delay: StorageReport["housekeeper"]["delay"] = {
    cursor: delayCur?.value.seq ?? 0,
    last_seq: delayInfo.state.last_seq,
  };
  if (delayCur) delay.cursor_moved_at = iso(delayCur.value.at)!;

  const housekeeper: StorageReport["housekeeper"] = { this_server: hk?.leading ?? false, lanes, delay };
  if (live) {
    housekeeper.leader = lease.value.holder;
    housekeeper.lease_expires_at = iso(lease.value.expiresAt)!;
  }
  if (hk) {
    housekeeper.removed = {
      segments: hk.stats.removedSegments,
      jobs: hk.stats.removedJobs,
      fleet_jobs: hk.stats.removedFleetJobs,
      journals: hk.stats.purgedJournals,
    };
  }

  return {
    generated_at: new Date().toISOString(),
    totals,
    resources,
    housekeeper,
    retention: {
      defaults: {
        completed_ms: ctx.retention.completedMs,
        discarded_ms: ctx.retention.discardedMs,
        dead_letter_ms: ctx.retention.deadLetterMs,
        fleet_ms: ctx.retention.fleetMs,
      },
      queues: queues
        .filter((q) => q.retention !== undefined && Object.keys(q.retention).length > 0)
        .map((q) => ({ name: q.name, retention: queueRetentionToWire(q.retention!) })),
    },
    next_removals: await nextRemovals(svc),
  };
}

async function resource(
  svc: Services,
  name: string,
  kind: StoredResource["kind"],
  what: string,
): Promise<StoredResource> {
  const info = await svc.ctx.jsm.streams.info(name);
  const r: StoredResource = {
    name,
    kind,
    holds: what,
    messages: info.state.messages,
    bytes: info.state.bytes,
  };
  if (info.state.messages > 0) {
    r.oldest_at = info.state.first_ts;
    r.newest_at = info.state.last_ts;
  }
  if (info.config.max_age > 0) r.max_age_ms = Math.round(info.config.max_age / 1e6);
  if (info.config.max_bytes > 0) r.max_bytes = info.config.max_bytes;
  return r;
}

async function nextRemovals(svc: Services): Promise<StorageReport["next_removals"]> {
  const { ctx } = svc;
  const info = await ctx.jsm.streams.info(ctx.topology.streams.gc, { subjects_filter: ctx.subjects.gcAll() });
  const minutes = Object.entries(info.state.subjects ?? {})
    .map(([s, n]) => ({ minute: Number(s.slice(s.lastIndexOf(".") + 1)), checks: n }))
    .filter((m) => Number.isInteger(m.minute))
    .sort((a, b) => a.minute - b.minute);
  const due: DueRemovals[] = [];
  for (const [k, m] of minutes.slice(0, DUE_LISTED).entries()) {
    const d: DueRemovals = { minute_at: new Date(m.minute * 60_000).toISOString(), checks: m.checks };
    if (k < DUE_READ) {
      const counts = { segment: 0, journal: 0, fleet: 0 } satisfies Record<CheckRef["kind"], number>;
      for (const msg of await ctx.reader.all(ctx.topology.streams.gc, ctx.subjects.gc(m.minute))) {
        for (const ref of decodeCheck(msg.data)?.refs ?? []) {
          const r = parseRef(ref);
          if (r) counts[r.kind]++;
        }
      }
      d.segments = counts.segment;
      d.journals = counts.journal;
      d.fleet_jobs = counts.fleet;
    }
    due.push(d);
  }
  return { checks: info.state.messages, due };
}
