/**
 * Compiling and checking registered JSON Schemas (ojs-schema-registry §5, SR-005). Schemas are read as
 * draft 2020-12, as the extension says. A schema without `$schema` that is not valid 2020-12 but is
 * valid draft-07 is read as draft-07: OJS args are an array, and the tuple form `items: [...]` of
 * draft-07 is what the conformance suite and many clients send (2020-12 spells it `prefixItems`).
 * Formats are not checked (as for fleet argument schemas, fleet/args.ts).
 */
import { Ajv } from "ajv";
import type { ErrorObject, ValidateFunction } from "ajv";
import { Ajv2020 } from "ajv/dist/2020.js";

import { ErrorCode, ValidationError } from "../../core/errors.js";
import type { SchemaVersion } from "./schema-versions.js";
import { versionText } from "./schema-versions.js";

export type SchemaDialect = "2020-12" | "draft-07";

/** One problem of a value: a JSON pointer into it (`""` for the whole) and what is wrong there. */
export interface SchemaIssue {
  path: string;
  message: string;
}

const options = { strict: false, allErrors: true, validateFormats: false } as const;
const ajv2020 = new Ajv2020(options);
const ajv07 = new Ajv(options);

/**
 * The dialect a schema is read in.
 * @throws {ValidationError} `invalid_request` (http-binding §15.2) with `details.schema_error`.
 */
export function schemaDialect(schema: unknown): SchemaDialect {
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
    throw badSchema("schema must be a JSON object (a JSON Schema document)");
  }
  const declared = (schema as Record<string, unknown>).$schema;
  const wants07 = typeof declared === "string" && /draft-07/.test(declared);
  const wants2020 = typeof declared === "string" && /2020-12/.test(declared);
  if (declared !== undefined && !wants07 && !wants2020) {
    throw badSchema("$schema must reference draft 2020-12 (or draft-07)");
  }
  const body = withoutMetaSchema(schema as Record<string, unknown>);
  if (!wants07) {
    if (ajv2020.validateSchema(body) === true) return checkCompiles("2020-12", body);
    if (wants2020) throw badSchema(ajv2020.errorsText(ajv2020.errors));
  }
  if (ajv07.validateSchema(body) === true) return checkCompiles("draft-07", body);
  throw badSchema((wants07 ? ajv07 : ajv2020).errorsText((wants07 ? ajv07 : ajv2020).errors));
}

/**
 * The schema's validator (cache it: compiling costs far more than validating). Each schema gets an
 * Ajv instance of its own, so two versions with the same `$id` do not collide.
 */
export function compileSchema(schema: Record<string, unknown>, dialect: SchemaDialect): ValidateFunction {
  const ajv = dialect === "draft-07" ? new Ajv(options) : new Ajv2020(options);
  return ajv.compile(withoutMetaSchema(schema));
}

/** What a validator found wrong, as JSON pointers and messages. */
export function issuesOf(fn: ValidateFunction): SchemaIssue[] {
  return (fn.errors ?? []).map(issueOf);
}

/** An issue as one line (the spec's `validation_errors` are strings): `/0/email: must be string`. */
export function issueText(i: SchemaIssue): string {
  return `${i.path === "" ? "args" : `args${i.path}`}: ${i.message}`;
}

function issueOf(e: ErrorObject): SchemaIssue {
  let message = e.message ?? e.keyword;
  const p = e.params as Record<string, unknown>;
  if (e.keyword === "additionalProperties" && typeof p.additionalProperty === "string")
    message = `${message} '${p.additionalProperty}'`;
  if (e.keyword === "required" && typeof p.missingProperty === "string")
    message = `must have required property '${p.missingProperty}'`;
  return { path: e.instancePath, message };
}

/** `$schema` only names the meta-schema (chosen above); Ajv would otherwise need it loaded. */
function withoutMetaSchema(schema: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = schema;
  return rest;
}

function checkCompiles(dialect: SchemaDialect, body: Record<string, unknown>): SchemaDialect {
  try {
    compileSchema(body, dialect);
  } catch (err) {
    // e.g. a `$ref` to a schema that is not there.
    throw badSchema(err instanceof Error ? err.message : String(err));
  }
  return dialect;
}

function badSchema(problem: string): ValidationError {
  return new ValidationError(`The provided JSON Schema is not valid: ${problem}`, {
    code: ErrorCode.InvalidRequest,
    details: { field: "schema", schema_error: problem },
  });
}

/** A job whose args do not match its schema: where it is in the batch, its schema and the problems. */
export interface RefusedArgs {
  index: number;
  type: string;
  version: SchemaVersion;
  issues: SchemaIssue[];
}

/**
 * The error that refuses a batch in strict mode (400 `schema_validation`, the http-binding's code):
 * the first refused job in the message, every problem of every refused job in the details.
 */
export function schemaValidationError(batchSize: number, refused: readonly RefusedArgs[]): ValidationError {
  const first = refused[0]!;
  return new ValidationError(
    `Job arguments do not match schema for ${first.type}@${versionText(first.version)}` +
      (batchSize > 1 ? ` (job ${first.index} of the batch).` : "."),
    {
      code: ErrorCode.SchemaValidation,
      details: {
        validation_errors: refused.flatMap((r) => r.issues.map(issueText)),
        issues: refused.flatMap((r) =>
          r.issues.map((i) => ({
            ...(batchSize > 1 ? { index: r.index } : {}),
            type: r.type,
            version: r.version,
            path: i.path,
            message: i.message,
          })),
        ),
      },
    },
  );
}
