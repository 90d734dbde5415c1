/**
 * Typed errors with stable codes. Every failure that crosses a module boundary is a {@link JetjobError}
 * whose `code` is one of {@link ErrorCode}; the HTTP status and the CLI exit code are derived from the
 * code in exactly one place each ({@link httpStatusFor}, {@link exitCodeFor}). Callers branch on `code`
 * (or the `isXxx` guards), never on message text.
 *
 * The codes are the lowercase OJS HTTP-binding vocabulary, plus a few of our own.
 */

export const ErrorCode = {
  /** The request is malformed: wrong field types, bad formats (HTTP 400). */
  InvalidRequest: "invalid_request",
  /** The body is not parsable JSON (HTTP 400). */
  InvalidPayload: "invalid_payload",
  /** The request is well-formed but semantically invalid, e.g. a retry policy (HTTP 422). */
  ValidationError: "validation_error",
  /** The job, queue or other resource does not exist (HTTP 404). */
  NotFound: "not_found",
  /** A job with this id (or unique key) already exists (HTTP 409). */
  Duplicate: "duplicate",
  /** The operation is not allowed in the resource's current state (HTTP 409). */
  Conflict: "conflict",
  /** The lock is held by someone else (HTTP 409). */
  LockHeld: "lock_held",
  /** The lock is no longer held with this token: released, expired and taken, or never held (HTTP 409). */
  LockLost: "lock_lost",
  /**
   * A worker reported on a job it no longer holds: its lease ran out, or the job was claimed again by
   * another worker (HTTP 409). Its outcome is not recorded.
   */
  LeaseLost: "lease_lost",
  /** No or wrong credentials (HTTP 401). */
  Unauthorized: "unauthorized",
  /** Valid credentials without the needed scope (HTTP 403). */
  Forbidden: "forbidden",
  /** The body or a payload field exceeds a configured limit (HTTP 413). */
  PayloadTooLarge: "payload_too_large",
  /** Too many requests (HTTP 429). */
  RateLimited: "rate_limited",
  /** Job args do not match the schema registered for the job's type (HTTP 400; ojs-schema-registry). */
  SchemaValidation: "schema_validation",
  /**
   * The queue holds as many unfinished jobs as its `max_depth` allows (HTTP 429; ojs-backpressure, where
   * the code is spelled `QUEUE_FULL`).
   */
  QueueFull: "queue_full",
  /** A fleet target matched no live agent that can run the operation (HTTP 422). */
  NoTargets: "no_targets",
  /** The server does not support the requested feature (HTTP 422). */
  Unsupported: "unsupported",
  /** NATS/JetStream failed or timed out (HTTP 503). */
  BackendError: "backend_error",
  /**
   * No connection to NATS could be made: nothing listens at the address, or it did not answer in time
   * (HTTP 503). Wrong credentials are `backend_error` with a hint instead.
   */
  NatsUnreachable: "nats_unreachable",
  /** JetStream's storage is full: new jobs are refused, stored ones still run (HTTP 507). */
  StorageFull: "storage_full",
  /** The NATS server is too old or lacks JetStream (HTTP 503). */
  ServerTooOld: "server_too_old",
  /** A deadline passed (HTTP 504). */
  Timeout: "timeout",
  /** The object was closed or the operation aborted (HTTP 503). */
  Closed: "closed",
  /** A bug: an unexpected failure (HTTP 500). */
  Internal: "internal_error",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Options of {@link JetjobError}. */
export interface JetjobErrorOptions extends ErrorOptions {
  /** Machine-readable context, sent to clients as `error.details`. */
  details?: Record<string, unknown> | undefined;
  /** Whether retrying the same request may succeed. Defaults from the code. */
  retryable?: boolean | undefined;
  /** A short hint on how to fix the problem. */
  hint?: string | undefined;
}

/** The one base class of all jetjob errors. */
export class JetjobError extends Error {
  override name = "JetjobError";
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  readonly retryable: boolean;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: JetjobErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
    this.retryable = options.retryable ?? defaultRetryable(code);
    this.hint = options.hint;
  }
}

/** A request failed validation (`invalid_request`, `invalid_payload` or `validation_error`). */
export class ValidationError extends JetjobError {
  override name = "ValidationError";
  constructor(
    message: string,
    options: JetjobErrorOptions & {
      code?:
        | typeof ErrorCode.InvalidRequest
        | typeof ErrorCode.InvalidPayload
        | typeof ErrorCode.ValidationError
        | typeof ErrorCode.SchemaValidation;
    } = {},
  ) {
    super(options.code ?? ErrorCode.InvalidRequest, message, options);
  }
}

/** A resource does not exist. */
export class NotFoundError extends JetjobError {
  override name = "NotFoundError";
  constructor(resourceType: string, resourceId: string, options: JetjobErrorOptions = {}) {
    super(ErrorCode.NotFound, `${capitalize(resourceType)} '${resourceId}' not found.`, {
      hint: notFoundHints[resourceType] ?? `Check the ${resourceType} name or id.`,
      ...options,
      details: { resource_type: resourceType, resource_id: resourceId, ...options.details },
    });
  }
}

/** The operation conflicts with the current state (`conflict`) or an existing resource (`duplicate`). */
export class ConflictError extends JetjobError {
  override name = "ConflictError";
  constructor(
    message: string,
    options: JetjobErrorOptions & {
      code?:
        | typeof ErrorCode.Conflict
        | typeof ErrorCode.Duplicate
        | typeof ErrorCode.LockHeld
        | typeof ErrorCode.LeaseLost
        | typeof ErrorCode.LockLost;
    } = {},
  ) {
    super(options.code ?? ErrorCode.Conflict, message, options);
  }
}

