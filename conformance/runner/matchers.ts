/**
 * Value matchers of the OJS conformance DSL (the right-hand side of `body` assertions) and the
 * `status` matcher forms. Each matcher returns `undefined` on success or a failure message.
 *
 * `undefined` (a missing key) and `null` are treated alike: both are "absent".
 *
 * Some extension cases (ext-admin-api, ext-dead-letter) use two operators the reference runner only
 * knows inside `$exists` or `$size`: a standalone `{"$type": T}` (JSON type of the value) and the
 * comparisons `{"$gte": N}` / `$gt` / `$lte` / `$lt` on a number. Read literally (as the reference
 * runner does) they would demand an object with a `$type` key, which no server can mean to send, so
 * they are evaluated as the type check and comparison they were written as.
 * @module
 */
import type { Json, JsonObject } from "./json.js";
import { describe, errorMessage, formatValue, isJsonObject, jsonTypeOf } from "./json.js";

/** `undefined` when the value matches, else a human-readable reason. */
export type MatchFailure = string | undefined;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const NUMBER_RANGE = /^number:range\(\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*\)$/;
const APPROX = /^~(\d+(?:\.\d+)?)$/;
const APPROX_TOLERANCE_PCT = 50;

function isMissing(value: Json | undefined): value is null | undefined {
  return value === undefined || value === null;
}

function got(value: Json | undefined): string {
  return isMissing(value)
    ? `got ${value === null ? "null" : "missing"}`
    : `got ${jsonTypeOf(value)} ${describe(value)}`;
}

function compileRegex(pattern: string): RegExp | string {
  try {
    return new RegExp(pattern);
  } catch (err) {
    return `invalid regex ${JSON.stringify(pattern)}: ${errorMessage(err)}`;
  }
}

function matchRegex(pattern: string, actual: Json | undefined): MatchFailure {
  if (typeof actual !== "string") return `expected string matching /${pattern}/, ${got(actual)}`;
  const re = compileRegex(pattern);
  if (typeof re === "string") return re;
  return re.test(actual) ? undefined : `expected string matching /${pattern}/, got ${JSON.stringify(actual)}`;
}

function checkString(actual: Json | undefined, what: string, test: (s: string) => boolean): MatchFailure {
  if (typeof actual !== "string") return `expected ${what}, ${got(actual)}`;
  return test(actual) ? undefined : `expected ${what}, got ${JSON.stringify(actual)}`;
}

function checkNumber(actual: Json | undefined, what: string, test: (n: number) => boolean): MatchFailure {
  if (typeof actual !== "number") return `expected ${what}, ${got(actual)}`;
  return test(actual) ? undefined : `expected ${what}, got ${actual}`;
}

function checkArray(actual: Json | undefined, what: string, test: (length: number) => boolean): MatchFailure {
  if (!Array.isArray(actual)) return `expected ${what}, ${got(actual)}`;
  return test(actual.length) ? undefined : `expected ${what}, got length ${actual.length}`;
}

/** `array:<kind>:N` / `array:length(N)` forms; `undefined` when `matcher` is not one of them. */
function matchArrayString(matcher: string, actual: Json | undefined): MatchFailure | null {
  const form = /^array:(?:(length|min_length|min):(\d+)|length\((\d+)\))$/.exec(matcher);
  if (form === null) return null;
  const n = Number(form[2] ?? form[3]);
  if (form[1] === "min_length" || form[1] === "min")
    return checkArray(actual, `array with at least ${n} elements`, (l) => l >= n);
  return checkArray(actual, `array of length ${n}`, (l) => l === n);
}

function matchContains(target: string, actual: Json | undefined, negate: boolean): MatchFailure {
  if (!Array.isArray(actual))
    return `expected array for ${negate ? "not_contains" : "contains"}, ${got(actual)}`;
  const found = actual.some((item) => formatValue(item) === target);
  if (found === negate) {
    return `expected array ${negate ? "not to contain" : "to contain"} ${JSON.stringify(target)}, got ${describe(actual)}`;
  }
  return undefined;
}

