/**
 * Per-queue exclusive key templates: `"host:{args.0.host}"` turns a job into its exclusive key. A
 * placeholder is a path into the job: `type`, `queue`, `args.N[.field…]` or `meta.field[.field…]`.
 * Strings and numbers are inserted as they are; anything else is an error, as is a missing value.
 */
import { ErrorCode, ValidationError } from "./errors.js";

const PLACEHOLDER = /\{([^{}]*)\}/g;
const PATH = /^(type|queue|args\.\d+(\.[A-Za-z0-9_-]+)*|meta(\.[A-Za-z0-9_-]+)+)$/;

/** Checks a template; returns a problem description, or undefined when it is usable. */
export function checkKeyTemplate(template: string): string | undefined {
  if (template.length === 0 || template.length > 256) return "must be 1 to 256 characters";
  const paths = [...template.matchAll(PLACEHOLDER)].map((m) => m[1]!);
  if (paths.length === 0) return "needs at least one placeholder such as {args.0}";
  const bad = paths.find((p) => !PATH.test(p));
  if (bad !== undefined)
    return `has an unknown placeholder {${bad}} (use type, queue, args.N[.field] or meta.field)`;
  const rest = template.replace(PLACEHOLDER, "");
  if (rest.includes("{") || rest.includes("}")) return "has an unbalanced brace";
  return undefined;
}

export interface KeySource {
  type: string;
  queue: string;
  args: unknown[];
  meta?: Record<string, unknown>;
}

/** The exclusive key of a job under a template. Throws {@link ValidationError} when a value is missing. */
export function renderKeyTemplate(template: string, job: KeySource): string {
  const key = template.replace(PLACEHOLDER, (_m, path: string) => {
    const value = lookup(job, path);
    if (typeof value === "string" && value.length > 0) return value;
    if (typeof value === "number" && Number.isFinite(value)) return String(value);
    throw new ValidationError(
      `queue ${job.queue} takes each job's exclusive key from {${path}}, and this job has ${
        value === undefined ? "no such value" : "no string or number there"
      }; pass options.exclusive_key or fix the job`,
      { code: ErrorCode.ValidationError, details: { field: "options.exclusive_key", template } },
    );
  });
  if (key.length > 256) {
    throw new ValidationError(
      "the exclusive key made from the queue's template is longer than 256 characters",
      { code: ErrorCode.ValidationError, details: { field: "options.exclusive_key", template } },
    );
  }
  return key;
}

function lookup(job: KeySource, path: string): unknown {
  const [head, ...rest] = path.split(".");
  let v: unknown =
    head === "type" ? job.type : head === "queue" ? job.queue : head === "args" ? job.args : job.meta;
  for (const part of rest) {
    if (v === null || typeof v !== "object") return undefined;
    v = Array.isArray(v) ? v[Number(part)] : (v as Record<string, unknown>)[part];
  }
  return v;
}
