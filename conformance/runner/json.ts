/**
 * JSON value type and small helpers shared by the conformance runner.
 * @module
 */

/** Any value that `JSON.parse` can produce. */
export type Json = null | boolean | number | string | Json[] | JsonObject;

/** A JSON object. */
export interface JsonObject {
  [key: string]: Json;
}

/** True for a plain JSON object (not null, not an array). */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Parses JSON text, returning `undefined` instead of throwing on invalid input. */
export function tryParseJson(text: string): Json | undefined {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as Json;
  } catch {
    return undefined;
  }
}

/** The message of a caught value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The JSON type name of a value as used by the `$type` matcher; missing values are `"null"`. */
export function jsonTypeOf(value: Json | undefined): string {
  if (value === undefined || value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/**
 * Text form of a value as inserted by templates and compared by `contains:` and JSONPath filters:
 * strings raw, numbers without a trailing `.0`, everything else as JSON text.
 */
export function formatValue(value: Json): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

/** Short JSON rendering of a value for failure messages. */
export function describe(value: Json | undefined, maxChars = 200): string {
  if (value === undefined) return "<missing>";
  const text = JSON.stringify(value);
  return text.length > maxChars ? `${text.slice(0, maxChars)}…` : text;
}

/** Structural equality of two JSON values (object key order is ignored). */
export function deepEqual(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => deepEqual(item, b[i]));
  }
  if (isJsonObject(a)) {
    if (!isJsonObject(b)) return false;
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every((key) => Object.hasOwn(b, key) && deepEqual(a[key], b[key]));
  }
  return false;
}

/**
 * Location and values of the first difference between two JSON values, or `undefined` if they are
 * deep-equal. `path` uses JSONPath notation relative to the compared values (`$` = the values themselves).
 */
export function firstDifference(
  a: Json | undefined,
  b: Json | undefined,
  path = "$",
): { readonly path: string; readonly left: Json | undefined; readonly right: Json | undefined } | undefined {
  if (deepEqual(a, b)) return undefined;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
      const diff = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (diff !== undefined) return diff;
    }
  }
  if (isJsonObject(a) && isJsonObject(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const diff = firstDifference(a[key], b[key], `${path}.${key}`);
      if (diff !== undefined) return diff;
    }
  }
  return { path, left: a, right: b };
}
