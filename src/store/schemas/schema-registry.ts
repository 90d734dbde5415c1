/**
 * The schema registry (ojs-schema-registry, http-binding §15): JSON Schemas of job args per job type
 * and version, in the schemas bucket as `s.<type>.<version>` (each base64url). Every process that
 * enqueues watches the bucket, from its first enqueue or registry call on, and validates from memory:
 * a schema registered on one API server applies on the others as soon as NATS passes the change on,
 * and an enqueue of a type without a schema costs one map lookup.
 *
 * Enqueue validation (§7): a job's args are checked against the schema its `schema` URI names, else
 * the latest version of its type (SemVer precedence, schema-versions.ts). Types without a schema pass.
 * Mode `strict` (jetjob's default) refuses a job that does not match (400 `schema_validation`, the
 * http-binding's code, with each problem's path); `warn` stores it and returns the problems as
 * warnings; `off` stores schemas for documentation only.
 */
import type { KV } from "@nats-io/kv";
import type { ValidateFunction } from "ajv";

import { ConflictError, ErrorCode, JetjobError, NotFoundError, ValidationError } from "../../core/errors.js";
import type { NormalizedEnqueue } from "../../core/envelope.js";
import { jobTypePattern } from "../../core/schema.js";
import type { SchemaDialect, SchemaIssue } from "./schema-compile.js";
import { compileSchema, issuesOf, issueText, schemaDialect } from "./schema-compile.js";
import type { SchemaVersion } from "./schema-versions.js";
import { compareVersions, parseSchemaVersion, versionText } from "./schema-versions.js";
import { isWrongRevision } from "../infra/cas.js";

export const SchemaValidationMode = { Strict: "strict", Warn: "warn", Off: "off" } as const;
export type SchemaValidationMode = (typeof SchemaValidationMode)[keyof typeof SchemaValidationMode];

export interface StoredSchema {
  type: string;
  version: SchemaVersion;
  /** `urn:ojs:schema:<type>:v<version>` unless the registration named one. */
  uri: string;
  schema: Record<string, unknown>;
  dialect: SchemaDialect;
  created_at: string;
}

export interface RegisterSchema {
  type: unknown;
  version: unknown;
  schema: unknown;
  uri?: unknown;
}

