/**
 * Per-queue settings users change at run time (besides pause and rate limit): the exclusive key
 * template and the retention of finished jobs. A key template applies to jobs enqueued afterwards;
 * retention to every finished job that housekeeping looks at afterwards. Every process sees changes
 * through the queue registry's KV watch.
 */
import { checkKeyTemplate } from "../core/key-template.js";
import { ErrorCode, ValidationError } from "../core/errors.js";
import type { QueueRetentionWire } from "../core/storage-options.js";
import { checkRetention, queueRetentionFromWire, queueRetentionToWire } from "../core/storage-options.js";
import type { QueueRecord } from "./queues.js";
import type { Services } from "./services.js";

export interface QueueConfigChange {
  /** A template such as `host:{args.0.host}`, or null to remove it. */
  exclusive_key_template?: string | null;
  /**
   * Retention of the queue's finished jobs; fields given replace the queue's, null (or `{}`) goes
   * back to the deployment's defaults.
   */
  retention?: QueueRetentionWire | null;
}

export interface QueueConfigView {
  name: string;
  paused: boolean;
  rate_limit_per_second?: number;
  exclusive_key_template?: string;
  /** The queue's own retention settings (unset: the deployment's defaults apply). */
  retention?: QueueRetentionWire;
}

export function queueConfigView(r: QueueRecord): QueueConfigView {
  const v: QueueConfigView = { name: r.name, paused: r.paused };
  if (r.rateLimitPerSecond !== undefined) v.rate_limit_per_second = r.rateLimitPerSecond;
  if (r.exclusiveKeyTemplate !== undefined) v.exclusive_key_template = r.exclusiveKeyTemplate;
  if (r.retention !== undefined && Object.keys(r.retention).length > 0)
    v.retention = queueRetentionToWire(r.retention);
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
  const rec = await svc.ctx.queues.update(name, (r) => {
    if (template === null) delete r.exclusiveKeyTemplate;
    else if (template !== undefined) r.exclusiveKeyTemplate = template;
    if (retention === null || (retention && Object.keys(retention).length === 0)) delete r.retention;
    else if (retention) r.retention = { ...r.retention, ...retention };
  });
  return queueConfigView(rec);
}
