/**
 * Evaluation of a step's `assertions` object against the HTTP response it received.
 *
 * Handled keys: `status`, `status_in` (alias `status_one_of`, used by an extension case), `body` (incl. a top-level `$or`), `body_absent`,
 * `body_contains`, `headers`, `timing_ms`. `exclusive_claim` and `equality` are cross-step checks
 * (see `cross-step.ts`); keys ending in `_comment` are notes for the reader (some extension cases use
 * `headers_comment`); any other key is reported as unsupported rather than silently ignored.
 * @module
 */
import type { ResponseRecord } from "./http.js";
import type { Json, JsonObject } from "./json.js";
import { describe, isJsonObject } from "./json.js";
import { resolvePath } from "./jsonpath.js";
import type { MatchFailure } from "./matchers.js";
import { isEmptyValue, matchStatus, matchStatusIn, matchValue } from "./matchers.js";
import type { TemplateContext } from "./templates.js";
import { renderJson, renderString } from "./templates.js";

/** Assertion keys evaluated on other steps' results rather than on the response. */
export const CROSS_STEP_KEYS: ReadonlySet<string> = new Set(["exclusive_claim", "equality"]);

/** Options of response checks. */
export interface CheckOptions {
  /** Tolerance of `timing_ms.approximate`, in percent. */
  readonly tolerancePct: number;
  /**
   * When false (the reference runner's behaviour), `body` assertions other than `$or` are skipped if
   * the body is not a JSON object; when true they fail instead.
   */
  readonly strictBody: boolean;
}

function isBodyEmpty(response: ResponseRecord): boolean {
  return response.text.trim() === "" || (response.body !== undefined && isEmptyValue(response.body));
}

/** Checks one `path: matcher` entry against the body. */
function checkBodyEntry(
  key: string,
  matcher: Json,
  response: ResponseRecord,
  context: TemplateContext,
): MatchFailure {
  const path = renderString(key, context);
  if (path === "$empty") {
    // Body-level emptiness (used as an `$or` alternative: "no jobs or no body at all").
    const want = matcher !== false;
    return isBodyEmpty(response) === want
      ? undefined
      : `body: expected ${want ? "an empty" : "a non-empty"} body`;
  }
  const rendered = renderJson(matcher, context);
  const resolved = resolvePath(response.body, path);
  if (!resolved.ok)
    return rendered === "absent" ? undefined : `body ${path}: cannot resolve: ${resolved.error}`;
  const failure = matchValue(rendered, resolved.value);
  return failure === undefined ? undefined : `body ${path}: ${failure}`;
}

function checkOr(alternatives: Json, response: ResponseRecord, context: TemplateContext): MatchFailure {
  if (!Array.isArray(alternatives) || !alternatives.every(isJsonObject))
    return "body $or: must be an array of objects";
  const reasons: string[] = [];
  for (const alternative of alternatives) {
    const failure = Object.entries(alternative)
      .map(([key, matcher]) => checkBodyEntry(key, matcher, response, context))
      .find((f) => f !== undefined);
    if (failure === undefined) return undefined;
    reasons.push(failure);
  }
  return `body $or: no alternative matched (${reasons.join("; ")})`;
}

/** Evaluates a `body` assertion map; returns all failures. */
export function checkBody(
  assertions: JsonObject,
  response: ResponseRecord,
  context: TemplateContext,
  options: Pick<CheckOptions, "strictBody">,
): string[] {
  const failures: string[] = [];
  const isObjectBody = isJsonObject(response.body);
  for (const [key, matcher] of Object.entries(assertions)) {
    let failure: MatchFailure;
    if (key === "$or") {
      failure = checkOr(matcher, response, context);
    } else if (key === "$empty") {
      failure = checkBodyEntry(key, matcher, response, context);
    } else if (key.startsWith("$") && !key.startsWith("$.") && !key.startsWith("$[") && key !== "$") {
      continue; // unknown operator keys are ignored, as in the reference runner
    } else if (!isObjectBody) {
      if (!options.strictBody) continue; // lenient: the reference runner skips these
      failure = `body ${key}: response body is not a JSON object: ${describe(response.body ?? response.text)}`;
    } else {
      failure = checkBodyEntry(key, matcher, response, context);
    }
    if (failure !== undefined) failures.push(failure);
  }
  return failures;
}

