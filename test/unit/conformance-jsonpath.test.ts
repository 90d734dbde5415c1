import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Json } from "../../conformance/runner/json.js";
import { parsePath, resolvePath } from "../../conformance/runner/jsonpath.js";

const doc: Json = {
  job: { id: "j1", state: "active", args: ["a", 42, { nested: { key: "v" } }], meta: null, "x.y": 7 },
  jobs: [
    { id: "a", state: "active", attempt: 1, errors: [{ code: "e1" }] },
    { id: "b", state: "completed", attempt: 2 },
    { id: "c", state: "completed", attempt: 2, tag: null },
  ],
  grid: [
    [1, 2],
    [3, 4],
  ],
  crons: [{ name: "one" }, { other: true }, { name: "two" }],
  empty: [],
  count: 0,
};

void describe("resolvePath", () => {
  const found: [string, Json | undefined][] = [
    ["$", doc],
    ["$.count", 0],
    ["$.job.id", "j1"],
    ["job.id", "j1"],
    ["$.job.args[0]", "a"],
    ["$.job.args[1]", 42],
    ["$.job.args[2].nested.key", "v"],
    ["$.job['x.y']", 7],
    ["$.jobs[1].state", "completed"],
    ["$.jobs[0].errors[0].code", "e1"],
    ["$.grid[1][0]", 3],
    ["$.grid[0][1]", 2],
    // a missing key resolves to missing, and so does anything below it
    ["$.job.result", undefined],
    ["$.nope.deeper.still", undefined],
    ["$.job.meta", null],
    ["$.job.meta.trace_id", undefined],
    // wildcard collects the rest of the path over all elements, dropping missing values
    ["$.crons[*].name", ["one", "two"]],
    ["$.jobs[*].attempt", [1, 2, 2]],
    ["$.jobs[*].tag", []],
    ["$.empty[*].id", []],
    [
      "$.grid[*]",
      [
        [1, 2],
        [3, 4],
      ],
    ],
    // filters select the first matching element
    ["$.jobs[?(@.id=='b')]", { id: "b", state: "completed", attempt: 2 }],
    ['$.jobs[?(@.id=="b")].attempt', 2],
    ["$.jobs[?(@.state=='completed')].id", "b"],
    ["$.jobs[?(@.attempt==2)].id", "b"],
    ["$.jobs[?(@.attempt == 1)].state", "active"],
    ["$.jobs[?(@.id=='zzz')]", undefined],
    ["$.jobs[?(@.id=='zzz')].state", undefined],
  ];
  for (const [path, expected] of found) {
    void it(`resolves ${path}`, () => {
      const result = resolvePath(doc, path);
      assert.deepEqual(result, { ok: true, value: expected });
    });
  }

  const errors: [string, RegExp][] = [
    ["$.jobs[7].id", /index \[7\] out of range \(length 3\)/],
    ["$.job.id[0]", /expected array at \[0\], got string/],
    ["$.job.id.x", /expected object at "x", got string/],
    ["$.job.state[*]", /expected array at \[\*\]/],
    ["$.job[?(@.id=='x')]", /expected array for filter, got object/],
    ["$.missing[0]", /expected array at \[0\], got missing/],
    ["$.job.meta[0]", /expected array at \[0\], got null/],
    ["$.jobs[abc]", /unsupported bracket/],
    ["$.jobs[0", /unclosed bracket/],
    ["$.jobs[?(@.id=='x'", /unclosed filter/],
  ];
  for (const [path, pattern] of errors) {
    void it(`fails on ${path}`, () => {
      const result = resolvePath(doc, path);
      assert.equal(result.ok, false);
      assert.match(result.ok ? "" : result.error, pattern);
    });
  }

  void it("resolves against a missing root", () => {
    assert.deepEqual(resolvePath(undefined, "$.jobs"), { ok: true, value: undefined });
    assert.equal(resolvePath(undefined, "$.jobs[0]").ok, false);
  });
});

void describe("parsePath", () => {
  void it("parses all segment kinds", () => {
    assert.deepEqual(parsePath("$.a[0][*]['b.c'][?(@.d.e=='f')].g"), [
      { kind: "key", name: "a" },
      { kind: "index", index: 0 },
      { kind: "wildcard" },
      { kind: "key", name: "b.c" },
      {
        kind: "filter",
        key: [
          { kind: "key", name: "d" },
          { kind: "key", name: "e" },
        ],
        value: "f",
      },
      { kind: "key", name: "g" },
    ]);
  });

  void it("accepts keys with dashes (step ids)", () => {
    assert.deepEqual(parsePath("$.steps.step-2.response"), [
      { kind: "key", name: "steps" },
      { kind: "key", name: "step-2" },
      { kind: "key", name: "response" },
    ]);
  });

  void it("treats $ and the empty path as the root", () => {
    assert.deepEqual(parsePath("$"), []);
    assert.deepEqual(parsePath(""), []);
  });
});
