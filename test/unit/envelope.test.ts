import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { DEFAULT_QUEUE, normalizeRetryPolicy, parseEnqueueRequest } from "../../src/core/envelope.js";
import { ErrorCode, ValidationError, httpStatusFor } from "../../src/core/errors.js";
import { defaultRetryPolicy } from "../../src/core/retry.js";
import { jobTypePattern, queueNamePattern } from "../../src/core/schema.js";

const NOW = Date.UTC(2026, 1, 12, 10, 30, 0);
const V7 = "01966f3c-8a2b-7cde-9f01-23456789abcd";

function job(
  extra: Record<string, unknown> = {},
  options?: Record<string, unknown>,
): Record<string, unknown> {
  const body: Record<string, unknown> = { type: "email.send", args: ["a@example.com"], ...extra };
  if (options !== undefined) body.options = options;
  return body;
}

function errorOf(body: unknown): ValidationError {
  try {
    parseEnqueueRequest(body, NOW);
  } catch (err) {
    assert.ok(err instanceof ValidationError, `not a ValidationError: ${String(err)}`);
    return err;
  }
  assert.fail(`accepted ${JSON.stringify(body)}`);
}

function rejects(body: unknown, code: ErrorCode, mentions?: string): void {
  const err = errorOf(body);
  assert.equal(err.code, code, err.message);
  if (mentions !== undefined) assert.ok(err.message.includes(mentions), err.message);
}

