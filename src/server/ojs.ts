/**
 * OJS HTTP-binding conventions: the exact media type and version headers on every response, and the
 * error body shape `{ "error": { code, message, retryable, details?, request_id, hint?, docs_url? } }`.
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import "./context-vars.js";

import type { JetjobError } from "../core/errors.js";
import { ErrorCode, exitCodeFor, httpStatusFor } from "../core/errors.js";

export const OJS_MEDIA_TYPE = "application/openjobspec+json";
export const OJS_VERSION = "1.0";

/** A JSON response with the OJS media type (exactly, no charset parameter). */
export function ojsJson(c: Context, status: number, body: unknown): Response {
  return c.body(JSON.stringify(body), status as ContentfulStatusCode, {
    "Content-Type": OJS_MEDIA_TYPE,
  });
}

export interface ErrorBody {
  error: {
    code: string;
    /** The error class; equal to `code` (OJS clients read `type` for validation errors). */
    type: string;
    message: string;
    retryable: boolean;
    details?: Record<string, unknown>;
    request_id?: string;
    hint?: string;
    docs_url?: string;
  };
}

/**
 * Error codes of the OJS vocabulary (http-binding §16.3), with `conflict` for a state that does not
 * allow the operation (the conformance suite and the reference servers use it).
 */
const OJS_ERROR_CODES: ReadonlySet<string> = new Set([
  "handler_error",
  "timeout",
  "cancelled",
  "invalid_payload",
  "invalid_request",
  "not_found",
  "backend_error",
  "rate_limited",
  "duplicate",
  "queue_paused",
  "schema_validation",
  "unsupported",
  "conflict",
]);

/** Codes that an OJS extension spells its own way (ojs-backpressure §7.1: `QUEUE_FULL`). */
const OJS_EXTENSION_CODES: Readonly<Record<string, string>> = { queue_full: "QUEUE_FULL" };

/** The code as OJS routes send it: jetjob's own codes carry the `x_` prefix (§16.3). */
export function ojsErrorCode(code: string): string {
  return OJS_ERROR_CODES.has(code) ? code : (OJS_EXTENSION_CODES[code] ?? `x_${code}`);
}

/**
 * The error body. On OJS routes (`ojs`), codes outside the OJS vocabulary get the `x_` prefix; `type`
 * keeps jetjob's code (OJS clients read `type: validation_error`), as does `docs_url`.
 */
export function errorBody(err: JetjobError, requestId: string | undefined, ojs = false): ErrorBody {
  const e: ErrorBody["error"] = {
    code: ojs ? ojsErrorCode(err.code) : err.code,
    type: err.code,
    message: err.message,
    retryable: err.retryable,
  };
  if (err.details !== undefined) e.details = err.details;
  if (requestId !== undefined) e.request_id = requestId;
  const hint = err.hint ?? defaultHints[err.code];
  if (hint !== undefined) e.hint = hint;
  e.docs_url = `/docs/errors#${err.code}`;
  return { error: e };
}

export function errorResponse(c: Context, err: JetjobError): Response {
  const requestId = c.get("requestId");
  const res = ojsJson(c, httpStatusFor(err.code), errorBody(err, requestId, c.req.path.startsWith("/ojs/")));
  if (err.code === ErrorCode.Unauthorized) res.headers.set("WWW-Authenticate", 'Bearer realm="jetjob"');
  if (err.code === ErrorCode.QueueFull) {
    // ojs-backpressure §7.1-7.2.
    const d = err.details ?? {};
    res.headers.set("Retry-After", typeof d.retry_after_s === "number" ? String(d.retry_after_s) : "1");
    if (typeof d.depth === "number") res.headers.set("X-OJS-Queue-Depth", String(d.depth));
    if (typeof d.bound === "number") res.headers.set("X-OJS-Queue-Bound", String(d.bound));
  }
  return res;
}

const defaultHints: Partial<Record<ErrorCode, string>> = {
  not_found: "Check the id. Finished jobs are removed after their retention period.",
  unauthorized: "Send `Authorization: Bearer <token>`; `jetjob start` prints where the admin token is.",
  forbidden: "This token's scope does not allow the operation.",
  invalid_payload: "The body must be valid JSON.",
  invalid_request: "See `details` for the field that failed validation.",
  validation_error: "See `details` for the field that failed validation.",
  conflict: "The job is not in a state that allows this operation; GET it to see its state.",
  duplicate: "Use another id, or omit `id` to let the server choose one.",
  payload_too_large: "Send a smaller body, or fewer jobs per batch.",
  backend_error: "NATS/JetStream did not answer; retry shortly. `GET /health` shows the backend state.",
  nats_unreachable:
    "Nothing answered at the NATS address: check the URL (`jetjob start` writes it to .jetjob/endpoints.json) and that nats-server runs.",
  storage_full:
    "Stored jobs still run; space comes back as housekeeping removes finished jobs, or give JetStream more room. `GET /health` shows the storage state.",
};

/** What each code means (one line each; `core/errors.ts` has the full comments). */
const meanings: Record<ErrorCode, string> = {
  invalid_request:
    "The request is malformed: a field has the wrong type or format, or arguments do not match a schema.",
  invalid_payload: "The body is not parsable JSON.",
  validation_error: "The request is well-formed but semantically invalid (e.g. a retry policy).",
  not_found:
    "The job, queue, schedule, worker or other resource does not exist (or was removed after its retention).",
  duplicate: "A job with this id, or a unique job with the same key, already exists.",
  conflict: "The operation is not allowed in the resource's current state (e.g. cancelling a finished job).",
  lock_held: "The lock is held by someone else.",
  lock_lost: "The lock is no longer held with this token: released, expired and taken, or never held.",
  lease_lost:
    "A worker reported on a job it no longer holds (its lease ran out or another worker claimed it); nothing was recorded.",
  unauthorized: "No token, or a token the server does not know (revoked or expired).",
  forbidden: "The token is valid but its scope does not allow the operation.",
  payload_too_large: "The body or a field is larger than the configured limit.",
  rate_limited: "Too many requests.",
  schema_validation:
    "The job's args do not match the JSON Schema registered for its type (details list each problem).",
  queue_full:
    "The queue holds as many unfinished jobs as its max_depth allows (backpressure); retry after Retry-After seconds.",
  no_targets:
    "A fleet target selects no agent that can run the operation now; details list each host and why.",
  unsupported: "The server does not support the requested feature in this configuration.",
  backend_error: "NATS/JetStream failed or did not answer in time.",
  storage_full: "JetStream's storage is full: new jobs are refused, stored ones still run.",
  server_too_old: "The NATS server is too old or has no JetStream.",
  nats_unreachable:
    "No NATS server answered at the given address (a worker or client could not connect in time).",
  timeout: "A deadline passed.",
  closed: "The object was closed or the operation aborted (e.g. during shutdown).",
  internal_error: "A bug: an unexpected failure. The request id in the body finds it in the server's log.",
};

export interface ErrorCatalogEntry {
  code: string;
  status: number;
  /** Exit code of the `jetjob` CLI for this error. */
  exit_code: number;
  meaning: string;
  hint: string;
}

/** The documented error codes, for the `/docs/errors` page (each error's `docs_url` points into it). */
export function errorCatalog(): ErrorCatalogEntry[] {
  return Object.values(ErrorCode).map((code) => ({
    code,
    status: httpStatusFor(code),
    exit_code: exitCodeFor(code),
    meaning: meanings[code],
    hint: defaultHints[code] ?? "",
  }));
}
