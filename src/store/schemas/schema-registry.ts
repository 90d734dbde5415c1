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

import { ErrorCode, JetjobError, NotFoundError, ValidationError } from "../../core/errors.js";
import type { NormalizedEnqueue } from "../../core/envelope.js";
import type { RefusedArgs, SchemaDialect, SchemaIssue } from "./schema-compile.js";
import { compileSchema, issuesOf, issueText, schemaValidationError } from "./schema-compile.js";
import type { RegisterSchema } from "./schema-registration.js";
import { parseRegistration, uriTaken, versionTaken } from "./schema-registration.js";
import type { SchemaVersion } from "./schema-versions.js";
import { compareVersions, versionText } from "./schema-versions.js";
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

/** What one registry holds: every stored schema, by key and by type, and the watch that keeps them. */
interface SchemaState {
  kv: KV;
  mode: SchemaValidationMode;
  onError: ((err: unknown) => void) | undefined;
  byKey: Map<string, StoredSchema>;
  /** Type → version text → schema. */
  byType: Map<string, Map<string, StoredSchema>>;
  validators: WeakMap<StoredSchema, ValidateFunction>;
  loading: Promise<void> | undefined;
  loaded: boolean;
  stopWatch: (() => void) | undefined;
  closed: boolean;
}

export function createSchemaRegistry(
  kv: KV,
  opts: { mode?: SchemaValidationMode; onError?: (err: unknown) => void } = {},
): SchemaRegistry {
  const s: SchemaState = {
    kv,
    mode: opts.mode ?? SchemaValidationMode.Strict,
    onError: opts.onError,
    byKey: new Map(),
    byType: new Map(),
    validators: new WeakMap(),
    loading: undefined,
    loaded: false,
    stopWatch: undefined,
    closed: false,
  };
  const ready = () => readySchemas(s);
  const checkLoaded = (items: readonly NormalizedEnqueue[]) => checkArgs(s, items);
  return {
    ready,
    register: (r) => registerSchema(s, r),
    async get(type, version) {
      await ready();
      if (version === undefined) return latest(s, type);
      return s.byType.get(type)?.get(versionText(version));
    },
    async byUri(uri) {
      await ready();
      return [...s.byKey.values()].find((r) => r.uri === uri);
    },
    async versions(type) {
      await ready();
      return [...(s.byType.get(type)?.values() ?? [])].sort(byNewest);
    },
    async list() {
      await ready();
      return [...s.byKey.values()].sort((a, b) => a.type.localeCompare(b.type) || byNewest(a, b));
    },
    async remove(type, version) {
      await ready();
      const rec = s.byType.get(type)?.get(versionText(version));
      if (!rec) throw new NotFoundError("schema", `${type}@${versionText(version)}`);
      const key = keyOf(type, version);
      await kv.purge(key); // purge, not delete: no marker left per key
      applySchema(s, key, undefined);
      return rec;
    },
    async check(items) {
      if (s.mode === SchemaValidationMode.Off) return items.map(() => undefined);
      await ready();
      return checkLoaded(items);
    },
    checkLoaded,
    close() {
      s.closed = true;
      s.stopWatch?.();
    },
  };
}

