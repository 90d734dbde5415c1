/**
 * Assertions over the results of several earlier steps, used by `ASSERT` steps (the reference runner
 * does not evaluate these; we do).
 *
 * - `exclusive_claim: {job_id, fetches: [<jobs array>...], exactly_one_has_job, exactly_one_empty}`:
 *   of the referenced fetch results exactly one holds the job; the others got no job at all.
 * - `equality: {<operand>: <operand>, ...}`: each pair of operands is deep-equal. An operand is a
 *   whole template (`{{steps.X.response.body}}`), a JSONPath over the executed steps
 *   (`$.steps.X.response.body`, `$.steps.X.response.status`) or a literal JSON value.
 * @module
 */
import type { ResponseRecord } from "./http.js";
import type { Json, JsonObject } from "./json.js";
import { describe, firstDifference, formatValue, isJsonObject } from "./json.js";
import { resolvePath } from "./jsonpath.js";
import type { TemplateValue } from "./templates.js";
import { renderJson, resolveTemplateValue } from "./templates.js";

/** Executed steps' responses, keyed by step id. */
export type StepResults = ReadonlyMap<string, ResponseRecord>;

/** `{steps: {<id>: {response: {status, headers, body}}}}`, the root for `$.steps...` operands. */
export function stepsDocument(results: StepResults): JsonObject {
  const steps: JsonObject = {};
  for (const [id, response] of results) {
    steps[id] = {
      response: { status: response.status, headers: { ...response.headers }, body: response.body ?? null },
    };
  }
  return { steps };
}

function resolveOperand(operand: Json, results: StepResults): TemplateValue {
  if (typeof operand !== "string") return { ok: true, value: renderJson(operand, results) };
  if (operand.trim().startsWith("$")) {
    const resolved = resolvePath(stepsDocument(results), operand.trim());
    if (!resolved.ok) return { ok: false, error: `${operand}: ${resolved.error}`, missing: false };
    if (resolved.value === undefined) return { ok: false, error: `${operand} is missing`, missing: true };
    return { ok: true, value: resolved.value };
  }
  return resolveTemplateValue(operand, results);
}

/** Evaluates an `equality` assertion. */
export function checkEquality(spec: Json, results: StepResults): string[] {
  if (!isJsonObject(spec)) return ["equality: must be an object of operand pairs"];
  const failures: string[] = [];
  for (const [leftRaw, rightRaw] of Object.entries(spec)) {
    const left = resolveOperand(leftRaw, results);
    const right = resolveOperand(rightRaw, results);
    if (!left.ok || !right.ok) {
      const errors = [left, right].flatMap((side) => (side.ok ? [] : [side.error]));
      failures.push(`equality ${leftRaw} == ${describe(rightRaw)}: cannot resolve: ${errors.join("; ")}`);
      continue;
    }
    const diff = firstDifference(left.value, right.value);
    if (diff !== undefined) {
      failures.push(
        `equality ${leftRaw} == ${describe(rightRaw)}: differ at ${diff.path}: ${describe(diff.left)} vs ${describe(diff.right)}`,
      );
    }
  }
  return failures;
}

function holdsJob(jobs: readonly Json[], jobId: string): boolean {
  return jobs.some((job) => (isJsonObject(job) ? job["id"] === jobId : formatValue(job) === jobId));
}

function jobIds(jobs: readonly Json[]): string {
  const ids = jobs.map((job) => {
    const id = isJsonObject(job) ? job["id"] : undefined;
    return id === undefined ? describe(job) : formatValue(id);
  });
  return `[${ids.join(", ")}]`;
}

/** Evaluates an `exclusive_claim` assertion. */
export function checkExclusiveClaim(spec: Json, results: StepResults): string[] {
  if (!isJsonObject(spec)) return ["exclusive_claim: must be an object"];
  const rawJobId = spec["job_id"];
  const fetches = spec["fetches"];
  if (rawJobId === undefined || !Array.isArray(fetches) || fetches.length === 0) {
    return ["exclusive_claim: needs job_id and a non-empty fetches array"];
  }
  const jobId = resolveOperand(rawJobId, results);
  if (!jobId.ok) return [`exclusive_claim: job_id: ${jobId.error}`];
  if (jobId.value === null || typeof jobId.value === "object") {
    return [`exclusive_claim: job_id must be a scalar, got ${describe(jobId.value)}`];
  }
  const id = formatValue(jobId.value);

  const lists: Json[][] = [];
  for (const [i, fetch] of fetches.entries()) {
    const resolved = resolveOperand(fetch, results);
    if (!resolved.ok) {
      // A fetch that returned no body / no `jobs` (e.g. 204) got no job.
      if (resolved.missing) lists.push([]);
      else return [`exclusive_claim: fetch ${i + 1}: ${resolved.error}`];
    } else if (Array.isArray(resolved.value)) {
      lists.push(resolved.value);
    } else if (resolved.value === null) {
      lists.push([]);
    } else {
      return [`exclusive_claim: fetch ${i + 1} is not an array of jobs: ${describe(resolved.value)}`];
    }
  }

  const holders = lists.filter((jobs) => holdsJob(jobs, id)).length;
  const empty = lists.filter((jobs) => jobs.length === 0).length;
  const seen = lists.map((jobs, i) => `fetch ${i + 1}: ${jobIds(jobs)}`).join(", ");
  const failures: string[] = [];
  if (spec["exactly_one_has_job"] !== false && holders !== 1) {
    failures.push(
      `exclusive_claim: job ${id} was received by ${holders} of ${lists.length} fetches, expected exactly 1 (${seen})`,
    );
  }
  if (spec["exactly_one_empty"] !== false && empty !== lists.length - 1) {
    failures.push(
      `exclusive_claim: expected every fetch except the claiming one to be empty, ${empty} of ${lists.length} were (${seen})`,
    );
  }
  return failures;
}

/** Evaluates the cross-step keys (`exclusive_claim`, `equality`) of an assertions object. */
export function checkCrossStep(assertions: JsonObject, results: StepResults): string[] {
  const failures: string[] = [];
  if (assertions["exclusive_claim"] !== undefined) {
    failures.push(...checkExclusiveClaim(assertions["exclusive_claim"], results));
  }
  if (assertions["equality"] !== undefined) failures.push(...checkEquality(assertions["equality"], results));
  return failures;
}
