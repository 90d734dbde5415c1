/**
 * Matching targets against the agents of a fleet, and resolving a target to the agents that run a job.
 *
 * Hostnames compare case-insensitively (exact names, lists, globs and `E@` regexes alike; regexes are
 * unanchored). Labels follow the hierarchical rule of {@link labelMatches}. Facts are looked up by
 * dotted path in nested objects, flat dotted keys, or a mix (`{os: {name}}`, `{"os.name": …}`); `=`
 * and `!=` compare strings case-insensitively, the ordering operators compare numerically when both
 * sides are finite numbers and lexicographically (case-insensitively) otherwise. A missing or
 * non-scalar fact never matches, not even `!=`; for a non-empty array fact, an operator matches when
 * some element does (and `!=` when no element equals).
 */
import { targetPicksOne, type FactOp, type TargetExpr } from "./expr.js";
import { labelMatches } from "./label.js";
import type { SafeRegExp } from "../../core/safe-regex.js";
import { compileSafeRegExp } from "../../core/safe-regex.js";
import { globToRegExp } from "./term.js";

/** An agent as targets see it. */
export interface TargetCandidate {
  hostname: string;
  labels: Readonly<Record<string, string>>;
  /** Nested objects (`{os: {name: "debian"}}`) and flat dotted keys (`{"os.name": "debian"}`) both work. */
  facts: Readonly<Record<string, unknown>>;
  /** Jobs the agent is running now; pick-one targets prefer the fewest. Missing counts as 0. */
  running?: number;
}

/** Options of {@link resolveTarget}. */
export interface ResolveTargetOptions {
  /** Breaks ties between equally loaded agents; returns a number in [0, 1). @defaultValue Math.random */
  random?: () => number;
}

/** Whether a candidate is selected by the target; `any` and `all` select every candidate. */
export function matchesTarget(expr: TargetExpr, c: TargetCandidate): boolean {
  switch (expr.kind) {
    case "any":
    case "all":
      return true;
    case "host":
      return sameHost(c.hostname, expr.name);
    case "list":
      return expr.hosts.some((h) => sameHost(c.hostname, h));
    case "labels":
      return expr.labels.every((l) =>
        labelMatches(Object.hasOwn(c.labels, l.key) ? c.labels[l.key] : undefined, l.value),
      );
    case "glob":
    case "regex":
      return hostRegExp(expr).test(c.hostname);
    case "fact":
      return factMatches(lookupFact(c.facts, expr.path), expr.op, expr.value);
    case "and":
      return expr.items.every((item) => matchesTarget(item, c));
    case "or":
      return expr.items.some((item) => matchesTarget(item, c));
    case "not":
      return !matchesTarget(expr.item, c);
  }
}

/**
 * The candidates a target selects, in their given order. A pick-one target (`any`, `k:v:any`) selects
 * exactly one of its matches: the one running the fewest jobs, ties broken by `options.random`. No
 * match gives an empty array.
 */
export function resolveTarget<C extends TargetCandidate>(
  expr: TargetExpr,
  candidates: readonly C[],
  options: ResolveTargetOptions = {},
): C[] {
  const matching = candidates.filter((c) => matchesTarget(expr, c));
  if (!targetPicksOne(expr) || matching.length <= 1) return matching;
  const load = (c: C): number => (c.running === undefined || Number.isNaN(c.running) ? 0 : c.running);
  const least = matching.reduce((min, c) => Math.min(min, load(c)), Infinity);
  const ties = matching.filter((c) => load(c) === least);
  const r = (options.random ?? Math.random)();
  const index = Number.isFinite(r) ? Math.min(ties.length - 1, Math.max(0, Math.floor(r * ties.length))) : 0;
  return [ties[index]!];
}

/** The value at a dotted fact path, trying flat dotted keys before nested objects at every level. */
export function lookupFact(facts: Readonly<Record<string, unknown>>, path: string): unknown {
  return walk(facts, path.split("."));
}

function walk(node: unknown, parts: string[]): unknown {
  if (parts.length === 0) return node;
  if (node === null || typeof node !== "object" || Array.isArray(node)) return undefined;
  for (let n = parts.length; n >= 1; n--) {
    const key = parts.slice(0, n).join(".");
    if (!Object.hasOwn(node, key)) continue;
    const found = walk((node as Record<string, unknown>)[key], parts.slice(n));
    if (found !== undefined) return found;
  }
  return undefined;
}

function sameHost(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

const compiled = new WeakMap<TargetExpr, SafeRegExp>();

/** RE2 (core/safe-regex.ts): a pattern from a request can never freeze the process. */
function hostRegExp(expr: { kind: "glob"; pattern: string } | { kind: "regex"; source: string }): SafeRegExp {
  let re = compiled.get(expr);
  if (re === undefined) {
    re =
      expr.kind === "glob"
        ? globToRegExp(expr.pattern)
        : compileSafeRegExp(expr.source, { ignoreCase: true });
    compiled.set(expr, re);
  }
  return re;
}

function factMatches(actual: unknown, op: FactOp, wanted: string): boolean {
  if (Array.isArray(actual)) {
    if (op === "!=") return actual.length > 0 && !actual.some((v) => factMatches(v, "=", wanted));
    return actual.some((v) => factMatches(v, op, wanted));
  }
  const text = scalarText(actual);
  if (text === undefined) return false;
  if (op === "=") return text.toLowerCase() === wanted.toLowerCase();
  if (op === "!=") return text.toLowerCase() !== wanted.toLowerCase();
  const order = compare(text, wanted);
  switch (op) {
    case "<":
      return order < 0;
    case "<=":
      return order <= 0;
    case ">":
      return order > 0;
    case ">=":
      return order >= 0;
  }
}

function scalarText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint")
    return String(value);
  return undefined;
}

function compare(a: string, b: string): number {
  const x = toNumber(a);
  const y = toNumber(b);
  if (x !== undefined && y !== undefined) return x < y ? -1 : x > y ? 1 : 0;
  const la = a.toLowerCase();
  const lb = b.toLowerCase();
  return la < lb ? -1 : la > lb ? 1 : 0;
}

function toNumber(text: string): number | undefined {
  if (text.trim().length === 0) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}
