/**
 * Per-queue settings users change at run time (besides pause and rate limit): the exclusive key
 * template and the retention of finished jobs. A key template applies to jobs enqueued afterwards;
 * retention to every finished job that housekeeping looks at afterwards. Every process sees changes
 * through the queue registry's KV watch.
 */
import { checkKeyTemplate } from "../../core/key-template.js";
import { ErrorCode, JetjobError, ValidationError } from "../../core/errors.js";
import type { QueueRetentionWire } from "../../core/storage-options.js";
import { checkRetention, queueRetentionFromWire, queueRetentionToWire } from "../../core/storage-options.js";
import type { QueueBound, QueueRecord } from "./queues.js";
import type { Services } from "../infra/services.js";

export interface QueueConfigChange {
  /** A template such as `host:{args.0.host}`, or null to remove it. */
  exclusive_key_template?: string | null;
  /**
   * Retention of the queue's finished jobs; fields given replace the queue's, null (or `{}`) goes
   * back to the deployment's defaults.
   */
  retention?: QueueRetentionWire | null;
  /** A depth bound (ojs-backpressure §6.2); `max_depth: 0` or null removes it. */
  backpressure?: BackpressureWire | null;
}

/** ojs-backpressure §6.2. Only the `reject` strategy; `max_size_bytes` is refused. */
export interface BackpressureWire {
  max_depth?: number | undefined;
  strategy?: string | undefined;
  warning_threshold?: number | undefined;
  max_size_bytes?: number | undefined;
}

export interface QueueConfigView {
  name: string;
  paused: boolean;
  rate_limit_per_second?: number;
  exclusive_key_template?: string;
  /** The queue's own retention settings (unset: the deployment's defaults apply). */
  retention?: QueueRetentionWire;
  backpressure?: { max_depth: number; strategy: string; warning_threshold: number };
}

export function queueConfigView(r: QueueRecord): QueueConfigView {
  const v: QueueConfigView = { name: r.name, paused: r.paused };
  if (r.rateLimitPerSecond !== undefined) v.rate_limit_per_second = r.rateLimitPerSecond;
  if (r.exclusiveKeyTemplate !== undefined) v.exclusive_key_template = r.exclusiveKeyTemplate;
  if (r.retention !== undefined && Object.keys(r.retention).length > 0)
    v.retention = queueRetentionToWire(r.retention);
  if (r.backpressure) {
    const b = r.backpressure;
    v.backpressure = { max_depth: b.maxDepth, strategy: b.strategy, warning_threshold: b.warningThreshold };
  }
  return v;
}

export async function configureQueue(
  svc: Services,
  name: string,
  change: QueueConfigChange,
): Promise<QueueConfigView> {
  const template = change.exclusive_key_template;
  if (typeof template === "string") {
    const problem = checkKeyTemplate(template);
    if (problem) {
      throw new ValidationError(`exclusive_key_template ${problem}`, {
        code: ErrorCode.ValidationError,
        details: { field: "exclusive_key_template" },
      });
    }
  }
  const retention =
    change.retention === undefined
      ? undefined
      : change.retention === null
        ? null
        : queueRetentionFromWire(change.retention);
  if (retention) checkRetention(retention, "retention");
  const bound = change.backpressure === undefined ? undefined : queueBound(change.backpressure);
  const rec = await svc.ctx.queues.update(name, (r) => {
    if (template === null) delete r.exclusiveKeyTemplate;
    else if (template !== undefined) r.exclusiveKeyTemplate = template;
    if (retention === null || (retention && Object.keys(retention).length === 0)) delete r.retention;
    else if (retention) r.retention = { ...r.retention, ...retention };
    if (bound === null) delete r.backpressure;
    else if (bound) r.backpressure = bound;
  });
  return queueConfigView(rec);
}

/** The bound a config change asks for; null: none. */
function queueBound(w: BackpressureWire | null): QueueBound | null {
  if (w === null) return null;
  const bad = (field: string, problem: string) =>
    new ValidationError(`backpressure.${field} ${problem}`, {
      code: ErrorCode.InvalidRequest,
      details: { field: `backpressure.${field}` },
    });
  if (typeof w !== "object" || Array.isArray(w)) throw bad("", "must be an object");
  const { max_depth: max = 0, strategy = "reject", warning_threshold: warn = 0.8 } = w;
  if (!Number.isSafeInteger(max) || max < 0) throw bad("max_depth", "must be a whole number ≥ 0");
  if (typeof warn !== "number" || !(warn >= 0 && warn <= 1))
    throw bad("warning_threshold", "must be a number from 0 to 1");
  if (strategy !== "reject") {
    throw new JetjobError(
      ErrorCode.Unsupported,
      `backpressure.strategy '${String(strategy)}' is not supported: jetjob refuses enqueues over the bound ('reject')`,
      { details: { field: "backpressure.strategy", supported: ["reject"] } },
    );
  }
  if (w.max_size_bytes !== undefined && w.max_size_bytes !== 0) {
    throw new JetjobError(
      ErrorCode.Unsupported,
      "backpressure.max_size_bytes is not supported; use max_depth",
      {
        details: { field: "backpressure.max_size_bytes" },
      },
    );
  }
  return max === 0 ? null : { maxDepth: max, strategy: "reject", warningThreshold: warn };
}