/** Evaluates a `headers` assertion map (exact value of the header, or `{"$match": RE}` / `{"$eq": S}`). */
export function checkHeaders(
  assertions: JsonObject,
  response: ResponseRecord,
  context: TemplateContext,
): string[] {
  const failures: string[] = [];
  for (const [name, raw] of Object.entries(assertions)) {
    const matcher = renderJson(raw, context);
    const actual = response.headers[name.toLowerCase()];
    let failure: MatchFailure;
    if (typeof matcher === "string") {
      failure =
        actual === matcher ? undefined : `expected ${JSON.stringify(matcher)}, got ${describe(actual)}`;
    } else if (isJsonObject(matcher) && typeof matcher["$eq"] === "string") {
      failure =
        actual === matcher["$eq"]
          ? undefined
          : `expected ${describe(matcher["$eq"])}, got ${describe(actual)}`;
    } else {
      failure = matchValue(matcher, actual);
    }
    if (failure !== undefined) failures.push(`header ${name}: ${failure}`);
  }
  return failures;
}

/** Evaluates `timing_ms` ({less_than, greater_than, approximate}) against the request duration. */
export function checkTiming(timing: JsonObject, durationMs: number, tolerancePct: number): string[] {
  const failures: string[] = [];
  const ms = Math.round(durationMs);
  const { less_than: lessThan, greater_than: greaterThan, approximate } = timing;
  if (typeof lessThan === "number" && !(durationMs < lessThan)) {
    failures.push(`timing: expected < ${lessThan} ms, took ${ms} ms`);
  }
  if (typeof greaterThan === "number" && !(durationMs > greaterThan)) {
    failures.push(`timing: expected > ${greaterThan} ms, took ${ms} ms`);
  }
  if (typeof approximate === "number") {
    const tolerance = Math.max((approximate * tolerancePct) / 100, 100);
    if (Math.abs(durationMs - approximate) > tolerance) {
      failures.push(`timing: expected ~${approximate} ms (±${tolerance}), took ${ms} ms`);
    }
  }
  return failures;
}

function stringList(value: Json, key: string): string[] | string {
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
    return `${key}: must be an array of strings`;
  }
  return value;
}

/** Evaluates `body_absent`: every listed path must resolve to nothing (missing, null or unresolvable). */
export function checkBodyAbsent(paths: Json, response: ResponseRecord, context: TemplateContext): string[] {
  const list = stringList(paths, "body_absent");
  if (typeof list === "string") return [list];
  return list.flatMap((raw) => {
    const path = renderString(raw, context);
    const resolved = resolvePath(response.body, path);
    const present = resolved.ok && resolved.value !== undefined && resolved.value !== null;
    return present ? [`body ${path}: expected absent, got ${describe(resolved.value)}`] : [];
  });
}

/** Evaluates `body_contains`: every listed string must occur in the raw body text. */
export function checkBodyContains(
  needles: Json,
  response: ResponseRecord,
  context: TemplateContext,
): string[] {
  const list = stringList(needles, "body_contains");
  if (typeof list === "string") return [list];
  return list.flatMap((raw) => {
    const needle = renderString(raw, context);
    if (response.text.includes(needle)) return [];
    return [`body: expected to contain ${JSON.stringify(needle)}, got ${describe(response.text)}`];
  });
}

function withBody(failure: MatchFailure, response: ResponseRecord): string[] {
  return failure === undefined ? [] : [`${failure} — body: ${describe(response.body ?? response.text)}`];
}

function checkObject(value: Json, key: string, check: (assertion: JsonObject) => string[]): string[] {
  return isJsonObject(value) ? check(value) : [`${key}: assertion must be an object`];
}

/**
 * Evaluates all response assertions of a step.
 * @returns failure messages; empty when the response satisfies every assertion
 */
export function checkResponse(
  assertions: JsonObject,
  response: ResponseRecord,
  context: TemplateContext,
  options: CheckOptions,
): string[] {
  const failures: string[] = [];
  for (const [key, value] of Object.entries(assertions)) {
    if (CROSS_STEP_KEYS.has(key) || key.endsWith("_comment")) continue;
    switch (key) {
      case "status":
        failures.push(...withBody(matchStatus(renderJson(value, context), response.status), response));
        break;
      case "status_in":
      case "status_one_of":
        failures.push(...withBody(matchStatusIn(value, response.status), response));
        break;
      case "body":
        failures.push(...checkObject(value, key, (body) => checkBody(body, response, context, options)));
        break;
      case "headers":
        failures.push(...checkObject(value, key, (headers) => checkHeaders(headers, response, context)));
        break;
      case "timing_ms":
        failures.push(
          ...checkObject(value, key, (timing) =>
            checkTiming(timing, response.durationMs, options.tolerancePct),
          ),
        );
        break;
      case "body_absent":
        failures.push(...checkBodyAbsent(value, response, context));
        break;
      case "body_contains":
        failures.push(...checkBodyContains(value, response, context));
        break;
      default:
        failures.push(`unsupported assertion "${key}"`);
    }
  }
  return failures;
}