function matchStringMatcher(matcher: string, actual: Json | undefined): MatchFailure {
  switch (matcher) {
    case "any":
      return undefined;
    case "absent":
      return isMissing(actual) ? undefined : `expected absent, ${got(actual)}`;
    case "exists":
      return isMissing(actual) ? `expected a value, ${got(actual)}` : undefined;
    case "string:nonempty":
    case "string:non_empty":
      return checkString(actual, "non-empty string", (s) => s !== "");
    case "string:uuid":
      return checkString(actual, "lowercase UUID", (s) => UUID.test(s));
    case "string:uuidv7":
      return checkString(actual, "lowercase UUIDv7", (s) => UUID_V7.test(s));
    case "string:datetime":
      return checkString(actual, "RFC 3339 datetime", (s) => DATETIME.test(s));
    case "number:positive":
      return checkNumber(actual, "positive number", (n) => n > 0);
    case "number:non_negative":
      return checkNumber(actual, "non-negative number", (n) => n >= 0);
    case "array:nonempty":
      return checkArray(actual, "non-empty array", (l) => l > 0);
    case "array:empty":
      return checkArray(actual, "empty array", (l) => l === 0);
  }
  const arrayResult = matchArrayString(matcher, actual);
  if (arrayResult !== null) return arrayResult;
  if (matcher.startsWith("string:contains:")) {
    const needle = matcher.slice("string:contains:".length);
    return checkString(actual, `string containing ${JSON.stringify(needle)}`, (s) => s.includes(needle));
  }
  if (matcher.startsWith("string:pattern(") && matcher.endsWith(")")) {
    return matchRegex(matcher.slice("string:pattern(".length, -1), actual);
  }
  if (matcher.startsWith("contains:")) return matchContains(matcher.slice("contains:".length), actual, false);
  if (matcher.startsWith("not_contains:"))
    return matchContains(matcher.slice("not_contains:".length), actual, true);
  const range = NUMBER_RANGE.exec(matcher);
  if (range !== null) {
    const lo = Number(range[1]);
    const hi = Number(range[2]);
    return checkNumber(actual, `number in [${lo}, ${hi}]`, (n) => n >= lo && n <= hi);
  }
  const approx = APPROX.exec(matcher);
  if (approx !== null) {
    const expected = Number(approx[1]);
    const tolerance = (expected * APPROX_TOLERANCE_PCT) / 100;
    return checkNumber(actual, `~${expected} (±${tolerance})`, (n) => Math.abs(n - expected) <= tolerance);
  }
  if (typeof actual !== "string") return `expected ${JSON.stringify(matcher)}, ${got(actual)}`;
  return actual === matcher
    ? undefined
    : `expected ${JSON.stringify(matcher)}, got ${JSON.stringify(actual)}`;
}

function matchNumber(expected: number, actual: Json | undefined): MatchFailure {
  if (typeof actual !== "number") return `expected ${expected}, ${got(actual)}`;
  const equal =
    Number.isInteger(expected) && Number.isInteger(actual)
      ? expected === actual
      : Math.abs(expected - actual) <= 1e-9;
  return equal ? undefined : `expected ${expected}, got ${actual}`;
}

function matchAnyOf(alternatives: Json, actual: Json | undefined, op: string): MatchFailure {
  if (!Array.isArray(alternatives)) return `invalid matcher: ${op} needs an array`;
  if (alternatives.some((alt) => matchValue(alt, actual) === undefined)) return undefined;
  return `expected ${op} ${describe(alternatives)}, ${got(actual)}`;
}

