import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { ReportedError, RetryPolicy } from "../../src/core/retry.js";
import {
  BackoffStrategy,
  OnExhaustion,
  defaultRetryPolicy,
  isRetryableError,
  retryDelayMs,
} from "../../src/core/retry.js";

function policy(p: Partial<RetryPolicy> = {}): RetryPolicy {
  return { ...defaultRetryPolicy(), jitter: false, ...p };
}

const never = (): number => {
  throw new Error("random() must not be called without jitter");
};

describe("defaultRetryPolicy", () => {
  it("is the OJS default", () => {
    assert.deepEqual(defaultRetryPolicy(), {
      maxAttempts: 3,
      initialIntervalMs: 1000,
      backoffCoefficient: 2,
      maxIntervalMs: 300_000,
      jitter: true,
      nonRetryableErrors: [],
      onExhaustion: OnExhaustion.Discard,
      strategy: BackoffStrategy.Exponential,
    });
  });

  it("returns a fresh object each time", () => {
    const a = defaultRetryPolicy();
    a.nonRetryableErrors.push("x");
    assert.deepEqual(defaultRetryPolicy().nonRetryableErrors, []);
  });
});

describe("retryDelayMs without jitter", () => {
  // [strategy, initial, coefficient, max, attempt -> delay]
  const cases: Array<[BackoffStrategy, number, number, number, number, number]> = [
    ["exponential", 1000, 2, 300_000, 1, 1000],
    ["exponential", 1000, 2, 300_000, 2, 2000],
    ["exponential", 1000, 2, 300_000, 3, 4000],
    ["exponential", 1000, 2, 300_000, 4, 8000],
    ["exponential", 1000, 2, 300_000, 9, 256_000],
    ["exponential", 1000, 2, 300_000, 10, 300_000],
    ["exponential", 1000, 2, 300_000, 1000, 300_000],
    ["exponential", 1000, 3, 300_000, 3, 9000],
    ["exponential", 1000, 1.5, 300_000, 3, 2250],
    ["exponential", 1000, 1, 300_000, 7, 1000],
    ["exponential", 1000, 10, 2000, 2, 2000],
    ["exponential", 1000, 10, 2000, 1, 1000],
    ["exponential", 100, 2, 1_000_000, 0, 100],
    ["exponential", 100, 2, 1_000_000, -3, 100],
    ["exponential", 333, 1.1, 1_000_000, 2, 366],
    ["linear", 1000, 2, 300_000, 1, 1000],
    ["linear", 1000, 2, 300_000, 2, 2000],
    ["linear", 1000, 2, 300_000, 3, 3000],
    ["linear", 1000, 7, 300_000, 3, 3000],
    ["linear", 1000, 1, 2500, 3, 2500],
    ["linear", 1000, 1, 30_000, 0, 1000],
    ["constant", 1500, 2, 300_000, 1, 1500],
    ["constant", 1500, 2, 300_000, 5, 1500],
    ["constant", 1500, 10, 300_000, 50, 1500],
    ["constant", 5000, 1, 2000, 1, 2000],
    ["exponential", 0, 2, 300_000, 5, 0],
  ];
  for (const [strategy, initial, coef, max, attempt, expected] of cases) {
    it(`${strategy} initial=${initial} coef=${coef} max=${max} attempt=${attempt} -> ${expected}`, () => {
      const p = policy({
        strategy,
        initialIntervalMs: initial,
        backoffCoefficient: coef,
        maxIntervalMs: max,
      });
      assert.equal(retryDelayMs(p, attempt, never), expected);
    });
  }

  it("grows monotonically up to the cap", () => {
    const p = policy({ initialIntervalMs: 250, backoffCoefficient: 2, maxIntervalMs: 60_000 });
    let prev = 0;
    for (let a = 1; a <= 30; a++) {
      const d = retryDelayMs(p, a, never);
      assert.ok(d >= prev && d <= 60_000, `attempt ${a}: ${d}`);
      prev = d;
    }
    assert.equal(prev, 60_000);
  });

  // BUG: coefficient ** (attempt - 1) overflows to Infinity, and 0 * Infinity is NaN. The schema allows
  // initial_interval_ms 0, backoff_coefficient 100 and max_attempts 1000, so attempt 156 is reachable;
  // the NaN delay becomes a NaN retryAt/due time.
  it("stays finite when coefficient ** attempt overflows and the initial interval is 0", () => {
    const p = policy({ initialIntervalMs: 0, backoffCoefficient: 100, maxIntervalMs: 300_000 });
    assert.equal(retryDelayMs(p, 200, never), 0);
  });

  it("caps an overflowing exponential backoff at the max interval", () => {
    const p = policy({ initialIntervalMs: 1000, backoffCoefficient: 100, maxIntervalMs: 300_000 });
    assert.equal(retryDelayMs(p, 1000, never), 300_000);
  });
});

