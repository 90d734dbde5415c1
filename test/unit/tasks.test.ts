/**
 * The background-task runner (store/infra/tasks.ts) without NATS: periodic tasks never overlap
 * themselves and `close()` waits for a running round; the runner starts `everywhere` tasks at once,
 * closes them in reverse order, closes all even when one fails, and refuses `leader` tasks without an
 * election. Leader election itself runs against a real nats-server in the engine and housekeeper tests.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { BackgroundTask } from "../../src/store/infra/tasks.js";
import { periodicTask, runTasks } from "../../src/store/infra/tasks.js";
import { waitFor } from "../harness/nats.js";

/** A promise with its resolve, to hold a round open until the test lets it go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

describe("background tasks", () => {
  it("a periodic task skips rounds while one is running, and close() waits for it", async () => {
    const g = gate();
    let started = 0;
    let finished = 0;
    const task = periodicTask({
      name: "slow",
      scope: "everywhere",
      everyMs: 5,
      runAtStart: true,
      tick: async () => {
        started++;
        await g.promise;
        finished++;
      },
      onError: (err) => assert.fail(String(err)),
    });
    const running = task.start();
    await waitFor(() => started === 1, { what: "first round" });
    // Many periods pass while the first round is held: none starts.
    const t0 = Date.now();
    await waitFor(() => Date.now() - t0 >= 50, { what: "ten periods" });
    assert.equal(started, 1);
    const closing = running.close();
    let closed = false;
    void closing.then(() => (closed = true));
    await Promise.resolve();
    assert.equal(closed, false, "close waits for the running round");
    g.open();
    await closing;
    assert.equal(finished, 1);
    const after = started;
    const t1 = Date.now();
    await waitFor(() => Date.now() - t1 >= 30, { what: "periods after close" });
    assert.equal(started, after, "no round after close");
  });

  it("errors of a round go to onError and the next round still runs", async () => {
    const errors: unknown[] = [];
    let rounds = 0;
    const running = periodicTask({
      name: "failing",
      scope: "everywhere",
      everyMs: 5,
      tick: () => {
        rounds++;
        return Promise.reject(new Error(`round ${rounds}`));
      },
      onError: (err) => errors.push(err),
    }).start();
    await waitFor(() => rounds >= 3, { what: "three rounds" });
    await running.close();
    assert.ok(errors.length >= 2);
    assert.match(String(errors[0]), /round 1/);
  });

  it("the runner starts everywhere-tasks at once and closes them in reverse order, all of them", async () => {
    const log: string[] = [];
    const task = (name: string, fails = false): BackgroundTask => ({
      name,
      scope: "everywhere",
      start() {
        log.push(`start ${name}`);
        return {
          close: () => {
            log.push(`close ${name}`);
            return fails ? Promise.reject(new Error(`${name} failed to close`)) : Promise.resolve();
          },
        };
      },
    });
    const runner = runTasks([task("a"), task("b", true), task("c")], { onError: () => undefined });
    assert.deepEqual(log, ["start a", "start b", "start c"]);
    assert.equal(runner.leading, false);
    await assert.rejects(runner.close(), /b failed to close/);
    assert.deepEqual(log.slice(3), ["close c", "close b", "close a"]);
  });

  it("refuses leader tasks without an election", () => {
    const leaderTask: BackgroundTask = {
      name: "promoter",
      scope: "leader",
      start: () => ({ close: async () => {} }),
    };
    assert.throws(() => runTasks([leaderTask], { onError: () => undefined }), /promoter/);
  });
});