function matchSize(size: Json, actual: Json | undefined): MatchFailure {
  if (!Array.isArray(actual)) return `expected array for $size, ${got(actual)}`;
  const length = actual.length;
  if (typeof size === "number")
    return length === size ? undefined : `expected array of size ${size}, got ${length}`;
  if (!isJsonObject(size)) return `invalid $size matcher ${describe(size)}`;
  const checks: Record<string, (n: number) => boolean> = {
    $eq: (n) => length === n,
    $gte: (n) => length >= n,
    $gt: (n) => length > n,
    $lte: (n) => length <= n,
    $lt: (n) => length < n,
  };
  for (const [op, bound] of Object.entries(size)) {
    const check = checks[op];
    if (check === undefined || typeof bound !== "number") return `invalid $size matcher ${describe(size)}`;
    if (!check(bound)) return `expected array size ${op} ${bound}, got ${length}`;
  }
  return undefined;
}

function matchRange(range: Json, actual: Json | undefined): MatchFailure {
  if (!isJsonObject(range)) return `invalid range matcher ${describe(range)}`;
  const min = typeof range["min"] === "number" ? range["min"] : undefined;
  const max = typeof range["max"] === "number" ? range["max"] : undefined;
  const what = `number in [${min ?? "-∞"}, ${max ?? "∞"}]`;
  return checkNumber(actual, what, (n) => (min === undefined || n >= min) && (max === undefined || n <= max));
}

function matchExists(matcher: JsonObject, actual: Json | undefined): MatchFailure {
  const exists = matcher["$exists"];
  if (typeof exists !== "boolean") return `invalid $exists value ${describe(exists)}`;
  if (exists && isMissing(actual)) return `expected a value, ${got(actual)}`;
  if (!exists && !isMissing(actual)) return `expected absent, ${got(actual)}`;
  const type = matcher["$type"];
  if (typeof type === "string" && jsonTypeOf(actual) !== type) return `expected type ${type}, ${got(actual)}`;
  return undefined;
}

const COMPARISONS: Readonly<Record<string, [string, (a: number, b: number) => boolean]>> = {
  $gte: [">=", (a, b) => a >= b],
  $gt: [">", (a, b) => a > b],
  $lte: ["<=", (a, b) => a <= b],
  $lt: ["<", (a, b) => a < b],
};

/** `{"$gte": N}` and friends (all given must hold); `null` when the matcher has none of them. */
function matchComparison(matcher: JsonObject, actual: Json | undefined): MatchFailure | null {
  const keys = Object.keys(matcher).filter((key) => Object.hasOwn(COMPARISONS, key));
  if (keys.length === 0) return null;
  for (const key of keys) {
    const bound = matcher[key];
    const [symbol, holds] = COMPARISONS[key] ?? ["?", () => false];
    if (typeof bound !== "number") return `invalid ${key} value ${describe(bound)}`;
    const failure = checkNumber(actual, `number ${symbol} ${bound}`, (n) => holds(n, bound));
    if (failure !== undefined) return failure;
  }
  return undefined;
}

/** True for values the `$empty` operator treats as empty: missing, null, "", [] and {}. */
export function isEmptyValue(value: Json | undefined): boolean {
  if (isMissing(value) || value === "") return true;
  if (Array.isArray(value)) return value.length === 0;
  return isJsonObject(value) && Object.keys(value).length === 0;
}

