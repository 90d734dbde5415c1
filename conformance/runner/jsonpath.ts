/**
 * The JSONPath subset used by OJS conformance cases.
 *
 * Supported: an optional leading `$` / `$.`, dot segments (`job.id`), bracket keys (`['a.b']`),
 * indexes (`[0]`, chained `[0][1]`), the wildcard `[*]` (the rest of the path is evaluated on every
 * element; missing results are dropped and the values are collected into an array) and the filter
 * `[?(@.key=='value')]` / `[?(@.key==value)]`, which selects the FIRST element whose `key` has that
 * text form (no match resolves to missing).
 *
 * A missing object key resolves to "missing" (`undefined`) rather than an error, and so does any
 * further key below it; indexing something that is not an array, or out of range, is an error.
 * @module
 */
import type { Json } from "./json.js";
import { errorMessage, formatValue, isJsonObject, jsonTypeOf } from "./json.js";

function typeName(value: Json | undefined): string {
  return value === undefined ? "missing" : jsonTypeOf(value);
}

/** One parsed path segment. */
export type PathSegment =
  | { readonly kind: "key"; readonly name: string }
  | { readonly kind: "index"; readonly index: number }
  | { readonly kind: "wildcard" }
  | { readonly kind: "filter"; readonly key: readonly PathSegment[]; readonly value: string };

/** Outcome of resolving a path: the value (`undefined` = missing) or why it could not be resolved. */
export type PathResult =
  { readonly ok: true; readonly value: Json | undefined } | { readonly ok: false; readonly error: string };

/** Thrown by {@link parsePath} for syntax errors. */
export class PathSyntaxError extends Error {
  constructor(path: string, reason: string) {
    super(`invalid JSONPath ${JSON.stringify(path)}: ${reason}`);
    this.name = "PathSyntaxError";
  }
}

function unquote(text: string): string {
  const t = text.trim();
  if (t.length >= 2 && (t[0] === "'" || t[0] === '"') && t[t.length - 1] === t[0]) return t.slice(1, -1);
  return t;
}

function parseBracket(path: string, start: number, segments: PathSegment[]): number {
  // `start` points at "["; returns the index just after the closing "]".
  if (path.startsWith("[?(", start)) {
    const close = path.indexOf(")]", start);
    if (close < 0) throw new PathSyntaxError(path, "unclosed filter expression");
    const expr = path.slice(start + 3, close);
    const eq = expr.indexOf("==");
    if (!expr.startsWith("@.") || eq < 0) throw new PathSyntaxError(path, `unsupported filter "${expr}"`);
    const key = parsePath(expr.slice(2, eq).trim());
    if (key.length === 0) throw new PathSyntaxError(path, "empty filter key");
    segments.push({ kind: "filter", key, value: unquote(expr.slice(eq + 2)) });
    return close + 2;
  }
  const close = path.indexOf("]", start);
  if (close < 0) throw new PathSyntaxError(path, "unclosed bracket");
  const inner = path.slice(start + 1, close).trim();
  if (inner === "*") {
    segments.push({ kind: "wildcard" });
  } else if (/^\d+$/.test(inner)) {
    segments.push({ kind: "index", index: Number(inner) });
  } else if (/^(['"]).*\1$/.test(inner)) {
    segments.push({ kind: "key", name: inner.slice(1, -1) });
  } else {
    throw new PathSyntaxError(path, `unsupported bracket "[${inner}]"`);
  }
  return close + 1;
}

/** Parses a path such as `$.jobs[0].id`, `job.id` or `$.jobs[?(@.id=='x')].state`. */
export function parsePath(path: string): PathSegment[] {
  const segments: PathSegment[] = [];
  let i = 0;
  if (path.startsWith("$")) i = 1;
  let expectKey = i === 0; // a path without "$" starts with a bare key
  while (i < path.length) {
    const ch = path[i];
    if (ch === "[") {
      i = parseBracket(path, i, segments);
      expectKey = false;
      continue;
    }
    if (ch === ".") {
      i += 1;
      expectKey = true;
      continue;
    }
    if (!expectKey) throw new PathSyntaxError(path, `unexpected character "${ch}" at ${i}`);
    let end = i;
    while (end < path.length && path[end] !== "." && path[end] !== "[") end += 1;
    segments.push({ kind: "key", name: path.slice(i, end) });
    i = end;
    expectKey = false;
  }
  return segments;
}

function resolveSegments(
  value: Json | undefined,
  segments: readonly PathSegment[],
  from: number,
): PathResult {
  let current = value;
  for (let i = from; i < segments.length; i += 1) {
    const segment = segments[i];
    if (segment === undefined) break;
    switch (segment.kind) {
      case "key":
        if (current === undefined || current === null) {
          current = undefined;
          break;
        }
        if (!isJsonObject(current)) {
          return { ok: false, error: `expected object at "${segment.name}", got ${typeName(current)}` };
        }
        current = Object.hasOwn(current, segment.name) ? current[segment.name] : undefined;
        break;
      case "index":
        if (!Array.isArray(current)) {
          return { ok: false, error: `expected array at [${segment.index}], got ${typeName(current)}` };
        }
        if (segment.index >= current.length) {
          return { ok: false, error: `index [${segment.index}] out of range (length ${current.length})` };
        }
        current = current[segment.index];
        break;
      case "wildcard": {
        if (!Array.isArray(current))
          return { ok: false, error: `expected array at [*], got ${typeName(current)}` };
        const collected: Json[] = [];
        for (const item of current) {
          const result = resolveSegments(item, segments, i + 1);
          if (result.ok && result.value !== undefined && result.value !== null) collected.push(result.value);
        }
        return { ok: true, value: collected };
      }
      case "filter": {
        if (!Array.isArray(current)) {
          return { ok: false, error: `expected array for filter, got ${typeName(current)}` };
        }
        const wanted = segment.value;
        const match = current.find((item) => {
          if (!isJsonObject(item)) return false;
          const keyResult = resolveSegments(item, segment.key, 0);
          return keyResult.ok && keyResult.value !== undefined && formatValue(keyResult.value) === wanted;
        });
        if (match === undefined) return { ok: true, value: undefined };
        current = match;
        break;
      }
    }
  }
  return { ok: true, value: current };
}

/**
 * Resolves `path` against `root`.
 * @returns `{ok: true, value}` (value `undefined` when missing) or `{ok: false, error}`
 */
export function resolvePath(root: Json | undefined, path: string): PathResult {
  let segments: PathSegment[];
  try {
    segments = parsePath(path);
  } catch (err) {
    return { ok: false, error: errorMessage(err) };
  }
  return resolveSegments(root, segments, 0);
}
