import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkBody, checkHeaders, checkResponse, checkTiming } from "../../conformance/runner/assertions.js";
import type { ResponseRecord } from "../../conformance/runner/http.js";
import type { Json, JsonObject } from "../../conformance/runner/json.js";
import { matchStatus, matchStatusIn, matchValue } from "../../conformance/runner/matchers.js";
import type { TemplateContext } from "../../conformance/runner/templates.js";

const V7 = "01966f3c-8a2b-7cde-9f01-23456789abcd";
const V4 = "9b2f0c1e-5d6a-4b7c-8d9e-0f1a2b3c4d5e";

// [matcher, actual (undefined = missing), should pass]
const cases: [Json, Json | undefined, boolean][] = [
  // null / scalars
  [null, null, true],
  [null, undefined, true],
  [null, 0, false],
  [0, 0, true],
  [3, 3, true],
  [3, 3.5, false],
  [3, "3", false],
  [3.14, 3.14, true],
  [3.14, 3.1400001, false],
  [3.14, 3.14 + 1e-12, true],
  [0.3, 0.1 + 0.2, true],
  [true, true, true],
  [true, false, false],
  [false, 0, false],
  // literal strings
  ["available", "available", true],
  ["available", "active", false],
  ["1", 1, false],
  ["available", undefined, false],
  // any / absent / exists
  ["any", undefined, true],
  ["any", { a: 1 }, true],
  ["absent", undefined, true],
  ["absent", null, true],
  ["absent", "", false],
  ["exists", "", true],
  ["exists", 0, true],
  ["exists", null, false],
  ["exists", undefined, false],
  // string forms
  ["string:nonempty", "x", true],
  ["string:nonempty", "", false],
  ["string:nonempty", 5, false],
  ["string:non_empty", "x", true],
  ["string:non_empty", "", false],
  ["string:uuid", V4, true],
  ["string:uuid", V4.toUpperCase(), false],
  ["string:uuid", "not-a-uuid", false],
  ["string:uuidv7", V7, true],
  ["string:uuidv7", V4, false],
  ["string:datetime", "2026-02-12T10:30:00.123Z", true],
  ["string:datetime", "2026-02-12T10:30:00+02:00", true],
  ["string:datetime", "2026-02-12 10:30:00", false],
  ["string:datetime", 1700000000, false],
  ["string:contains:max_attempts", "invalid max_attempts: -1", true],
  ["string:contains:max_attempts", "invalid backoff", false],
  ["string:pattern(^req_[0-9a-f-]+$)", "req_0196-ab", true],
  ["string:pattern(^req_[0-9a-f-]+$)", "id_0196", false],
  // number forms
  ["number:positive", 1, true],
  ["number:positive", 0, false],
  ["number:positive", "1", false],
  ["number:non_negative", 0, true],
  ["number:non_negative", -1, false],
  ["number:range(400,422)", 400, true],
  ["number:range(400,422)", 422, true],
  ["number:range(400,422)", 423, false],
  ["number:range(-1.5, 2)", -1.5, true],
  ["~1000", 1500, true],
  ["~1000", 500, true],
  ["~1000", 1501, false],
  ["~1000", 499, false],
  ["~1000", "1000", false],
  // array string forms
  ["array:nonempty", [1], true],
  ["array:nonempty", [], false],
  ["array:nonempty", "x", false],
  ["array:empty", [], true],
  ["array:empty", [1], false],
  ["array:length:2", [1, 2], true],
  ["array:length:2", [1], false],
  ["array:length(0)", [], true],
  ["array:length(0)", [1], false],
  ["array:min_length:2", [1, 2, 3], true],
  ["array:min_length:2", [1], false],
  ["array:min:2", [1, 2], true],
  ["array:min:2", [1], false],
  ["array:min:2", undefined, false],
  ["contains:beta", ["alpha", "beta"], true],
  ["contains:beta", ["alpha"], false],
  ["contains:2", [1, 2], true],
  ["contains:beta", "beta", false],
  ["not_contains:beta", ["alpha"], true],
  ["not_contains:beta", [], true],
  ["not_contains:beta", ["alpha", "beta"], false],
  // arrays: exact length, element-wise matchers
  [[], [], true],
  [[], [1], false],
  [["arg1", 42, true, null, { nested: "value" }], ["arg1", 42, true, null, { nested: "value" }], true],
  [["arg1", 42], ["arg1", 43], false],
  [["string:nonempty", "any"], ["x", null], true],
  [["a"], "a", false],
  // $exists / $type
  [{ $exists: true }, "x", true],
  [{ $exists: true }, undefined, false],
  [{ $exists: false }, undefined, true],
  [{ $exists: false }, null, true],
  [{ $exists: false }, 0, false],
  [{ $exists: true, $type: "string" }, "x", true],
  [{ $exists: true, $type: "string" }, 1, false],
  [{ $exists: true, $type: "number" }, 1, true],
  [{ $exists: true, $type: "boolean" }, false, true],
  [{ $exists: true, $type: "array" }, [], true],
  [{ $exists: true, $type: "object" }, {}, true],
  [{ $exists: true, $type: "object" }, [], false],
  // $match
  [{ $match: "application/(openjobspec\\+)?json" }, "application/json", true],
  [{ $match: "^[0-9a-f]{8}-" }, V7, true],
  [{ $match: "^x" }, "y", false],
  [{ $match: "^x" }, 1, false],
  // $in / $or
  [{ $in: ["ok", "healthy"] }, "healthy", true],
  [{ $in: ["ok", "healthy"] }, "down", false],
  [{ $in: [200, 409] }, 409, true],
  [{ $in: [{ $exists: false }, "string:nonempty"] }, undefined, true],
  [{ $or: ["array:empty", { $size: { $gte: 2 } }] }, [1, 2], true],
  [{ $or: ["array:empty", { $size: { $gte: 2 } }] }, [1], false],
  // $size
  [{ $size: 0 }, [], true],
  [{ $size: 0 }, [1], false],
  [{ $size: { $gte: 1 } }, [1, 2], true],
  [{ $size: { $gte: 1 } }, [], false],
  [{ $size: { $lte: 1, $gt: 0 } }, [1], true],
  [{ $size: 1 }, "x", false],
  // $empty
  [{ $empty: true }, [], true],
  [{ $empty: true }, undefined, true],
  [{ $empty: true }, [1], false],
  [{ $empty: false }, { a: 1 }, true],
  // range
  [{ range: { min: 1000, max: 3000 } }, 1000, true],
  [{ range: { min: 1000, max: 3000 } }, 3000, true],
  [{ range: { min: 1000, max: 3000 } }, 999, false],
  [{ range: { min: 1000, max: 3000 } }, 3001, false],
  [{ range: { min: 5 } }, 1e9, true],
  [{ range: { max: 5 } }, 6, false],
  [{ range: { min: 1 } }, "2", false],
  // plain objects: each key matched recursively, "absent" = key must be missing
  [{ key: "value" }, { key: "value", other: 1 }, true],
  [{ key: "value" }, { key: "other" }, false],
  [{ key: "value" }, {}, false],
  [{ key: "value" }, "value", false],
  [{ nested: { deep: "string:nonempty" } }, { nested: { deep: "x" } }, true],
  [{ gone: "absent" }, { other: 1 }, true],
  [{ gone: "absent" }, { gone: null }, false],
  // standalone $type and numeric comparisons (extension cases)
  [{ $type: "number" }, 0, true],
  [{ $type: "number" }, "0", false],
  [{ $type: "array" }, [], true],
  [{ $type: "array" }, {}, false],
  [{ $type: "string" }, undefined, false],
  [{ $gte: 1 }, 1, true],
  [{ $gte: 1 }, 0, false],
  [{ $gte: 1 }, "2", false],
  [{ $gt: 1, $lte: 3 }, 3, true],
  [{ $gt: 1, $lte: 3 }, 1, false],
  [{ $lt: 0.5 }, 0.4, true],
];

