import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  BackendError,
  ConflictError,
  ErrorCode,
  ExitCode,
  JetjobError,
  NotFoundError,
  ValidationError,
  coerceError,
  exitCodeFor,
  httpStatusFor,
  isConflict,
  isJetjobError,
  isNotFound,
} from "../../src/core/errors.js";

// [code, HTTP status, exit code, retryable by default]
const table: Array<[ErrorCode, number, ExitCode, boolean]> = [
  ["invalid_request", 400, 2, false],
  ["invalid_payload", 400, 2, false],
  ["validation_error", 422, 2, false],
  ["not_found", 404, 4, false],
  ["duplicate", 409, 5, false],
  ["conflict", 409, 5, false],
  ["lock_held", 409, 5, true],
  ["lock_lost", 409, 5, false],
  ["lease_lost", 409, 5, false],
  ["unauthorized", 401, 6, false],
  ["forbidden", 403, 6, false],
  ["payload_too_large", 413, 2, false],
  ["rate_limited", 429, 1, true],
  ["schema_validation", 400, 2, false],
  ["queue_full", 429, 3, true],
  ["unsupported", 422, 2, false],
  ["no_targets", 422, 2, false],
  ["backend_error", 503, 3, true],
  ["nats_unreachable", 503, 3, true],
  ["storage_full", 507, 3, true],
  ["server_too_old", 503, 3, false],
  ["timeout", 504, 3, true],
  ["closed", 503, 3, true],
  ["internal_error", 500, 1, false],
];

describe("error codes", () => {
  it("the table covers every ErrorCode exactly once", () => {
    assert.deepEqual(table.map((r) => r[0]).sort(), Object.values(ErrorCode).sort());
  });

  for (const [code, status, exit, retryable] of table) {
    it(`${code}: HTTP ${status}, exit ${exit}, retryable ${retryable}`, () => {
      assert.equal(httpStatusFor(code), status);
      assert.equal(exitCodeFor(code), exit);
      assert.equal(new JetjobError(code, "m").retryable, retryable);
    });
  }

  it("every code maps to an HTTP error status and a non-zero exit code", () => {
    for (const code of Object.values(ErrorCode)) {
      const status = httpStatusFor(code);
      assert.ok(Number.isInteger(status) && status >= 400 && status < 600, `${code}: ${status}`);
      const exit = exitCodeFor(code);
      assert.ok(Object.values(ExitCode).includes(exit) && exit !== ExitCode.Ok, `${code}: ${exit}`);
    }
  });
});

describe("JetjobError and subclasses", () => {
  it("carries code, message, details, hint, retryable and cause", () => {
    const cause = new Error("root");
    const e = new JetjobError(ErrorCode.Conflict, "nope", {
      details: { a: 1 },
      hint: "h",
      retryable: true,
      cause,
    });
    assert.ok(e instanceof Error);
    assert.equal(e.name, "JetjobError");
    assert.equal(e.code, "conflict");
    assert.equal(e.message, "nope");
    assert.deepEqual(e.details, { a: 1 });
    assert.equal(e.hint, "h");
    assert.equal(e.retryable, true);
    assert.equal(e.cause, cause);
  });

  it("has no cause property when none is given", () => {
    const e = new JetjobError(ErrorCode.Internal, "x");
    assert.equal("cause" in e, false);
    assert.equal(e.details, undefined);
    assert.equal(e.hint, undefined);
  });

  it("ValidationError defaults to invalid_request and accepts validation_error", () => {
    const a = new ValidationError("bad");
    assert.equal(a.code, ErrorCode.InvalidRequest);
    assert.equal(a.name, "ValidationError");
    assert.equal(httpStatusFor(a.code), 400);
    const b = new ValidationError("bad", { code: ErrorCode.ValidationError, details: { field: "x" } });
    assert.equal(b.code, ErrorCode.ValidationError);
    assert.equal(httpStatusFor(b.code), 422);
    assert.deepEqual(b.details, { field: "x" });
    assert.ok(b instanceof JetjobError);
  });

  it("NotFoundError carries details and a default hint", () => {
    const e = new NotFoundError("job", "abc");
    assert.equal(e.code, ErrorCode.NotFound);
    assert.equal(e.name, "NotFoundError");
    assert.equal(e.message, "Job 'abc' not found.");
    assert.deepEqual(e.details, { resource_type: "job", resource_id: "abc" });
    assert.equal(e.hint, "Check the job id; finished jobs are removed after their retention period.");
    assert.equal(e.retryable, false);
    assert.ok(isNotFound(e));
    assert.ok(!isConflict(e));
  });

  it("NotFoundError merges extra details and lets a hint be overridden", () => {
    const e = new NotFoundError("queue", "q1", { details: { extra: true }, hint: "custom" });
    assert.deepEqual(e.details, { resource_type: "queue", resource_id: "q1", extra: true });
    assert.equal(e.hint, "custom");
    assert.equal(e.message, "Queue 'q1' not found.");
  });

  it("ConflictError defaults to conflict and accepts duplicate", () => {
    const a = new ConflictError("c");
    assert.equal(a.code, ErrorCode.Conflict);
    assert.ok(isConflict(a));
    const b = new ConflictError("d", { code: ErrorCode.Duplicate });
    assert.equal(b.code, ErrorCode.Duplicate);
    assert.ok(isConflict(b));
    assert.equal(httpStatusFor(b.code), 409);
    assert.ok(!isNotFound(b));
  });

  it("BackendError is retryable unless told otherwise", () => {
    assert.equal(new BackendError("x").retryable, true);
    assert.equal(new BackendError("x", { retryable: false }).retryable, false);
    assert.equal(new BackendError("x").code, ErrorCode.BackendError);
  });

  it("guards reject non-jetjob values", () => {
    for (const v of [new Error("x"), "x", null, undefined, { code: "not_found" }]) {
      assert.equal(isJetjobError(v), false);
      assert.equal(isNotFound(v), false);
      assert.equal(isConflict(v), false);
    }
  });
});

describe("coerceError", () => {
  it("returns a JetjobError unchanged", () => {
    const e = new NotFoundError("job", "x");
    assert.equal(coerceError(e), e);
  });

  it("wraps a plain Error as internal_error and keeps it as cause", () => {
    const orig = new TypeError("kaput");
    const e = coerceError(orig);
    assert.ok(e instanceof JetjobError);
    assert.equal(e.code, ErrorCode.Internal);
    assert.equal(e.message, "kaput");
    assert.equal(e.cause, orig);
    assert.equal(e.retryable, false);
    assert.equal(httpStatusFor(e.code), 500);
  });

  it("maps JetStream's 'store is full' API errors (10023, 10047) to storage_full, by code not text", () => {
    for (const code of [10023, 10047]) {
      const api = Object.assign(new Error("whatever the server says"), { code });
      const e = coerceError(api);
      assert.equal(e.code, ErrorCode.StorageFull);
      assert.equal(httpStatusFor(e.code), 507);
      assert.equal(e.retryable, true);
    }
    const other = coerceError(Object.assign(new Error("insufficient resources"), { code: 10071 }));
    assert.equal(other.code, ErrorCode.Internal);
  });

  const others: Array<[unknown, string]> = [
    ["text", "text"],
    [42, "42"],
    [null, "null"],
    [undefined, "undefined"],
  ];
  for (const [v, message] of others) {
    it(`wraps non-Error ${String(v)} as internal_error`, () => {
      const e = coerceError(v);
      assert.equal(e.code, ErrorCode.Internal);
      assert.equal(e.message, message);
    });
  }
});