describe("parseEnqueueRequest: valid jobs", () => {
  it("accepts a minimal job with defaults", () => {
    assert.deepEqual(parseEnqueueRequest({ type: "email.send", args: [] }, NOW), {
      queue: DEFAULT_QUEUE,
      priority: 0,
      spec: { type: "email.send", args: [] },
    });
    assert.equal(DEFAULT_QUEUE, "default");
  });

  it("keeps args as given", () => {
    const args = [1, "two", { three: [3] }, null, true];
    assert.deepEqual(parseEnqueueRequest({ type: "x", args }, NOW).spec.args, args);
  });

  it("normalizes a full job", () => {
    const r = parseEnqueueRequest(
      {
        id: V7,
        type: "report.generate",
        args: [{ month: "2026-01" }],
        meta: { trace_id: "t1" },
        schema: "urn:x",
        options: {
          queue: "reports.high",
          priority: 10,
          timeout_ms: 30_000,
          visibility_timeout: "PT45S",
          retry: {
            max_attempts: 5,
            initial_interval: "PT2S",
            backoff_coefficient: 3,
            max_interval: "PT1M",
            jitter: false,
            non_retryable_errors: ["Auth.*"],
            on_exhaustion: "dead_letter",
            backoff_strategy: "linear",
          },
          unique: { keys: ["type", "args"], period: "PT1H", on_conflict: "ignore", states: ["available"] },
          tags: ["t"],
          metadata: { m: 1 },
          expires_at: "2026-02-13T10:30:00Z",
          scheduled_at: "2026-02-12T11:30:00Z",
        },
      },
      NOW,
    );
    assert.deepEqual(r, {
      queue: "reports.high",
      priority: 10,
      runAtMs: NOW + 3_600_000,
      spec: {
        id: V7,
        type: "report.generate",
        args: [{ month: "2026-01" }],
        meta: { trace_id: "t1" },
        schema: "urn:x",
        timeoutMs: 30_000,
        visibilityMs: 45_000,
        retry: {
          maxAttempts: 5,
          initialIntervalMs: 2000,
          backoffCoefficient: 3,
          maxIntervalMs: 60_000,
          jitter: false,
          nonRetryableErrors: ["Auth.*"],
          onExhaustion: "dead_letter",
          strategy: "linear",
        },
        unique: { keys: ["type", "args"], onConflict: "ignore", periodMs: 3_600_000, states: ["available"] },
        tags: ["t"],
        metadata: { m: 1 },
        expiresAt: NOW + 86_400_000,
        scheduledAt: NOW + 3_600_000,
      },
    });
  });

  it("keeps unknown top-level fields in spec.ext", () => {
    const r = parseEnqueueRequest(job({ specversion: "1.0", x_custom: { a: [1] }, n: 0 }), NOW);
    assert.deepEqual(r.spec.ext, { specversion: "1.0", x_custom: { a: [1] }, n: 0 });
    assert.equal(r.spec.type, "email.send");
  });

  it("has no spec.ext when there are no unknown fields", () => {
    assert.equal("ext" in parseEnqueueRequest(job({ meta: {} }), NOW).spec, false);
  });

  it("accepts the retry_policy / backoff_type / *_ms aliases", () => {
    const r = parseEnqueueRequest(
      job(
        {},
        {
          retry_policy: { initial_interval_ms: 500, max_interval_ms: 5000, backoff_type: "constant" },
          visibility_timeout_ms: 1234,
        },
      ),
      NOW,
    );
    assert.deepEqual(r.spec.retry, {
      ...defaultRetryPolicy(),
      initialIntervalMs: 500,
      maxIntervalMs: 5000,
      strategy: "constant",
    });
    assert.equal(r.spec.visibilityMs, 1234);
  });

  it("prefers options.retry over options.retry_policy", () => {
    const r = parseEnqueueRequest(
      job({}, { retry: { max_attempts: 7 }, retry_policy: { max_attempts: 2 } }),
      NOW,
    );
    assert.equal(r.spec.retry?.maxAttempts, 7);
  });

  it("fills unique defaults and accepts the key alias", () => {
    assert.deepEqual(parseEnqueueRequest(job({}, { unique: {} }), NOW).spec.unique, {
      keys: ["type", "args"],
      onConflict: "reject",
    });
    assert.deepEqual(parseEnqueueRequest(job({}, { unique: { key: ["queue"] } }), NOW).spec.unique, {
      keys: ["queue"],
      onConflict: "reject",
    });
  });

  it("sets pending only when true", () => {
    assert.equal(parseEnqueueRequest(job({}, { pending: true }), NOW).spec.pending, true);
    assert.equal("pending" in parseEnqueueRequest(job({}, { pending: false }), NOW).spec, false);
  });

  const goodTypes = [
    "email",
    "email.send",
    "dlq.test.list-first",
    "cleanup.old_data",
    "a1.b2.c3",
    "x-y_z.w",
    "a".repeat(255),
  ];
  for (const type of goodTypes) {
    it(`accepts type ${type.length > 20 ? `${type.slice(0, 8)}...(${type.length})` : type}`, () => {
      assert.equal(parseEnqueueRequest({ type, args: [] }, NOW).spec.type, type);
      assert.match(type, jobTypePattern);
    });
  }

  const goodQueues = ["default", "q", "0", "my-queue", "reports.high", "a1-b2.c3", "9lives"];
  for (const queue of goodQueues) {
    it(`accepts queue ${queue}`, () => {
      assert.equal(parseEnqueueRequest(job({}, { queue }), NOW).queue, queue);
      assert.match(queue, queueNamePattern);
    });
  }

  for (const priority of [-100, -1, 0, 1, 100]) {
    it(`accepts priority ${priority}`, () => {
      assert.equal(parseEnqueueRequest(job({}, { priority }), NOW).priority, priority);
    });
  }
});

