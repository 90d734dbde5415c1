/**
 * A timeline event counts only on its own host's subject (fleet/timeline.ts `eventFromMessage`): a
 * result for host B stored on A's subject is ignored and counted; the controller's `_` subject and an
 * agent's own `.r` refusals are taken.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { eventFromMessage, foreignEventCount } from "../../src/fleet/timeline.js";
import { hostToken } from "../../src/store/infra/topology.js";

const enc = new TextEncoder();
const ev = (h: string | undefined, e = "completed") =>
  enc.encode(JSON.stringify({ e, at: 1, ep: 1, ...(h === undefined ? {} : { h }), d: { result: 1 } }));
const subj = (tok: string) => `jj.ft.01a23f6a-81c4-7381-9400-8549bfcfcedf.${tok}`;

describe("timeline events and their subjects", () => {
  it("takes a host's event on its own subject (any case of the hostname) and its refusals on .r", () => {
    assert.equal(eventFromMessage(subj(hostToken("web-01")), ev("web-01"))?.h, "web-01");
    assert.equal(eventFromMessage(subj(hostToken("web-01")), ev("WEB-01"))?.h, "WEB-01");
    assert.ok(eventFromMessage(`${subj(hostToken("web-01"))}.r`, ev("web-01", "refused")));
  });

  it("takes the controller's events, also those naming a host", () => {
    assert.ok(eventFromMessage(subj("_"), ev(undefined, "submitted")));
    assert.ok(eventFromMessage(subj("_"), ev("web-02", "unreachable")));
  });

  it("ignores and counts an event for another host, or without a host, on a host subject", () => {
    const before = foreignEventCount();
    const seen: string[] = [];
    const onForeign = (s: string) => void seen.push(s);
    assert.equal(eventFromMessage(subj(hostToken("web-01")), ev("web-02"), onForeign), undefined);
    assert.equal(eventFromMessage(`${subj(hostToken("web-01"))}.r`, ev("web-02"), onForeign), undefined);
    assert.equal(eventFromMessage(subj(hostToken("web-01")), ev(undefined), onForeign), undefined);
    assert.equal(foreignEventCount() - before, 3);
    assert.equal(seen.length, 3);
  });
});
