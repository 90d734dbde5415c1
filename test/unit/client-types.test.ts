/**
 * A client over NATS has no fleet jobs (they need an API server): calling them is a type error,
 * checked by `npm run typecheck` through the `@ts-expect-error` lines below (they fail the check
 * if the calls become allowed), and an `unsupported` error at run time. Nothing connects here:
 * the NATS transport connects on its first call.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { Client, ClientOptions, QueueClient } from "../../src/client/index.js";
import { createClient } from "../../src/client/index.js";
import { ErrorCode, isJetjobError } from "../../src/core/errors.js";

describe("client types by transport", () => {
  it("a NATS client's fleet calls are type errors and throw unsupported", async () => {
    const client = createClient({ nats: "nats://127.0.0.1:1" });
    const queueOnly: QueueClient = client;
    assert.equal(typeof queueOnly.enqueue, "function");
    const untyped = client as unknown as Client;
    for (const call of [
      () => untyped.run("system.uptime.get", { target: "all" }),
      () => untyped.fleet.list(),
      () => untyped.workers.list(),
    ]) {
      assert.throws(call, (err) => isJetjobError(err) && err.code === ErrorCode.Unsupported);
    }
    // @ts-expect-error fleet jobs need the HTTP API
    void client.run;
    // @ts-expect-error the worker registry needs the HTTP API
    void client.workers;
    await client.close();
  });

  it("an HTTP client, or options of the general type, have every feature in their type", async () => {
    const http: Client = createClient({ url: "http://127.0.0.1:1" });
    assert.equal(typeof http.run, "function");
    const general: ClientOptions = { url: "http://127.0.0.1:1" };
    const either: Client = createClient(general);
    assert.equal(typeof either.fleet.run, "function");
    await http.close();
    await either.close();
  });
});
