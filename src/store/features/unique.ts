/**
 * Unique jobs: a fingerprint of the selected fields (`type`, `args`, `queue`, `meta`) is reserved in
 * KV with compare-and-set before the job is stored, so concurrent enqueues of the same job on any API
 * server or client agree on one winner. An existing entry blocks a new job only while its job is in
 * one of `states` (default: not finished) and within `period`; otherwise it is taken over.
 */
import { createHash } from "node:crypto";

import type { NormalizedEnqueue, UniquePolicy } from "../../core/envelope.js";
import { argsObject } from "../../core/envelope.js";
import { ConflictError, ErrorCode } from "../../core/errors.js";
import type { JobState } from "../../core/states.js";
import { getJson } from "../infra/kvjson.js";
import { AGAIN, casLoop, orAgain } from "../infra/cas.js";
import { cancelJob } from "../jobs/operations.js";
import type { Services } from "../infra/services.js";
import type { JobView } from "../jobs/view.js";
import { buildJobView, deriveState } from "../jobs/view.js";

export const DEFAULT_STATES: ReadonlySet<string> = new Set<JobState>([
  "scheduled",
  "available",
  "pending",
  "active",
  "retryable",
]);

export interface UniqueEntry {
  /** The job holding the key (absent while the first enqueue is in progress). */
  id?: string;
  at: number;
  expiresAt?: number;
}

/** Key fields serialized with sorted object keys, so `{a,b}` and `{b,a}` are the same job. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

function pick(obj: Record<string, unknown> | undefined, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = obj !== undefined && Object.hasOwn(obj, k) ? obj[k] : null;
  return out;
}

export function fingerprint(n: NormalizedEnqueue, policy: UniquePolicy): string {
  const parts: Record<string, unknown> = {};
  for (const k of policy.keys) {
    if (k === "type") parts.type = n.spec.type;
    else if (k === "args")
      parts.args = policy.argsKeys ? pick(argsObject(n.spec.args), policy.argsKeys) : n.spec.args;
    else if (k === "queue") parts.queue = n.queue;
    else parts.meta = policy.metaKeys ? pick(n.spec.meta, policy.metaKeys) : (n.spec.meta ?? {});
  }
  return "u." + createHash("sha256").update(canonical(parts)).digest("hex");
}

export type UniqueDecision = { kind: "go"; key: string } | { kind: "existing"; job: JobView };

/**
 * Reserves the job's fingerprint, or decides what the conflict means: `reject` → 409 duplicate,
 * `ignore` → the existing job, `replace` → cancel the existing job and go on.
 */
export async function reserveUnique(svc: Services, n: NormalizedEnqueue): Promise<UniqueDecision> {
  const policy = n.spec.unique!;
  const key = fingerprint(n, policy);
  const kv = svc.ctx.buckets.unique;
  const enc = new TextEncoder();
  return casLoop<UniqueDecision>(
    async () => {
      const now = Date.now();
      const fresh: UniqueEntry = { at: now };
      if (policy.periodMs !== undefined) fresh.expiresAt = now + policy.periodMs;
      const cur = await getJson<UniqueEntry>(kv, key);
      const holder = cur ? await activeHolder(svc, cur.value, policy, now) : undefined;
      if (holder) {
        if (policy.onConflict === "ignore") return { kind: "existing", job: holder };
        if (policy.onConflict === "reject") {
          throw new ConflictError(`a job with the same unique key exists: ${holder.id} (${holder.state})`, {
            code: ErrorCode.Duplicate,
            details: { existing_job_id: holder.id, existing_state: holder.state },
          });
        }
        await cancelJob(svc, holder.id).catch((err: unknown) => {
          // Finished in the meantime: nothing to replace.
          if (!(err instanceof ConflictError)) throw err;
        });
      }
      const data = enc.encode(JSON.stringify(fresh));
      const w = await orAgain(cur ? kv.update(key, data, cur.revision) : kv.create(key, data));
      return w === AGAIN ? AGAIN : { kind: "go", key };
    },
    {
      exhausted: () => {
        throw new ConflictError("the unique key is contended; try again", { retryable: true });
      },
    },
  );
}

/** After the job is stored: record which job holds the key. */
export async function recordUnique(
  svc: Services,
  key: string,
  id: string,
  policy: UniquePolicy,
): Promise<void> {
  const now = Date.now();
  const entry: UniqueEntry = { id, at: now };
  if (policy.periodMs !== undefined) entry.expiresAt = now + policy.periodMs;
  await svc.ctx.buckets.unique.put(key, new TextEncoder().encode(JSON.stringify(entry)));
}

async function activeHolder(
  svc: Services,
  e: UniqueEntry,
  policy: UniquePolicy,
  now: number,
): Promise<JobView | undefined> {
  if (e.expiresAt !== undefined && now > e.expiresAt) return undefined;
  if (e.id === undefined) {
    // Another enqueue holds the key and has not stored its job yet; stale after a minute.
    if (now - e.at > 60_000) return undefined;
    throw new ConflictError("a job with the same unique key is being enqueued", {
      code: ErrorCode.Duplicate,
      retryable: true,
    });
  }
  const loc = await svc.locator.locate(e.id);
  if (!loc) return undefined;
  const view = buildJobView(loc.at, loc.idx, deriveState(loc.at, loc.idx, loc.slots[loc.idx]!, now));
  const states = policy.states ? new Set(policy.states) : DEFAULT_STATES;
  return states.has(view.state) ? view : undefined;
}
