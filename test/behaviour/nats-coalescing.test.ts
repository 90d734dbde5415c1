/**
 * The NATS transport writes once per event-loop turn (nats/coalescing-transport.ts): publishes made by
 * separate tasks of one turn (as an API server answering many HTTP requests makes them) leave in one
 * socket write, in the order they were made, and a request still gets its reply.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

import { useNats } from "../harness/nats.js";

const h = useNats();

/** Write system calls of this process so far (Linux). */
function writeCalls(): number {
  const m = /syscw: (\d+)/.exec(readFileSync("/proc/self/io", "utf8"));
  if (!m) throw new Error("no syscw in /proc/self/io");
  return Number(m[1]);
}

describe("NATS writes coalesced per event-loop turn", () => {
  it("50 publishes from 50 tasks of one turn: a few socket writes, delivered in order", async () => {
    const nc = await h.nats.connect("coalescing");
    try {
      const got: string[] = [];
      let allIn = (): void => undefined;
      const all = new Promise<void>((resolve) => (allIn = resolve));
      const sub = nc.subscribe("coalescing.t", {
        callback: (_err, m) => {
          got.push(m.string());
          if (got.length === 50) allIn();
        },
      });
      await nc.flush();
      const before = writeCalls();
      // setImmediate callbacks run as separate tasks of one turn: the client flushes after each one.
      await new Promise<void>((resolve) => {
        for (let i = 0; i < 50; i++)
          setImmediate(() => {
            nc.publish("coalescing.t", String(i));
            if (i === 49) resolve();
          });
      });
      await all;
      const writes = writeCalls() - before;
      assert.ok(writes < 10, `${writes} write calls for 50 publishes of one turn`);
      assert.deepEqual(
        got,
        Array.from({ length: 50 }, (_, i) => String(i)),
      );
      sub.unsubscribe();
      // Request and reply over the same transport.
      const echo = nc.subscribe("coalescing.echo", { callback: (_e, m) => void m.respond(m.data) });
      const reply = await nc.request("coalescing.echo", "ping", { timeout: 2000 });
      assert.equal(reply.string(), "ping");
      echo.unsubscribe();
    } finally {
      await nc.close();
    }
  });
  it("a publish flushed by the client just before close() is delivered", async () => {
    const listener = await h.nats.connect("coalescing-listener");
    try {
      let arrived = (): void => undefined;
      const got = new Promise<void>((resolve) => (arrived = resolve));
      listener.subscribe("coalescing.last", { callback: () => arrived() });
      await listener.flush();
      const nc = await h.nats.connect("coalescing-closing");
      nc.publish("coalescing.last", "bye");
      // The client flushes at the end of the task (a microtask), not in close(): let it.
      await Promise.resolve();
      await nc.close();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("the last publish did not arrive within 5 s")), 5000);
      });
      await Promise.race([got, late]).finally(() => clearTimeout(timer));
    } finally {
      await listener.close();
    }
  });
});
