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
import type { Handler, Handlers } from "../../src/worker/index.js";

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

/** A job-type map with an args-only entry and one with a result type. */
type Jobs = {
  "email.send": [to: string];
  "image.resize": { args: [url: string, width: number]; result: { url: string } };
};

describe("job-type map: arguments and results", () => {
  it("types enqueue, workflow steps, waitFor results and handler returns from one map", async () => {
    const client = createClient<Jobs>({ url: "http://127.0.0.1:1" });
    // Never called: only the types are checked (by `npm run typecheck`).
    const typed = async () => {
      const job = await client.enqueue("image.resize", ["https://x/a.png", 100]);
      const done = await client.waitFor(job);
      const url: string | undefined = done.result?.url;
      // @ts-expect-error the result has no `size`
      void done.result?.size;
      // @ts-expect-error width must be a number
      await client.enqueue("image.resize", ["https://x/a.png", "100"]);
      await client.workflows.chain([
        { type: "email.send", args: ["ada@example.com"] },
        { type: "image.resize", args: ["https://x/b.png", 50] },
      ]);
      await client.workflows.group([
        // @ts-expect-error a step's args must match its type
        { type: "email.send", args: [42] },
      ]);
      return url;
    };
    const handlers: Handlers<Jobs> = {
      "email.send": (job) => job.args[0].length,
      "image.resize": (job) => ({ url: `${job.args[0]}?w=${job.args[1]}` }),
    };
    const wrong: Handlers<Jobs> = {
      // @ts-expect-error the handler must return the type's result
      "image.resize": () => ({ href: "x" }),
    };
    assert.equal(typeof typed, "function");
    assert.deepEqual(
      await handlers["image.resize"]!({ args: ["u", 3] } as Parameters<Handler<[string, number]>>[0]),
      { url: "u?w=3" },
    );
    assert.ok(wrong);
    await client.close();
  });
});