describe("parseEnqueueRequest: invalid envelopes (invalid_request, HTTP 400)", () => {
  const badBodies: Array<[string, unknown]> = [
    ["null", null],
    ["undefined", undefined],
    ["an array", [{ type: "a", args: [] }]],
    ["a string", '{"type":"a","args":[]}'],
    ["a number", 42],
    ["true", true],
  ];
  for (const [name, body] of badBodies) {
    it(`rejects a body that is ${name}`, () => {
      rejects(body, ErrorCode.InvalidRequest, "JSON object");
      assert.equal(httpStatusFor(errorOf(body).code), 400);
    });
  }

  const badTypes: unknown[] = [
    "Email.Send",
    "email send",
    "1email",
    "",
    "email@send!",
    "email.",
    ".email",
    "email..send",
    "email.1send",
    "-email",
    "_email",
    "émail",
    "a".repeat(256),
    42,
    null,
  ];
  for (const type of badTypes) {
    it(`rejects type ${JSON.stringify(type)?.slice(0, 30)}`, () => {
      rejects({ type, args: [] }, ErrorCode.InvalidRequest, "type");
    });
  }

  it("rejects a missing type", () => rejects({ args: [] }, ErrorCode.InvalidRequest, "type"));

  const badQueues: unknown[] = [
    "Default",
    "my_queue!",
    "my_queue",
    "-invalid",
    ".invalid",
    "my queue",
    "",
    "q".repeat(129),
    5,
  ];
  for (const queue of badQueues) {
    it(`rejects queue ${JSON.stringify(queue)?.slice(0, 30)}`, () => {
      rejects(job({}, { queue }), ErrorCode.InvalidRequest, "options.queue");
    });
  }

  const badArgs: Array<[string, unknown]> = [
    ["missing", undefined],
    ["an object", { to: "x" }],
    ["a string", "x"],
    ["null", null],
    ["a number", 1],
  ];
  for (const [name, args] of badArgs) {
    it(`rejects args that is ${name}`, () => {
      const body: Record<string, unknown> = { type: "a" };
      if (args !== undefined) body.args = args;
      rejects(body, ErrorCode.InvalidRequest, "args");
    });
  }

  const badIds: unknown[] = [
    "",
    "9b2f0c1e-5d6a-4b7c-8d9e-0f1a2b3c4d5e",
    V7.toUpperCase(),
    "01966f3c-8a2b-7cde-cf01-23456789abcd",
    "01966f3c8a2b7cde9f0123456789abcd",
    `{${V7}}`,
    123,
  ];
  for (const id of badIds) {
    it(`rejects id ${JSON.stringify(id)}`, () => {
      rejects(job({ id }), ErrorCode.InvalidRequest, "id");
    });
  }

  it("accepts a lowercase UUIDv7 id", () => {
    assert.equal(parseEnqueueRequest(job({ id: V7 }), NOW).spec.id, V7);
  });

  for (const priority of [-101, 101, 1.5, "1", 1000]) {
    it(`rejects priority ${JSON.stringify(priority)}`, () => {
      rejects(job({}, { priority }), ErrorCode.InvalidRequest, "priority");
    });
  }

  const badOptions: Array<[string, Record<string, unknown>, string]> = [
    ["timeout_ms 0", { timeout_ms: 0 }, "options.timeout_ms"],
    ["timeout_ms 1.5", { timeout_ms: 1.5 }, "options.timeout_ms"],
    ["visibility_timeout_ms 0", { visibility_timeout_ms: 0 }, "options.visibility_timeout_ms"],
    ["visibility_timeout 30s", { visibility_timeout: "30s" }, "options.visibility_timeout"],
    ["tags not an array", { tags: "t" }, "options.tags"],
    ["metadata not an object", { metadata: [1] }, "options.metadata"],
    ["unique.on_conflict bogus", { unique: { on_conflict: "bogus" } }, "options.unique.on_conflict"],
    ["unique.period bad", { unique: { period: "1h" } }, "options.unique.period"],
    ["scheduled_at empty", { scheduled_at: "" }, "options.scheduled_at"],
  ];
  for (const [name, options, mentions] of badOptions) {
    it(`rejects ${name}`, () => rejects(job({}, options), ErrorCode.InvalidRequest, mentions));
  }

  it("rejects meta that is not an object", () =>
    rejects(job({ meta: [1] }), ErrorCode.InvalidRequest, "meta"));

  it("lists every zod issue in details", () => {
    const err = errorOf({ type: "Bad", args: "x" });
    const issues = (err.details?.issues ?? []) as Array<{ path: string }>;
    assert.deepEqual(issues.map((i) => i.path).sort(), ["args", "type"]);
  });
});

