/**
 * Payload limits (core/storage-options.ts), checked where payloads enter: enqueue (args, batch size,
 * what one atomic batch writes), ack (result) and nack (error) refuse with `payload_too_large` before
 * anything is written; a NATS-direct worker's too-large result fails the attempt, and errors are
 * shortened rather than refused (a failure must always be recordable).
 */
import type { JobErrorRecord, NormalizedEnqueue } from "../../core/envelope.js";
import { ErrorCode, JetjobError } from "../../core/errors.js";
import { MAX_SEGMENT_JOBS } from "../../core/ids.js";
import type { PayloadLimits } from "../../core/storage-options.js";
import { defaultPayloadLimits } from "../../core/storage-options.js";
import type { StoreContext } from "../infra/context.js";

/** JSON size in bytes (UTF-8) of a value as it is stored. */
export function jsonBytes(v: unknown): number {
  const s = JSON.stringify(v);
  return s === undefined ? 0 : Buffer.byteLength(s);
}

function tooLarge(
  what: string,
  bytes: number,
  limit: number,
  details: Record<string, unknown> = {},
): JetjobError {
  return new JetjobError(ErrorCode.PayloadTooLarge, `${what} is ${bytes} bytes; the limit is ${limit}`, {
    details: { ...details, bytes, limit },
  });
}

/**
 * Checks an enqueue before anything is written: the batch size, each job's args, and for an atomic
 * batch that each segment it becomes (one per queue, priority and due time or exclusive key) fits in
 * one message, so an atomic batch is stored whole or not at all.
 */
export function checkEnqueue(ctx: StoreContext, items: readonly NormalizedEnqueue[], atomic: boolean): void {
  const limits = ctx.limits;
  if (items.length > limits.maxBatchJobs) {
    throw new JetjobError(ErrorCode.PayloadTooLarge, `a batch may hold at most ${limits.maxBatchJobs} jobs`, {
      details: { limit: limits.maxBatchJobs, count: items.length },
    });
  }
  for (let k = 0; k < items.length; k++) {
    const spec = items[k]!.spec;
    const bytes = jsonBytes(spec.args);
    if (bytes > limits.maxArgsBytes) {
      const where = items.length > 1 ? `jobs[${k}].args` : "args";
      throw tooLarge(where, bytes, limits.maxArgsBytes, {
        field: where,
        ...(items.length > 1 ? { index: k } : {}),
      });
    }
    if (
      spec.meta !== undefined ||
      spec.metadata !== undefined ||
      spec.ext !== undefined ||
      spec.tags !== undefined
    ) {
      const meta = jsonBytes([spec.meta, spec.metadata, spec.ext, spec.tags]);
      if (meta > limits.maxMetaBytes) {
        const where = `${items.length > 1 ? `jobs[${k}]: ` : ""}meta, options.metadata, options.tags and extension fields`;
        throw tooLarge(where, meta, limits.maxMetaBytes, {
          field: "meta",
          ...(items.length > 1 ? { index: k } : {}),
        });
      }
    }
  }
  if (!atomic || items.length < 2) return;
  const maxSegment = Math.floor((ctx.nc.info?.max_payload ?? 1024 * 1024) * 0.9) - 512;
  const groups = new Map<string, { n: number; bytes: number }>();
  for (const it of items) {
    const key = `${it.queue}|${it.priority}|${it.runAtMs ?? ""}|${it.spec.xkey ?? ""}`;
    const g = groups.get(key) ?? { n: 0, bytes: 256 };
    g.n++;
    g.bytes += jsonBytes(it.spec) + 1;
    groups.set(key, g);
    if (g.n > MAX_SEGMENT_JOBS) {
      throw new JetjobError(
        ErrorCode.PayloadTooLarge,
        `an atomic batch may hold at most ${MAX_SEGMENT_JOBS} jobs per queue and priority`,
        { details: { limit: MAX_SEGMENT_JOBS } },
      );
    }
    if (g.bytes > maxSegment) {
      throw tooLarge(
        `the batch's jobs for queue ${it.queue} (priority ${it.priority})`,
        g.bytes,
        maxSegment,
        {
          hint: "send fewer or smaller jobs per batch",
        },
      );
    }
  }
}

/** An ack's result over the limit: refused (HTTP ack). */
export function checkResult(limits: PayloadLimits, result: unknown): void {
  if (result === undefined) return;
  const bytes = jsonBytes(result);
  if (bytes > limits.maxResultBytes)
    throw tooLarge("the result", bytes, limits.maxResultBytes, { field: "result" });
}

/** A nack's error over the limit: refused (HTTP nack). */
export function checkError(limits: PayloadLimits, error: unknown): void {
  if (error === undefined) return;
  const bytes = jsonBytes(error);
  if (bytes > limits.maxErrorBytes)
    throw tooLarge("the error", bytes, limits.maxErrorBytes, { field: "error" });
}

/**
 * For a NATS-direct worker: the failure to record instead of a result over the limit (not retryable:
 * the handler would return the same), or `undefined` when the result fits.
 */
export function oversizedResult(
  limits: PayloadLimits,
  result: unknown,
): { code: string; message: string; retryable: false } | undefined {
  if (result === undefined) return undefined;
  const bytes = jsonBytes(result);
  if (bytes <= limits.maxResultBytes) return undefined;
  return {
    code: ErrorCode.PayloadTooLarge,
    message: `the handler's result is ${bytes} bytes; the limit is ${limits.maxResultBytes}`,
    retryable: false,
  };
}

const MARK = "… (shortened)";

/**
 * Shortens an error record to fit `maxBytes`: details go first, then the message is cut. Used where a
 * failure must be recorded whatever its size (a worker's handler threw something huge).
 */
export function shortenError(
  rec: JobErrorRecord,
  maxBytes = defaultPayloadLimits().maxErrorBytes,
): JobErrorRecord {
  let bytes: number;
  try {
    bytes = jsonBytes(rec);
  } catch {
    // Details that are not JSON (a BigInt, a circular object): the failure is recorded without them.
    const { details: _dropped, ...rest } = rec;
    return shortenError({ ...rest, details: { not_serializable: true } }, maxBytes);
  }
  if (bytes <= maxBytes) return rec;
  const out: JobErrorRecord = { ...rec };
  if (out.details !== undefined) {
    delete out.details;
    out.details = { shortened: true };
  }
  const over = jsonBytes(out) - maxBytes;
  if (over > 0)
    out.message = out.message.slice(0, Math.max(0, out.message.length - over - MARK.length * 3)) + MARK;
  return out;
}

/**
 * The error history a retried job carries, with its oldest entries dropped beyond `maxBytes` (the
 * latest errors matter most, and a job's copy must fit in one message whatever its attempts).
 */
export function boundedHistory(errors: JobErrorRecord[], maxBytes: number): JobErrorRecord[] {
  let total = jsonBytes(errors);
  if (total <= maxBytes) return errors;
  const out = errors.slice();
  while (out.length > 1 && total > maxBytes) total -= jsonBytes(out.shift()) + 1;
  return out;
}
