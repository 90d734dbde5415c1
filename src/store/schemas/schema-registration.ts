/**
 * What a schema registration must hold (schema-registry.ts, ojs-schema-registry): a job type, a
 * version, the JSON Schema of the type's args and an optional URI; and the errors that refuse one.
 * Pure: whether the type already has the version, or the URI names another, is the registry's to say.
 */
import { ConflictError, ErrorCode, ValidationError } from "../../core/errors.js";
import { jobTypePattern } from "../../core/schema.js";
import type { SchemaDialect } from "./schema-compile.js";
import { schemaDialect } from "./schema-compile.js";
import type { SchemaVersion } from "./schema-versions.js";
import { parseSchemaVersion, versionText } from "./schema-versions.js";

export interface RegisterSchema {
  type: unknown;
  version: unknown;
  schema: unknown;
  uri?: unknown;
}

/** A registration that passed its checks. */
export interface Registration {
  type: string;
  version: SchemaVersion;
  /** `urn:ojs:schema:<type>:v<version>` unless the registration named one. */
  uri: string;
  schema: Record<string, unknown>;
  dialect: SchemaDialect;
}

/** Checks a registration's fields. @throws {ValidationError} `invalid_request` naming the field. */
export function parseRegistration(r: RegisterSchema): Registration {
  if (typeof r.type !== "string" || r.type.length > 255 || !jobTypePattern.test(r.type)) {
    throw new ValidationError("type must be a job type such as 'email.send'", {
      code: ErrorCode.InvalidRequest,
      details: { field: "type" },
    });
  }
  const version = parseSchemaVersion(r.version);
  if (r.schema === undefined || r.schema === null) {
    throw new ValidationError("schema is required: the JSON Schema of the type's args", {
      code: ErrorCode.InvalidRequest,
      details: { field: "schema" },
    });
  }
  const dialect = schemaDialect(r.schema);
  if (r.uri !== undefined && (typeof r.uri !== "string" || r.uri === "" || r.uri.length > 512)) {
    throw new ValidationError("uri must be a non-empty string", {
      code: ErrorCode.InvalidRequest,
      details: { field: "uri" },
    });
  }
  const uri = r.uri ?? `urn:ojs:schema:${r.type}:v${versionText(version)}`;
  return { type: r.type, version, uri, schema: r.schema as Record<string, unknown>, dialect };
}

/** The URI names another type or version already. */
export function uriTaken(uri: string, taken: { type: string; version: SchemaVersion }): ConflictError {
  return new ConflictError(`The URI '${uri}' names ${taken.type} version ${taken.version} already.`, {
    code: ErrorCode.Duplicate,
    details: { uri },
  });
}

/** The type has this version already (SR-006): a registered version never changes. */
export function versionTaken(type: string, version: SchemaVersion): ConflictError {
  return new ConflictError(`${type} already has a schema version ${versionText(version)}.`, {
    code: ErrorCode.Duplicate,
    details: { type, version },
    hint: "Register a new version; a registered version never changes (delete it first to replace it).",
  });
}
