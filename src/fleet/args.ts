/**
 * Arguments of fleet operations, checked before a job exists: agents publish each operation's
 * argument schema (JSON Schema, draft 2020-12) in the registry, and the controller refuses a job
 * whose arguments do not match the schema of every agent it would go to (400 `invalid_request`,
 * CLI exit 2), instead of every host failing the same way.
 *
 * Arguments may be given as an object, as a one-element array `[obj]` (OJS style), or not at all
 * (`{}`); {@link normalizeArgs} turns them into what the schema describes and what the operation gets.
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import type { ErrorObject, ValidateFunction } from "ajv/dist/2020.js";

import { ValidationError } from "../core/errors.js";

/** A JSON Schema, as agents publish it. */
export type ArgsSchema = Record<string, unknown>;

/** `undefined`, `null`, `[]` → `{}`; `[x]` → `x`; anything else unchanged (and left to the schema). */
export function normalizeArgs(rawArgs: unknown): unknown {
  if (rawArgs === undefined || rawArgs === null) return {};
  if (Array.isArray(rawArgs)) {
    if (rawArgs.length === 0) return {};
    if (rawArgs.length === 1) return (rawArgs[0] as unknown) ?? {};
  }
  return rawArgs;
}

export interface ArgsIssue {
  /** JSON pointer into the arguments, `""` for the whole. */
  path: string;
  message: string;
}

export interface ArgsChecker {
  /**
   * Checks `args` against each distinct schema the given agents publish for `op` (agents without a
   * schema accept anything).
   * @throws {ValidationError} `invalid_request` with `details.issues` and the hosts whose schema refused.
   */
  check(op: string, args: unknown, agents: ReadonlyArray<{ host: string; schema?: ArgsSchema }>): void;
}

const CACHE_LIMIT = 256;

export function createArgsChecker(onBadSchema: (err: unknown) => void = () => undefined): ArgsChecker {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  const compiled = new Map<string, ValidateFunction | undefined>();

  function validator(schema: ArgsSchema): ValidateFunction | undefined {
    const key = JSON.stringify(schema);
    if (compiled.has(key)) return compiled.get(key);
    let fn: ValidateFunction | undefined;
    try {
      // Every schema is read as draft 2020-12 (what built-ins publish); `$schema` would pin a meta-schema.
      const { $schema: _ignored, ...rest } = schema;
      fn = ajv.compile(rest);
    } catch (err) {
      onBadSchema(err); // an agent's schema that does not compile checks nothing
      fn = undefined;
    }
    if (compiled.size >= CACHE_LIMIT) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, fn);
    return fn;
  }

  return {
    check(op, args, agents) {
      const value = normalizeArgs(args);
      const refusedBy = new Map<string, { issues: ArgsIssue[]; hosts: string[] }>();
      for (const a of agents) {
        if (a.schema === undefined) continue;
        const key = JSON.stringify(a.schema);
        const seen = refusedBy.get(key);
        if (seen) {
          seen.hosts.push(a.host);
          continue;
        }
        const fn = validator(a.schema);
        if (!fn || fn(value)) continue;
        refusedBy.set(key, { issues: (fn.errors ?? []).map(issueOf), hosts: [a.host] });
      }
      const first = [...refusedBy.values()][0];
      if (!first) return;
      const text = first.issues.map((i) => `${i.path || "(arguments)"} ${i.message}`).join("; ");
      throw new ValidationError(`Invalid arguments for '${op}': ${text}.`, {
        details: {
          operation: op,
          issues: first.issues,
          hosts: [...refusedBy.values()].flatMap((r) => r.hosts),
        },
        hint: `See the operation's arguments with \`jetjob worker get ${first.hosts[0]}\`.`,
      });
    },
  };
}

function issueOf(e: ErrorObject): ArgsIssue {
  let message = e.message ?? "is invalid";
  const p = e.params as Record<string, unknown>;
  if (e.keyword === "additionalProperties" && typeof p.additionalProperty === "string") {
    message = `has an unknown field '${p.additionalProperty}'`;
  } else if (e.keyword === "enum" && Array.isArray(p.allowedValues)) {
    message = `must be one of ${p.allowedValues.map((v) => JSON.stringify(v)).join(", ")}`;
  }
  return { path: e.instancePath, message };
}
