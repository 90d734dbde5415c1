/**
 * The schema registry over HTTP (ojs-schema-registry). Three documents give three forms, served over
 * one store (store/schemas/schema-registry.ts), so every client finds its own:
 * - http-binding §15 and the official SDKs: `GET/POST /ojs/v1/schemas`, `GET/DELETE
 *   /ojs/v1/schemas/{uri}` (URL-encoded URI);
 * - ojs-schema-registry §10: `POST /ojs/v1/schemas` with `job_type`, `GET /ojs/v1/schemas/{type}`
 *   (latest), `/versions`, `DELETE /ojs/v1/schemas/{type}/{version}`. `{uri}` and `{type}` share
 *   one path: a registered URI is looked up first, anything else is a job type;
 * - the conformance suite's admin form: `PUT/GET/DELETE /ojs/v1/admin/schemas/{type}/{version}`,
 *   `GET /ojs/v1/admin/schemas/{type}` and `/versions`, answering the record itself (not wrapped).
 * Changing the registry needs the admin scope: a schema decides which jobs every producer may enqueue.
 */
import { z } from "zod";
import { ErrorCode, NotFoundError, ValidationError } from "../core/errors.js";
import { jobTypePattern } from "../core/schema.js";
import type { Engine } from "../store/engine.js";
import type { StoredSchema } from "../store/schemas/schema-registry.js";
import { parseSchemaVersion } from "../store/schemas/schema-versions.js";
import { Scope } from "./auth.js";
import { ojsJson } from "./ojs.js";
import { pageOrOffsetQuery, pageQuery, paginate } from "./paging.js";
import type { RouteDef } from "./route.js";
import { defineRoute } from "./route.js";
import { fields, openObject, paginationSchema, schemaRecordSchema } from "./response-schemas.js";

/** A registered schema as the API shows it (`job_type` is the extension's name for `type`). */
function schemaView(r: StoredSchema, withSchema = true): Record<string, unknown> {
  return {
    uri: r.uri,
    type: r.type,
    job_type: r.type,
    version: r.version,
    ...(withSchema ? { schema: r.schema } : {}),
    created_at: r.created_at,
  };
}

function versionsView(all: StoredSchema[]): Record<string, unknown> {
  return {
    versions: all.map((r, i) => ({
      version: r.version,
      uri: r.uri,
      created_at: r.created_at,
      is_latest: i === 0,
    })),
  };
}

const raw = (v: unknown) => v;

/** A `{type}` path parameter: a job type, else 400. */
function typeParam(t: string | undefined): string {
  if (t === undefined || t.length > 255 || !jobTypePattern.test(t)) {
    throw new ValidationError("type must be a job type such as 'email.send'", {
      code: ErrorCode.InvalidRequest,
      details: { field: "type" },
    });
  }
  return t;
}

