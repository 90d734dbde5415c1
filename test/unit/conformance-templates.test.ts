import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkEquality, checkExclusiveClaim } from "../../conformance/runner/cross-step.js";
import type { ResponseRecord } from "../../conformance/runner/http.js";
import type { Json } from "../../conformance/runner/json.js";
import type { TemplateContext } from "../../conformance/runner/templates.js";
import {
  renderJson,
  renderString,
  resolveTemplateValue,
  unresolvedTemplates,
} from "../../conformance/runner/templates.js";

const context: TemplateContext = new Map<string, { body: Json | undefined }>([
  [
    "step-1",
    {
      body: {
        job: {
          id: "0196-a",
          attempt: 2,
          priority: -5,
          ratio: 1.5,
          ok: true,
          meta: { k: "v" },
          tags: ["a", "b"],
          none: null,
        },
        jobs: [{ id: "first" }, { id: "second" }],
      },
    },
  ],
  ["step-2", { body: { workflow: { id: "wf-1" } } }],
  ["step-204", { body: undefined }],
]);

void describe("renderString", () => {
  const cases: [string, string][] = [
    ["{{steps.step-1.response.body.job.id}}", "0196-a"],
    ["/ojs/v1/jobs/{{steps.step-1.response.body.job.id}}", "/ojs/v1/jobs/0196-a"],
    ["/ojs/v1/workflows/{{steps.step-2.response.body.workflow.id}}?x=1", "/ojs/v1/workflows/wf-1?x=1"],
    // integers without decimals, floats and booleans as text
    ["attempt={{steps.step-1.response.body.job.attempt}}", "attempt=2"],
    ["{{steps.step-1.response.body.job.priority}}", "-5"],
    ["{{steps.step-1.response.body.job.ratio}}", "1.5"],
    ["{{steps.step-1.response.body.job.ok}}", "true"],
    // objects and arrays as JSON
    ["{{steps.step-1.response.body.job.meta}}", '{"k":"v"}'],
    ["{{steps.step-1.response.body.job.tags}}", '["a","b"]'],
    // indexes and several templates in one string
    ["{{steps.step-1.response.body.jobs[1].id}}", "second"],
    ["{{steps.step-1.response.body.jobs[0].id}}/{{steps.step-2.response.body.workflow.id}}", "first/wf-1"],
    // a template inside a JSONPath filter
    ["$.jobs[?(@.id=='{{steps.step-1.response.body.job.id}}')].state", "$.jobs[?(@.id=='0196-a')].state"],
    // unresolvable templates stay as they are
    ["{{steps.step-9.response.body.job.id}}", "{{steps.step-9.response.body.job.id}}"],
    ["{{steps.step-1.response.body.job.missing}}", "{{steps.step-1.response.body.job.missing}}"],
    ["{{steps.step-1.response.body.job.none}}", "{{steps.step-1.response.body.job.none}}"],
    ["{{steps.step-1.response.body.jobs[5].id}}", "{{steps.step-1.response.body.jobs[5].id}}"],
    ["{{steps.step-204.response.body.jobs}}", "{{steps.step-204.response.body.jobs}}"],
    ["no templates here", "no templates here"],
    ["{{ not a template }}", "{{ not a template }}"],
  ];
  for (const [input, expected] of cases) {
    void it(`renders ${input}`, () => {
      assert.equal(renderString(input, context), expected);
    });
  }
});

void describe("renderJson", () => {
  void it("renders strings and keys deep inside a body, keeping other values", () => {
    const body: Json = {
      job_id: "{{steps.step-1.response.body.job.id}}",
      result: { echoed: true, n: 3, list: ["{{steps.step-2.response.body.workflow.id}}", null] },
      "{{steps.step-1.response.body.job.id}}": 1,
      attempt: "{{steps.step-1.response.body.job.attempt}}",
    };
    assert.deepEqual(renderJson(body, context), {
      job_id: "0196-a",
      result: { echoed: true, n: 3, list: ["wf-1", null] },
      "0196-a": 1,
      attempt: "2",
    });
  });
});

void describe("resolveTemplateValue", () => {
  void it("returns the referenced value with its type for a whole template", () => {
    assert.deepEqual(resolveTemplateValue("{{steps.step-1.response.body.job.attempt}}", context), {
      ok: true,
      value: 2,
    });
    assert.deepEqual(resolveTemplateValue("{{steps.step-1.response.body.jobs}}", context), {
      ok: true,
      value: [{ id: "first" }, { id: "second" }],
    });
    assert.deepEqual(resolveTemplateValue("{{steps.step-2.response.body}}", context), {
      ok: true,
      value: { workflow: { id: "wf-1" } },
    });
  });

  void it("renders mixed text", () => {
    assert.deepEqual(resolveTemplateValue("id={{steps.step-2.response.body.workflow.id}}", context), {
      ok: true,
      value: "id=wf-1",
    });
  });

  void it("distinguishes a missing value from an unknown step", () => {
    const missing = resolveTemplateValue("{{steps.step-204.response.body.jobs}}", context);
    assert.equal(missing.ok, false);
    assert.equal(!missing.ok && missing.missing, true);
    const unknown = resolveTemplateValue("{{steps.nope.response.body.jobs}}", context);
    assert.deepEqual(unknown, { ok: false, error: 'step "nope" has not run', missing: false });
  });

  void it("lists unresolved templates", () => {
    assert.deepEqual(unresolvedTemplates("/x/{{steps.a.response.body.id}}/{{steps.b.response.body}}"), [
      "{{steps.a.response.body.id}}",
      "{{steps.b.response.body}}",
    ]);
    assert.deepEqual(unresolvedTemplates("/x/1"), []);
  });
});