export interface SchemaRegistry {
  /** Resolves once every stored schema is known here (the first call starts the watch). */
  ready(): Promise<void>;
  /** 409 `duplicate` when the type already has this version (SR-006). */
  register(r: RegisterSchema): Promise<StoredSchema>;
  /** A type's latest version, or the given one. */
  get(type: string, version?: SchemaVersion): Promise<StoredSchema | undefined>;
  byUri(uri: string): Promise<StoredSchema | undefined>;
  /** A type's versions, newest first. */
  versions(type: string): Promise<StoredSchema[]>;
  /** Every type's versions, by type then newest first. */
  list(): Promise<StoredSchema[]>;
  /** 404 when the type has no such version. */
  remove(type: string, version: SchemaVersion): Promise<StoredSchema>;
  /**
   * Checks the args of jobs about to be stored. Returns each job's warnings in `warn` mode.
   * @throws {ValidationError} `schema_validation` (strict mode), `invalid_request` for an unknown URI.
   */
  check(items: readonly NormalizedEnqueue[]): Promise<Array<string[] | undefined>>;
  /** {@link check} for callers that cannot wait: only after {@link ready} has resolved. */
  checkLoaded(items: readonly NormalizedEnqueue[]): Array<string[] | undefined>;
  close(): void;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64url");
const keyOf = (type: string, version: SchemaVersion) => `s.${b64(type)}.${b64(versionText(version))}`;
const byNewest = (a: StoredSchema, b: StoredSchema) => compareVersions(b.version, a.version);

export function createSchemaRegistry(
  kv: KV,
  opts: { mode?: SchemaValidationMode; onError?: (err: unknown) => void } = {},
): SchemaRegistry {
  const mode = opts.mode ?? SchemaValidationMode.Strict;
  const byKey = new Map<string, StoredSchema>();
  const byType = new Map<string, Map<string, StoredSchema>>();
  const validators = new WeakMap<StoredSchema, ValidateFunction>();
  let loading: Promise<void> | undefined;
  let loaded = false;
  let stopWatch: (() => void) | undefined;
  let closed = false;

  function apply(key: string, rec: StoredSchema | undefined): void {
    const old = byKey.get(key);
    if (old) byType.get(old.type)?.delete(versionText(old.version));
    if (old && byType.get(old.type)?.size === 0) byType.delete(old.type);
    byKey.delete(key);
    if (!rec) return;
    byKey.set(key, rec);
    let m = byType.get(rec.type);
    if (!m) byType.set(rec.type, (m = new Map<string, StoredSchema>()));
    m.set(versionText(rec.version), rec);
  }

  function decode(data: Uint8Array): StoredSchema | undefined {
    try {
      const v = JSON.parse(dec.decode(data)) as StoredSchema;
      return typeof v.type === "string" && typeof v.schema === "object" ? v : undefined;
    } catch {
      return undefined;
    }
  }

  async function load(): Promise<void> {
    // Watch first (nothing changed meanwhile is missed), then read what is stored.
    const watch = await kv.watch({ key: "s.>" });
    stopWatch = () => watch.stop();
    if (closed) watch.stop();
    for await (const key of await kv.keys("s.>")) {
      const e = await kv.get(key);
      apply(key, e?.operation === "PUT" ? decode(e.value) : undefined);
    }
    void (async () => {
      for await (const e of watch) apply(e.key, e.operation === "PUT" ? decode(e.value) : undefined);
    })().catch((err: unknown) => opts.onError?.(err));
    loaded = true;
  }

  function ready(): Promise<void> {
    loading ??= load().catch((err: unknown) => {
      loading = undefined; // the next call tries again
      throw err;
    });
    return loading;
  }

  function latest(type: string): StoredSchema | undefined {
    const m = byType.get(type);
    if (!m || m.size === 0) return undefined;
    return [...m.values()].sort(byNewest)[0];
  }

  function validatorOf(rec: StoredSchema): ValidateFunction {
    let fn = validators.get(rec);
    if (!fn) validators.set(rec, (fn = compileSchema(rec.schema, rec.dialect)));
    return fn;
  }

  function issuesFor(n: NormalizedEnqueue): { rec: StoredSchema; issues: SchemaIssue[] } | undefined {
    let rec: StoredSchema | undefined;
    if (n.spec.schema !== undefined) {
      rec = [...byKey.values()].find((r) => r.uri === n.spec.schema);
      if (!rec) {
        throw new ValidationError(`No schema is registered with the URI '${n.spec.schema}'.`, {
          code: ErrorCode.InvalidRequest,
          details: { field: "schema", schema: n.spec.schema },
        });
      }
    } else rec = latest(n.spec.type);
    if (!rec) return undefined;
    const fn = validatorOf(rec);
    return fn(n.spec.args) ? undefined : { rec, issues: issuesOf(fn) };
  }

  return {
    ready,
    async register(r) {
      await ready();
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
      const taken = [...byKey.values()].find((s) => s.uri === uri);
      if (taken && (taken.type !== r.type || versionText(taken.version) !== versionText(version))) {
        throw new ConflictError(`The URI '${uri}' names ${taken.type} version ${taken.version} already.`, {
          code: ErrorCode.Duplicate,
          details: { uri },
        });
      }
      const rec: StoredSchema = {
        type: r.type,
        version,
        uri,
        schema: r.schema as Record<string, unknown>,
        dialect,
        created_at: new Date().toISOString(),
      };
      const key = keyOf(rec.type, version);
      try {
        await kv.create(key, enc.encode(JSON.stringify(rec)));
      } catch (err) {
        if (!isWrongRevision(err)) throw err;
        throw new ConflictError(`${rec.type} already has a schema version ${versionText(version)}.`, {
          code: ErrorCode.Duplicate,
          details: { type: rec.type, version },
          hint: "Register a new version; a registered version never changes (delete it first to replace it).",
        });
      }
      apply(key, rec); // in force here at once, not only when the watch brings it back
      return rec;
    },
    async get(type, version) {
      await ready();
      if (version === undefined) return latest(type);
      return byType.get(type)?.get(versionText(version));
    },
    async byUri(uri) {
      await ready();
      return [...byKey.values()].find((r) => r.uri === uri);
    },
    async versions(type) {
      await ready();
      return [...(byType.get(type)?.values() ?? [])].sort(byNewest);
    },
    async list() {
      await ready();
      return [...byKey.values()].sort((a, b) => a.type.localeCompare(b.type) || byNewest(a, b));
    },
    async remove(type, version) {
      await ready();
      const rec = byType.get(type)?.get(versionText(version));
      if (!rec) throw new NotFoundError("schema", `${type}@${versionText(version)}`);
      const key = keyOf(type, version);
      await kv.purge(key); // purge, not delete: no marker left per key
      apply(key, undefined);
      return rec;
    },
    async check(items) {
      if (mode === SchemaValidationMode.Off) return items.map(() => undefined);
      await ready();
      return checkLoaded(items);
    },
    checkLoaded,
    close() {
      closed = true;
      stopWatch?.();
    },
  };

  function checkLoaded(items: readonly NormalizedEnqueue[]): Array<string[] | undefined> {
    if (mode === SchemaValidationMode.Off) return items.map(() => undefined);
    if (!loaded) throw new JetjobError(ErrorCode.Internal, "schema registry used before it was loaded");
    if (byKey.size === 0) return items.map(() => undefined);
    const out: Array<string[] | undefined> = [];
    const refused: Array<{ index: number; type: string; version: SchemaVersion; issues: SchemaIssue[] }> = [];
    items.forEach((n, index) => {
      const found = issuesFor(n);
      if (!found) return out.push(undefined);
      out.push(found.issues.map((i) => `Schema validation warning: ${issueText(i)}`));
      refused.push({ index, type: found.rec.type, version: found.rec.version, issues: found.issues });
    });
    if (refused.length === 0 || mode === SchemaValidationMode.Warn) return out;
    const first = refused[0]!;
    throw new ValidationError(
      `Job arguments do not match schema for ${first.type}@${versionText(first.version)}` +
        (items.length > 1 ? ` (job ${first.index} of the batch).` : "."),
      {
        code: ErrorCode.SchemaValidation,
        details: {
          validation_errors: refused.flatMap((r) => r.issues.map(issueText)),
          issues: refused.flatMap((r) =>
            r.issues.map((i) => ({
              ...(items.length > 1 ? { index: r.index } : {}),
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
}