describe("parseEnqueueRequest: retry policy (validation_error, HTTP 422)", () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ["max_attempts -1", { max_attempts: -1 }, "max_attempts"],
    ["max_attempts 1.5", { max_attempts: 1.5 }, "max_attempts"],
    ["max_attempts 1001", { max_attempts: 1001 }, "max_attempts"],
    ["backoff_coefficient 0.5", { backoff_coefficient: 0.5 }, "backoff_coefficient"],
    ["backoff_coefficient 0", { backoff_coefficient: 0 }, "backoff_coefficient"],
    ["backoff_coefficient 101", { backoff_coefficient: 101 }, "backoff_coefficient"],
    ["initial_interval 1s", { initial_interval: "1s" }, "initial_interval"],
    ["initial_interval PT", { initial_interval: "PT" }, "initial_interval"],
    ["max_interval P1M", { max_interval: "P1M" }, "max_interval"],
    ["initial_interval_ms -1", { initial_interval_ms: -1 }, "initial_interval_ms"],
    ["on_exhaustion bogus", { on_exhaustion: "bogus" }, "on_exhaustion"],
    ["backoff_strategy bogus", { backoff_strategy: "fibonacci" }, "backoff_strategy"],
    ["jitter not boolean", { jitter: "yes" }, "jitter"],
    ["max_interval < initial_interval", { initial_interval: "PT10S", max_interval: "PT5S" }, "max_interval"],
  ];
  for (const [name, retry, mentions] of cases) {
    it(`rejects ${name}`, () => {
      const err = errorOf(job({}, { retry }));
      assert.equal(err.code, ErrorCode.ValidationError, err.message);
      assert.equal(httpStatusFor(err.code), 422);
      assert.ok(err.message.includes(mentions), err.message);
    });
    it(`rejects ${name} under retry_policy too`, () => {
      rejects(job({}, { retry_policy: retry }), ErrorCode.ValidationError, mentions);
    });
  }

  it("accepts max_interval equal to initial_interval", () => {
    const r = parseEnqueueRequest(
      job({}, { retry: { initial_interval: "PT5S", max_interval: "PT5S" } }),
      NOW,
    );
    assert.equal(r.spec.retry?.maxIntervalMs, 5000);
    assert.equal(r.spec.retry?.initialIntervalMs, 5000);
  });
});

describe("normalizeRetryPolicy", () => {
  it("fills defaults for an empty policy", () => {
    assert.deepEqual(normalizeRetryPolicy({}), defaultRetryPolicy());
  });

  it("prefers *_ms fields over ISO durations", () => {
    const p = normalizeRetryPolicy({
      initial_interval_ms: 100,
      initial_interval: "PT9S",
      max_interval_ms: 200,
      max_interval: "PT10S",
    });
    assert.equal(p.initialIntervalMs, 100);
    assert.equal(p.maxIntervalMs, 200);
  });

  it("throws validation_error for an unparsable duration", () => {
    assert.throws(
      () => normalizeRetryPolicy({ initial_interval: "soon" }),
      (e: unknown) => e instanceof ValidationError && e.code === ErrorCode.ValidationError,
    );
  });
});