void describe("matchValue", () => {
  for (const [matcher, actual, pass] of cases) {
    void it(`${JSON.stringify(matcher)} ${pass ? "matches" : "rejects"} ${actual === undefined ? "<missing>" : JSON.stringify(actual)}`, () => {
      const failure = matchValue(matcher, actual);
      if (pass) assert.equal(failure, undefined);
      else assert.equal(typeof failure, "string");
    });
  }

  void it("explains failures", () => {
    assert.equal(matchValue("available", "active"), 'expected "available", got "active"');
    assert.equal(matchValue(1, undefined), "expected 1, got missing");
    assert.equal(matchValue("array:length:2", [1]), "expected array of length 2, got length 1");
    assert.equal(matchValue([1, 2], [1, 3]), "[1]: expected 2, got 3");
    assert.equal(matchValue({ a: { b: 1 } }, { a: { b: 2 } }), ".a: .b: expected 1, got 2");
    assert.equal(matchValue({ $exists: true, $type: "string" }, 5), "expected type string, got number 5");
    assert.equal(matchValue("~1000", 2000), "expected ~1000 (±500), got 2000");
  });

  void it("reports invalid operands", () => {
    assert.match(matchValue({ $match: "(" }, "x") ?? "", /invalid regex/);
    assert.match(matchValue({ $exists: "yes" }, "x") ?? "", /invalid \$exists/);
    assert.match(matchValue({ $size: "big" }, []) ?? "", /invalid \$size/);
    assert.match(matchValue({ $gte: "1" }, 1) ?? "", /invalid \$gte/);
  });
});

