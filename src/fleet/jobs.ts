/**
 * Reading and managing fleet jobs: get (record + timeline folded per host), list with filters and
 * cursor pagination, cancel, delete and retry. Any controller can do these for any job; cancel is a
 * compare-and-set on the record, so the owner notices it and stops.
 */
import { ConflictError, ErrorCode, JetjobError, NotFoundError, ValidationError } from "../core/errors.js";
import { AGAIN, casLoop, orAgain } from "../store/infra/cas.js";
import { hostToken } from "../store/infra/topology.js";
import type { Controller } from "./controller.js";
import { isFleetId } from "./ids.js";
import { countHosts, eventView, foldRecord, hostView } from "./fold.js";
import { appendEvent, purgeTimeline, readTimeline } from "./timeline.js";
import type { FleetJobView, FleetRecord, FleetStatus, HostState } from "./types.js";
import { terminalHostStates } from "./types.js";
import { fastKv } from "../store/infra/kvfast.js";
import { eraseKey } from "../store/infra/kvjson.js";
import { scheduleFleetRemoval } from "../store/retention/fleet.js";

const enc = new TextEncoder();

function records(c: Controller) {
  return fastKv<FleetRecord>(c.ctx, c.ctx.topology.buckets.fleet);
}

async function readRecord(c: Controller, id: string) {
  if (!isFleetId(id)) throw new NotFoundError("job", id);
  const r = await records(c).get(`j.${id}`);
  if (!r.value) throw new NotFoundError("job", id);
  return { rec: r.value, revision: r.revision };
}

export async function getFleetJob(
  c: Controller,
  id: string,
  o: { timeline?: boolean } = {},
): Promise<FleetJobView> {
  const { rec } = await readRecord(c, id);
  const events = await readTimeline(c.ctx, id);
  const folds = foldRecord(rec, events);
  const view = recordView(rec);
  view.counts = countHosts(folds.values());
  view.results = [...folds.values()].map(hostView);
  if (o.timeline !== false) view.timeline = events.map(eventView);
  return view;
}

/** A job just created: its record with every host pending (or left out), as the API returns it. */
export function createdJobView(rec: FleetRecord): FleetJobView {
  const job = recordView(rec);
  const folds = foldRecord(rec, []);
  job.counts = countHosts(folds.values());
  job.results = [...folds.values()].map(hostView);
  return job;
}

/** The record alone (no timeline read): what lists show. */
export function recordView(rec: FleetRecord): FleetJobView {
  const v: FleetJobView = {
    id: rec.id,
    target: rec.target,
    op: rec.op,
    op_kind: rec.kind,
    args: rec.args,
    status: rec.status,
    hosts: rec.hosts,
    counts: rec.counts ?? countHosts(foldRecord(rec, []).values(), rec.hosts.length),
    results: [],
    created_at: new Date(rec.created_at).toISOString(),
    deadline_at: new Date(rec.deadline_at).toISOString(),
    owner: rec.owner,
    epoch: rec.epoch,
    reclaims: rec.reclaims,
  };
  if (rec.left_out !== undefined && rec.left_out.length > 0) v.left_out = rec.left_out;
  if (rec.finished_at !== undefined) v.finished_at = new Date(rec.finished_at).toISOString();
  if (rec.reason !== undefined) v.reason = rec.reason;
  if (rec.meta !== undefined) v.meta = rec.meta;
  if (rec.retry_of !== undefined) v.retry_of = rec.retry_of;
  if (rec.traceparent !== undefined) v.traceparent = rec.traceparent;
  if (rec.moved_from !== undefined && rec.moved_from.length > 0) v.moved_from = rec.moved_from;
  if (rec.created_by !== undefined) v.created_by = rec.created_by;
  return v;
}

export interface FleetListQuery {
  status?: FleetStatus;
  op?: string;
  host?: string;
  limit?: number;
  /** The last id of the previous page. */
  cursor?: string;
}

export interface FleetJobPage {
  jobs: FleetJobView[];
  next_cursor?: string;
}

/**
 * The ids of the stored job records, each once: the subjects of the bucket's stream, which the server
 * reports in one answer (paged only past 100,000 subjects). Not `kv.keys()`: that streams the keys
 * through a consumer that, while records are being rewritten (a running job's record changes with
 * each host's result, and the bucket keeps one revision), can repeat a key or end before the last
 * one, so a listing showed a job twice or left one out.
 */
async function storedJobIds(c: Controller): Promise<string[]> {
  const bucket = c.ctx.topology.buckets.fleet;
  const prefix = `$KV.${bucket}.j.`;
  const info = await c.ctx.jsm.streams.info(`KV_${bucket}`, { subjects_filter: `${prefix}>` });
  return Object.keys(info.state.subjects ?? {}).map((s) => s.slice(prefix.length));
}

/** Newest first (ids are time-ordered). Filters are applied while paging; a page never scans more than 5000 records. */
export async function listFleetJobs(c: Controller, q: FleetListQuery): Promise<FleetJobPage> {
  const limit = q.limit ?? 50;
  const ids = await storedJobIds(c);
  ids.sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
  let start = 0;
  if (q.cursor !== undefined) {
    start = ids.findIndex((id) => id < q.cursor!);
    if (start < 0) return { jobs: [] };
  }
  const kv = records(c);
  const jobs: FleetJobView[] = [];
  let i = start;
  const host = q.host?.toLowerCase();
  for (let scanned = 0; i < ids.length && jobs.length < limit && scanned < 5000; i++, scanned++) {
    const r = await kv.get(`j.${ids[i]!}`);
    const rec = r.value;
    if (!rec) continue;
    if (q.status !== undefined && rec.status !== q.status) continue;
    if (q.op !== undefined && rec.op !== q.op) continue;
    if (host !== undefined && !rec.hosts.some((h) => h.toLowerCase() === host)) continue;
    jobs.push(recordView(rec));
  }
  const page: FleetJobPage = { jobs };
  if (i < ids.length && jobs.length > 0) page.next_cursor = jobs[jobs.length - 1]!.id;
  return page;
}