describe("parseEnqueueRequest: times", () => {
  const future = "2026-02-12T10:31:00Z";
  const past = "2026-02-12T10:29:00Z";

  it("scheduled_at in the future sets runAtMs and spec.scheduledAt", () => {
    const r = parseEnqueueRequest(job({}, { scheduled_at: future }), NOW);
    assert.equal(r.runAtMs, NOW + 60_000);
    assert.equal(r.spec.scheduledAt, NOW + 60_000);
  });

  it("delay_until in the future sets runAtMs and spec.scheduledAt", () => {
    const r = parseEnqueueRequest(job({}, { delay_until: future }), NOW);
    assert.equal(r.runAtMs, NOW + 60_000);
    assert.equal(r.spec.scheduledAt, NOW + 60_000);
  });

  it("scheduled_at wins over delay_until", () => {
    const r = parseEnqueueRequest(job({}, { scheduled_at: future, delay_until: "+PT1H" }), NOW);
    assert.equal(r.runAtMs, NOW + 60_000);
  });

  for (const when of [past, "2026-02-12T10:30:00Z", "+PT0S"]) {
    it(`scheduled_at ${when} (not in the future) runs now`, () => {
      const r = parseEnqueueRequest(job({}, { scheduled_at: when }), NOW);
      assert.equal("runAtMs" in r, false);
      assert.equal("scheduledAt" in r.spec, false);
    });
  }

  it("relative +PT5S schedules 5 s after nowMs", () => {
    const r = parseEnqueueRequest(job({}, { scheduled_at: "+PT5S" }), NOW);
    assert.equal(r.runAtMs, NOW + 5000);
    assert.equal(r.spec.scheduledAt, NOW + 5000);
  });

  it("scheduled_at with an offset", () => {
    const r = parseEnqueueRequest(job({}, { scheduled_at: "2026-02-12T12:31:00+02:00" }), NOW);
    assert.equal(r.runAtMs, NOW + 60_000);
  });

  it("parses expires_at (absolute and relative) without scheduling", () => {
    const a = parseEnqueueRequest(job({}, { expires_at: "2026-02-12T11:30:00.500Z" }), NOW);
    assert.equal(a.spec.expiresAt, NOW + 3_600_500);
    assert.equal("runAtMs" in a, false);
    const b = parseEnqueueRequest(job({}, { expires_at: "+PT1M" }), NOW);
    assert.equal(b.spec.expiresAt, NOW + 60_000);
  });

  const badTimes: Array<[string, string]> = [
    ["scheduled_at", "tomorrow"],
    ["scheduled_at", "2026-02-12"],
    ["delay_until", "+5s"],
    ["expires_at", "2026-02-12T10:30:00"],
    ["expires_at", "+P1M"],
  ];
  for (const [field, text] of badTimes) {
    it(`rejects ${field} ${text} naming the field`, () => {
      const err = errorOf(job({}, { [field]: text }));
      assert.equal(err.code, ErrorCode.InvalidRequest);
      assert.ok(err.message.includes(`options.${field}`), err.message);
      assert.deepEqual(err.details, { field: `options.${field}` });
    });
  }
});

describe("parseEnqueueRequest: edge cases", () => {
  // visibility_timeout_ms must be >= 1, so the ISO form "PT0S" must be refused too (a zero lease
  // would already have run out when the job is claimed).
  it("rejects a zero visibility_timeout like visibility_timeout_ms 0", () => {
    const err = errorOf(job({}, { visibility_timeout: "PT0S" }));
    assert.ok(err.message.includes("visibility_timeout"), err.message);
  });
});

describe("retry policy validation", () => {
  const retry = (r: Record<string, unknown>) => job({}, { retry: r });

  it("refuses non_retryable_errors patterns that do not compile on their own (422)", () => {
    for (const pattern of ["x)|(.*", "(unclosed", "a".repeat(201)]) {
      const err = errorOf(retry({ non_retryable_errors: ["Auth.*", pattern] }));
      assert.equal(err.code, ErrorCode.ValidationError, pattern);
      assert.equal(httpStatusFor(err.code), 422);
      assert.ok(err.message.includes("non_retryable_errors[1]"), err.message);
    }
  });

  it("raises the default cap to a longer initial interval when max_interval is not given", () => {
    const p = parseEnqueueRequest(retry({ initial_interval: "PT10M" }), NOW).spec.retry!;
    assert.equal(p.initialIntervalMs, 600_000);
    assert.equal(p.maxIntervalMs, 600_000);
    const err = errorOf(retry({ initial_interval: "PT10M", max_interval: "PT1M" }));
    assert.equal(err.code, ErrorCode.ValidationError);
  });

  it("answers 400 when the first problem is not in the retry policy, 422 when it is", () => {
    const mixed = errorOf({ type: "Bad Type", args: [], options: { retry: { max_attempts: -1 } } });
    assert.equal(mixed.code, ErrorCode.InvalidRequest);
    const retryOnly = errorOf(retry({ max_attempts: -1 }));
    assert.equal(retryOnly.code, ErrorCode.ValidationError);
  });
});
