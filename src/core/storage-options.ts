/**
 * What bounds jetjob's storage, with every default in one place: how long finished jobs are kept
 * (retention, per deployment, queue and job), how often housekeeping looks, and how large a payload
 * may be. docs/retention.md is the user guide.
 */
import { ErrorCode, ValidationError } from "./errors.js";
import { MAX_DURATION_MS, parseIsoDurationMs } from "./time.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** How a job ended, as far as retention is concerned. */
export type FinishKind = "completed" | "discarded" | "dead_letter";

/**
 * How long finished jobs are kept, per kind of ending (ms after the job finished). A job's own policy
 * wins over its queue's, which wins over the deployment's defaults. Cancelled and expired jobs count
 * as discarded; dead letters are discarded jobs of a `dead_letter` retry policy.
 */
export interface RetentionPolicy {
  completedMs?: number;
  discardedMs?: number;
  deadLetterMs?: number;
}

/** A queue's retention: ages, plus how many finished jobs to keep at most (approximate, see docs). */
export interface QueueRetention extends RetentionPolicy {
  /** Keep about this many completed jobs; older ones go before their age. */
  completedCount?: number;
  /** Keep about this many discarded jobs (never dead letters: they are kept their whole age). */
  discardedCount?: number;
}

/** Deployment-wide retention defaults. */
export interface RetentionDefaults {
  /** @defaultValue 24 h */
  completedMs: number;
  /** @defaultValue 7 days */
  discardedMs: number;
  /** @defaultValue 7 days */
  deadLetterMs: number;
  /** Finished fleet (targeted) jobs: the record, per-host results and timeline. @defaultValue 7 days */
  fleetMs: number;
}

export function defaultRetention(): RetentionDefaults {
  return { completedMs: DAY, discardedMs: 7 * DAY, deadLetterMs: 7 * DAY, fleetMs: 7 * DAY };
}

/** The retention that applies to one job: its own, else its queue's, else the defaults. */
export function effectiveRetention(
  job: RetentionPolicy | undefined,
  queue: RetentionPolicy | undefined,
  defaults: RetentionDefaults,
): Required<RetentionPolicy> {
  return {
    completedMs: job?.completedMs ?? queue?.completedMs ?? defaults.completedMs,
    discardedMs: job?.discardedMs ?? queue?.discardedMs ?? defaults.discardedMs,
    deadLetterMs: job?.deadLetterMs ?? queue?.deadLetterMs ?? defaults.deadLetterMs,
  };
}

export function keepMsFor(kind: FinishKind, r: Required<RetentionPolicy>): number {
  if (kind === "completed") return r.completedMs;
  if (kind === "dead_letter") return r.deadLetterMs;
  return r.discardedMs;
}

/** Housekeeping timings (how often it looks and how long it waits); tests make them short. */
export interface HousekeepingOptions {
  /** How often each queue lane and the delay stream are walked for finished segments. @defaultValue 5000 */
  walkIntervalMs?: number;
  /** How often due removal checks are looked for. @defaultValue 1000 */
  tickMs?: number;
  /**
   * How long a removed segment's journal (ending in its `gone` entry) stays before it is purged, so
   * that processes that read the segment just before it went see that it is gone. @defaultValue 10 min
   */
  journalGraceMs?: number;
  /** A segment with unfinished jobs is looked at again after at most this long. @defaultValue 1 h */
  activeRecheckMaxMs?: number;
  /** A delay segment is first checked this long after its due time. @defaultValue 60 s */
  delaySlackMs?: number;
  /** A segment of jobs waiting for an exclusive key is checked this often. @defaultValue 1 h */
  holdRecheckMs?: number;
  /** Most segments walked per lane per pass (a pass continues on the next walk). @defaultValue 2000 */
  walkBatch?: number;
  /** Removal checks processed at the same time. @defaultValue 8 */
  concurrency?: number;
  /** Leader lease of the housekeeper. @defaultValue 10000 */
  leaseMs?: number;
}

export type ResolvedHousekeeping = Required<HousekeepingOptions>;

export function resolveHousekeeping(o: HousekeepingOptions = {}): ResolvedHousekeeping {
  return {
    walkIntervalMs: o.walkIntervalMs ?? 5000,
    tickMs: o.tickMs ?? 1000,
    journalGraceMs: o.journalGraceMs ?? 10 * 60_000,
    activeRecheckMaxMs: o.activeRecheckMaxMs ?? HOUR,
    delaySlackMs: o.delaySlackMs ?? 60_000,
    holdRecheckMs: o.holdRecheckMs ?? HOUR,
    walkBatch: o.walkBatch ?? 2000,
    concurrency: o.concurrency ?? 8,
    leaseMs: o.leaseMs ?? 10_000,
  };
}

