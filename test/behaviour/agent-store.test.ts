/**
 * What an agent opens (agent/context.ts): only the agents and fleet buckets when the store exists;
 * on a NATS where no server created the store yet, an agent with the shared login creates it, as
 * agents did before they had identities.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { jetstreamManager } from "@nats-io/jetstream";

import { createAgent } from "../../src/agent/agent.js";
import { silentLogger } from "../../src/core/logger.js";
import { resolveTopology } from "../../src/store/infra/topology.js";
import { useNats } from "../harness/nats.js";

const h = useNats();

describe("the agent's store", () => {
  it("an agent started before any server creates the store with the shared login", async () => {
    const agent = await createAgent({
      nats: h.nats.url,
      hostname: "first-1",
      logger: silentLogger,
      handleSignals: false,
      builtins: false,
    });
    try {
      const nc = await h.nats.connect();
      const jsm = await jetstreamManager(nc);
      const t = resolveTopology();
      for (const s of [t.streams.fleet, `KV_${t.buckets.agents}`, `KV_${t.buckets.fleet}`]) {
        assert.ok(await jsm.streams.info(s), s);
      }
      await nc.close();
    } finally {
      await agent.close();
    }
  });
});
