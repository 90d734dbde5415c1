import assert from "node:assert/strict";
import { describe, it } from "node:test";

import fc from "fast-check";

import { normalizeEnqueue, parseEnqueueRequest } from "../../src/core/envelope.js";
import { enqueueRequestSchema } from "../../src/core/schema.js";

/** What the schema alone makes of a body: the normalized job, or "refused". */
function viaSchema(body: unknown, now: number): unknown {
  const r = enqueueRequestSchema.safeParse(body);
  return r.success ? normalizeEnqueue(r.data, now) : "refused";
}

function viaParse(body: unknown, now: number): unknown {
  try {
    return parseEnqueueRequest(body, now);
  } catch {
    return "refused";
  }
}

const types = fc.oneof(
  { arbitrary: fc.constantFrom("email.send", "t"), weight: 4 },
  fc.constantFrom(
    "email.send",
    "a",
    "x-y_z.b2",
    "",
    "Email",
    "a..b",
    ".a",
    "1a",
    "a".repeat(255),
    "a".repeat(256),
  ),
  fc.string(),
  fc.integer(),
);
const queues = fc.oneof(
  { arbitrary: fc.constantFrom("default", "mail"), weight: 4 },
  fc.constantFrom(
    "default",
    "mail.eu-1",
    "q0",
    "",
    "Q",
    "a..b",
    "a.",
    "-a",
    "a".repeat(128),
    "a".repeat(129),
  ),
  fc.string(),
  fc.constant(null),
);
const priorities = fc.oneof(
  fc.constantFrom(-101, -100, 0, 100, 101),
  fc.integer({ min: -150, max: 150 }),
  fc.constantFrom(0.5, Number.NaN, Infinity, 2 ** 53, "1"),
);
const options = fc.oneof(
  fc.constant(undefined),
  { arbitrary: fc.record({ queue: queues, priority: priorities }, { requiredKeys: [] }), weight: 6 },
  fc.constant(null),
  fc.constant([]),
  fc.record({ queue: queues, timeout_ms: fc.integer({ min: -1, max: 10 }) }, { requiredKeys: [] }),
);
const bodies = fc.record(
  {
    type: types,
    args: fc.oneof(
      { arbitrary: fc.array(fc.jsonValue(), { maxLength: 3 }), weight: 6 },
      fc.constant("x"),
      fc.constant(null),
    ),
    options,
    extra: fc.constant(1),
  },
  { requiredKeys: ["type", "args"] },
);

describe("enqueue request parsing: the hand-checked common shape agrees with the schema", () => {
  it("accepts and refuses exactly what the schema does, with the same normalized job", () => {
    const now = 1_800_000_000_000;
    fc.assert(
      fc.property(bodies, (body) => {
        assert.deepEqual(viaParse(body, now), viaSchema(body, now));
      }),
      { numRuns: 10_000, seed: 42 },
    );
  });

  it("copies args (the caller may reuse its array)", () => {
    const args = [1, 2];
    const n = parseEnqueueRequest({ type: "t", args, options: { queue: "q" } });
    args.push(3);
    assert.deepEqual(n.spec.args, [1, 2]);
  });
});