void describe("matchStatus", () => {
  const statusCases: [Json, number, boolean][] = [
    [201, 201, true],
    [201, 200, false],
    ["201", 201, true],
    ["one_of:400,422", 422, true],
    ["one_of:400, 422", 400, true],
    ["one_of:400,422", 404, false],
    ["number:range(400,422)", 409, true],
    ["number:range(400,422)", 500, false],
    ["number:positive", 204, true],
    [{ $in: [200, 204] }, 204, true],
    [{ $in: [200, 204] }, 404, false],
  ];
  for (const [matcher, status, pass] of statusCases) {
    void it(`${JSON.stringify(matcher)} ${pass ? "accepts" : "rejects"} ${status}`, () => {
      const failure = matchStatus(matcher, status);
      if (pass) assert.equal(failure, undefined);
      else assert.equal(typeof failure, "string");
    });
  }

  void it("explains failures", () => {
    assert.equal(matchStatus(201, 500), "expected status 201, got 500");
    assert.equal(matchStatus("one_of:400,422", 404), "expected status one of 400, 422, got 404");
    assert.match(matchStatus("one_of:4x", 404) ?? "", /invalid status matcher/);
  });

  void it("handles status_in", () => {
    assert.equal(matchStatusIn([200, 409], 409), undefined);
    assert.equal(matchStatusIn([200, 409], 404), "expected status in [200, 409], got 404");
    assert.match(matchStatusIn("x", 404) ?? "", /invalid status_in/);
  });
});

function response(body: Json | undefined, extra: Partial<ResponseRecord> = {}): ResponseRecord {
  return {
    status: 200,
    headers: { "content-type": "application/openjobspec+json", "ojs-version": "1.0" },
    text: body === undefined ? "" : JSON.stringify(body),
    body,
    durationMs: 12,
    ...extra,
  };
}

const noSteps: TemplateContext = new Map();
const lenient = { strictBody: false };