/** NATS or JetStream failed; usually transient. */
export class BackendError extends JetjobError {
  override name = "BackendError";
  constructor(message: string, options: JetjobErrorOptions = {}) {
    super(ErrorCode.BackendError, message, options);
  }
}

export function isJetjobError(err: unknown): err is JetjobError {
  return err instanceof JetjobError;
}

export function isNotFound(err: unknown): err is NotFoundError {
  return isJetjobError(err) && err.code === ErrorCode.NotFound;
}

export function isConflict(err: unknown): err is ConflictError {
  return (
    isJetjobError(err) &&
    (err.code === ErrorCode.Conflict ||
      err.code === ErrorCode.Duplicate ||
      err.code === ErrorCode.LockHeld ||
      err.code === ErrorCode.LockLost)
  );
}

/** Turns anything thrown into a {@link JetjobError}, keeping the original as `cause`. */
export function coerceError(err: unknown): JetjobError {
  if (err instanceof JetjobError) return err;
  if (isStorageFullApiError(err)) {
    return new JetjobError(ErrorCode.StorageFull, `JetStream's storage is full: ${(err as Error).message}`, {
      retryable: true,
      cause: err,
    });
  }
  if (err instanceof Error) return new JetjobError(ErrorCode.Internal, err.message, { cause: err });
  return new JetjobError(ErrorCode.Internal, String(err));
}

/**
 * A JetStream API error (from the NATS client: a KV write, a stream or consumer call) that says the
 * store is full: err_code 10023 (insufficient resources) or 10047 (storage resources exceeded).
 * Checked by shape, so this module needs no NATS import.
 */
function isStorageFullApiError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const e = err as Error & { code?: unknown; api_error?: { err_code?: unknown } };
  const code = typeof e.api_error?.err_code === "number" ? e.api_error.err_code : e.code;
  return code === 10023 || code === 10047;
}

const httpStatus: Record<ErrorCode, number> = {
  invalid_request: 400,
  invalid_payload: 400,
  validation_error: 422,
  not_found: 404,
  duplicate: 409,
  conflict: 409,
  lock_held: 409,
  lock_lost: 409,
  lease_lost: 409,
  unauthorized: 401,
  forbidden: 403,
  payload_too_large: 413,
  rate_limited: 429,
  schema_validation: 400,
  queue_full: 429,
  no_targets: 422,
  unsupported: 422,
  backend_error: 503,
  nats_unreachable: 503,
  storage_full: 507,
  server_too_old: 503,
  timeout: 504,
  closed: 503,
  internal_error: 500,
};

/** The HTTP status for an error code (the only place this mapping lives). */
export function httpStatusFor(code: ErrorCode): number {
  return httpStatus[code];
}

/**
 * Exit codes of the CLI, one table (README "CLI exit codes"):
 * 0 success; 1 the operation ran and failed (a job failed, a host's operation failed); 2 usage or
 * validation error; 3 jetjob or NATS cannot be reached, timed out, or refuses work for now (storage
 * full); 4 not found; 5 conflict; 6 auth; 7 a fleet job's hosts did not all answer: some were
 * unreachable, timed out, or were left out (skipped), and none failed.
 */
export const ExitCode = {
  Ok: 0,
  Failed: 1,
  Usage: 2,
  Unreachable: 3,
  NotFound: 4,
  Conflict: 5,
  Auth: 6,
  HostsMissing: 7,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The CLI exit code for an error code (the only place this mapping lives). */
export function exitCodeFor(code: ErrorCode): ExitCode {
  switch (code) {
    case ErrorCode.InvalidRequest:
    case ErrorCode.InvalidPayload:
    case ErrorCode.ValidationError:
    case ErrorCode.SchemaValidation:
    case ErrorCode.PayloadTooLarge:
    case ErrorCode.Unsupported:
    case ErrorCode.NoTargets:
      return ExitCode.Usage;
    case ErrorCode.NotFound:
      return ExitCode.NotFound;
    case ErrorCode.Duplicate:
    case ErrorCode.Conflict:
    case ErrorCode.LockHeld:
    case ErrorCode.LockLost:
    case ErrorCode.LeaseLost:
      return ExitCode.Conflict;
    case ErrorCode.Unauthorized:
    case ErrorCode.Forbidden:
      return ExitCode.Auth;
    case ErrorCode.BackendError:
    case ErrorCode.NatsUnreachable:
    case ErrorCode.StorageFull:
    case ErrorCode.ServerTooOld:
    case ErrorCode.Timeout:
    case ErrorCode.Closed:
    case ErrorCode.QueueFull:
      return ExitCode.Unreachable;
    case ErrorCode.RateLimited:
    case ErrorCode.Internal:
      return ExitCode.Failed;
  }
}

function defaultRetryable(code: ErrorCode): boolean {
  return (
    code === ErrorCode.BackendError ||
    code === ErrorCode.NatsUnreachable ||
    code === ErrorCode.StorageFull ||
    code === ErrorCode.Timeout ||
    code === ErrorCode.RateLimited ||
    code === ErrorCode.QueueFull ||
    code === ErrorCode.Closed ||
    code === ErrorCode.LockHeld
  );
}

const notFoundHints: Record<string, string> = {
  job: "Check the job id; finished jobs are removed after their retention period.",
  queue: "Queues appear when their first job is enqueued; `GET /ojs/v1/queues` lists them.",
  cron: "`GET /ojs/v1/cron` lists the registered schedules.",
  "dead letter":
    'Only jobs discarded with on_exhaustion "dead_letter" are dead letters; `GET /ojs/v1/dead-letter` lists them.',
  workflow: "Check the workflow id returned when it was created.",
};

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
