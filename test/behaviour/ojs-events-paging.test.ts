/**
 * `GET /ojs/v1/events` for page-numbered clients (issue 17): the official OJS admin UI asks
 * `?page=N&per_page=M` and reads `items` and `pagination.{page, per_page, total}`; without them its
 * Events page listed nothing and showed "Showing NaN–NaN". The cursor form stays as it was.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import type { RunningApiServer } from "../../src/server/run.js";
import { callApi, runTestServer } from "../harness/app.js";
import { useNats, waitFor } from "../harness/nats.js";

const h = useNats();
const token = "tok-admin-ojs-events-paging-41c2";

describe("OJS events by page number", () => {
  let srv: RunningApiServer;
  const queue = `evpage-${process.pid}`;
  const ids: string[] = [];
  const call = (path: string) => callApi(srv.url, token, "GET", path);
  const ofQueue = `types=job.enqueued&queues=${queue}`;

  before(async () => {
    srv = await runTestServer(h.nats.url, [{ name: "admin", token, scope: "admin" }]);
    for (let i = 0; i < 7; i++) {
      const r = await callApi(srv.url, token, "POST", "/ojs/v1/jobs", {
        type: "paging.test",
        args: [i],
        options: { queue },
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      ids.push((r.body.job as { id: string }).id);
    }
    await waitFor(
      async () => ((await call(`/ojs/v1/events?${ofQueue}&limit=50`)).body.events as unknown[]).length === 7,
      {
        what: "the 7 enqueued events",
      },
    );
  });
  after(async () => {
    await srv.close();
  });

  const subjects = (b: Record<string, unknown>) =>
    (b.items as Array<{ subject: string }>).map((e) => e.subject);

  it("answers the admin UI's request: items, and page, per_page and an exact total on the last page", async () => {
    const r = await call(`/ojs/v1/events?page=1&per_page=50&${ofQueue}`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.items, r.body.events);
    assert.deepEqual(subjects(r.body), [...ids].reverse(), "newest first");
    const p = r.body.pagination as Record<string, unknown>;
    assert.equal(p.page, 1);
    assert.equal(p.per_page, 50);
    assert.equal(p.total, 7);
    assert.equal(p.has_more, false);
  });

  it("pages by number: disjoint pages in order, a next page offered until the last, empty past the end", async () => {
    const pages = [];
    for (let n = 1; n <= 4; n++)
      pages.push((await call(`/ojs/v1/events?page=${n}&per_page=3&${ofQueue}`)).body);
    assert.deepEqual(pages.map(subjects), [[ids[6], ids[5], ids[4]], [ids[3], ids[2], ids[1]], [ids[0]], []]);
    const pag = pages.map((b) => b.pagination as Record<string, unknown>);
    assert.deepEqual(
      pag.map((p) => [p.page, p.per_page, p.has_more]),
      [
        [1, 3, true],
        [2, 3, true],
        [3, 3, false],
        [4, 3, false],
      ],
    );
    // While more may follow, total offers one more page; on the last page it is exact.
    assert.ok((pag[0]!.total as number) > 3 && (pag[1]!.total as number) > 6);
    assert.equal(pag[2]!.total, 7);
  });

  it("announces events in the manifest's capabilities (the admin UI shows its Events page only then)", async () => {
    const r = await call("/ojs/manifest");
    assert.equal((r.body.capabilities as Record<string, unknown>).events, true);
  });

  it("keeps the cursor form: limit and next_cursor page the same events, without page numbers", async () => {
    const first = (await call(`/ojs/v1/events?limit=4&${ofQueue}`)).body;
    const p = first.pagination as Record<string, unknown>;
    assert.equal(p.has_more, true);
    const next = (await call(`/ojs/v1/events?limit=4&cursor=${String(p.next_cursor)}&${ofQueue}`)).body;
    assert.deepEqual([...subjects(first), ...subjects(next)], [...ids].reverse());
    assert.equal((next.pagination as Record<string, unknown>).page, undefined);
  });
});
