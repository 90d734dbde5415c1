/**
 * `keysOf`, under which the lists of cron schedules, workflows, locks, dead letters, unique locks,
 * agent identities and worker directives are read: every stored key exactly once, also while the
 * records are being rewritten (which made `kv.keys()` repeat a key or leave one out).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Kvm } from "@nats-io/kv";

import { keysOf } from "../../src/store/infra/kvjson.js";
import { useNats } from "../harness/nats.js";

const h = useNats();

describe("keysOf: a bucket's keys", () => {
  it("lists every key exactly once while the records are rewritten", async () => {
    const nc = await h.nats.connect();
    try {
      const kv = await new Kvm(nc).create("test_keys_rewritten", { history: 1 });
      const keys = Array.from({ length: 30 }, (_, i) => `r.${String(i).padStart(2, "0")}`);
      for (const k of keys) await kv.put(k, "0");
      let writing = true;
      const writer = (async () => {
        for (let n = 1; writing; n++) await Promise.all(keys.map((k) => kv.put(k, String(n))));
      })();
      const problems: string[] = [];
      try {
        for (let round = 0; round < 60; round++) {
          const listed = await keysOf(kv, "r.>");
          const sorted = [...listed].sort();
          if (JSON.stringify(sorted) !== JSON.stringify(keys)) {
            problems.push(`round ${round}: ${listed.length} keys, ${new Set(listed).size} distinct`);
          }
        }
      } finally {
        writing = false;
        await writer;
      }
      assert.deepEqual(problems, []);
    } finally {
      await nc.close();
    }
  });

  it("lists keys under a filter only, and a deleted key's marker too (callers skip absent values)", async () => {
    const nc = await h.nats.connect();
    try {
      const kv = await new Kvm(nc).create("test_keys_filter", { history: 1 });
      await kv.put("a.1", "x");
      await kv.put("a.2", "x");
      await kv.put("b.1", "x");
      await kv.delete("a.2");
      assert.deepEqual((await keysOf(kv, "a.*")).sort(), ["a.1", "a.2"]);
      assert.equal((await kv.get("a.2"))?.operation, "DEL");
      assert.deepEqual((await keysOf(kv)).sort(), ["a.1", "a.2", "b.1"]);
      assert.deepEqual(await keysOf(kv, "c.>"), []);
    } finally {
      await nc.close();
    }
  });
});
