/**
 * Per-queue settings users change at run time (besides pause and rate limit): for now the exclusive key
 * template. Changes apply to jobs enqueued afterwards; every process sees them through the queue
 * registry's KV watch.
 */
import { checkKeyTemplate } from "../core/key-template.js";
import { ErrorCode, ValidationError } from "../core/errors.js";
import type { QueueRecord } from "./queues.js";
import type { Services } from "./services.js";

export interface QueueConfigChange {
  /** A template such as `host:{args.0.host}`, or null to remove it. */
  exclusive_key_template?: string | null;
}

export interface QueueConfigView {
  name: string;
  paused: boolean;
  rate_limit_per_second?: number;
  exclusive_key_template?: string;
}

export function queueConfigView(r: QueueRecord): QueueConfigView {
  const v: QueueConfigView = { name: r.name, paused: r.paused };
  if (r.rateLimitPerSecond !== undefined) v.rate_limit_per_second = r.rateLimitPerSecond;
  if (r.exclusiveKeyTemplate !== undefined) v.exclusive_key_template = r.exclusiveKeyTemplate;
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
  const rec = await svc.ctx.queues.update(name, (r) => {
    if (template === null) delete r.exclusiveKeyTemplate;
    else if (template !== undefined) r.exclusiveKeyTemplate = template;
  });
  return queueConfigView(rec);
}
