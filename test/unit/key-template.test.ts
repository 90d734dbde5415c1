import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { checkKeyTemplate, renderKeyTemplate } from "../../src/core/key-template.js";
import { ErrorCode, isJetjobError } from "../../src/core/errors.js";
import { keyFromToken, keyToken } from "../../src/store/infra/topology.js";

describe("exclusive key templates", () => {
  const job = {
    type: "dns.update",
    queue: "fleet",
    args: [{ host: "web-1", port: 53 }, "x"],
    meta: { tenant: { id: 7 } },
  };

  for (const [template, expected] of [
    ["host:{args.0.host}", "host:web-1"],
    ["{type}/{args.1}", "dns.update/x"],
    ["{queue}-{args.0.port}", "fleet-53"],
    ["t{meta.tenant.id}", "t7"],
  ] as const) {
    it(`renders ${template}`, () => {
      assert.equal(checkKeyTemplate(template), undefined);
      assert.equal(renderKeyTemplate(template, job), expected);
    });
  }

  for (const [template, problem] of [
    ["", /1 to 256/],
    ["static", /at least one placeholder/],
    ["{argz.0}", /unknown placeholder \{argz\.0\}/],
    ["{args}", /unknown placeholder/],
    ["{meta}", /unknown placeholder/],
    ["{args.0}}", /unbalanced/],
  ] as const) {
    it(`refuses ${JSON.stringify(template)}`, () => {
      assert.match(checkKeyTemplate(template) ?? "", problem);
    });
  }

  it("a missing or non-scalar value is a validation error naming the placeholder", () => {
    for (const t of ["{args.0.nope}", "{args.0}", "{meta.none.x}"]) {
      assert.throws(
        () => renderKeyTemplate(t, job),
        (err: unknown) =>
          isJetjobError(err) && err.code === ErrorCode.ValidationError && err.message.includes(t),
      );
    }
  });

  it("key tokens round-trip, are subject-safe and never numeric", () => {
    for (const key of ["a", "host:web-1.example", "üñî/ç ode", "123", "x".repeat(256)]) {
      const t = keyToken(key);
      assert.match(t, /^k[A-Za-z0-9_-]*$/);
      assert.equal(keyFromToken(t), key);
    }
  });
});