void describe("checkBody", () => {
  const body: JsonObject = { job: { id: "j1", state: "available", attempt: 0 }, jobs: [] };

  void it("passes when every entry matches", () => {
    const assertions = {
      "$.job.id": "j1",
      "$.job.state": "available",
      "$.job.attempt": 0,
      "$.job.error": "absent",
    };
    assert.deepEqual(checkBody(assertions, response(body), noSteps, lenient), []);
  });

  void it("reports each failing entry with its path", () => {
    const failures = checkBody(
      { "$.job.state": "active", "$.job.attempt": 1 },
      response(body),
      noSteps,
      lenient,
    );
    assert.deepEqual(failures, [
      'body $.job.state: expected "active", got "available"',
      "body $.job.attempt: expected 1, got 0",
    ]);
  });

  void it("fails unresolvable paths unless the matcher is absent", () => {
    assert.deepEqual(checkBody({ "$.jobs[0].id": "absent" }, response(body), noSteps, lenient), []);
    const failures = checkBody({ "$.jobs[0].id": "any" }, response(body), noSteps, lenient);
    assert.equal(failures.length, 1);
    assert.match(failures[0] ?? "", /^body \$\.jobs\[0\]\.id: cannot resolve: index \[0\] out of range/);
  });

  void it("resolves templates in keys and matchers", () => {
    const context: TemplateContext = new Map([["step-1", { body: { job: { id: "b" } } }]]);
    const doc = {
      jobs: [
        { id: "a", state: "active" },
        { id: "b", state: "completed" },
      ],
    };
    const assertions = {
      "$.jobs[?(@.id=='{{steps.step-1.response.body.job.id}}')].state": "completed",
      "$.jobs[1].id": "{{steps.step-1.response.body.job.id}}",
    };
    assert.deepEqual(checkBody(assertions, response(doc), context, lenient), []);
    assert.equal(
      checkBody({ "$.jobs[0].id": "{{steps.step-1.response.body.job.id}}" }, response(doc), context, lenient)
        .length,
      1,
    );
  });

  void it("passes a top-level $or when any alternative fully matches", () => {
    const or = {
      $or: [
        { "$.job.state": { $in: ["completed", "cancelled"] } },
        { "$.error.code": { $in: ["invalid_request", "conflict"] }, "$.error.message": { $exists: true } },
      ],
    };
    assert.deepEqual(checkBody(or, response({ job: { state: "cancelled" } }), noSteps, lenient), []);
    assert.deepEqual(
      checkBody(or, response({ error: { code: "conflict", message: "no" } }), noSteps, lenient),
      [],
    );
    // second alternative only half matches
    const failures = checkBody(or, response({ error: { code: "conflict" } }), noSteps, lenient);
    assert.equal(failures.length, 1);
    assert.match(
      failures[0] ?? "",
      /^body \$or: no alternative matched \(body \$\.job\.state: .*; body \$\.error\.message: expected a value, got missing\)$/,
    );
  });

  void it("treats a $empty alternative as 'the body is empty'", () => {
    const or = { $or: [{ "$.jobs": { $size: 0 } }, { $empty: true }] };
    assert.deepEqual(checkBody(or, response({ jobs: [] }), noSteps, lenient), []);
    assert.deepEqual(checkBody(or, response(undefined, { status: 204 }), noSteps, lenient), []);
    assert.deepEqual(checkBody(or, response({}), noSteps, lenient), []);
    assert.equal(checkBody(or, response({ jobs: [{ id: "x" }] }), noSteps, lenient).length, 1);
  });

  void it("skips entries on non-object bodies unless strict", () => {
    const assertions = { "$.job.id": "j1" };
    assert.deepEqual(checkBody(assertions, response(undefined), noSteps, lenient), []);
    assert.deepEqual(checkBody(assertions, response([1, 2]), noSteps, lenient), []);
    const strict = checkBody(assertions, response(undefined, { text: "oops" }), noSteps, {
      strictBody: true,
    });
    assert.deepEqual(strict, ['body $.job.id: response body is not a JSON object: "oops"']);
  });

  void it("ignores unknown operator keys", () => {
    assert.deepEqual(checkBody({ $comment: "x", "$.job.id": "j1" }, response(body), noSteps, lenient), []);
  });
});