export function schemaRoutes(engine: Engine): RouteDef[] {
  // Read at request time: the route table is also built without an engine (the OpenAPI document).
  const reg = () => engine.svc.schemas;
  const found = (r: StoredSchema | undefined, what: string): StoredSchema => {
    if (!r) throw new NotFoundError("schema", what);
    return r;
  };
  /** `{uri}` of the SDKs, or `{type}` of the extension: a registered URI first. */
  const byUriOrType = async (key: string) => (await reg().byUri(key)) ?? (await reg().get(key));

  const spec: RouteDef[] = [
    defineRoute({
      method: "GET",
      path: "/ojs/v1/schemas",
      scope: Scope.Read,
      tag: "schemas",
      summary: "Registered schemas, by type then newest version first (paged: limit, offset or cursor)",
      query: pageOrOffsetQuery,
      response: fields({ schemas: z.array(schemaRecordSchema), pagination: paginationSchema }),
      handler: async (c, { query }) => {
        // The SDKs page with page/per_page.
        const limit = query.limit ?? query.per_page;
        const offset =
          query.offset ??
          (query.page === undefined || query.cursor !== undefined
            ? undefined
            : (query.page - 1) * (limit ?? 50));
        const { page, pagination } = paginate(await reg().list(), { ...query, limit, offset }, 50);
        return ojsJson(c, 200, { schemas: page.map((r) => schemaView(r, false)), pagination });
      },
    }),
    defineRoute({
      method: "POST",
      path: "/ojs/v1/schemas",
      scope: Scope.Admin,
      tag: "schemas",
      status: 201,
      summary:
        "Register a schema: {type (or job_type), version (1 or 1.0.0), schema, uri?}; 409 if the version exists",
      parseBody: raw,
      response: fields({ schema: schemaRecordSchema }),
      handler: async (c, { body }) => {
        const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
        const rec = await reg().register({
          type: b.type ?? b.job_type,
          version: b.version,
          schema: b.schema,
          uri: b.uri,
        });
        return ojsJson(c, 201, { schema: schemaView(rec) });
      },
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/schemas/{type}/versions",
      scope: Scope.Read,
      tag: "schemas",
      summary: "A job type's schema versions, newest first (is_latest on the first)",
      response: fields({ versions: z.array(openObject) }),
      handler: async (c, { params }) =>
        ojsJson(c, 200, versionsView(await reg().versions(typeParam(params.type)))),
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/schemas/{type}/{version}",
      scope: Scope.Read,
      tag: "schemas",
      summary: "One version of a job type's schema",
      response: fields({ schema: schemaRecordSchema }),
      handler: async (c, { params }) => {
        const v = parseSchemaVersion(params.version, "version");
        const r = found(await reg().get(typeParam(params.type), v), `${params.type}@${v}`);
        return ojsJson(c, 200, { schema: schemaView(r) });
      },
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/schemas/{key}",
      scope: Scope.Read,
      tag: "schemas",
      summary: "A schema by its URI (URL-encoded), or the latest schema of a job type",
      response: fields({ schema: schemaRecordSchema }),
      handler: async (c, { params }) => {
        const r = found(await byUriOrType(params.key), params.key);
        return ojsJson(c, 200, { schema: schemaView(r) });
      },
    }),
    defineRoute({
      method: "DELETE",
      path: "/ojs/v1/schemas/{type}/{version}",
      scope: Scope.Admin,
      tag: "schemas",
      summary: "Delete one version of a job type's schema (the previous one becomes the latest)",
      response: fields({ deleted: z.boolean(), schema: schemaRecordSchema }),
      handler: async (c, { params }) => {
        const r = await reg().remove(typeParam(params.type), parseSchemaVersion(params.version, "version"));
        return ojsJson(c, 200, { deleted: true, schema: schemaView(r, false) });
      },
    }),
    defineRoute({
      method: "DELETE",
      path: "/ojs/v1/schemas/{uri}",
      scope: Scope.Admin,
      tag: "schemas",
      summary: "Delete a schema by its URI (URL-encoded)",
      response: fields({ deleted: z.boolean(), schema: schemaRecordSchema }),
      handler: async (c, { params }) => {
        const r = found(await reg().byUri(params.uri), params.uri);
        await reg().remove(r.type, r.version);
        return ojsJson(c, 200, { deleted: true, schema: schemaView(r, false) });
      },
    }),
  ];

  const admin: RouteDef[] = [
    defineRoute({
      method: "GET",
      path: "/ojs/v1/admin/schemas",
      scope: Scope.Read,
      tag: "admin",
      summary: "Registered schemas (as GET /ojs/v1/schemas)",
      query: pageQuery,
      response: fields({ schemas: z.array(schemaRecordSchema), pagination: paginationSchema }),
      handler: async (c, { query }) => {
        const { page, pagination } = paginate(await reg().list(), query, 50);
        return ojsJson(c, 200, { schemas: page.map((r) => schemaView(r, false)), pagination });
      },
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/admin/schemas/{type}/versions",
      scope: Scope.Read,
      tag: "admin",
      summary: "A job type's schema versions, newest first; 404 when it has none",
      response: fields({ versions: z.array(openObject) }),
      handler: async (c, { params }) => {
        const all = await reg().versions(typeParam(params.type));
        if (all.length === 0) throw new NotFoundError("schema", params.type);
        return ojsJson(c, 200, versionsView(all));
      },
    }),
    defineRoute({
      method: "PUT",
      path: "/ojs/v1/admin/schemas/{type}/{version}",
      scope: Scope.Admin,
      tag: "admin",
      status: 201,
      summary: "Register version {version} of a job type's schema: {schema, uri?}; 409 if it exists",
      parseBody: raw,
      bodyOptional: true,
      response: schemaRecordSchema,
      handler: async (c, { params, body }) => {
        const b = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
        const rec = await reg().register({
          type: params.type,
          version: params.version,
          schema: b.schema,
          uri: b.uri,
        });
        return ojsJson(c, 201, schemaView(rec));
      },
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/admin/schemas/{type}/{version}",
      scope: Scope.Read,
      tag: "admin",
      summary: "One version of a job type's schema",
      response: schemaRecordSchema,
      handler: async (c, { params }) => {
        const v = parseSchemaVersion(params.version, "version");
        return ojsJson(
          c,
          200,
          schemaView(found(await reg().get(typeParam(params.type), v), `${params.type}@${v}`)),
        );
      },
    }),
    defineRoute({
      method: "GET",
      path: "/ojs/v1/admin/schemas/{type}",
      scope: Scope.Read,
      tag: "admin",
      summary: "The latest version of a job type's schema",
      response: schemaRecordSchema,
      handler: async (c, { params }) =>
        ojsJson(c, 200, schemaView(found(await reg().get(typeParam(params.type)), params.type))),
    }),
    defineRoute({
      method: "DELETE",
      path: "/ojs/v1/admin/schemas/{type}/{version}",
      scope: Scope.Admin,
      tag: "admin",
      summary: "Delete one version of a job type's schema",
      response: schemaRecordSchema.extend({ deleted: z.boolean() }),
      handler: async (c, { params }) => {
        const r = await reg().remove(typeParam(params.type), parseSchemaVersion(params.version, "version"));
        return ojsJson(c, 200, { deleted: true, ...schemaView(r, false) });
      },
    }),
  ];
  return [...spec, ...admin];
}
