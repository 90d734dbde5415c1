import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { parseDispatch } from "../../src/agent/dispatch.js";

const enc = new TextEncoder();
const bytes = (v: unknown) => enc.encode(typeof v === "string" ? v : JSON.stringify(v));
const req = { id: "j1", op: "system.hostname.get", kind: "query", args: [], epoch: 1, deadline_at: 5 };

describe("parseDispatch", () => {
  it("reads a dispatch request", () => {
    assert.deepEqual(parseDispatch(bytes(req)), { req });
  });

  it("reads a cancel notice", () => {
    assert.deepEqual(parseDispatch(bytes({ cancel: "j1" })), { cancel: "j1" });
  });

  it("takes a request whose cancel field is not a string as a request", () => {
    const withCancel = { ...req, cancel: 5 };
    assert.deepEqual(parseDispatch(bytes(withCancel)), { req: withCancel });
  });

  it("refuses what is not a request: bad JSON, null, arrays, numbers, missing or wrong fields", () => {
    for (const bad of [
      "{",
      "null",
      "[]",
      "7",
      { ...req, id: 1 },
      { ...req, op: undefined },
      { ...req, epoch: "1" },
      { ...req, deadline_at: null },
      { ...req, kind: "other" },
      { cancel: 3 },
    ]) {
      assert.equal(parseDispatch(bytes(bad)), undefined, JSON.stringify(bad));
    }
  });
});
