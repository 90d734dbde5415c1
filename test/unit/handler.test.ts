import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { JobCancel } from "../../src/worker/handler.js";
import { cancelRunning, newJobCancel, runHandler, signalOf } from "../../src/worker/handler.js";
import { ShutdownError } from "../../src/worker/segments.js";
import { JobFailure } from "../../src/worker/types.js";
import type { JobContext } from "../../src/worker/types.js";

function jobWith(cancel: JobCancel): JobContext {
  return {
    id: "j1",
    type: "t",
    queue: "q",
    args: [],
    attempt: 1,
    max_attempts: 3,
    maxAttempts: 3,
    priority: 0,
    meta: {},
    created_at: new Date(0).toISOString(),
    createdAt: new Date(0),
    progress: () => Promise.resolve(),
    get signal() {
      return signalOf(cancel);
    },
  };
}

describe("runHandler", () => {
  it("returns a plain value without making a signal", async () => {
    const cancel = newJobCancel();
    const r = await runHandler(() => 42, jobWith(cancel), { cancel });
    assert.deepEqual(r, { ok: true, result: 42 });
    assert.equal(cancel.controller, undefined);
  });

  it("awaits a promise and returns its value", async () => {
    const cancel = newJobCancel();
    const r = await runHandler(() => Promise.resolve({ n: 1 }), jobWith(cancel), { cancel });
    assert.deepEqual(r, { ok: true, result: { n: 1 } });
  });

  it("turns a synchronous throw and a rejection into error records", async () => {
    const cancel = newJobCancel();
    const sync = await runHandler(
      () => {
        throw new TypeError("bad");
      },
      jobWith(cancel),
      { cancel },
    );
    assert.equal(sync.ok, false);
    assert.deepEqual(!sync.ok && sync.error, { code: "handler_error", type: "TypeError", message: "bad" });
    const rejected = await runHandler(
      () => Promise.reject(new JobFailure("nope", { code: "no_way", retryable: false })),
      jobWith(cancel),
      { cancel },
    );
    assert.equal(!rejected.ok && rejected.error.code, "no_way");
    assert.equal(!rejected.ok && rejected.error.retryable, false);
  });

  it("ends the wait at once on cancel, even when the handler ignores its signal", async () => {
    const cancel = newJobCancel();
    const job = jobWith(cancel);
    let started!: () => void;
    const startedP = new Promise<void>((r) => (started = r));
    const running = runHandler(
      () => {
        started();
        return new Promise(() => undefined);
      },
      job,
      { cancel },
    );
    await startedP;
    cancelRunning(cancel, new Error("cancelled"));
    const r = await running;
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.error.code, "cancelled");
    assert.equal(!r.ok && r.cancelled, true);
    // A signal asked for only after the cancel is already aborted.
    assert.equal(job.signal.aborted, true);
  });

  it("aborts a signal the handler holds, and reports a forced stop as worker_shutdown", async () => {
    const cancel = newJobCancel();
    let seen: unknown;
    const running = runHandler(
      (job) =>
        new Promise<void>((resolve) => {
          job.signal.addEventListener("abort", () => {
            seen = job.signal.reason;
            resolve();
          });
          setImmediate(() => cancelRunning(cancel, new ShutdownError("the worker stopped")));
        }),
      jobWith(cancel),
      { cancel },
    );
    const r = await running;
    assert.ok(seen instanceof ShutdownError);
    assert.equal(!r.ok && r.error.code, "worker_shutdown");
    assert.equal(!r.ok && r.cancelled, false);
  });

  it("does not start a job cancelled before it starts", async () => {
    const cancel = newJobCancel();
    cancelRunning(cancel, new Error("cancelled"));
    let ran = false;
    const r = await runHandler(
      () => {
        ran = true;
      },
      jobWith(cancel),
      { cancel },
    );
    assert.equal(ran, false);
    assert.equal(!r.ok && r.error.code, "cancelled");
  });

  it("times out a slow handler and aborts its signal with a TimeoutError", async () => {
    const cancel = newJobCancel();
    const job = jobWith(cancel);
    const r = await runHandler(() => new Promise(() => undefined), job, { cancel, timeoutMs: 20 });
    assert.equal(!r.ok && r.error.code, "timeout");
    assert.equal(!r.ok && r.cancelled, false);
    assert.equal(job.signal.aborted, true);
    assert.equal((job.signal.reason as Error).name, "TimeoutError");
  });
});