function matchObject(matcher: JsonObject, actual: Json | undefined): MatchFailure {
  if (Object.hasOwn(matcher, "$exists")) return matchExists(matcher, actual);
  const operand = (key: string): Json | undefined => (Object.hasOwn(matcher, key) ? matcher[key] : undefined);
  const pattern = operand("$match");
  if (pattern !== undefined) {
    return typeof pattern === "string"
      ? matchRegex(pattern, actual)
      : `invalid $match value ${describe(pattern)}`;
  }
  const anyOf = operand("$in");
  if (anyOf !== undefined) return matchAnyOf(anyOf, actual, "one of");
  const size = operand("$size");
  if (size !== undefined) return matchSize(size, actual);
  const orList = operand("$or");
  if (orList !== undefined) return matchAnyOf(orList, actual, "any of");
  const empty = operand("$empty");
  if (empty !== undefined) {
    if (typeof empty !== "boolean") return `invalid $empty value ${describe(empty)}`;
    return isEmptyValue(actual) === empty
      ? undefined
      : `expected ${empty ? "empty" : "non-empty"} value, ${got(actual)}`;
  }
  const range = operand("range");
  if (range !== undefined) return matchRange(range, actual);
  const type = operand("$type");
  if (typeof type === "string") {
    return jsonTypeOf(actual) === type && !isMissing(actual) ? undefined : `expected ${type}, ${got(actual)}`;
  }
  const comparison = matchComparison(matcher, actual);
  if (comparison !== null) return comparison;
  if (!isJsonObject(actual)) return `expected object, ${got(actual)}`;
  for (const [key, sub] of Object.entries(matcher)) {
    const present = Object.hasOwn(actual, key);
    if (sub === "absent") {
      if (present) return `.${key}: expected absent, got ${describe(actual[key])}`;
      continue;
    }
    if (!present) return `.${key}: expected to exist but is missing`;
    const failure = matchValue(sub, actual[key]);
    if (failure !== undefined) return `.${key}: ${failure}`;
  }
  return undefined;
}

/**
 * Matches `actual` against a DSL matcher.
 * @param matcher - the matcher JSON (templates already rendered)
 * @param actual - the resolved value; `undefined` when missing
 */
export function matchValue(matcher: Json, actual: Json | undefined): MatchFailure {
  if (matcher === null) return isMissing(actual) ? undefined : `expected null, ${got(actual)}`;
  if (typeof matcher === "string") return matchStringMatcher(matcher, actual);
  if (typeof matcher === "number") return matchNumber(matcher, actual);
  if (typeof matcher === "boolean") {
    if (typeof actual !== "boolean") return `expected ${matcher}, ${got(actual)}`;
    return actual === matcher ? undefined : `expected ${matcher}, got ${actual}`;
  }
  if (Array.isArray(matcher)) {
    if (!Array.isArray(actual)) return `expected array of length ${matcher.length}, ${got(actual)}`;
    if (actual.length !== matcher.length) {
      return `expected array of length ${matcher.length}, got length ${actual.length}: ${describe(actual)}`;
    }
    for (const [i, item] of matcher.entries()) {
      const failure = matchValue(item, actual[i]);
      if (failure !== undefined) return `[${i}]: ${failure}`;
    }
    return undefined;
  }
  return matchObject(matcher, actual);
}

/**
 * Matches an HTTP status against the `status` assertion: a number, `"one_of:a,b"`, a numeric string,
 * a numeric string matcher such as `"number:range(400,422)"`, or an object matcher like `{"$in": [...]}`.
 */
export function matchStatus(matcher: Json, status: number): MatchFailure {
  if (typeof matcher === "number")
    return status === matcher ? undefined : `expected status ${matcher}, got ${status}`;
  if (typeof matcher === "string") {
    if (matcher.startsWith("one_of:")) {
      const allowed = matcher
        .slice("one_of:".length)
        .split(",")
        .map((part) => Number(part.trim()));
      if (allowed.some((n) => !Number.isInteger(n)))
        return `invalid status matcher ${JSON.stringify(matcher)}`;
      return allowed.includes(status)
        ? undefined
        : `expected status one of ${allowed.join(", ")}, got ${status}`;
    }
    if (/^\d+$/.test(matcher.trim())) return matchStatus(Number(matcher), status);
  }
  const failure = matchValue(matcher, status);
  return failure === undefined ? undefined : `status: ${failure}`;
}

/** Matches an HTTP status against a `status_in` list. */
export function matchStatusIn(allowed: Json, status: number): MatchFailure {
  if (!Array.isArray(allowed) || !allowed.every((n) => typeof n === "number")) {
    return `invalid status_in ${describe(allowed)}`;
  }
  return allowed.includes(status) ? undefined : `expected status in [${allowed.join(", ")}], got ${status}`;
}
