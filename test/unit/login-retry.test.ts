/**
 * Retrying an agent's NATS login while it is refused (src/cli/agent-enroll.ts): shared by `jetjob
 * agent` waiting to be accepted and `jetjob start`'s local agent through the auth callout.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { retryWhileRefused } from "../../src/cli/agent-enroll.js";
import { BackendError, ValidationError } from "../../src/core/errors.js";

const refusal = () => new BackendError("Authorization Violation", { details: { auth_refused: true } });

/** A start that fails with `errors` in turn, then answers "up". */
function failing(errors: Error[]): { start: () => Promise<string>; calls: () => number } {
  let n = 0;
  return {
    start: () => {
      const err = errors[n++];
      return err ? Promise.reject(err) : Promise.resolve("up");
    },
    calls: () => n,
  };
}

describe("retryWhileRefused", () => {
  it("tries again while the login is refused, and says so each time", async () => {
    const f = failing([refusal(), refusal()]);
    const told: number[] = [];
    assert.equal(await retryWhileRefused(f.start, { retryMs: 1, refused: (a) => told.push(a) }), "up");
    assert.equal(f.calls(), 3);
    assert.deepEqual(told, [1, 2]);
  });

  it("gives up after `tries` attempts with the refusal", async () => {
    const f = failing([refusal(), refusal(), refusal()]);
    await assert.rejects(
      retryWhileRefused(f.start, { retryMs: 1, tries: 2, refused: () => undefined }),
      (err: unknown) => err instanceof BackendError,
    );
    assert.equal(f.calls(), 2);
  });

  it("does not retry other errors, nor after an abort", async () => {
    const other = failing([new ValidationError("bad")]);
    await assert.rejects(
      retryWhileRefused(other.start, { retryMs: 1, refused: () => undefined }),
      ValidationError,
    );
    assert.equal(other.calls(), 1);
    const aborted = failing([refusal()]);
    const signal = AbortSignal.abort();
    await assert.rejects(retryWhileRefused(aborted.start, { retryMs: 1, signal, refused: () => undefined }));
    assert.equal(aborted.calls(), 1);
  });
});