/**
 * Payload limits. A request over one is refused with `payload_too_large` (HTTP 413) before anything
 * is written. A NATS-direct worker's handler returning a result over the limit fails that attempt
 * (not retried: the same handler would return the same result); an error over the limit is shortened.
 */
export interface PayloadLimits {
  /** JSON size of a job's `args`. @defaultValue 1 MiB */
  maxArgsBytes: number;
  /** JSON size of a job's result. @defaultValue 512 KiB */
  maxResultBytes: number;
  /**
   * JSON size of a reported error (code, message, details). A retried job carries at most eight
   * times this of error history (the oldest entries go first). @defaultValue 16 KiB
   */
  maxErrorBytes: number;
  /** Jobs in one batch enqueue. @defaultValue 1000 */
  maxBatchJobs: number;
  /**
   * JSON size of everything else a job stores from its request: `meta`, `options.metadata`,
   * `options.tags` and unknown top-level fields (echoed back), together. @defaultValue 64 KiB
   */
  maxMetaBytes: number;
}

export function defaultPayloadLimits(): PayloadLimits {
  return {
    maxArgsBytes: 1024 * 1024,
    maxResultBytes: 512 * 1024,
    maxErrorBytes: 16 * 1024,
    maxBatchJobs: 1000,
    maxMetaBytes: 64 * 1024,
  };
}

/** The wire form of a job's or queue's retention (OJS extension `options.retention`, queue config). */
export interface RetentionWire {
  completed_ms?: number | undefined;
  discarded_ms?: number | undefined;
  dead_letter_ms?: number | undefined;
}

export interface QueueRetentionWire extends RetentionWire {
  completed_count?: number | undefined;
  discarded_count?: number | undefined;
}

export function retentionFromWire(w: RetentionWire): RetentionPolicy {
  const p: RetentionPolicy = {};
  if (w.completed_ms !== undefined) p.completedMs = w.completed_ms;
  if (w.discarded_ms !== undefined) p.discardedMs = w.discarded_ms;
  if (w.dead_letter_ms !== undefined) p.deadLetterMs = w.dead_letter_ms;
  return p;
}

export function queueRetentionFromWire(w: QueueRetentionWire): QueueRetention {
  const p: QueueRetention = retentionFromWire(w);
  if (w.completed_count !== undefined) p.completedCount = w.completed_count;
  if (w.discarded_count !== undefined) p.discardedCount = w.discarded_count;
  return p;
}

export function queueRetentionToWire(p: QueueRetention): QueueRetentionWire {
  const w: QueueRetentionWire = {};
  if (p.completedMs !== undefined) w.completed_ms = p.completedMs;
  if (p.discardedMs !== undefined) w.discarded_ms = p.discardedMs;
  if (p.deadLetterMs !== undefined) w.dead_letter_ms = p.deadLetterMs;
  if (p.completedCount !== undefined) w.completed_count = p.completedCount;
  if (p.discardedCount !== undefined) w.discarded_count = p.discardedCount;
  return w;
}

/** Checks a retention (ms, within the longest duration accepted anywhere). */
export function checkRetention(p: RetentionPolicy, field: string): void {
  for (const [k, v] of Object.entries(p)) {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > MAX_DURATION_MS) {
      throw new ValidationError(`${field}.${k} must be an integer number of milliseconds, 0 to 100 years`, {
        code: ErrorCode.ValidationError,
        details: { field: `${field}.${k}` },
      });
    }
  }
}

const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: HOUR, d: DAY, w: 7 * DAY };

/**
 * A duration as given on the command line: `500ms`, `30s`, `15m`, `24h`, `7d`, `2w`, or ISO 8601
 * (`P7D`, `PT1H`). Returns `undefined` when it is neither.
 */
export function parseDurationText(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(text.trim());
  if (m) {
    const ms = Math.round(Number(m[1]) * unitMs[m[2]!]!);
    return ms <= MAX_DURATION_MS ? ms : undefined;
  }
  return parseIsoDurationMs(text.trim());
}

/** `1.5 KiB`, `64 MiB`. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

/**
 * `24h`, `7d`, `200ms`: the shortest exact form of a duration, for flags and tables.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "-";
  for (const [unit, size] of [
    ["d", DAY],
    ["h", HOUR],
    ["m", 60_000],
    ["s", 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