function rec(body: Json | undefined, status = 200): ResponseRecord {
  return { status, headers: {}, text: body === undefined ? "" : JSON.stringify(body), body, durationMs: 1 };
}

const JOB = "{{steps.step-1.response.body.job.id}}";
const claim = {
  job_id: JOB,
  fetches: ["{{steps.step-2.response.body.jobs}}", "{{steps.step-3.response.body.jobs}}"],
  exactly_one_has_job: true,
  exactly_one_empty: true,
};

void describe("exclusive_claim", () => {
  const enqueued = rec({ job: { id: "J" } }, 201);
  void it("passes when exactly one fetch got the job and the other none", () => {
    const results = new Map([
      ["step-1", enqueued],
      ["step-2", rec({ jobs: [] })],
      ["step-3", rec({ jobs: [{ id: "J" }] })],
    ]);
    assert.deepEqual(checkExclusiveClaim(claim, results), []);
  });

  void it("treats a fetch without body (204) as empty", () => {
    const results = new Map([
      ["step-1", enqueued],
      ["step-2", rec({ jobs: [{ id: "J" }] })],
      ["step-3", rec(undefined, 204)],
    ]);
    assert.deepEqual(checkExclusiveClaim(claim, results), []);
  });

  void it("fails when both fetches got the job", () => {
    const results = new Map([
      ["step-1", enqueued],
      ["step-2", rec({ jobs: [{ id: "J" }] })],
      ["step-3", rec({ jobs: [{ id: "J" }] })],
    ]);
    assert.deepEqual(checkExclusiveClaim(claim, results), [
      "exclusive_claim: job J was received by 2 of 2 fetches, expected exactly 1 (fetch 1: [J], fetch 2: [J])",
      "exclusive_claim: expected every fetch except the claiming one to be empty, 0 of 2 were (fetch 1: [J], fetch 2: [J])",
    ]);
  });

  void it("fails when nobody got the job", () => {
    const results = new Map([
      ["step-1", enqueued],
      ["step-2", rec({ jobs: [] })],
      ["step-3", rec({ jobs: [{ id: "OTHER" }] })],
    ]);
    const failures = checkExclusiveClaim(claim, results);
    assert.equal(failures.length, 1);
    assert.match(failures[0] ?? "", /received by 0 of 2 fetches/);
  });

  void it("fails on a fetch step that did not run", () => {
    const results = new Map([
      ["step-1", enqueued],
      ["step-2", rec({ jobs: [] })],
    ]);
    assert.deepEqual(checkExclusiveClaim(claim, results), [
      'exclusive_claim: fetch 2: step "step-3" has not run',
    ]);
  });
});

void describe("equality", () => {
  const spec = {
    "$.steps.step-2.response.body": "{{steps.step-3.response.body}}",
    "$.steps.step-3.response.body": "{{steps.step-4.response.body}}",
  };
  const job = { job: { id: "J", state: "available", attempt: 0, meta: { a: 1, b: 2 } } };

  void it("passes when the referenced bodies are deep-equal (key order ignored)", () => {
    const reordered = { job: { meta: { b: 2, a: 1 }, attempt: 0, state: "available", id: "J" } };
    const results = new Map([
      ["step-2", rec(job)],
      ["step-3", rec(reordered)],
      ["step-4", rec(job)],
    ]);
    assert.deepEqual(checkEquality(spec, results), []);
  });

  void it("names the first difference", () => {
    const changed = { job: { ...job.job, attempt: 1 } };
    const results = new Map([
      ["step-2", rec(job)],
      ["step-3", rec(job)],
      ["step-4", rec(changed)],
    ]);
    assert.deepEqual(
      checkEquality(spec, results),
      [
        '$.steps.step-3.response.body == "{{steps.step-4.response.body}}": differ at $.job.attempt: 0 vs 1',
      ].map((m) => `equality ${m}`),
    );
  });

  void it("compares statuses and literals too", () => {
    const results = new Map([["step-2", rec(job, 201)]]);
    assert.deepEqual(checkEquality({ "$.steps.step-2.response.status": 201 }, results), []);
    assert.equal(checkEquality({ "$.steps.step-2.response.status": 200 }, results).length, 1);
  });

  void it("fails when an operand cannot be resolved", () => {
    const failures = checkEquality(spec, new Map([["step-2", rec(job)]]));
    assert.equal(failures.length, 2);
    assert.match(failures[0] ?? "", /cannot resolve: step "step-3" has not run/);
  });
});
