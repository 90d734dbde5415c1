/**
 * Workflow steps: the http-binding request form (§14.1, `{name, steps: [{id, type, args, depends_on,
 * options?}], options?}`) mapped onto the ojs-workflows primitives jetjob runs, and the `steps` list
 * of a workflow's view.
 *
 * A step graph is run when it is one of the shapes the primitives express: no dependencies at all
 * (a group), a line where each step depends on the one before (a chain), or independent steps and
 * one final step depending on all of them (a batch whose `on_success` callback is that step: it runs
 * only when all the others completed). Other graphs are refused with `unsupported` rather than run
 * with different semantics.
 */
import { ErrorCode, JetjobError, ValidationError } from "../../core/errors.js";

/** Where a step's job lives in the workflow record: a job index, or the `on_success` callback. */
export interface StepDef {
  id: string;
  type: string;
  depends_on: string[];
  ref: number | "on_success";
}

export interface StepGraphRequest {
  /** The request in the ojs-workflows form (`type` chain/group/batch, `steps`/`jobs`, `callbacks`). */
  body: Record<string, unknown>;
  steps: StepDef[];
}

/** Whether a body is in the http-binding form: no workflow `type`, steps with ids. */
export function isStepGraph(body: unknown): boolean {
  const b = body as Record<string, unknown> | null;
  return (
    typeof b === "object" &&
    b !== null &&
    b.type === undefined &&
    Array.isArray(b.steps) &&
    b.steps.every((s) => typeof s === "object" && s !== null && "id" in s)
  );
}

/** Maps an http-binding workflow request onto a chain, group or batch (see the module comment). */
export function fromStepGraph(body: Record<string, unknown>): StepGraphRequest {
  const raw = body.steps as Array<Record<string, unknown>>;
  if (raw.length === 0) throw new ValidationError("steps must be a non-empty array");
  const defaults = isObject(body.options) ? body.options : {};
  const ids = new Set<string>();
  const steps = raw.map((s, i) => {
    if (typeof s.id !== "string" || s.id === "")
      throw new ValidationError(`steps[${i}].id must be a non-empty string`);
    if (ids.has(s.id)) throw new ValidationError(`steps[${i}].id '${s.id}' is used twice`);
    ids.add(s.id);
    if (typeof s.type !== "string") throw new ValidationError(`steps[${i}].type is required`);
    const deps = s.depends_on ?? [];
    if (!Array.isArray(deps) || !deps.every((d) => typeof d === "string"))
      throw new ValidationError(`steps[${i}].depends_on must be an array of step ids`);
    return { id: s.id, type: s.type, depends_on: deps, raw: s };
  });
  for (const [i, s] of steps.entries()) {
    for (const d of s.depends_on) {
      if (!ids.has(d)) throw new ValidationError(`steps[${i}].depends_on: no step '${d}'`);
      if (d === s.id) throw new ValidationError(`steps[${i}] depends on itself`);
    }
  }
  const job = (s: (typeof steps)[number]): Record<string, unknown> => {
    const options = { ...defaults, ...(isObject(s.raw.options) ? s.raw.options : {}) };
    const j: Record<string, unknown> = { type: s.type, args: s.raw.args ?? [] };
    if (Object.keys(options).length > 0) j.options = options;
    if (s.raw.meta !== undefined) j.meta = s.raw.meta;
    return j;
  };
  const name = typeof body.name === "string" ? { name: body.name } : {};
  const roots = steps.filter((s) => s.depends_on.length === 0);
  if (roots.length === steps.length) {
    return {
      body: { ...name, type: "group", jobs: steps.map(job) },
      steps: steps.map((s, i) => ({ id: s.id, type: s.type, depends_on: [], ref: i })),
    };
  }
  const chain = chainOrder(steps);
  if (chain) {
    return {
      body: { ...name, type: "chain", steps: chain.map(job) },
      steps: chain.map((s, i) => ({ id: s.id, type: s.type, depends_on: s.depends_on, ref: i })),
    };
  }
  const last = steps.filter((s) => s.depends_on.length > 0);
  if (
    last.length === 1 &&
    last[0]!.depends_on.length === roots.length &&
    roots.every((r) => last[0]!.depends_on.includes(r.id))
  ) {
    const fin = last[0]!;
    return {
      body: { ...name, type: "batch", jobs: roots.map(job), callbacks: { on_success: job(fin) } },
      steps: [
        ...roots.map((s, i) => ({ id: s.id, type: s.type, depends_on: [], ref: i })),
        { id: fin.id, type: fin.type, depends_on: fin.depends_on, ref: "on_success" as const },
      ],
    };
  }
  if (hasCycle(steps)) throw new ValidationError("steps: depends_on forms a cycle");
  throw new JetjobError(
    ErrorCode.Unsupported,
    "this dependency graph is not supported: steps must all be independent (a group), each depend on the one before (a chain), or be independent with one final step depending on all of them (a batch)",
  );
}

/** The steps as a line (each depends on exactly the one before), or undefined. */
function chainOrder<S extends { id: string; depends_on: string[] }>(steps: S[]): S[] | undefined {
  const roots = steps.filter((s) => s.depends_on.length === 0);
  if (roots.length !== 1 || steps.some((s) => s.depends_on.length > 1)) return undefined;
  const next = new Map<string, S>();
  for (const s of steps) {
    const d = s.depends_on[0];
    if (d === undefined) continue;
    if (next.has(d)) return undefined; // two steps after one: not a line
    next.set(d, s);
  }
  const order = [roots[0]!];
  while (next.has(order[order.length - 1]!.id)) order.push(next.get(order[order.length - 1]!.id)!);
  return order.length === steps.length ? order : undefined;
}

function hasCycle(steps: Array<{ id: string; depends_on: string[] }>): boolean {
  const deps = new Map(steps.map((s) => [s.id, s.depends_on]));
  const state = new Map<string, 1 | 2>();
  const visit = (id: string): boolean => {
    if (state.get(id) === 2) return false;
    if (state.get(id) === 1) return true;
    state.set(id, 1);
    for (const d of deps.get(id) ?? []) if (visit(d)) return true;
    state.set(id, 2);
    return false;
  };
  return steps.some((s) => visit(s.id));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