void describe("checkHeaders", () => {
  const res = response({});
  void it("compares exact values case-insensitively by name", () => {
    assert.deepEqual(
      checkHeaders({ "Content-Type": "application/openjobspec+json", "OJS-Version": "1.0" }, res, noSteps),
      [],
    );
    assert.deepEqual(checkHeaders({ "OJS-Version": "1.0.0" }, res, noSteps), [
      'header OJS-Version: expected "1.0.0", got "1.0"',
    ]);
  });
  void it("supports $match and $eq", () => {
    assert.deepEqual(
      checkHeaders({ "Content-Type": { $match: "application/(openjobspec\\+)?json" } }, res, noSteps),
      [],
    );
    assert.deepEqual(checkHeaders({ "OJS-Version": { $eq: "1.0" } }, res, noSteps), []);
    assert.equal(checkHeaders({ "Content-Type": { $match: "^text/" } }, res, noSteps).length, 1);
  });
  void it("fails on a missing header", () => {
    assert.deepEqual(checkHeaders({ "X-Request-Id": "r1" }, res, noSteps), [
      'header X-Request-Id: expected "r1", got <missing>',
    ]);
  });
});

void describe("checkTiming", () => {
  void it("checks less_than, greater_than and approximate with tolerance", () => {
    assert.deepEqual(checkTiming({ less_than: 100 }, 99, 50), []);
    assert.deepEqual(checkTiming({ less_than: 100 }, 100, 50), ["timing: expected < 100 ms, took 100 ms"]);
    assert.deepEqual(checkTiming({ greater_than: 100 }, 101, 50), []);
    assert.deepEqual(checkTiming({ greater_than: 100 }, 100, 50), ["timing: expected > 100 ms, took 100 ms"]);
    assert.deepEqual(checkTiming({ approximate: 1000 }, 1500, 50), []);
    assert.deepEqual(checkTiming({ approximate: 1000 }, 1501, 50), [
      "timing: expected ~1000 ms (±500), took 1501 ms",
    ]);
    assert.deepEqual(checkTiming({ approximate: 1000 }, 1200, 10), [
      "timing: expected ~1000 ms (±100), took 1200 ms",
    ]);
    // minimum tolerance of 100 ms
    assert.deepEqual(checkTiming({ approximate: 50 }, 140, 50), []);
  });
});

void describe("checkResponse", () => {
  const options = { tolerancePct: 50, strictBody: false };
  void it("combines status, body, body_absent, body_contains and headers", () => {
    const res = response({ job: { id: "j1", state: "available" } }, { status: 201 });
    const assertions: JsonObject = {
      status: 201,
      status_in: [200, 201],
      body: { "$.job.state": "available" },
      body_absent: ["$.job.error", "$.jobs[3]"],
      body_contains: ['"state":"available"'],
      headers: { "OJS-Version": "1.0" },
      timing_ms: { less_than: 30000 },
    };
    assert.deepEqual(checkResponse(assertions, res, noSteps, options), []);
  });

  void it("collects every failure and shows the body with a status failure", () => {
    const res = response({ error: { code: "not_found" } }, { status: 404 });
    const failures = checkResponse(
      { status: 200, body_absent: ["$.error"], body_contains: ["job"], body_raw: "x" },
      res,
      noSteps,
      options,
    );
    assert.deepEqual(failures, [
      'expected status 200, got 404 — body: {"error":{"code":"not_found"}}',
      'body $.error: expected absent, got {"code":"not_found"}',
      'body: expected to contain "job", got "{\\"error\\":{\\"code\\":\\"not_found\\"}}"',
      'unsupported assertion "body_raw"',
    ]);
  });

  void it("accepts status_one_of as status_in and ignores *_comment notes", () => {
    const assertions = { status_one_of: [200, 404], headers_comment: "a note" };
    assert.deepEqual(checkResponse(assertions, response({}), noSteps, options), []);
  });

  void it("leaves cross-step keys to the ASSERT evaluation", () => {
    assert.deepEqual(
      checkResponse({ equality: {}, exclusive_claim: {} }, response({}), noSteps, options),
      [],
    );
  });
});
