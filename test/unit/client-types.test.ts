/**
 * Both transports give the same client type: a client over NATS has fleet jobs and the worker
 * registry too (they run through the same use cases as the HTTP routes, client/nats-fleet.ts).
 * Nothing connects here: the NATS transport connects on its first call.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { Client, ClientOptions, QueueClient } from "../../src/client/index.js";
import { createClient } from "../../src/client/index.js";
import type { Handler, Handlers } from "../../src/worker/index.js";

describe("client types by transport", () => {
  it("a NATS client has every feature in its type, and is a QueueClient", async () => {
    const client: Client = createClient({ nats: "nats://127.0.0.1:1" });
    const queueOnly: QueueClient = client;
    assert.equal(typeof queueOnly.enqueue, "function");
    assert.equal(typeof client.run, "function");
    assert.equal(typeof client.fleet.list, "function");
    assert.equal(typeof client.workers.list, "function");
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