describe("retryDelayMs with jitter", () => {
  const justBelowOne = 1 - Number.EPSILON;
  // [strategy, attempt, random, expected]
  const cases: Array<[BackoffStrategy, number, number, number]> = [
    ["exponential", 1, 0, 500],
    ["exponential", 1, 0.5, 1000],
    ["exponential", 1, 0.25, 750],
    ["exponential", 1, justBelowOne, 1500],
    ["exponential", 3, 0, 2000],
    ["exponential", 3, justBelowOne, 6000],
    ["linear", 2, 0, 1000],
    ["linear", 2, 0.75, 2500],
    ["constant", 4, 0, 500],
    ["constant", 4, 0.999_999, 1500],
  ];
  for (const [strategy, attempt, r, expected] of cases) {
    it(`${strategy} attempt=${attempt} random=${r} -> ${expected}`, () => {
      const p = policy({ strategy, jitter: true, initialIntervalMs: 1000, backoffCoefficient: 2 });
      let calls = 0;
      const d = retryDelayMs(p, attempt, () => {
        calls++;
        return r;
      });
      assert.equal(d, expected);
      assert.equal(calls, 1);
    });
  }

  it("keeps every jittered delay in [0.5x, 1.5x) of the base delay", () => {
    const p = policy({
      jitter: true,
      initialIntervalMs: 1000,
      backoffCoefficient: 2,
      maxIntervalMs: 1_000_000,
    });
    for (let attempt = 1; attempt <= 8; attempt++) {
      const base = 1000 * 2 ** (attempt - 1);
      for (let k = 0; k < 100; k++) {
        const r = k / 100;
        const d = retryDelayMs(p, attempt, () => r);
        assert.equal(d, Math.round(base * (0.5 + r)));
        assert.ok(d >= base * 0.5 && d < base * 1.5, `attempt ${attempt} r ${r}: ${d}`);
      }
    }
  });

  it("uses Math.random by default and stays in range", () => {
    const p = policy({ jitter: true, initialIntervalMs: 10_000 });
    for (let k = 0; k < 500; k++) {
      const d = retryDelayMs(p, 1);
      assert.ok(d >= 5000 && d <= 15_000, String(d));
    }
  });
});

describe("isRetryableError", () => {
  // [patterns, error, retryable]
  const cases: Array<[string[], ReportedError, boolean]> = [
    [[], {}, true],
    [[], { type: "AnyError", message: "boom" }, true],
    [[], { type: "AnyError", retryable: false }, false],
    [[], { retryable: true }, true],
    [["Auth.*"], { type: "AuthError" }, false],
    [["Auth.*"], { type: "AuthenticationError" }, false],
    [["Auth.*"], { type: "Auth" }, false],
    [["Auth.*"], { type: "NotAuth" }, true],
    [["Auth.*"], { type: "NotAuthError" }, true],
    [["Auth.*"], { type: "authError" }, true],
    [["Auth"], { type: "AuthError" }, true],
    [["AuthError"], { type: "AuthError" }, false],
    [["AuthError"], { type: "AuthErrors" }, true],
    [["AuthError"], { code: "AuthError" }, false],
    [["AuthError"], { message: "AuthError" }, false],
    [["AuthError"], { message: "got AuthError from upstream" }, true],
    [["AuthError"], { type: "Other", code: "Other", message: "AuthError" }, false],
    [["AuthError"], { type: "AuthError", retryable: true }, false],
    [["A", "B"], { code: "B" }, false],
    [["A", "B"], { code: "C" }, true],
    [["Validation|Auth"], { type: "Auth" }, false],
    [["Validation|Auth"], { type: "NotAuth" }, true],
    [["Validation|Auth"], { type: "Validation2" }, true],
    [["[invalid"], { type: "[invalid" }, true],
    [["(unclosed"], { type: "(unclosed" }, true],
    [["[invalid", "Auth.*"], { type: "AuthError" }, false],
    [["*"], { type: "anything" }, true],
    [[".*"], { type: "anything" }, false],
    [[".*"], {}, true],
    [["timeout"], { code: "timeout", type: "timeout" }, false],
  ];
  for (const [patterns, err, expected] of cases) {
    it(`${JSON.stringify(patterns)} vs ${JSON.stringify(err)} -> ${expected}`, () => {
      assert.equal(isRetryableError(policy({ nonRetryableErrors: patterns }), err), expected);
    });
  }

  it("gives the same answer when a pattern is used again (cached)", () => {
    const p = policy({ nonRetryableErrors: ["Cache.*Test"] });
    for (let k = 0; k < 3; k++) {
      assert.equal(isRetryableError(p, { type: "CacheHitTest" }), false);
      assert.equal(isRetryableError(p, { type: "XCacheHitTest" }), true);
    }
  });

  it("keeps working after more than 1000 distinct patterns", () => {
    for (let k = 0; k < 1100; k++) {
      const p = policy({ nonRetryableErrors: [`P${k}`] });
      assert.equal(isRetryableError(p, { type: `P${k}` }), false);
      assert.equal(isRetryableError(p, { type: `P${k}x` }), true);
    }
  });
});
