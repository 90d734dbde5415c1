/**
 * 10,000 queues (issue 21): what a scrape, the storage report and an event search cost must follow
 * what they return, not the number of queues or events stored. Prints the timings.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { NatsConnection } from "@nats-io/nats-core";

import type { RunningApiServer } from "../../src/server/run.js";
import { uuidv7 } from "../../src/core/ids.js";
import { createStoreContext } from "../../src/store/infra/context.js";
import { encodeEvents, EventType } from "../../src/store/jobs/events.js";
import { runTestServer } from "../harness/app.js";
import { useNats } from "../harness/nats.js";

const h = useNats();
const token = "many-queues-token-0123456789";
const QUEUES = Number(process.env.JETJOB_MANY_QUEUES ?? 10_000);

describe(`${QUEUES} queues`, () => {
  let srv: RunningApiServer;
  let nc: NatsConnection;
  const timed = async (path: string) => {
    const t0 = performance.now();
    const r = await fetch(`${srv.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const body = await r.text();
    return { status: r.status, body, ms: performance.now() - t0 };
  };

  before(async () => {
    nc = await h.nats.connect("many-queues");
    const ctx = await createStoreContext(nc);
    const t0 = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < QUEUES) await ctx.queues.ensureLane(`q-${next++}`, 0);
      }),
    );
    console.log(`created ${QUEUES} queues in ${Date.now() - t0} ms`);
    // A full events stream: 70,000 stored batches (the last 64 MiB of a busy day). Published one by
    // one: emitEvents would merge the events of one turn into one batch per queue.
    const enc = new TextEncoder();
    for (let k = 0; k < 70_000; k++) {
      const q = `q-${k % 100}`;
      const e = { t: EventType.Completed, at: Date.now(), id: uuidv7(), jt: "t", q };
      nc.publish(ctx.subjects.events(q), enc.encode(encodeEvents(q, [e])));
      if (k % 5000 === 0) await nc.flush();
    }
    await nc.flush();
    ctx.close();
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }]);
    // A few jobs and events, on a few of them.
    for (let k = 0; k < 20; k++) {
      await fetch(`${srv.url}/ojs/v1/jobs`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ type: "t", args: [k], options: { queue: `q-${k}` } }),
      });
    }
  });
  after(async () => {
    await srv?.close();
    await nc?.close();
  });

  it("/metrics, the storage report and an event search that matches nothing answer quickly", async () => {
    const metrics = await timed("/metrics");
    const again = await timed("/metrics");
    const storage = await timed("/api/v1/storage");
    const search = await timed("/ojs/v1/events?types=job.nothing");
    const page = JSON.parse(search.body) as {
      events: unknown[];
      pagination: { has_more: boolean; next_cursor?: string };
    };
    assert.deepEqual(page.events, []);
    assert.equal(page.pagination.has_more, true, "the search stopped at its budget and says where to go on");
    const more = await timed(`/ojs/v1/events?types=job.nothing&cursor=${page.pagination.next_cursor!}`);
    assert.equal(more.status, 200);
    const queues = await timed("/ojs/v1/queues");
    console.log(
      `/metrics ${metrics.ms.toFixed(0)} ms (cached ${again.ms.toFixed(0)} ms), /api/v1/storage ${storage.ms.toFixed(0)} ms, ` +
        `empty event search over 70,000 batches ${search.ms.toFixed(0)} ms (next page ${more.ms.toFixed(0)} ms), queue list ${queues.ms.toFixed(0)} ms`,
    );
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /jetjob_queue_depth\{queue="q-0"\} 1/);
    assert.match(metrics.body, new RegExp(`jetjob_queue_depth\\{queue="q-${QUEUES - 1}"\\} 0`));
    assert.equal(storage.status, 200);
    assert.equal(search.status, 200);
    assert.ok(metrics.ms < 5000, `/metrics in ${metrics.ms} ms`);
    assert.ok(storage.ms < 2000, `storage report in ${storage.ms} ms`);
    assert.ok(search.ms < 1000, `event search in ${search.ms} ms`);
    assert.ok(queues.ms < 2000, `queue list in ${queues.ms} ms`);
  });
});
