/**
 * Every process of a deployment hands exclusive keys on the same way (store/features/exclusive-mode.ts):
 * the first to open the store records its mode, one in the other mode is refused with `conflict`,
 * per-key lines may switch to the sequencer (which takes them over), and a process that was running
 * when the mode changed refuses jobs with a key instead of storing them where nobody looks.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";

import { ErrorCode, isJetjobError } from "../../src/core/errors.js";
import { silentLogger } from "../../src/core/logger.js";
import { createApp } from "../../src/server/app.js";
import { createAuthenticator } from "../../src/server/auth.js";
import type { Engine } from "../../src/store/engine.js";
import { createEngine } from "../../src/store/engine.js";
import { EXCLUSIVE_MODE_KEY } from "../../src/store/features/exclusive-mode.js";
import { createStoreContext } from "../../src/store/infra/context.js";
import { resolveTopology } from "../../src/store/infra/topology.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();

function isModeConflict(deployment: string, process: string) {
  return (err: unknown): boolean => {
    assert.ok(isJetjobError(err), `a JetjobError, got ${String(err)}`);
    assert.equal(err.code, ErrorCode.Conflict);
    assert.deepEqual(err.details, { deployment_mode: deployment, process_mode: process });
    assert.ok(err.hint?.includes("JETJOB_EXCLUSIVE_SEQUENCER"), err.hint);
    return true;
  };
}

describe("exclusive keys: one mode per deployment", () => {
  let nc: NatsConnection;
  const open = (sequencer: boolean, background = true): Promise<Engine> =>
    createEngine(nc, { leaseMs: 1000, segmentLeaseMs: 5000, exclusiveSequencer: sequencer, background });
  const recorded = async (): Promise<string | undefined> => {
    const kv = await new Kvm(nc).open(resolveTopology().buckets.xkeys);
    const e = await kv.get(EXCLUSIVE_MODE_KEY);
    return e?.operation === "PUT" ? e.json<{ mode: string }>().mode : undefined;
  };
  const forget = async (): Promise<void> => {
    await (await new Kvm(nc).open(resolveTopology().buckets.xkeys)).purge(EXCLUSIVE_MODE_KEY);
  };
  before(async () => {
    nc = await h.nats.connect();
  });
  after(async () => {
    await nc.close();
  });

  it("records the first process's mode and refuses a process in the other one", async () => {
    const first = await open(true);
    try {
      assert.equal(await recorded(), "sequencer");
      await assert.rejects(open(false), isModeConflict("sequencer", "lines"));
      // A worker's store (not an engine) is refused the same way.
      await assert.rejects(
        createStoreContext(nc, { ensure: false, exclusiveSequencer: false }),
        isModeConflict("sequencer", "lines"),
      );
      const again = await open(true);
      await again.close();
      assert.equal(await recorded(), "sequencer", "the refused processes changed nothing");
    } finally {
      await first.close();
    }
  });

  it("lets per-key lines switch to the sequencer; a lines process still running then refuses keyed jobs", async () => {
    await forget();
    // Without background tasks: the sequencer's engine is the one to lead.
    const lines = await open(false, false);
    try {
      assert.equal(await recorded(), "lines");
      const held = await lines.enqueue({ type: "t", args: [], options: { queue: "mm", exclusive_key: "K" } });
      const seq = await open(true);
      try {
        assert.equal(await recorded(), "sequencer", "the sequencer took the deployment over");
        // Waits out the lines process's cached mode (MODE_RECHECK_MS): then it refuses.
        const refused = await waitFor(
          async () => {
            try {
              // Another key each time: what the stale process stores meanwhile stays out of K's way.
              await lines.enqueue({ type: "t", args: [], options: { queue: "mz", exclusive_key: "Z" } });
              return undefined;
            } catch (err) {
              return err;
            }
          },
          { what: "the lines process to refuse a keyed job", timeoutMs: 20_000, intervalMs: 500 },
        );
        assert.ok(isModeConflict("sequencer", "lines")(refused));
        // The HTTP door over the same process answers the same refusal: 409 `conflict`.
        const app = createApp({
          engine: lines,
          auth: createAuthenticator([{ name: "w", token: "t0ken-for-the-test", scope: "write" }]),
          logger: silentLogger,
          version: "test",
        });
        const pushed = await app.hono.request("/ojs/v1/jobs", {
          method: "POST",
          headers: { Authorization: "Bearer t0ken-for-the-test", "Content-Type": "application/json" },
          body: JSON.stringify({ type: "t", args: [], options: { queue: "mz", exclusive_key: "Z" } }),
        });
        const answer = (await pushed.json()) as { error?: { code?: string; details?: unknown } };
        assert.equal(pushed.status, 409);
        assert.equal(answer.error?.code, "conflict");
        assert.deepEqual(answer.error?.details, { deployment_mode: "sequencer", process_mode: "lines" });
        // Jobs without a key do not depend on the mode.
        const plain = await lines.enqueue({ type: "t", args: [], options: { queue: "mm" } });
        assert.equal((await seq.get(plain.id)).state, "available");
        // The job stored in the per-key line before the switch is the key's holder under the sequencer.
        await waitFor(() => seq.scheduling, { what: "the sequencer's engine to lead", timeoutMs: 15_000 });
        const [key] = await waitFor(
          async () => {
            const keys = await seq.exclusiveKeys({ queue: "mm" });
            return keys[0]?.holder ? keys : undefined;
          },
          { what: "the key's holder", timeoutMs: 15_000 },
        );
        assert.equal(key?.holder?.job_id, held.id);
      } finally {
        await seq.close();
      }
    } finally {
      await lines.close();
    }
  });

  it("refuses to go back from the sequencer to per-key lines", async () => {
    assert.equal(await recorded(), "sequencer");
    await assert.rejects(open(false), isModeConflict("sequencer", "lines"));
  });
});