/** Cancels a running job: targets without a result become `cancelled`; agents are told to stop. */
export async function cancelFleetJob(c: Controller, id: string): Promise<FleetJobView> {
  const { next, open, now, counts } = await casLoop(
    async () => {
      const { rec, revision } = await readRecord(c, id);
      if (rec.status !== "running") {
        throw new ConflictError(`Job '${id}' is already ${rec.status}.`, { details: { status: rec.status } });
      }
      const events = await readTimeline(c.ctx, id);
      const folds = foldRecord(rec, events);
      const now = Date.now();
      const open = [...folds.values()].filter((f) => !terminalHostStates.has(f.state));
      for (const f of open) f.state = "cancelled";
      const counts = countHosts(folds.values());
      const next: FleetRecord = {
        ...rec,
        status: "cancelled",
        finished_at: now,
        counts,
        epoch: rec.epoch + 1,
      };
      const w = await orAgain(records(c).update(`j.${id}`, next, revision));
      return w === AGAIN ? AGAIN : { next, open, now, counts };
    },
    {
      exhausted: () => {
        throw new JetjobError(
          ErrorCode.BackendError,
          `could not cancel job '${id}': too many concurrent changes`,
          {
            retryable: true,
          },
        );
      },
    },
  );
  await Promise.all(
    open.map((f) => appendEvent(c.ctx, id, { e: "cancelled", h: f.host, at: now, ep: next.epoch, by: c.id })),
  );
  await appendEvent(c.ctx, id, {
    e: "finished",
    at: now,
    ep: next.epoch,
    by: c.id,
    d: { status: "cancelled", counts },
  });
  // Told after the verdicts are stored, so an agent's own report of stopping comes later.
  const notice = enc.encode(JSON.stringify({ cancel: id }));
  for (const f of open) c.ctx.nc.publish(c.ctx.subjects.fleetDispatch(hostToken(f.host)), notice);
  await c.ctx.buckets.fleet.delete(`x.${id}`);
  await scheduleFleetRemoval(c.ctx, id, now + c.ctx.retention.fleetMs);
  return getFleetJob(c, id);
}

/** Deletes a finished job with its timeline and results. */
export async function deleteFleetJob(c: Controller, id: string): Promise<void> {
  const { rec } = await readRecord(c, id);
  if (rec.status === "running") {
    throw new ConflictError(`Job '${id}' is still running.`, { hint: "Cancel it first." });
  }
  await purgeTimeline(c.ctx, id);
  // Erased, not deleted: a KV delete leaves a marker per key that would stay forever.
  await eraseKey(c.ctx.jsm, c.ctx.topology.buckets.fleet, `j.${id}`);
  await eraseKey(c.ctx.jsm, c.ctx.topology.buckets.fleet, `x.${id}`).catch(() => undefined);
}

export interface FleetRetryRequest {
  /** Target of the new job. @defaultValue the hosts that did not complete, as `L@a,b` */
  target?: string;
  /**
   * For `modify` operations, also retry hosts whose outcome is unknown (`timeout`, or acknowledged
   * and then lost): they may have run it. @defaultValue false
   */
  includeUncertain?: boolean;
  timeoutMs?: number;
  /** Who asks (the API token's name); recorded on the new job. */
  createdBy?: string;
}

export interface FleetRetryResult {
  job: FleetJobView;
  skipped: Array<{ host: string; state: HostState; reason: string }>;
}

/** Runs a finished job again as a new job (`retry_of` links them; the old timeline gets `retried`). */
export async function retryFleetJob(
  c: Controller,
  id: string,
  r: FleetRetryRequest = {},
): Promise<FleetRetryResult> {
  const { rec } = await readRecord(c, id);
  if (rec.status === "running") throw new ConflictError(`Job '${id}' is still running.`);
  const folds = foldRecord(rec, await readTimeline(c.ctx, id));
  const skipped: FleetRetryResult["skipped"] = [];
  let target = r.target;
  if (target === undefined) {
    const again: string[] = [];
    for (const f of folds.values()) {
      if (f.state === "completed") continue;
      const uncertain = f.state === "timeout" || (f.state !== "failed" && f.acknowledgedAt !== undefined);
      if (rec.kind === "modify" && uncertain && r.includeUncertain !== true) {
        skipped.push({
          host: f.host,
          state: f.state,
          reason: "may have run (modify operation); pass include_uncertain",
        });
        continue;
      }
      again.push(f.host);
    }
    if (again.length === 0) {
      throw new ValidationError(`Job '${id}' has no host to retry.`, { details: { skipped } });
    }
    target = `L@${again.join(",")}`;
  }
  const job = await c.create({
    op: rec.op,
    target,
    args: rec.args,
    kind: rec.kind,
    retryOf: id,
    ...(r.createdBy === undefined ? {} : { createdBy: r.createdBy }),
    timeoutMs: r.timeoutMs ?? rec.deadline_at - rec.created_at,
    ackWindowMs: rec.ack_window_ms,
    ...(rec.meta === undefined ? {} : { meta: rec.meta }),
    // A retry is part of the same operation: it continues the original job's trace.
    ...(rec.traceparent === undefined ? {} : { traceparent: rec.traceparent }),
  });
  await appendEvent(c.ctx, id, {
    e: "retried",
    at: Date.now(),
    ep: rec.epoch,
    by: c.id,
    d: { new_job_id: job.id, target },
  });
  return { job: createdJobView(job), skipped };
}
