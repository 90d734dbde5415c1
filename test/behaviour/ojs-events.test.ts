/**
 * OJS events (issue 17): the ojs-events envelope on `GET /ojs/v1/events`, SSE frames with `id:` lines,
 * resuming with `Last-Event-ID` (no gap, no repeat), the channel route OJS clients subscribe to
 * (`/ojs/v1/events/stream?channel=job:<id>|queue:<name>`), and 404 for an unknown queue's stream.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { RunningApiServer } from "../../src/server/run.js";
import { runTestServer } from "../harness/app.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();
const token = "tok-admin-ojs-events-7f3a9c1e";

interface Frame {
  id: string | undefined;
  event: string;
  data: Record<string, unknown>;
}

/** An open SSE stream: frames as they arrive, and whether the server ended it. */
interface Sse {
  frames: Frame[];
  ended: Promise<void>;
  close(): void;
}

describe("OJS events", () => {
  let srv: RunningApiServer;
  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }]);
  });
  after(async () => {
    await srv.close();
  });

  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${srv.url}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "Content-Type": "application/openjobspec+json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };

  const open = async (path: string, headers: Record<string, string> = {}): Promise<Sse> => {
    const ac = new AbortController();
    const res = await fetch(`${srv.url}${path}`, {
      headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream", ...headers },
      signal: ac.signal,
    });
    assert.equal(res.status, 200, `${path}: ${res.status}`);
    const frames: Frame[] = [];
    let listening: () => void = () => undefined;
    const ready = new Promise<void>((r) => (listening = r));
    const ended = (async () => {
      const dec = new TextDecoder();
      let buf = "";
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buf += dec.decode(chunk, { stream: true });
          if (buf.includes(": listening")) listening(); // the server's listener is active
          let end: number;
          while ((end = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, end).split("\n");
            buf = buf.slice(end + 2);
            const field = (name: string) =>
              block
                .find((l) => l.startsWith(`${name}:`))
                ?.slice(name.length + 1)
                .trimStart();
            const data = field("data");
            if (data === undefined) continue;
            frames.push({
              id: field("id"),
              event: field("event") ?? "message",
              data: JSON.parse(data) as Record<string, unknown>,
            });
          }
        }
      } catch (err) {
        if (!ac.signal.aborted) throw err;
      } finally {
        listening();
      }
    })();
    await ready;
    return { frames, ended, close: () => ac.abort() };
  };

  const enqueue = async (queue: string, type = "ev.t") =>
    ((await call("POST", "/ojs/v1/jobs", { type, args: [], options: { queue } })).body.job as { id: string })
      .id;

  const runOne = async (queue: string) => {
    const f = await call("POST", "/ojs/v1/workers/fetch", { queues: [queue], worker_id: "w" });
    const id = (f.body.job as { id: string }).id;
    assert.equal((await call("POST", "/ojs/v1/workers/ack", { job_id: id, result: 1 })).status, 200);
    return id;
  };

  it("lists events in the ojs-events envelope with pagination", async () => {
    const id = await enqueue("ev-list");
    const page = await waitFor(async () => {
      const r = await call("GET", `/ojs/v1/events?job_id=${id}&limit=10`);
      return (r.body.events as unknown[]).length > 0 ? r.body : undefined;
    });
    const e = (page.events as Array<Record<string, unknown>>)[0]!;
    assert.equal(e.specversion, "1.0");
    assert.match(e.id as string, /^evt_/);
    assert.equal(e.type, "job.enqueued");
    assert.match(e.source as string, /^ojs:\/\//);
    assert.ok(!Number.isNaN(Date.parse(e.time as string)));
    assert.equal(e.subject, id);
    assert.equal((e.data as { job_id: string }).job_id, id);
    assert.equal(typeof (page.pagination as { has_more: boolean }).has_more, "boolean");
  });

  it("streams a job's events on the channel route with id lines, ending when the job finishes", async () => {
    const queue = "ev-job";
    const id = await enqueue(queue);
    const sse = await open(`/ojs/v1/events/stream?channel=job:${id}`);
    assert.equal(await runOne(queue), id);
    await sse.ended;
    const types = sse.frames.map((f) => f.event);
    assert.deepEqual(types, ["job.started", "job.completed"]);
    for (const f of sse.frames) {
      assert.equal(f.id, f.data.id);
      assert.equal(f.data.specversion, "1.0");
    }
  });

  it("resumes a queue stream after Last-Event-ID without gaps or repeats", async () => {
    const queue = "ev-resume";
    await enqueue(queue); // the queue exists
    const first = await open(`/ojs/v1/events/stream?channel=queue:${queue}`);
    const a = await enqueue(queue);
    await waitFor(() => first.frames.some((f) => f.data.subject === a));
    const last = first.frames[first.frames.length - 1]!;
    first.close();
    await first.ended;
    // Missed while disconnected.
    const b = await enqueue(queue);
    const c = await enqueue(queue);
    const again = await open(`/ojs/v1/queues/${queue}/events`, { "Last-Event-ID": last.id! });
    const d = await enqueue(queue);
    await waitFor(() => again.frames.some((f) => f.data.subject === d));
    again.close();
    await again.ended;
    const enqueued = again.frames.filter((f) => f.event === "job.enqueued").map((f) => f.data.subject);
    assert.deepEqual(enqueued, [b, c, d]);
    assert.equal(new Set(again.frames.map((f) => f.id)).size, again.frames.length, "no event twice");
  });

  it("answers 404 for an unknown queue's stream, and 400 for a channel of no kind", async () => {
    const r1 = await fetch(`${srv.url}/ojs/v1/queues/ev-never-used/events`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    assert.equal(r1.status, 404);
    await r1.body?.cancel();
    const r2 = await fetch(`${srv.url}/ojs/v1/events/stream?channel=queue:ev-never-used`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    assert.equal(r2.status, 404);
    await r2.body?.cancel();
    const r3 = await fetch(`${srv.url}/ojs/v1/events/stream?channel=nothing`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    assert.equal(r3.status, 400);
    await r3.body?.cancel();
  });
});