/** Puts a stored schema in force here, or (`rec` undefined) drops the one at `key`. */
function applySchema(s: SchemaState, key: string, rec: StoredSchema | undefined): void {
  const old = s.byKey.get(key);
  if (old) s.byType.get(old.type)?.delete(versionText(old.version));
  if (old && s.byType.get(old.type)?.size === 0) s.byType.delete(old.type);
  s.byKey.delete(key);
  if (!rec) return;
  s.byKey.set(key, rec);
  let m = s.byType.get(rec.type);
  if (!m) s.byType.set(rec.type, (m = new Map<string, StoredSchema>()));
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

/** Resolves once every stored schema is known here; the first call starts the watch (a failed one is tried again). */
function readySchemas(s: SchemaState): Promise<void> {
  s.loading ??= loadSchemas(s).catch((err: unknown) => {
    s.loading = undefined; // the next call tries again
    throw err;
  });
  return s.loading;
}

async function loadSchemas(s: SchemaState): Promise<void> {
  // Watch first (nothing changed meanwhile is missed), then read what is stored.
  const watch = await s.kv.watch({ key: "s.>" });
  s.stopWatch = () => watch.stop();
  if (s.closed) watch.stop();
  for await (const key of await s.kv.keys("s.>")) {
    const e = await s.kv.get(key);
    applySchema(s, key, e?.operation === "PUT" ? decode(e.value) : undefined);
  }
  void (async () => {
    for await (const e of watch) applySchema(s, e.key, e.operation === "PUT" ? decode(e.value) : undefined);
  })().catch((err: unknown) => s.onError?.(err));
  s.loaded = true;
}

/** A type's latest version (SemVer precedence). */
function latest(s: SchemaState, type: string): StoredSchema | undefined {
  const m = s.byType.get(type);
  if (!m || m.size === 0) return undefined;
  return [...m.values()].sort(byNewest)[0];
}

/** Stores a new schema version; 409 `duplicate` when the type has it, or its URI names another. */
async function registerSchema(s: SchemaState, r: RegisterSchema): Promise<StoredSchema> {
  await readySchemas(s);
  const reg = parseRegistration(r);
  const taken = [...s.byKey.values()].find((x) => x.uri === reg.uri);
  if (taken && (taken.type !== reg.type || versionText(taken.version) !== versionText(reg.version))) {
    throw uriTaken(reg.uri, taken);
  }
  const rec: StoredSchema = { ...reg, created_at: new Date().toISOString() };
  const key = keyOf(rec.type, rec.version);
  try {
    await s.kv.create(key, enc.encode(JSON.stringify(rec)));
  } catch (err) {
    if (!isWrongRevision(err)) throw err;
    throw versionTaken(rec.type, rec.version);
  }
  applySchema(s, key, rec); // in force here at once, not only when the watch brings it back
  return rec;
}

/** Checks args against the schemas in memory (see {@link SchemaRegistry.checkLoaded}). */
function checkArgs(s: SchemaState, items: readonly NormalizedEnqueue[]): Array<string[] | undefined> {
  if (s.mode === SchemaValidationMode.Off) return items.map(() => undefined);
  if (!s.loaded) throw new JetjobError(ErrorCode.Internal, "schema registry used before it was loaded");
  if (s.byKey.size === 0) return items.map(() => undefined);
  const out: Array<string[] | undefined> = [];
  const refused: RefusedArgs[] = [];
  items.forEach((n, index) => {
    const found = issuesFor(s, n);
    if (!found) return out.push(undefined);
    out.push(found.issues.map((i) => `Schema validation warning: ${issueText(i)}`));
    refused.push({ index, type: found.rec.type, version: found.rec.version, issues: found.issues });
  });
  if (refused.length === 0 || s.mode === SchemaValidationMode.Warn) return out;
  throw schemaValidationError(items.length, refused);
}

/** The problems of a job's args under the schema its URI names, else its type's latest; none without one. */
function issuesFor(
  s: SchemaState,
  n: NormalizedEnqueue,
): { rec: StoredSchema; issues: SchemaIssue[] } | undefined {
  let rec: StoredSchema | undefined;
  if (n.spec.schema !== undefined) {
    rec = [...s.byKey.values()].find((r) => r.uri === n.spec.schema);
    if (!rec) {
      throw new ValidationError(`No schema is registered with the URI '${n.spec.schema}'.`, {
        code: ErrorCode.InvalidRequest,
        details: { field: "schema", schema: n.spec.schema },
      });
    }
  } else rec = latest(s, n.spec.type);
  if (!rec) return undefined;
  let fn = s.validators.get(rec);
  if (!fn) s.validators.set(rec, (fn = compileSchema(rec.schema, rec.dialect)));
  return fn(n.spec.args) ? undefined : { rec, issues: issuesOf(fn) };
}
